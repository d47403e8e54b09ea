import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { eventually } from '../helpers/eventually.ts'
import { adults, deliveryKit, metric } from '../helpers/delivery.ts'
import { TEST_DATABASE_URL } from '../helpers/services.ts'
import { startTcpProxy } from '../helpers/tcp-proxy.ts'

// "202 means it will arrive": PostgreSQL unreachable (a TCP proxy the test
// cuts; the shared server keeps running) while deliveries are in flight.
// Intake answers 503, never 500; deliveries wait without spending attempts
// and finish, each once at the agency, when the database is back.

const FAST = { OUTBOX_POLL_MS: '50', DELIVERY_BACKOFF_BASE_MS: '20', DELIVERY_BACKOFF_MAX_MS: '100', DECISION_POLL_MS: '600000', RECONCILE_INTERVAL_MS: '200', RECONCILE_GRACE_MS: '3000' }

t.test('PostgreSQL unreachable mid-delivery: intake is 503 with Retry-After, and every accepted application reaches the agency once', async (tt) => {
  const target = new URL(TEST_DATABASE_URL)
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) })
  tt.teardown(() => proxy.close())
  const viaProxy = new URL(TEST_DATABASE_URL)
  viaProxy.host = `127.0.0.1:${proxy.port}`
  const ctx = await buildTestApp(tt, { exchange: { citizens: 500 }, env: { ...FAST, DATABASE_URL: viaProxy.toString(), DELIVERY_CONCURRENCY: '8' } })
  const { app } = ctx
  const kit = deliveryKit(ctx)
  // Slow enough that the outage meets deliveries in flight.
  await kit.fault('welfare', { latencyMs: 400 })
  const ids = await kit.submitAll(tt, adults.slice(0, 30))
  await eventually(async () => (await kit.count(ids, "status = 'delivering'")) > 0 || undefined)

  proxy.cut()
  const refused = await kit.submit(adults[40]!)
  tt.equal(refused.statusCode, 503)
  tt.equal(refused.json().code, 'STORE_UNAVAILABLE')
  tt.ok(Number(refused.headers['retry-after']) > 0, 'with Retry-After')
  // Deliveries meet the outage and wait for the database.
  await eventually(async () => await metric(ctx, /^application_delivery_store_waits_total (\d+)/m) >= 10 || undefined, 30000)
  tt.equal((await app.inject({ method: 'GET', url: '/health/ready' })).json().checks.database.status, 'down')
  proxy.restore()

  await kit.settled(ids, 60000)
  tt.same(await kit.reached(ids), { reached: 30 }, 'none failed')
  tt.equal((await kit.agency()).applicationsReceived, 30, 'each exactly once at the agency')
  tt.ok((await kit.deliveredEvents(ids)).every((n) => n === 1), 'each delivered once in its history')
  const { rows } = await app.db.query<{ max: number }>('SELECT max(round_attempts)::int AS max FROM applications WHERE id = ANY($1::uuid[])', [ids])
  tt.ok(rows[0]!.max <= 1, `the outage spent at most the attempt it cut short (${rows[0]!.max})`)
  const resent = await kit.submit(adults[40]!)
  tt.equal(resent.statusCode, 202, 'the refused application is accepted once the database is back')
})
