import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

export interface Metrics {
  registry: Registry
  httpDuration: Histogram<'route' | 'method' | 'status_code'>
}

// One registry per app instance, so several apps in one test process keep
// their own counts; later plugins register their metrics on `app.metrics.registry`.
export function createMetrics (): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Duration of HTTP requests, by route template, method and status',
    labelNames: ['route', 'method', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
  return { registry, httpDuration }
}

async function metricsPlugin (app: FastifyInstance): Promise<void> {
  const metrics = createMetrics()
  app.decorate('metrics', metrics)
  // A callback hook: it runs on every request, and an async one costs a promise each time.
  app.addHook('onResponse', (request, reply, done) => {
    // The route template, never the raw URL: raw URLs carry ids and personal data.
    const route = request.routeOptions.url ?? 'unmatched'
    metrics.httpDuration.observe(
      { route, method: request.method, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    )
    done()
  })
}

export default fp(metricsPlugin, { name: 'metrics', fastify: '5.x' })
