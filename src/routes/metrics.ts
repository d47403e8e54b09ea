import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ProblemError } from '../errors/problem-error.ts'

export interface MetricsRouteOptions {
  // METRICS_TOKEN: when set, /metrics wants `Authorization: Bearer <token>`.
  token?: string
  // Why the listener is reachable from other machines (config.ts `exposure`),
  // or null. Without a token, metrics are served only when it is null.
  exposure: string | null
}

// Both sides are hashed first, so the comparison runs over two buffers of one
// fixed length: neither the token's bytes nor its length show in the timing.
export function secretsEqual (given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

const REALM = 'metrics'

function checkToken (request: FastifyRequest, token: string): void {
  const header = request.headers.authorization
  if (header === undefined) {
    throw new ProblemError('AUTH_REQUIRED', 'send the metrics token as "Authorization: Bearer <token>"', {
      headers: { 'www-authenticate': `Bearer realm="${REALM}"` },
    })
  }
  const match = /^Bearer[ ]+(\S+)$/i.exec(header.trim())
  if (match === null) {
    throw new ProblemError('TOKEN_INVALID', 'the Authorization header is not a Bearer token', {
      headers: { 'www-authenticate': `Bearer realm="${REALM}", error="invalid_request"` },
    })
  }
  if (!secretsEqual(match[1] as string, token)) {
    throw new ProblemError('TOKEN_INVALID', 'not the metrics token', {
      headers: { 'www-authenticate': `Bearer realm="${REALM}", error="invalid_token"` },
    })
  }
}

export async function metricsRoutes (app: FastifyInstance, options: MetricsRouteOptions): Promise<void> {
  const { token, exposure } = options
  app.get('/metrics', {
    schema: {
      tags: ['operations'],
      operationId: 'metrics',
      summary: 'Prometheus metrics',
      security: [],
      produces: ['text/plain'],
      response: { 200: { description: 'Prometheus text exposition format', type: 'string' } },
    },
    // Checked before anything else runs for the request.
    onRequest: async (request) => {
      if (token !== undefined) return checkToken(request, token)
      // Fail closed: metrics name routes, queues and rates, which are nobody's
      // business outside the operators' network.
      if (exposure !== null) {
        throw new ProblemError('METRICS_CLOSED', `metrics are not served without a token here (${exposure}); set METRICS_TOKEN and scrape with it`)
      }
    },
  }, async (_request, reply) => {
    reply.type(app.metrics.registry.contentType)
    return app.metrics.registry.metrics()
  })
}
