import type { Queue } from 'bullmq'
import type { FastifyInstance } from 'fastify'
import { reasonTexts } from '../../applications/labels.ts'
import { isoTime } from '../../db/database.ts'

// Operations figures for admins, for the console's operations pages and for
// tools: delivery health per agency with the failed applications to retry,
// this process's circuit breakers and call outcomes, and the state of each
// portal's status callbacks. PostgreSQL is the source of truth for
// applications and callbacks; the queues' own counts come from Redis and are
// reported as unavailable, not as an error, while Redis is away.

// How long the queues' counts may take before the answer goes without them.
const QUEUE_WAIT_MS = 2000
// Finished callback jobs looked at for each portal's recent outcomes.
const CALLBACK_SAMPLE = 200
const REASON_MAX = 500

// Outcomes of bus_adapter_calls_total that are an answer from a healthy
// provider; every other outcome is a failure (src/adapters/runtime.ts).
const HEALTHY_OUTCOMES = new Set(['ok', 'not_found', 'rejected'])

const problem = { content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } }
const bilingual = { type: 'object', required: ['mn', 'en'], properties: { mn: { type: 'string' }, en: { type: 'string' } } }
const nullableTime = { type: ['string', 'null'], format: 'date-time' }

const queueCounts = {
  type: 'object',
  required: ['name', 'available', 'waiting', 'active', 'delayed', 'failed', 'completed'],
  description: 'A BullMQ queue\'s job counts; all 0 with available false when Redis could not be asked',
  properties: {
    name: { type: 'string' },
    available: { type: 'boolean' },
    waiting: { type: 'integer', description: 'Waiting for a worker (wait and prioritized)' },
    active: { type: 'integer' },
    delayed: { type: 'integer', description: 'Put off: retries with backoff, waits for the bus or a decision poll' },
    failed: { type: 'integer', description: 'Given up by the queue (kept a week)' },
    completed: { type: 'integer', description: 'Finished (kept a day)' },
  },
}

const deliveryCounts = {
  queued: { type: 'integer', description: 'Received or queued: not yet taken by a worker' },
  delivering: { type: 'integer', description: 'Being sent to the agency now' },
  delivered: { type: 'integer', description: 'Reached the agency (delivered or since decided), last changed within the window' },
  attempts: { type: 'integer', description: 'Delivery attempts of those delivered' },
  attemptsPerDelivery: { type: ['number', 'null'], description: 'attempts / delivered; null when nothing was delivered' },
  failed: { type: 'integer', description: 'Failed for good without spending the budget (the agency refused it); retryable by an admin' },
  deadLettered: { type: 'integer', description: 'Failed after the whole attempt budget; retryable by an admin' },
}
const deliveryCountNames = Object.keys(deliveryCounts)

type QueueCounts = { name: string, available: boolean, waiting: number, active: number, delayed: number, failed: number, completed: number }

async function countJobs (queue: Queue): Promise<QueueCounts> {
  const none = { name: queue.name, available: false, waiting: 0, active: 0, delayed: 0, failed: 0, completed: 0 }
  let timer: NodeJS.Timeout | undefined
  try {
    const counts = await Promise.race([
      queue.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'failed', 'completed'),
      new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), QUEUE_WAIT_MS) }),
    ])
    if (counts === null) return none
    const n = (k: string) => counts[k] ?? 0
    return { name: queue.name, available: true, waiting: n('wait') + n('prioritized'), active: n('active'), delayed: n('delayed'), failed: n('failed'), completed: n('completed') }
  } catch {
    return none
  } finally {
    clearTimeout(timer)
  }
}

// The gateway's reasons say how a failure came about (src/applications/delivery.ts).
function failureKind (reason: string | null): 'dead_lettered' | 'rejected' | 'failed' {
  if (reason?.startsWith('dead-lettered') === true) return 'dead_lettered'
  if (reason?.startsWith('rejected by the agency') === true) return 'rejected'
  return 'failed'
}

const short = (text: string | null) => text === null ? null : text.length > REASON_MAX ? `${text.slice(0, REASON_MAX - 1)}…` : text

interface CountRow { service: string, adapter: string, queued: number, delivering: number, delivered: number, attempts: number, dead_lettered: number, failed: number }
interface FailedRow { id: string, service: string, adapter: string, unit: string, package_id: string | null, reason: string | null, reason_mn: string | null, attempts: number, updated_at: unknown }

export async function operationsApiRoutes (app: FastifyInstance): Promise<void> {
  const auth = { auth: { roles: ['admin'] as const } }

  // The agency of a service, from the catalogue in force; null for a service
  // no longer in it.
  function agencyOf (service: string): { code: string, name: { mn: string, en: string } } | null {
    const snap = app.catalogue.current()
    const code = snap.service(service)?.agency
    const agency = code === undefined ? undefined : snap.agency(code)
    return agency === undefined ? null : { code: agency.code, name: agency.name }
  }

  app.get('/v1/admin/operations/deliveries', {
    config: auth,
    schema: {
      tags: ['admin'],
      operationId: 'getDeliveryHealth',
      summary: 'Delivery health per agency and adapter: applications on their way, delivered within the window with their attempts, failed and dead-lettered; the queues\' counts; the latest failed applications to retry',
      description: 'Counts of applications delivered to agencies (packages count through their parts). Queued, delivering, failed and dead-lettered are as they stand now; ' +
        'delivered and attempts per delivery cover the applications that reached their agency and last changed within `hours`. ' +
        'A failed or dead-lettered application is sent round again with POST /v1/admin/applications/{id}/retry.',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          hours: { type: 'integer', minimum: 1, maximum: 720, default: 24, description: 'The window for delivered and attempts per delivery, in hours back from now' },
          failed: { type: 'integer', minimum: 0, maximum: 200, default: 50, description: 'How many of the latest failed applications to list' },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['hours', 'since', 'queues', 'outbox', 'agencies', 'totals', 'failedApplications'],
          properties: {
            hours: { type: 'integer' },
            since: { type: 'string', format: 'date-time' },
            queues: { type: 'array', items: queueCounts },
            outbox: { type: 'integer', description: 'Applications stored but not yet handed to the queue (they wait there while Redis is away)' },
            agencies: {
              type: 'array',
              items: {
                type: 'object',
                required: ['agency', 'agencyName', 'provider', 'adapter', ...deliveryCountNames],
                properties: {
                  agency: { type: ['string', 'null'], description: 'The agency\'s catalogue code; null when its services left the catalogue' },
                  agencyName: { anyOf: [bilingual, { type: 'null' }] },
                  provider: { type: 'string', description: 'The bus provider the adapter calls (its circuit breaker)' },
                  adapter: { type: 'string' },
                  ...deliveryCounts,
                },
              },
            },
            totals: { type: 'object', required: deliveryCountNames, properties: deliveryCounts },
            failedApplications: {
              type: 'array',
              description: 'The latest failed applications (a package\'s parts, not the package), newest first',
              items: {
                type: 'object',
                required: ['id', 'service', 'agency', 'adapter', 'unit', 'packageId', 'kind', 'reason', 'attempts', 'failedAt'],
                properties: {
                  id: { type: 'string', format: 'uuid' },
                  service: { type: 'string' },
                  agency: { type: ['string', 'null'] },
                  adapter: { type: 'string' },
                  unit: { type: 'string' },
                  packageId: { type: ['string', 'null'], format: 'uuid' },
                  kind: { type: 'string', enum: ['dead_lettered', 'rejected', 'failed'] },
                  reason: { anyOf: [bilingual, { type: 'null' }] },
                  attempts: { type: 'integer' },
                  failedAt: { type: 'string', format: 'date-time' },
                },
              },
            },
          },
        },
      },
    },
  }, async (request) => {
    const q = request.query as { hours: number, failed: number }
    const since = new Date(Date.now() - q.hours * 3600_000).toISOString()
    // Each side of the OR is a range of the (status, updated_at) index.
    const countsQuery = app.db.query<CountRow>(
      `SELECT service, adapter,
         count(*) FILTER (WHERE status IN ('received', 'queued'))::int AS queued,
         count(*) FILTER (WHERE status = 'delivering')::int AS delivering,
         count(*) FILTER (WHERE status IN ('delivered', 'decided'))::int AS delivered,
         COALESCE(sum(attempts) FILTER (WHERE status IN ('delivered', 'decided')), 0)::float8 AS attempts,
         count(*) FILTER (WHERE status = 'failed' AND reason LIKE 'dead-lettered%')::int AS dead_lettered,
         count(*) FILTER (WHERE status = 'failed' AND (reason IS NULL OR reason NOT LIKE 'dead-lettered%'))::int AS failed
       FROM applications
       WHERE adapter IS NOT NULL
         AND (status IN ('received', 'queued', 'delivering', 'failed') OR (status IN ('delivered', 'decided') AND updated_at >= $1::timestamptz))
       GROUP BY service, adapter`, [since])
    const failedQuery = q.failed === 0
      ? Promise.resolve({ rows: [] as FailedRow[] })
      : app.db.query<FailedRow>(
        `SELECT id, service, adapter, unit, package_id, reason, reason_mn, attempts, updated_at FROM applications
         WHERE status = 'failed' AND adapter IS NOT NULL ORDER BY updated_at DESC, id LIMIT $1`, [q.failed])
    // Together, and all awaited at once: one failing must not leave the
    // others' rejections unhandled.
    const [counts, failed, outbox, queues] = await Promise.all([
      countsQuery,
      failedQuery,
      app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM application_outbox'),
      Promise.all([countJobs(app.applications.queue), countJobs(app.callbacks.queue)]),
    ])

    const providers = new Map(app.adapters.describe().map((a) => [a.operation, a.provider]))
    type Row = { agency: string | null, agencyName: { mn: string, en: string } | null, provider: string, adapter: string } & Record<'queued' | 'delivering' | 'delivered' | 'attempts' | 'failed' | 'deadLettered', number>
    const rows = new Map<string, Row>()
    const zero = () => ({ queued: 0, delivering: 0, delivered: 0, attempts: 0, failed: 0, deadLettered: 0 })
    const totals = zero()
    for (const r of counts.rows) {
      const agency = agencyOf(r.service)
      const key = `${agency?.code ?? ''}\n${r.adapter}`
      const row = rows.get(key) ?? { agency: agency?.code ?? null, agencyName: agency?.name ?? null, provider: providers.get(r.adapter) ?? r.adapter.split('.')[0]!, adapter: r.adapter, ...zero() }
      const add = { queued: r.queued, delivering: r.delivering, delivered: r.delivered, attempts: Number(r.attempts), failed: r.failed, deadLettered: r.dead_lettered }
      for (const [k, v] of Object.entries(add) as Array<[keyof typeof add, number]>) {
        row[k] += v
        totals[k] += v
      }
      rows.set(key, row)
    }
    const perDelivery = (c: { attempts: number, delivered: number }) => c.delivered === 0 ? null : Math.round((c.attempts / c.delivered) * 100) / 100
    const agencies = [...rows.values()]
      .sort((a, b) => (a.agency ?? '~').localeCompare(b.agency ?? '~') || a.adapter.localeCompare(b.adapter))
      .map((r) => ({ ...r, attemptsPerDelivery: perDelivery(r) }))

    return {
      hours: q.hours,
      since,
      queues,
      outbox: outbox.rows[0]?.n ?? 0,
      agencies,
      totals: { ...totals, attemptsPerDelivery: perDelivery(totals) },
      failedApplications: failed.rows.map((r) => ({
        id: r.id,
        service: r.service,
        agency: agencyOf(r.service)?.code ?? null,
        adapter: r.adapter,
        unit: r.unit,
        packageId: r.package_id,
        kind: failureKind(r.reason),
        reason: (() => {
          const texts = reasonTexts({ reason: r.reason, reasonMn: r.reason_mn })
          return texts === null ? null : { mn: short(texts.mn)!, en: short(texts.en)! }
        })(),
        attempts: r.attempts,
        failedAt: isoTime(r.updated_at),
      })),
    }
  })

  const outcomeCounts = { type: 'object', additionalProperties: { type: 'integer' }, description: 'Calls by outcome (ok, not_found, rejected, refused, invalid_response, bad_signature, timeout, unavailable, circuit_open)' }
  app.get('/v1/admin/operations/breakers', {
    config: auth,
    schema: {
      tags: ['admin'],
      operationId: 'getAdapterBreakers',
      summary: 'Each provider\'s circuit breaker (state, how long calls stay paused) and each adapter\'s calls and failures since this process started',
      description: 'Breakers and counts belong to the process that answers: each gateway and worker process keeps its own. ' +
        'A failure is a call that got no usable answer from the agency (timeout, unavailable, refused by the bus, invalid response or signature, or not sent while the circuit was open); ' +
        'ok, not_found and rejected are answers of a healthy provider.',
      querystring: { type: 'object', additionalProperties: false, properties: {} },
      response: {
        200: {
          type: 'object',
          required: ['providers', 'adapters'],
          properties: {
            providers: {
              type: 'array',
              items: {
                type: 'object',
                required: ['provider', 'state', 'retryAfterMs', 'calls', 'failures'],
                properties: {
                  provider: { type: 'string' },
                  state: { type: 'string', enum: ['closed', 'open', 'half-open'] },
                  retryAfterMs: { type: 'integer', description: 'How long until a call may go out; 0 when one may go now' },
                  calls: { type: 'integer' },
                  failures: { type: 'integer' },
                },
              },
            },
            adapters: {
              type: 'array',
              items: {
                type: 'object',
                required: ['operation', 'provider', 'kind', 'calls', 'failures', 'outcomes'],
                properties: {
                  operation: { type: 'string' },
                  provider: { type: 'string' },
                  kind: { type: 'string', enum: ['read', 'write'] },
                  calls: { type: 'integer' },
                  failures: { type: 'integer' },
                  outcomes: outcomeCounts,
                },
              },
            },
          },
        },
      },
    },
  }, async () => {
    const outcomes = new Map<string, Record<string, number>>()
    const metric = app.metrics.registry.getSingleMetric('bus_adapter_calls_total')
    for (const v of metric === undefined ? [] : (await metric.get()).values) {
      const adapter = String(v.labels.adapter)
      const outcome = String(v.labels.outcome)
      const by = outcomes.get(adapter) ?? {}
      by[outcome] = (by[outcome] ?? 0) + v.value
      outcomes.set(adapter, by)
    }
    const adapters = app.adapters.describe().map((a) => {
      const by = outcomes.get(a.operation) ?? {}
      const calls = Object.values(by).reduce((s, n) => s + n, 0)
      const failures = Object.entries(by).filter(([o]) => !HEALTHY_OUTCOMES.has(o)).reduce((s, [, n]) => s + n, 0)
      return { operation: a.operation, provider: a.provider, kind: a.kind, calls, failures, outcomes: by }
    }).sort((x, y) => x.operation.localeCompare(y.operation))
    const providers = [...new Set(adapters.map((a) => a.provider))].sort().map((provider) => {
      const breaker = app.adapters.breaker(provider)
      const mine = adapters.filter((a) => a.provider === provider)
      return {
        provider,
        state: breaker.state,
        retryAfterMs: Math.max(0, Math.ceil(breaker.retryAfterMs)),
        calls: mine.reduce((s, a) => s + a.calls, 0),
        failures: mine.reduce((s, a) => s + a.failures, 0),
      }
    })
    return { providers, adapters }
  })

  app.get('/v1/admin/operations/callbacks', {
    config: auth,
    schema: {
      tags: ['admin'],
      operationId: 'getCallbackHealth',
      summary: 'Each portal\'s status callbacks: where they go, the changes not yet settled, and how the latest finished ones went',
      description: 'A change stays unsettled until its callback is sent, refused for good or has nowhere to go. ' +
        `Recent outcomes are counted over the latest ${CALLBACK_SAMPLE} sent and ${CALLBACK_SAMPLE} failed callback jobs the queue keeps.`,
      querystring: { type: 'object', additionalProperties: false, properties: {} },
      response: {
        200: {
          type: 'object',
          required: ['queue', 'portals'],
          properties: {
            queue: queueCounts,
            portals: {
              type: 'array',
              items: {
                type: 'object',
                required: ['portal', 'registered', 'url', 'updatedBy', 'updatedAt', 'unsettled', 'waitingForQueue', 'oldestUnsettledAt', 'recent'],
                properties: {
                  portal: { type: 'string' },
                  registered: { type: 'boolean', description: 'Whether the portal has a callback URL; changes of a portal without one are settled unsent' },
                  url: { type: ['string', 'null'] },
                  updatedBy: { type: ['string', 'null'] },
                  updatedAt: nullableTime,
                  unsettled: { type: 'integer', description: 'Status changes whose callback is not settled yet (waiting, in the queue or retrying)' },
                  waitingForQueue: { type: 'integer', description: 'Of those, not yet handed to the queue' },
                  oldestUnsettledAt: nullableTime,
                  recent: {
                    type: 'object',
                    required: ['sent', 'skipped', 'failed', 'lastSentAt', 'lastFailedAt', 'lastFailure'],
                    properties: {
                      sent: { type: 'integer', description: 'Delivered to the portal (it answered 2xx)' },
                      skipped: { type: 'integer', description: 'Settled unsent: the portal had no callback URL then' },
                      failed: { type: 'integer' },
                      lastSentAt: nullableTime,
                      lastFailedAt: nullableTime,
                      lastFailure: { type: ['string', 'null'] },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  }, async () => {
    const queue = app.callbacks.queue
    const [registered, unsettled, counts] = await Promise.all([
      app.db.query<{ portal: string, url: string, updated_by: string, updated_at: unknown }>('SELECT portal, url, updated_by, updated_at FROM portal_callbacks ORDER BY portal'),
      // The partial index on notify keeps this to the unsettled changes.
      app.db.query<{ portal: string, unsettled: number, waiting: number, oldest: unknown }>(
      `SELECT a.portal, count(*)::int AS unsettled, count(*) FILTER (WHERE e.notify_due_at IS NULL)::int AS waiting, min(e.at) AS oldest
       FROM application_events e JOIN applications a ON a.id = e.application_id
       WHERE e.notify AND a.portal IS NOT NULL GROUP BY a.portal`),
      countJobs(queue),
    ])
    const finished = async (state: 'completed' | 'failed') => {
      try {
        return await queue.getJobs([state], 0, CALLBACK_SAMPLE - 1, false)
      } catch {
        return []
      }
    }
    const [sent, failed] = counts.available ? await Promise.all([finished('completed'), finished('failed')]) : [[], []]
    const eventIds = [...new Set([...sent, ...failed].map((j) => Number((j.data as { eventId?: unknown }).eventId)).filter(Number.isSafeInteger))]
    const { rows: owners } = eventIds.length === 0
      ? { rows: [] as Array<{ id: string, portal: string }> }
      : await app.db.query<{ id: string, portal: string }>(
        `SELECT e.id::text AS id, a.portal FROM application_events e JOIN applications a ON a.id = e.application_id
         WHERE e.id = ANY($1::bigint[]) AND a.portal IS NOT NULL`, [eventIds])
    const portalOf = new Map(owners.map((o) => [Number(o.id), o.portal]))

    type Portal = {
      portal: string, registered: boolean, url: string | null, updatedBy: string | null, updatedAt: string | null,
      unsettled: number, waitingForQueue: number, oldestUnsettledAt: string | null,
      recent: { sent: number, skipped: number, failed: number, lastSentAt: string | null, lastFailedAt: string | null, lastFailure: string | null }
    }
    const portals = new Map<string, Portal>()
    const portal = (name: string): Portal => {
      let p = portals.get(name)
      if (p === undefined) {
        p = { portal: name, registered: false, url: null, updatedBy: null, updatedAt: null, unsettled: 0, waitingForQueue: 0, oldestUnsettledAt: null, recent: { sent: 0, skipped: 0, failed: 0, lastSentAt: null, lastFailedAt: null, lastFailure: null } }
        portals.set(name, p)
      }
      return p
    }
    for (const r of registered.rows) Object.assign(portal(r.portal), { registered: true, url: r.url, updatedBy: r.updated_by, updatedAt: isoTime(r.updated_at) })
    for (const r of unsettled.rows) Object.assign(portal(r.portal), { unsettled: r.unsettled, waitingForQueue: r.waiting, oldestUnsettledAt: r.oldest === null ? null : isoTime(r.oldest) })
    const at = (ms: number | undefined) => ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString()
    const later = (a: string | null, b: string | null) => a === null ? b : b === null ? a : a > b ? a : b
    for (const job of sent) {
      const name = portalOf.get(Number((job.data as { eventId?: unknown }).eventId))
      if (name === undefined) continue
      const p = portal(name)
      // A change of a portal without a URL completes too, unsent (src/callbacks/delivery.ts).
      if (typeof (job.returnvalue as { status?: unknown } | null)?.status !== 'number') {
        p.recent.skipped++
        continue
      }
      p.recent.sent++
      p.recent.lastSentAt = later(p.recent.lastSentAt, at(job.finishedOn))
    }
    for (const job of failed) {
      const name = portalOf.get(Number((job.data as { eventId?: unknown }).eventId))
      if (name === undefined) continue
      const p = portal(name)
      p.recent.failed++
      const when = at(job.finishedOn)
      if (p.recent.lastFailedAt === null || (when !== null && when > p.recent.lastFailedAt)) {
        p.recent.lastFailedAt = when
        p.recent.lastFailure = short(job.failedReason ?? null)
      }
    }
    return { queue: counts, portals: [...portals.values()].sort((a, b) => a.portal.localeCompare(b.portal)) }
  })
}
