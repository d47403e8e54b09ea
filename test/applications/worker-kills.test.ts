import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { eventually } from '../helpers/eventually.ts'
import { adults, deliveryKit, spawnWorker, startWorkerProcess, workerEnv } from '../helpers/delivery.ts'
import { foldedFigures, rawFigures, sorted } from '../helpers/stats-history.ts'

// "202 means it will arrive", tried with real processes: delivery workers
// killed -9 again and again in the middle of deliveries.

const FAST = { OUTBOX_POLL_MS: '50', DELIVERY_BACKOFF_BASE_MS: '20', DELIVERY_BACKOFF_MAX_MS: '100', DECISION_POLL_MS: '600000', RECONCILE_INTERVAL_MS: '200' }

t.test('delivery workers killed -9 again and again mid-delivery: every application reaches the agency once, none is lost', async (tt) => {
  const ctx = await buildTestApp(tt, { exchange: { citizens: 500 }, env: { ...FAST, WORKER: 'off', RECONCILE_GRACE_MS: '3000' } })
  const kit = deliveryKit(ctx)
  // Slow enough that every kill leaves deliveries in flight.
  await kit.fault('welfare', { latencyMs: 150, jitterMs: 100 })
  const env = workerEnv(ctx, { DELIVERY_CONCURRENCY: '8' })
  const workers = [await startWorkerProcess(tt, env), await startWorkerProcess(tt, env)]
  const ids = await kit.submitAll(tt, adults.slice(0, 120))

  const KILLS = 5
  let inFlightAtKill = 0
  for (let k = 1; k <= KILLS; k++) {
    // Kill whenever the next share is delivered, with deliveries in flight;
    // the replacement starts while the other worker goes on.
    await eventually(async () => (await kit.count(ids, "status IN ('delivered', 'decided')")) >= k * 15 || undefined, 60000)
    inFlightAtKill += await kit.count(ids, "status = 'delivering'")
    const victim = workers[k % 2]!
    victim.child.kill('SIGKILL')
    await victim.exit
    workers[k % 2] = spawnWorker(tt, env)
  }
  tt.comment(`${KILLS} kills with ${inFlightAtKill} deliveries in flight at the kills`)
  await kit.settled(ids, 90000)
  tt.equal(await kit.count(ids, "status IN ('delivered', 'decided')"), 120, 'none failed, none left on its way')
  const agency = await kit.agency()
  tt.equal(agency.applicationsReceived, 120, 'each exactly once at the agency')
  tt.comment(`the agency saw ${agency.submissions} submissions for 120 applications (${agency.idempotentReplays} answered from its X-Road-Id cache)`)
  tt.ok((await kit.deliveredEvents(ids)).every((n) => n === 1), 'each delivered once in its history')
  const { rows } = await ctx.app.db.query<{ max: number, counted: number }>(
    'SELECT max(round_attempts)::int AS max, sum(round_attempts)::int AS counted FROM applications WHERE id = ANY($1::uuid[])', [ids])
  tt.comment(`attempts cut short by the kills and counted: ${rows[0]!.counted} (at most ${rows[0]!.max} for one application)`)
  tt.ok(rows[0]!.max < 12, 'far from the attempt budget')
  // The statistics, folded while the workers were killed, say the same as
  // the raw history (once the workers stop, so decisions stop coming in).
  for (const w of workers) {
    w.child.kill('SIGTERM')
    await w.exit
  }
  await ctx.app.stats.fold()
  const [raw, folded] = await Promise.all([rawFigures(ctx.app), foldedFigures(ctx.app)])
  for (const k of ['flow', 'delivery', 'open', 'persons'] as const) tt.same(sorted(folded[k]), sorted(raw[k]), `the roll-ups' ${k} equal the raw history`)
})
