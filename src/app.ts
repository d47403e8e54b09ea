import Fastify, { type FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import type { DestinationStream } from 'pino'
import addFormats from 'ajv-formats'
import pkg from '../package.json' with { type: 'json' }
import { consoleOff, exposure, type Config } from './config.ts'
import type { Database } from './db/index.ts'
import type { BusClients } from './bus/index.ts'
import { createFallbackReplayCache, createRedisReplayCache, createTokenVerifier, type TokenVerifier } from './auth/token-verifier.ts'
import { genReqId, loggerOptions } from './logger.ts'
import { createLimitedErrorLog } from './errors/limited-log.ts'
import problem, { clientError, frameworkError } from './plugins/problem.ts'
import lifecycle from './plugins/lifecycle.ts'
import metrics from './plugins/metrics.ts'
import openapi from './plugins/openapi.ts'
import storage from './plugins/storage.ts'
import redisPlugin from './plugins/redis.ts'
import dci from './plugins/dci.ts'
import { partnerIssuer } from './dci/tokens.ts'
import { partnerRoutes } from './routes/admin/partners.ts'
import { tokenRoutes } from './routes/dci/token.ts'
import { dciRegistryRoutes } from './routes/dci/registry.ts'
import { dciReceiverRoutes } from './routes/dci/receiver.ts'
import { partnerRegistryRoutes } from './routes/partner-registries.ts'
import auth from './plugins/auth.ts'
import adapters from './plugins/adapters.ts'
import catalogue from './plugins/catalogue.ts'
import audit from './plugins/audit.ts'
import policies from './plugins/policies.ts'
import consent from './plugins/consent.ts'
import { consentRoutes } from './routes/consents.ts'
import applications from './plugins/applications.ts'
import stats from './plugins/stats.ts'
import callbacks from './plugins/callbacks.ts'
import { applicationRoutes } from './routes/applications.ts'
import { statsRoutes } from './routes/stats.ts'
import rateLimit from '@fastify/rate-limit'
import { citizenRoutes } from './routes/citizens.ts'
import { adminAuditRoutes } from './routes/admin/audit.ts'
import { publicCatalogueRoutes } from './routes/catalogue/public.ts'
import { adminCatalogueRoutes } from './routes/catalogue/admin.ts'
import { adminAdapterRoutes } from './routes/admin/adapters.ts'
import { healthRoutes } from './routes/health.ts'
import { meRoutes } from './routes/me.ts'
import { metricsRoutes } from './routes/metrics.ts'
import { problemRoutes } from './routes/problems.ts'
import { portalRoutes } from './routes/admin/portals.ts'
import { queueDashboardRoutes } from './routes/admin/queues.ts'
import consolePlugin from './plugins/console.ts'
import { createConsoleTokens } from './console/tokens.ts'
import { DEV_AUDIENCE } from './auth/dev-issuer.ts'
import { consoleRoutes } from './routes/console/index.ts'
import { devIdpRoutes } from './routes/console/dev-idp.ts'
import { operationsApiRoutes } from './routes/admin/operations.ts'

export interface AppOptions {
  config: Config
  // Opened and migrated by the caller, closed by the app on close.
  db: Database
  // A connected `client` Redis connection, closed by the app on close.
  redis: Redis
  // Signed clients to the exchange bus, closed by the app on close.
  bus: BusClients
  // Defaults to one built from config.auth; tests pass one with a fake clock.
  verifier?: TokenVerifier
  // Where log lines go; stdout by default.
  logStream?: DestinationStream
  // Today's date for the catalogue (mobile rounds); tests fix it.
  today?: () => string
  // Epoch milliseconds for consents (expiry, code lifetimes, locks); tests move it.
  now?: () => number
  // 'worker' (`npm run worker`) serves only /health/* and /metrics.
  surface?: 'gateway' | 'worker'
}

// A console call's token lives this long: each page's calls take a new one.
const CONSOLE_TOKEN_TTL_SECONDS = 60

// Builds the gateway. It never listens: src/server.ts does, and tests use inject.
export async function buildApp (options: AppOptions): Promise<FastifyInstance> {
  const { config } = options
  const app = Fastify({
    logger: { ...loggerOptions(config.logLevel), ...(options.logStream === undefined ? {} : { stream: options.logStream }) },
    genReqId,
    bodyLimit: config.http.bodyLimitBytes,
    connectionTimeout: config.http.connectionTimeoutMs,
    requestTimeout: config.http.requestTimeoutMs,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    trustProxy: config.http.trustProxy,
    // The lifecycle plugin answers during close, as problem+json.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // What Fastify and Node refuse before routing is problem+json too.
    frameworkErrors: frameworkError,
    clientErrorHandler: clientError,
    ajv: {
      // Every failing field is reported, and unknown properties are refused
      // (where a schema says so) rather than silently dropped.
      customOptions: { allErrors: true, removeAdditional: false, coerceTypes: 'array', useDefaults: true } as Record<string, unknown>,
      plugins: [addFormats.default as never],
    },
  })

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })

  // The console calls the API as the signed-in person with tokens of its own.
  const consoleTokens = createConsoleTokens({ audience: DEV_AUDIENCE, ttlSeconds: CONSOLE_TOKEN_TTL_SECONDS })
  const verifier = options.verifier ?? createTokenVerifier({
    // The gateway's own tokens for partner systems and for its console,
    // beside the configured issuers.
    issuers: [...config.auth.issuers, partnerIssuer(config.dci, options.bus.identity.publicJwks), consoleTokens.issuer],
    replayCache: createFallbackReplayCache(createRedisReplayCache(options.redis, config.redis.keyPrefix), options.db,
      createLimitedErrorLog(app.log, 'Redis is unreachable: checking token revocation and DPoP proof replay in the database')),
    clockSkewSeconds: config.auth.clockSkewSeconds,
    maxTokenAgeSeconds: config.auth.maxTokenAgeSeconds,
    dpopProofMaxAgeSeconds: config.auth.dpopProofMaxAgeSeconds,
  })

  await app.register(problem)
  await app.register(lifecycle)
  await app.register(metrics)
  await app.register(openapi, { docsEnabled: config.docsEnabled, version: pkg.version })
  await app.register(storage, { db: options.db })
  await app.register(redisPlugin, { redis: options.redis, keyPrefix: config.redis.keyPrefix })
  await app.register(auth, { verifier })
  await app.register(consolePlugin, { settings: config.console, tokens: consoleTokens, port: config.port })
  await app.register(adapters, { bus: options.bus, settings: config.bus })
  await app.register(audit, { batchWindowMs: config.audit.batchWindowMs })
  await app.register(policies)
  await app.register(consent, { settings: config.consent, signingKey: options.bus.identity.signing, memberKeys: options.bus.identity.all, ...(options.now === undefined ? {} : { now: options.now }) })
  await app.register(applications, { redisUrl: config.redis.url, settings: config.delivery })
  await app.register(callbacks, {
    redisUrl: config.redis.url,
    settings: config.callbacks,
    delivery: config.delivery,
    signingKey: options.bus.identity.signing,
  })
  await app.register(catalogue, { refreshMs: config.catalogue.refreshMs, ...(options.today === undefined ? {} : { today: options.today }) })
  await app.register(dci, { settings: config.dci, signingKey: options.bus.identity.signing, memberKeys: options.bus.identity.all, redisUrl: config.redis.url, callbacks: config.callbacks, delivery: config.delivery })
  // Limits are applied by the routes that need them (officers' look-ups), on Redis.
  await app.register(rateLimit, { global: false, redis: options.redis, nameSpace: `${config.redis.keyPrefix}:rl:`, skipOnError: false })

  await app.register(healthRoutes)
  await app.register(metricsRoutes, { token: config.metrics.token, exposure: exposure(config) })
  if (options.surface === 'worker') return app
  await app.register(stats, config.stats)
  await app.register(problemRoutes)
  await app.register(meRoutes)
  await app.register(adminAdapterRoutes)
  await app.register(publicCatalogueRoutes)
  await app.register(adminCatalogueRoutes)
  await app.register(citizenRoutes, { limits: config.officers })
  await app.register(consentRoutes)
  await app.register(adminAuditRoutes)
  await app.register(operationsApiRoutes)
  await app.register(applicationRoutes)
  await app.register(statsRoutes)
  await app.register(portalRoutes, { jwks: options.bus.identity.publicJwks })
  await app.register(partnerRoutes)
  await app.register(tokenRoutes)
  await app.register(dciRegistryRoutes, { registry: 'social', prefix: '/dci/social' })
  await app.register(dciRegistryRoutes, { registry: 'crvs', prefix: '/dci/crvs' })
  await app.register(dciReceiverRoutes, { prefix: '/dci/receiver' })
  await app.register(partnerRegistryRoutes)
  const off = consoleOff(config)
  await app.register(consoleRoutes, { off })
  if (config.console.oidc === undefined && off === null) await app.register(devIdpRoutes)
  await app.register(queueDashboardRoutes, { queues: [app.applications.queue, app.callbacks.queue], sessionTtlSeconds: config.auth.dashboardSessionTtlSeconds })

  return app
}
