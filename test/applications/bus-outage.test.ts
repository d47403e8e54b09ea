import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { eventually } from '../helpers/eventually.ts'
import { adults, deliveryKit, metric } from '../helpers/delivery.ts'

// "202 means it will arrive": a bus outage far longer than the whole backoff
// schedule costs time, never attempts, and the backlog drains once it is over.

const FAST = { OUTBOX_POLL_MS: '50', DELIVERY_BACKOFF_BASE_MS: '20', DELIVERY_BACKOFF_MAX_MS: '100', DECISION_POLL_MS: '600000', RECONCILE_INTERVAL_MS: '200' }

t.test('a bus outage far longer than the whole backoff schedule spends no attempt; the backlog drains once the bus is back', async (tt) => {
  // Three attempts of 20-100 ms: the old schedule was spent in well under a second.
  const COOL_DOWN_MS = 300
  const ctx = await buildTestApp(tt, {
    exchange: { citizens: 500 },
    env: { ...FAST, DELIVERY_ATTEMPTS: '3', BUS_BREAKER_COOLDOWN_MS: String(COOL_DOWN_MS), RECONCILE_GRACE_MS: '2000' },
  })
  const { app } = ctx
  const kit = deliveryKit(ctx)
  // The welfare agency cannot be reached: connections close with no answer.
  await kit.fault('welfare', { down: true })
  const ids = await kit.submitAll(tt, adults.slice(0, 100))
  // Each application put off five times over: many times the old schedule.
  await eventually(async () => await metric(ctx, /^application_delivery_bus_waits_total (\d+)/m) >= 500 || undefined, 60000)
  // Waiting, whether still in the outbox, queued, or mid-probe: none failed, none delivered.
  tt.equal(await kit.count(ids, "status IN ('failed', 'delivered', 'decided')"), 0, 'nothing dead-lettered')
  const { rows } = await app.db.query<{ max: number }>('SELECT max(round_attempts)::int AS max FROM applications WHERE id = ANY($1::uuid[])', [ids])
  tt.equal(rows[0]!.max, 0, 'the bus\'s absence spent no attempt')
  tt.equal((await kit.agency()).applicationsReceived, 0)
  // No job sleeps on a long timer: each comes back when the circuit lets a
  // call through (its cool-down, or a second while a probe is out), plus at
  // most as much again of jitter.
  const delayed = await app.applications.queue.getDelayed()
  tt.ok(delayed.length > 0)
  tt.ok(delayed.every((j) => j.delay <= 2 * Math.max(COOL_DOWN_MS, 1000)), `the longest wait is ${Math.max(...delayed.map((j) => j.delay))} ms`)

  const back = Date.now()
  await kit.fault('welfare', null)
  await kit.settled(ids, 60000)
  tt.comment(`the backlog of 100 drained ${Date.now() - back} ms after the bus came back`)
  tt.same(await kit.reached(ids), { reached: 100 })
  tt.equal((await kit.agency()).applicationsReceived, 100, 'each exactly once at the agency')
  tt.ok((await kit.deliveredEvents(ids)).every((n) => n === 1), 'each delivered once in its history')
})
