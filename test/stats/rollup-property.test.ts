import { randomUUID } from 'node:crypto'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { requestHash, type NewApplication } from '../../src/applications/store.ts'
import { createRandom } from '../../src/exchange/prng.ts'
import { buildTestApp } from '../helpers/app.ts'
import { foldedFigures, QUIET_ENV, rawFigures, rollupTables, sorted } from '../helpers/stats-history.ts'

// Roll-ups folded while histories are being written (a random mix of intake,
// packages, attempts, retries, dead-letters, admin retries and workers that
// stopped mid-delivery) equal both a rebuild from the raw history and figures
// computed naively from the raw tables here.


const SERVICES = ['insurance.insurance-book', 'insurance.old-age-pension', 'welfare.child-money']
const UNITS = ['620151', '6201', '6204', '2101', '110101']
const CHANNELS = ['oss_counter', 'mobile_oss', 'online']
const PEOPLE = ['УБ90051223', 'ТА05231517', 'ХО60012048', 'ЧБ85070735', 'АА10310442', 'БЕ75112061']

async function history (app: FastifyInstance, seed: number, applications: number): Promise<void> {
  const rnd = createRandom('rollup-property', seed).next
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!
  const store = app.applications.store
  const folds: Array<Promise<unknown>> = []

  // One deliverable (a plain application or a package part) on a random walk.
  async function walk (topId: string, id: string): Promise<void> {
    await store.markQueued([topId], 60_000)
    for (let step = 0; step < 8; step++) {
      const app1 = await store.startAttempt(id, 60_000)
      if (app1 === null) return
      // A worker that stopped mid-delivery: the next start counts it, or the queue gives up on the job.
      if (rnd() < 0.15) {
        if (rnd() < 0.5) await store.jobGivenUp(id, 3, 60_000)
        continue
      }
      const r = rnd()
      if (r < 0.55) {
        await store.transition(id, 'delivered', { from: ['delivering'], attempt: app1.attempts, agencyReference: 'REF', dueInMs: 60_000 })
        const d = rnd()
        if (d < 0.45) await store.transition(id, 'decided', { from: ['delivered'], decision: 'approved' })
        else if (d < 0.7) await store.transition(id, 'decided', { from: ['delivered'], decision: 'rejected', reason: 'no' })
        return
      }
      if (r < 0.8) {
        await store.transition(id, 'queued', { from: ['delivering'], attempt: app1.attempts, counted: true, detail: 'will retry', dueInMs: 60_000 })
        continue
      }
      await store.transition(id, 'failed', { from: ['delivering'], attempt: app1.attempts, counted: true, reason: 'dead-lettered' })
      if (rnd() < 0.5) {
        await store.retry(topId, 'admin-test')
        continue
      }
      return
    }
  }

  async function one (): Promise<void> {
    const id = randomUUID()
    const base: NewApplication = {
      id, service: pick(SERVICES), adapter: 'x.submitApplication', unit: pick(UNITS), channel: pick(CHANNELS), applicantRegnum: pick(PEOPLE),
      form: {}, submittedBy: 'officer-test', submittedRole: 'officer', portal: null, packageId: null,
    }
    if (rnd() < 0.25) {
      const pkg = { ...base, service: 'package.newborn', adapter: null }
      const parts = ['civil.birth-registration', 'welfare.child-money'].map((service) => ({ ...base, id: randomUUID(), service, adapter: `${service}.submitApplication` }))
      await store.intake('prop', id, requestHash(pkg), pkg, () => ({ status: 202, body: {}, headers: {} }), parts)
      await Promise.all(parts.map((p) => walk(id, p.id)))
    } else {
      await store.intake('prop', id, requestHash(base), base, () => ({ status: 202, body: {}, headers: {} }))
      if (rnd() < 0.9) await walk(id, id)
    }
    // Folds run while other histories are being written.
    if (rnd() < 0.3) folds.push(app.stats.rollup.fold())
  }

  // A few at a time, so transactions interleave with each other and the folds.
  for (let i = 0; i < applications; i += 4) await Promise.all(Array.from({ length: Math.min(4, applications - i) }, one))
  await Promise.all(folds)
}

t.test('roll-ups folded along the way equal the raw history and a rebuild', async (tt) => {
  // The test is the only writer: no worker, relay or reconciler of the gateway's own.
  const ctx = await buildTestApp(tt, { env: { ...QUIET_ENV, STATS_FOLD_BATCH: '7' } })
  const { app } = ctx
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    await history(app, seed, 24)
    await app.stats.fold()
    const [expected, got] = await Promise.all([rawFigures(app), foldedFigures(app)])
    for (const k of ['flow', 'delivery', 'open', 'persons'] as const) {
      tt.same(sorted(got[k]), sorted(expected[k]), `seed ${seed}: ${k} equals the raw history`)
    }
  }
  // Each unit's total row is the sum of its rows by service and channel.
  const { rows: mismatched } = await app.db.query(`
    SELECT t.grain, t.unit, t.period FROM stats_flow t
    JOIN (SELECT grain, unit, period, sum(received) AS received, sum(decided) AS decided, sum(failed) AS failed
          FROM stats_flow WHERE service <> '' GROUP BY 1, 2, 3) d USING (grain, unit, period)
    WHERE t.service = '' AND (t.received, t.decided, t.failed) IS DISTINCT FROM (d.received, d.decided, d.failed)`)
  tt.same(mismatched, [], 'the totals rows add up')
  const incremental = await rollupTables(app)
  tt.ok(incremental.stats_flow!.length > 0, 'there is something to compare')
  const rebuilt = await app.stats.rollup.rebuild()
  tt.ok(rebuilt.events > 0)
  tt.same(await rollupTables(app), incremental, 'a rebuild from the raw history gives identical tables')
})
