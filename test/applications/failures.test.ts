import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import t from 'tap'
import { Redis } from 'ioredis'
import { generatePopulation, type Citizen } from '../../src/exchange/index.ts'
import { buildSeedDocument } from '../../src/catalogue/seed.ts'
import { buildTestApp } from '../helpers/app.ts'
import { eventually } from '../helpers/eventually.ts'
import { spawnServer } from '../helpers/process.ts'

// Real processes and real failures: a worker killed mid-delivery, and Redis
// stopped while applications keep arriving.

const WORKER = join(import.meta.dirname, '..', '..', 'src', 'worker.ts')
const adults = generatePopulation({ citizens: 500 }).livingAdults()
const childMoney = buildSeedDocument().services.find((s) => s.code === 'welfare.child-money')!
const body = (c: Citizen) => ({ service: childMoney.code, unit: c.homeUnit, channel: 'online', applicant: { regnum: c.regnum }, form: (childMoney.formSchema.examples as object[])[0] })
let n = 0

async function freePort (): Promise<number> {
  const { createServer } = await import('node:net')
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

t.test('a worker killed -9 mid-delivery: another finishes it, and the agency has it once', async (tt) => {
  const ctx = await buildTestApp(tt, {
    exchange: { citizens: 500 },
    env: { WORKER: 'off', OUTBOX_POLL_MS: '50' },
  })
  const { app, config, exchange, dataDir, token } = ctx
  const workerEnv = {
    DATABASE_URL: config.database.url!,
    DATABASE_SCHEMA: config.database.schema,
    REDIS_URL: config.redis.url,
    REDIS_KEY_PREFIX: config.redis.keyPrefix,
    EXCHANGE_URL: exchange!.url,
    DATA_DIR: dataDir,
    DELIVERY_LOCK_MS: '1000',
    DELIVERY_BACKOFF_BASE_MS: '20',
    DELIVERY_BACKOFF_MAX_MS: '100',
    LOG_LEVEL: 'info',
  }
  await exchange!.app.inject({ method: 'PUT', url: '/admin/faults/welfare', payload: { latencyMs: 3000 } })
  const first = spawnServer(WORKER, workerEnv)
  tt.teardown(() => { first.child.kill('SIGKILL') })
  await first.waitFor(/delivery worker ready/)

  const citizen = adults[0]!
  const res = await app.inject({
    method: 'POST',
    url: '/v1/applications',
    headers: { authorization: `Bearer ${await token('citizen', { claims: { sub: citizen.regnum } })}`, 'idempotency-key': `crash-${n++}-${Date.now()}` },
    payload: body(citizen),
  })
  tt.equal(res.statusCode, 202)
  const id = res.json().id
  const admin = async () => ({ authorization: `Bearer ${await token('admin')}` })
  const status = async () => (await app.inject({ method: 'GET', url: `/v1/applications/${id}`, headers: await admin() })).json()
  await eventually(async () => (await status()).status === 'delivering' || undefined)
  first.child.kill('SIGKILL')
  await first.exit

  await exchange!.app.inject({ method: 'DELETE', url: '/admin/faults/welfare' })
  const second = spawnServer(WORKER, workerEnv)
  tt.teardown(() => { second.child.kill('SIGKILL') })
  const done = await eventually(async () => { const s = await status(); return ['delivered', 'decided'].includes(s.status) ? s : undefined }, 30000)
  const deliveries = done.history.filter((h: { status: string }) => h.status === 'delivering').map((h: { attempt: number }) => h.attempt)
  tt.same(deliveries, [1, 2], 'the history shows the second attempt')
  const counters = (await exchange!.app.inject({ method: 'GET', url: '/admin/providers/welfare/counters' })).json()
  tt.equal(counters.applicationsReceived, 1, 'the agency has it exactly once')
  second.child.kill('SIGTERM')
  await second.exit
})

t.test('Redis stopped: applications are still accepted from the outbox, and delivered when it returns', async (tt) => {
  const port = await freePort()
  const startRedis = () => spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  let redis = startRedis()
  tt.teardown(() => { redis.kill('SIGKILL') })
  const url = `redis://127.0.0.1:${port}`
  await eventually(async () => {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    probe.on('error', () => {})
    try { await probe.connect(); return (await probe.ping()) === 'PONG' } catch { return undefined } finally { probe.disconnect() }
  })
  const { app, exchange, token } = await buildTestApp(tt, {
    exchange: { citizens: 500 },
    env: { REDIS_URL: url, OUTBOX_POLL_MS: '50', DELIVERY_BACKOFF_BASE_MS: '20', DELIVERY_BACKOFF_MAX_MS: '100' },
  })
  const submit = async (c: Citizen) => app.inject({
    method: 'POST',
    url: '/v1/applications',
    headers: { authorization: `Bearer ${await token('citizen', { claims: { sub: c.regnum } })}`, 'idempotency-key': `outage-${n++}-${Date.now()}` },
    payload: body(c),
  })
  const admin = async () => ({ authorization: `Bearer ${await token('admin')}` })
  const status = async (id: string) => (await app.inject({ method: 'GET', url: `/v1/applications/${id}`, headers: await admin() })).json()

  redis.kill('SIGTERM')
  await once(redis, 'exit')
  const ids: string[] = []
  for (const c of adults.slice(0, 20)) {
    const res = await submit(c)
    tt.equal(res.statusCode, 202, res.body)
    ids.push(res.json().id)
  }
  tt.ok((await Promise.all(ids.map(status))).every((s) => s.status === 'received'), 'waiting in the outbox')
  tt.equal((await app.inject({ method: 'GET', url: '/health/ready' })).json().checks.redis.status, 'down')

  redis = startRedis()
  const all = await eventually(async () => {
    const list = await Promise.all(ids.map(status))
    return list.every((s) => ['delivered', 'decided'].includes(s.status)) ? list : undefined
  }, 30000).catch(async (err) => {
    const { rows } = await app.db.query('SELECT status, count(*)::int AS n FROM applications GROUP BY status')
    const outbox = await app.db.query('SELECT count(*)::int AS n FROM application_outbox')
    tt.comment('after the wait: statuses', JSON.stringify(rows), 'outbox', JSON.stringify(outbox.rows), 'queue', JSON.stringify(await app.applications.queue.getJobCounts()))
    throw err
  })
  tt.equal(all.length, 20)
  const counters = (await exchange!.app.inject({ method: 'GET', url: '/admin/providers/welfare/counters' })).json()
  tt.equal(counters.applicationsReceived, 20)
})
