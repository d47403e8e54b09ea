import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import readinessSchema from '../../schemas/health.json' with { type: 'json' }
import { persistenceWarning, readPersistence } from '../redis/connection.ts'

export interface Check {
  status: 'up' | 'down'
  latencyMs?: number
  detail?: string
}

// Each check gets its own deadline so one hung dependency cannot hang the probe.
export async function runCheck (probe: () => Promise<unknown>, timeoutMs: number): Promise<Check> {
  const started = performance.now()
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      probe(),
      new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs) }),
    ])
    return { status: 'up', latencyMs: Math.round((performance.now() - started) * 100) / 100 }
  } catch (err) {
    return { status: 'down', detail: (err as Error).message }
  } finally {
    clearTimeout(timer)
  }
}

export async function healthRoutes (app: FastifyInstance): Promise<void> {
  app.addSchema(readinessSchema)

  app.get('/health/live', {
    schema: {
      tags: ['operations'],
      operationId: 'live',
      summary: 'Liveness: the process is up',
      security: [],
      response: {
        200: { type: 'object', required: ['status'], properties: { status: { type: 'string', const: 'ok' } } },
      },
    },
  }, async () => ({ status: 'ok' as const }))

  app.get('/health/ready', {
    schema: {
      tags: ['operations'],
      operationId: 'ready',
      summary: 'Readiness: the database and Redis answer, workers take the waiting deliveries, and the instance is not shutting down',
      security: [],
      response: {
        200: { $ref: 'Readiness#' },
        503: { $ref: 'Readiness#' },
      },
    },
  }, async (_request, reply) => {
    const [database, redis, delivery, persistence] = await Promise.all([
      runCheck(() => app.db.query('SELECT 1'), 2000),
      runCheck(() => app.redis.ping(), 2000),
      runCheck(async () => {
        const report = await app.applications.liveness()
        if (report.status === 'down') throw new Error(report.detail)
      }, 2000),
      Promise.race([readPersistence(app.redis), sleep(2000, { aof: null, rdb: null }, { ref: false })]),
    ])
    // Not a failure (nothing is lost: the gateway re-queues from PostgreSQL),
    // but an operator should know recovery after a Redis restart takes longer.
    const volatile = persistenceWarning(persistence)
    if (redis.status === 'up' && volatile !== null) redis.detail = volatile
    const checks: Record<string, Check> = { database, redis, delivery }
    if (!app.lifecycle.ready) checks.lifecycle = { status: 'down', detail: 'shutting down' }
    const ok = Object.values(checks).every((c) => c.status === 'up')
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', checks })
  })
}
