import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import t, { type Test } from 'tap'
import { runStats } from '../../src/cli/stats.ts'
import { ROLLUP_TABLES } from '../../src/stats/rollup.ts'
import { eventually } from '../helpers/eventually.ts'
import { dropSchema, TEST_DATABASE_URL, uniqueName } from '../helpers/services.ts'

// `npm run stats`: a simulated history written through the gateway's
// application store and folded; the same seed gives the same figures, a
// rebuild gives the same tables, and the bulk writer writes what the store
// writes.

const run = promisify(execFile)
const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'stats.ts')
// Far enough in the past that every simulated step has happened by now.
const simulation = (seed: number) => ['simulate', '--applications', '300', '--months', '3', '--end', '2026-05', '--seed', String(seed)]
const SIMULATION = simulation(42)
// A seed whose history takes every kind of step (checked below).
const EVERY_STEP = simulation(10)

function ownDir (tt: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'oss-stats-cli-'))
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

// A schema of the test's own, and the command run against it in-process.
function cliOn (tt: Test) {
  const schema = uniqueName('stats_cli')
  tt.teardown(() => dropSchema(schema))
  const env = { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, DATA_DIR: ownDir(tt), LOG_LEVEL: 'silent', STATS_FOLD_BATCH: '500' }
  return {
    schema,
    async run (...argv: string[]) {
      const out: string[] = []
      const err: string[] = []
      const code = await runStats(argv, env, { out: (l) => out.push(l), err: (l) => err.push(l) })
      return { code, out: out.join('\n'), err: err.join('\n') }
    },
  }
}

async function query<T = Record<string, unknown>> (schema: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path="${schema}"` })
  await client.connect()
  try {
    return (await client.query(sql)).rows as T[]
  } finally {
    await client.end()
  }
}

const text = (rows: unknown[]) => rows.map((r) => JSON.stringify(r, (_, v) => (v instanceof Date ? v.toISOString() : v)))

// Every roll-up table, sorted, for comparing two states.
async function rollupTables (schema: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {}
  for (const table of ROLLUP_TABLES) out[table] = text(await query(schema, `SELECT * FROM ${table}`)).sort()
  return out
}

// What the simulation wrote, without what only the clock or the sequence decides.
async function history (schema: string) {
  return {
    applications: text(await query(schema, 'SELECT * FROM applications ORDER BY id')),
    events: text(await query(schema, 'SELECT application_id, at, status, attempt, detail, notify, notify_due_at FROM application_events ORDER BY application_id, id')),
    keys: text(await query(schema, 'SELECT caller, key, request_hash, status, response FROM idempotency_keys ORDER BY caller, key')),
    outbox: text(await query(schema, 'SELECT * FROM application_outbox')),
  }
}

t.test('simulate, fold and rebuild on the real PostgreSQL', async (tt) => {
  const a = cliOn(tt)
  const simulated = await a.run(...SIMULATION)
  tt.equal(simulated.code, 0, simulated.err)
  tt.match(simulated.out, /simulated 300 applications \([0-9,]+ events, [0-9,]+ persons\) received from 2026-03 to 2026-05/)
  tt.match(simulated.out, /curl .*\/v1\/stats\/report\?period=2026-05&unit=62&format=html/)
  tt.match(simulated.out, /npm run --silent token -- admin/)

  const tables = await rollupTables(a.schema)
  for (const table of ['stats_flow', 'stats_durations', 'stats_delivery', 'stats_persons_seen', 'stats_persons']) {
    tt.ok(tables[table]!.length > 0, `${table} has rows`)
  }
  const [received] = await query<{ n: number, months: number }>(a.schema,
    "SELECT sum(received)::int AS n, count(DISTINCT period) FILTER (WHERE received > 0)::int AS months FROM stats_flow WHERE unit = '' AND service = '' AND grain = 'month'")
  tt.equal(received!.n, 300, 'the country received every simulated application')
  tt.equal(received!.months, 3, 'received over the three months (decided later, too)')
  const [outcomes] = await query<{ decided: number, failed: number, open: number }>(a.schema,
    "SELECT count(*) FILTER (WHERE status = 'decided')::int AS decided, count(*) FILTER (WHERE status = 'failed')::int AS failed, count(*) FILTER (WHERE status NOT IN ('decided', 'failed'))::int AS open FROM applications")
  tt.ok(outcomes!.decided > 250, 'most applications are decided')
  tt.equal(outcomes!.decided + outcomes!.failed + outcomes!.open, 300)
  const [people] = await query<{ invalid: number, repeat: number }>(a.schema,
    "SELECT count(*) FILTER (WHERE applicant_regnum !~ '^[А-ЯЁӨҮ]{2}[0-9]{8}$')::int AS invalid, (SELECT count(*)::int FROM (SELECT 1 FROM applications GROUP BY applicant_regnum HAVING count(*) > 1) r) AS repeat FROM applications")
  tt.equal(people!.invalid, 0, 'registration numbers are well-formed')
  tt.ok(people!.repeat > 0, 'some people applied more than once')

  // The same seed in another schema: the same figures.
  const b = cliOn(tt)
  tt.equal((await b.run(...SIMULATION)).code, 0)
  tt.same(await rollupTables(b.schema), tables, 'the same seed gives the same roll-ups')

  // A rebuild from the raw history gives the tables the fold made.
  const rebuilt = await a.run('rebuild')
  tt.equal(rebuilt.code, 0, rebuilt.err)
  tt.match(rebuilt.out, /rebuilt the statistics roll-ups: folded [0-9,]+ application events and 0 audit records in [0-9.]+ s/)
  tt.same(await rollupTables(a.schema), tables, 'a rebuild gives identical roll-up tables')
  const folded = await a.run('fold')
  tt.equal(folded.code, 0, folded.err)
  tt.match(folded.out, /^folded 0 application events and 0 audit records/)

  // The same simulation again is refused, and nothing is written.
  const again = await a.run(...SIMULATION)
  tt.equal(again.code, 1)
  tt.match(again.err, /is already in the database; use another --seed/)
  const [count] = await query<{ n: number }>(a.schema, 'SELECT count(*)::int AS n FROM applications')
  tt.equal(count!.n, 300)
  tt.equal((await a.run('simulate', '--months', '3')).code, 64, '--applications is required')
  tt.equal((await a.run('rebuild', '--seed', '1')).code, 64)
  tt.equal((await a.run('simulate', '--applications', '5', '--end', '2999-01')).code, 64, 'a history cannot end in the future')
})

t.test('the bulk writer writes what the store functions write', async (tt) => {
  const bulk = cliOn(tt)
  const store = cliOn(tt)
  const [viaBulk, viaStore] = [await bulk.run(...EVERY_STEP), await store.run(...EVERY_STEP, '--through-store')]
  tt.equal(viaBulk.code, 0, viaBulk.err)
  tt.equal(viaStore.code, 0, viaStore.err)
  tt.match(viaStore.out, /through the store/)
  // The seed takes every kind of step, so each is compared.
  const [kinds] = await query<Record<string, number>>(store.schema, `SELECT
    count(*) FILTER (WHERE detail LIKE 'retry requested by admin:%')::int AS admin_retry,
    count(*) FILTER (WHERE detail LIKE 'the queue gave up on its job%')::int AS job_given_up,
    count(*) FILTER (WHERE detail LIKE 'the bus could not be reached, no attempt spent%')::int AS bus_wait,
    count(*) FILTER (WHERE detail LIKE 'rejected by the agency: %')::int AS refused,
    count(*) FILTER (WHERE detail LIKE 'dead-lettered after 12 attempts: %')::int AS dead_lettered,
    count(*) FILTER (WHERE detail LIKE 'attempt % failed, will retry: %')::int AS will_retry,
    count(*) FILTER (WHERE detail = 'the agency rejected it')::int AS rejected
    FROM application_events`)
  for (const [kind, n] of Object.entries(kinds!)) tt.ok(n > 0, `the history has ${kind} steps`)
  const [b, s] = [await history(bulk.schema), await history(store.schema)]
  tt.equal(s.applications.length, 300)
  tt.same(b.applications, s.applications, 'the same applications, in the same states')
  tt.same(b.events, s.events, 'the same events, with the same statuses, attempts and details')
  tt.same(b.keys, s.keys, 'the same idempotency records')
  tt.same(s.outbox, [], 'nothing is left in the outbox')
  tt.same(await rollupTables(bulk.schema), await rollupTables(store.schema), 'the same roll-ups')
})

t.test('an older transaction still running: the fold takes what committed after it, once', async (tt) => {
  const cli = cliOn(tt)
  // A transaction that wrote something before the simulation did, still open:
  // it holds the horizon back, so the simulation's events are folded ahead of it.
  const other = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await other.connect()
  tt.teardown(() => other.end())
  await other.query('BEGIN')
  await other.query('SELECT pg_current_xact_id()')
  const simulated = await cli.run('simulate', '--applications', '40', '--months', '1', '--end', '2026-05', '--seed', '5')
  tt.equal(simulated.code, 0, simulated.err)
  const received = async () => (await query<{ n: number }>(cli.schema, "SELECT coalesce(sum(received), 0)::int AS n FROM stats_flow WHERE unit = '' AND service = '' AND grain = 'month'"))[0]!.n
  tt.equal(await received(), 40, 'folded while the older transaction runs')
  const [ahead] = await query<{ n: number }>(cli.schema, 'SELECT count(*)::int AS n FROM stats_folded_ahead')
  tt.ok(ahead!.n > 0, 'remembered as folded ahead of the horizon')
  await other.query('COMMIT')
  // The horizon is the oldest transaction running anywhere on the server:
  // on a shared, busy server another one may hold it a moment longer, so
  // fold until it has passed them, and never count them again meanwhile.
  const counts: number[] = []
  await eventually(async () => {
    const folded = await cli.run('fold')
    if (folded.code !== 0) throw new Error(folded.err)
    counts.push(await received())
    const [left] = await query<{ n: number }>(cli.schema, 'SELECT count(*)::int AS n FROM stats_folded_ahead')
    return left!.n === 0 || undefined
  }, 60_000, 100)
  tt.same([...new Set(counts)], [40], 'and not again once the horizon passes them, however many folds it takes')
  const [left] = await query<{ n: number }>(cli.schema, 'SELECT count(*)::int AS n FROM stats_folded_ahead')
  tt.equal(left!.n, 0, 'nothing is left to remember')
})

t.test('usage, and a store held by a running gateway', async (tt) => {
  const cli = (args: string[], env: Record<string, string> = {}) => run(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, LOG_LEVEL: 'silent', ...env } }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number, stdout: string, stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }))

  const help = await cli(['--help'])
  tt.equal(help.code, 0)
  tt.match(help.stdout, /usage: npm run stats -- <command>/)
  const unknown = await cli(['frobnicate'])
  tt.equal(unknown.code, 64)
  tt.match(unknown.stderr, /usage: npm run stats/)

  // What a running gateway on the embedded store leaves in DATA_DIR: the
  // lock, held by a live process (this one).
  const dataDir = ownDir(tt)
  mkdirSync(join(dataDir, 'db'), { recursive: true })
  writeFileSync(join(dataDir, 'db', 'pglite.lock'), String(process.pid))
  const locked = await cli(['rebuild'], { DATA_DIR: dataDir })
  tt.equal(locked.code, 1)
  tt.equal(locked.stderr.trim().split('\n').length, 1, locked.stderr)
  tt.match(locked.stderr, /^error: the embedded store in .* is in use by process [0-9]+; .*stop the gateway/)
})
