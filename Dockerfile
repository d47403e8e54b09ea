# syntax=docker/dockerfile:1

# Production dependencies only; TypeScript runs on Node 24's type stripping,
# so there is no build step.
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
COPY schemas ./schemas
COPY adapters ./adapters
COPY seed ./seed
COPY specs ./specs
RUN mkdir -p /app/data && chown node:node /app/data
USER node
# Bound to 0.0.0.0, the gateway and the worker refuse development mode: set
# AUTH_ISSUERS, EXCHANGE_URL, BUS_SIGNING_KEYS_FILE, BUS_XYP_PRIVATE_KEY_FILE and
# BUS_XYP_ACCESS_TOKEN (OSS_DEVELOPMENT=true overrides it; never with real
# data), and METRICS_TOKEN for Prometheus to read /metrics. A worker container
# (command `node src/worker.ts`) serves /metrics and /health/* on WORKER_PORT,
# the same port, so the health check below fits both.
ENV HOST=0.0.0.0 \
    PORT=3000 \
    WORKER_PORT=3000 \
    OSS_DEVELOPMENT=false \
    DATA_DIR=/app/data \
    SHUTDOWN_DRAIN_MS=5000
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "src/server.ts"]
