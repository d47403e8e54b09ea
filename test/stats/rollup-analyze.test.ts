import t from 'tap'
import { createEmbeddedDatabase } from '../../src/db/embedded.ts'
import { migrate } from '../../src/db/migrate.ts'
import { createRollup, STATS_TABLES } from '../../src/stats/rollup.ts'
import { simulate } from '../../src/stats/simulate.ts'

// The embedded store has no autovacuum: the fold refreshes the planner's
// statistics of the roll-ups itself, every so many events, and after a rebuild.
t.test('the fold analyses the roll-ups every N events, and after a rebuild', async (t) => {
  const db = await createEmbeddedDatabase({ dataDir: t.testdir(), schema: 'public' })
  t.teardown(() => db.close())
  await migrate(db)
  const now = Date.parse('2026-11-30T12:00:00Z')
  const sim = await simulate(db, { applications: 300, months: 2, end: '2026-11', seed: 7, now })
  t.ok(sim.events > 300, `${sim.events} events written`)
  // reltuples is -1 until a table is first vacuumed or analysed.
  const analysed = async () => (await db.query<{ n: number }>("SELECT reltuples::float8 AS n FROM pg_class WHERE relname = 'stats_flow' AND relkind = 'r'")).rows[0]!.n

  const never = createRollup(db, { batchSize: 100, aheadAfterMs: 0 })
  const first = await never.catchUp()
  t.equal(first.events, sim.events, 'everything folded')
  t.equal(await analysed(), -1, 'not analysed without analyzeEveryEvents')

  const every = createRollup(db, { batchSize: 100, aheadAfterMs: 0, analyzeEveryEvents: sim.events })
  await every.rebuild()
  const rows = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM stats_flow')).rows[0]!.n
  t.equal(await analysed(), rows, `analysed after the rebuild: ${rows} rows`)
  // Month rows only, analysed: the statistics now say fewer rows than a fold makes.
  await db.query('DELETE FROM stats_flow WHERE grain = $1', ['day'])
  await db.query('ANALYZE stats_flow')
  const months = await analysed()
  t.ok(months > 0 && months < rows, `${months} month rows`)
  const replay = async (analyzeEveryEvents: number) => {
    for (const table of STATS_TABLES) await db.query(`DELETE FROM ${table}`)
    await db.query("UPDATE stats_cursor SET event_xid = '0'::xid8, event_id = 0, audit_seq = 0")
    return createRollup(db, { batchSize: 100, aheadAfterMs: 0, analyzeEveryEvents })
  }
  const short = await replay(sim.events + 1)
  t.equal((await short.catchUp()).events, sim.events)
  t.equal(await analysed(), months, `${sim.events} events are fewer than ${sim.events + 1}: not analysed`)
  const enough = await replay(sim.events)
  await enough.catchUp()
  t.equal(await analysed(), rows, `${sim.events} events: analysed`)
})
