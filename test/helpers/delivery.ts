import { join } from 'node:path'
import type { Test } from 'tap'
import { createDeliveryWorker } from '../../src/applications/delivery.ts'
import { generatePopulation, type Citizen } from '../../src/exchange/index.ts'
import { buildSeedDocument } from '../../src/catalogue/seed.ts'
import { createRedisConnection } from '../../src/redis/connection.ts'
import type { TestApp } from './app.ts'
import { eventually } from './eventually.ts'
import { spawnServer, type ServerProcess } from './process.ts'

// What the delivery fault tests share: applicants, application bodies,
// submission with a fresh token and key, the agency's counters, worker
// processes, and a Redis server of the test's own.

export const WORKER_SCRIPT = join(import.meta.dirname, '..', '..', 'src', 'worker.ts')
export const adults = generatePopulation({ citizens: 500 }).livingAdults()
const childMoney = buildSeedDocument().services.find((s) => s.code === 'welfare.child-money')!

export function childMoneyBody (c: Citizen) {
  return { service: childMoney.code, unit: c.homeUnit, channel: 'online', applicant: { regnum: c.regnum }, form: (childMoney.formSchema.examples as object[])[0] }
}

let keys = 0
export function deliveryKit (ctx: TestApp) {
  const { app, exchange, token } = ctx
  const submit = async (c: Citizen, key = `fault-${process.pid}-${Date.now()}-${keys++}`) => app.inject({
    method: 'POST',
    url: '/v1/applications',
    headers: { authorization: `Bearer ${await token('citizen', { claims: { sub: c.regnum } })}`, 'idempotency-key': key },
    payload: childMoneyBody(c),
  })
  // Submits one application per citizen; every answer must be 202.
  const submitAll = async (t: Test, people: Citizen[]): Promise<string[]> => {
    const ids: string[] = []
    for (const c of people) {
      const res = await submit(c)
      t.equal(res.statusCode, 202, res.statusCode === 202 ? 'accepted' : res.body)
      ids.push(res.json().id)
    }
    return ids
  }
  // Read straight from the store: status requests would only slow the test.
  const count = async (ids: string[], where: string) =>
    (await app.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM applications WHERE id = ANY($1::uuid[]) AND ${where}`, [ids])).rows[0]!.n
  const byStatus = async (ids: string[]) => Object.fromEntries((await app.db.query<{ status: string, n: number }>(
    'SELECT status, count(*)::int AS n FROM applications WHERE id = ANY($1::uuid[]) GROUP BY status ORDER BY status', [ids])).rows.map((r) => [r.status, r.n]))
  // Delivered or already decided (agencies may decide within seconds and say
  // when): either way the application reached its agency.
  const reached = async (ids: string[]) => {
    const { delivered = 0, decided = 0, ...rest } = await byStatus(ids) as Record<string, number>
    return { reached: delivered + decided, ...rest }
  }
  const agency = async (provider = 'welfare') =>
    (await exchange!.app.inject({ method: 'GET', url: `/admin/providers/${provider}/counters` })).json() as { applicationsReceived: number, submissions: number, idempotentReplays: number }
  const fault = async (provider: string, settings: Record<string, unknown> | null) => {
    await exchange!.app.inject(settings === null
      ? { method: 'DELETE', url: `/admin/faults/${provider}` }
      : { method: 'PUT', url: `/admin/faults/${provider}`, payload: settings })
  }
  // Each application's `delivered` events: exactly one each means no delivery
  // was recorded twice.
  const deliveredEvents = async (ids: string[]) => (await app.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM application_events WHERE application_id = ANY($1::uuid[]) AND status = 'delivered' GROUP BY application_id", [ids])).rows.map((r) => r.n)
  const settled = (ids: string[], timeoutMs: number) => eventually(async () =>
    (await count(ids, "status IN ('delivered', 'decided', 'failed')")) === ids.length || undefined, timeoutMs)
    .catch(async (err) => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify(await byStatus(ids))}`)
    })
  return { submit, submitAll, count, byStatus, reached, agency, fault, deliveredEvents, settled }
}

// The environment a `npm run worker` process needs to join this test's gateway.
export function workerEnv (ctx: TestApp, extra: Record<string, string> = {}): Record<string, string> {
  const { config } = ctx
  return {
    DATABASE_URL: config.database.url!,
    DATABASE_SCHEMA: config.database.schema,
    REDIS_URL: config.redis.url,
    REDIS_KEY_PREFIX: config.redis.keyPrefix,
    EXCHANGE_URL: ctx.exchange!.url,
    DATA_DIR: ctx.dataDir,
    DELIVERY_BACKOFF_BASE_MS: config.delivery.backoffBaseMs.toString(),
    DELIVERY_BACKOFF_MAX_MS: config.delivery.backoffMaxMs.toString(),
    DELIVERY_LOCK_MS: '1000',
    DECISION_POLL_MS: config.delivery.decisionPollMs.toString(),
    RECONCILE_INTERVAL_MS: config.delivery.reconcileIntervalMs.toString(),
    RECONCILE_GRACE_MS: config.delivery.reconcileGraceMs.toString(),
    LOG_LEVEL: 'info',
    ...extra,
  }
}

// Starts a worker process, killed when the test ends.
export function spawnWorker (t: Test, env: Record<string, string>): ServerProcess {
  const worker = spawnServer(WORKER_SCRIPT, env)
  t.teardown(() => { worker.child.kill('SIGKILL') })
  return worker
}

// The same, once it is ready.
export async function startWorkerProcess (t: Test, env: Record<string, string>): Promise<ServerProcess> {
  const worker = spawnWorker(t, env)
  await worker.waitFor(/delivery worker ready/)
  return worker
}

// A delivery worker in the test's own process, on the gateway's queue.
export function inProcessWorker (t: Test, ctx: TestApp) {
  const { app, config } = ctx
  const connection = createRedisConnection({ url: config.redis.url, role: 'worker' })
  const worker = createDeliveryWorker({
    connection,
    queue: app.applications.queue,
    prefix: `${config.redis.keyPrefix}:bull`,
    store: app.applications.store,
    adapters: app.adapters,
    settings: config.delivery,
    concurrency: 16,
    lockDurationMs: config.delivery.lockDurationMs,
    log: app.log,
  })
  t.teardown(async () => {
    await worker.close()
    connection.disconnect()
  })
  return worker
}

// A counter's value from the gateway's Prometheus text.
export async function metric (ctx: TestApp, pattern: RegExp): Promise<number> {
  const text = (await ctx.app.inject({ method: 'GET', url: '/metrics' })).body
  const m = pattern.exec(text)
  return m === null ? 0 : Number(m[1])
}
