// Monitoring and evaluation statistics: `npm run bench:stats`.
//   1. A gateway on a fresh PostgreSQL schema (its migrations make the
//      roll-up tables), then the roll-ups that BENCH_APPLICATIONS
//      applications over 2026 would leave, generated straight into the tables
//      in SQL (generate_series, no per-row round trips): every real soum,
//      district, bag and khoroo of seed/mn-admin-units.json with each unit's
//      ancestors (country '', aimag, soum, bag), the published services that
//      have an adapter, three channels, a skewed spread (the capital heavy,
//      some aimags light, a few services dominant, months and weekdays
//      seasonal), day and month grains, and stats_persons_seen (a row per
//      person and year; BENCH_PERSONS_SEEN=0 leaves it empty). Every
//      row is summed from the same simulated applications, so a unit's figure
//      is the sum of its children's.
//   2. Reads through the gateway with autocannon and an admin token: the
//      national month report, an aimag ranking, the national figure by
//      aimag and an aimag's report as HTML; req/s, p50/p99 and CPU ms per
//      request of the gateway and of PostgreSQL.
//   3. Where a report's time goes: its SQL, one statement at a time (as the
//      gateway sends them: named prepared statements), against the same
//      report computed with the database's answers memoised (the JavaScript
//      part), EXPLAIN (ANALYZE, BUFFERS) of the heaviest statements (custom
//      and generic plans), and a CPU profile of the gateway serving reports.
//   4. Intake (POST /v1/applications, as bench/applications.ts drives it;
//      BENCH_APPLICANTS: fresh, each application from a person not seen
//      before, so that the fold writes every person's rows, and pool, the
//      1000 citizens bench/applications.ts cycles through) against a gateway
//      with the fold off (STATS_FOLD_INTERVAL_MS=0) and one with it on,
//      BENCH_ROUNDS rounds in alternating order, the same tables;
//      accepted/s, the ratio, the fold's lag at the end of each run and
//      PostgreSQL's CPU per application; then one more fold-off run whose
//      events the gateway's fold code folds in this process, each statement
//      timed (where the fold's time goes).
//   5. The figures as markdown, printed and written to bench/results/stats.md.
// Every gateway of a run runs a copy of the code taken when the run begins
// (its digest is printed), so edits made meanwhile do not stop it midway.
// Env: BENCH_APPLICATIONS (10000000), BENCH_SECONDS (5), BENCH_READ_CONNECTIONS (1,8),
// BENCH_CONNECTIONS (50, intake), BENCH_ROUNDS (2), BENCH_APPLICANTS (fresh,pool), BENCH_FOLD_INTERVAL_MS (1000),
// BENCH_STUCK_SHARE (0.01: applications never decided, which stay in the backlog),
// BENCH_PROFILE (auto: profile the gateway when a p99 misses 50 ms; 1 always; 0 never),
// BENCH_PERSONS_SEEN (1), BENCH_KEEP=1 keeps the schema, BENCH_SCHEMA=<a kept schema> measures it
// again without generating (and keeps it), BENCH_DATABASE_URL, BENCH_REDIS_URL.
import { createHash, randomUUID } from 'node:crypto'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'
import pg from 'pg'
import { ensureDevIssuer } from '../src/auth/dev-issuer.ts'
import { ensureDevMemberKeys } from '../src/bus/member-keys.ts'
import type { Database, Queryable, QueryResult } from '../src/db/index.ts'
import { benchGatewayEnv, cpuSeconds, deleteRedisKeys, devTokenMinter, dropPgSchema, freePort, machineBusy, pgBackendsOf, ROOT, start, stop, summariseProfile, waitFor } from './lib.ts'

const APPLICATIONS = Number(process.env.BENCH_APPLICATIONS ?? 10_000_000)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const READ_CONNECTIONS = (process.env.BENCH_READ_CONNECTIONS ?? '1,8').split(',').map(Number)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)
const FOLD_MS = Number(process.env.BENCH_FOLD_INTERVAL_MS ?? 1000)
const STUCK = Number(process.env.BENCH_STUCK_SHARE ?? 0.01)
const PROFILE = process.env.BENCH_PROFILE ?? 'auto'
const REUSE = process.env.BENCH_SCHEMA
const KEEP = process.env.BENCH_KEEP === '1' || REUSE !== undefined
const PERSONS_SEEN = process.env.BENCH_PERSONS_SEEN !== '0'
const APPLICANTS = (process.env.BENCH_APPLICANTS ?? 'fresh,pool').split(',').filter((a) => a === 'fresh' || a === 'pool')
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'
const OFFICER_UNIT = '8322'
const P99_GOAL_MS = 50
const OVERHEAD_GOAL = 0.10
const PERIOD = '2026-11'
const YEAR_END = '2026-12-31'

const dataDir = mkdtempSync(join(tmpdir(), 'oss-bench-stats-'))
// The gateway as it is when the run begins: a copy of the code, run by every
// gateway process this run starts and loaded here too, so that an edit made
// meanwhile (a migration changed, say) neither stops a gateway started later
// nor measures two versions in one run.
const appDir = join(dataDir, 'app')
for (const d of ['src', 'seed', 'schemas', 'adapters', 'specs']) cpSync(join(ROOT, d), join(appDir, d), { recursive: true })
for (const f of ['package.json', 'openapi.yaml']) cpSync(join(ROOT, f), join(appDir, f))
symlinkSync(join(ROOT, 'node_modules'), join(appDir, 'node_modules'))
// Which code this is: a digest of the statistics code and migrations as copied.
const codeDigest = (() => {
  const h = createHash('sha256')
  for (const dir of ['src/stats', 'src/db/migrations', 'src/routes']) {
    for (const f of readdirSync(join(appDir, dir)).sort()) {
      if (f.endsWith('.ts') || f.endsWith('.sql')) h.update(f).update(readFileSync(join(appDir, dir, f)))
    }
  }
  return h.digest('hex').slice(0, 12)
})()
const load = (path: string) => import(pathToFileURL(join(appDir, path)).href)
const { mongoliaToday } = await load('src/catalogue/offering.ts') as typeof import('../src/catalogue/offering.ts')
const { buildSeedDocument } = await load('src/catalogue/seed.ts') as typeof import('../src/catalogue/seed.ts')
const { createSnapshot } = await load('src/catalogue/snapshot.ts') as typeof import('../src/catalogue/snapshot.ts')
const { createPostgresDatabase } = await load('src/db/postgres.ts') as typeof import('../src/db/postgres.ts')
const { generatePopulation } = await load('src/exchange/index.ts') as typeof import('../src/exchange/index.ts')
const { createStatsAnswers } = await load('src/stats/answers.ts') as typeof import('../src/stats/answers.ts')
const { BUCKET_BOUNDS_S } = await load('src/stats/buckets.ts') as typeof import('../src/stats/buckets.ts')
const { loadIndicators } = await load('src/stats/indicators.ts') as typeof import('../src/stats/indicators.ts')
const { createStatsReader } = await load('src/stats/query.ts') as typeof import('../src/stats/query.ts')
const { renderReportHtml } = await load('src/stats/report-html.ts') as typeof import('../src/stats/report-html.ts')
// Whether the fold keeps a total row per unit and period (service '' and
// channel '') in stats_flow and stats_durations, as migration 0011 says it
// does now; the generated tables then have them too.
const TOTAL_ROWS = 'TOTAL' in (await load('src/stats/rollup.ts') as object)
ensureDevMemberKeys(dataDir)
await ensureDevIssuer(dataDir)
const schema = REUSE ?? `bench_stats_${process.pid}`
const keyPrefix = `bench:${schema}`
const busPort = await freePort()
const bus = `http://127.0.0.1:${busPort}`

const env = benchGatewayEnv({ dataDir, bus, databaseUrl: DATABASE_URL, schema, redisUrl: REDIS_URL, keyPrefix })

const exchange = start(join(appDir, 'src/exchange/main.ts'), { EXCHANGE_PORT: String(busPort), DATA_DIR: dataDir, EXCHANGE_LOG_LEVEL: 'warn' })
const gateways = new Set<ReturnType<typeof start>>()
const db = new pg.Client({ connectionString: DATABASE_URL, options: `-c search_path="${schema}"` })
let reportDb: Database | null = null

let cleaned: Promise<void> | null = null
function cleanup (): Promise<void> {
  cleaned ??= (async () => {
    for (const g of gateways) await stop(g).catch(() => {})
    await stop(exchange).catch(() => {})
    await reportDb?.close().catch(() => {})
    await db.end().catch(() => {})
    if (KEEP) {
      console.log(`BENCH_KEEP=1: schema ${schema} kept`)
    } else {
      await dropPgSchema(DATABASE_URL, schema).catch((err) => console.error(`could not drop schema ${schema}: ${(err as Error).message}`))
    }
    await deleteRedisKeys(REDIS_URL, `${keyPrefix}:`).catch((err) => console.error(`could not delete ${keyPrefix}:* in Redis: ${(err as Error).message}`))
  })()
  return cleaned
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: cleaning up`)
    void cleanup().finally(() => {
      rmSync(dataDir, { recursive: true, force: true })
      process.exit(130)
    })
  })
}

const out: string[] = []
const say = (line = '') => {
  console.log(line)
  out.push(line)
}
const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2))
const int = (x: number) => Math.round(x).toLocaleString('en-US')

// ---- gateways ---------------------------------------------------------------

interface Gateway { url: string, child: ReturnType<typeof start>, spawnedAt: number }
async function startGateway (foldMs: number, nodeArgs: string[] = []): Promise<Gateway> {
  const port = await freePort()
  const spawnedAt = performance.now()
  const child = start(join(appDir, 'src/server.ts'), { ...env, PORT: String(port), STATS_FOLD_INTERVAL_MS: String(foldMs) }, nodeArgs)
  gateways.add(child)
  const url = `http://127.0.0.1:${port}`
  // Not /health/ready: it fails while jobs wait with no worker, as they do after intake.
  await waitFor(`${url}/health/live`, 120)
  await waitFor(`${url}/v1/stats/indicators`, 60)
  return { url, child, spawnedAt }
}
async function stopGateway (g: Gateway): Promise<void> {
  await stop(g.child)
  gateways.delete(g.child)
}

// A copy of the CPU profile in `dir` with only the samples taken between
// `fromMs` and `toMs` of the process's life (not its start-up, say), for
// summariseProfile.
function trimProfile (dir: string, fromMs: number, toMs = Infinity): string {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  const trimmed = `${dir}-${Math.round(fromMs)}`
  mkdirSync(trimmed, { recursive: true })
  if (file === undefined) return trimmed
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { samples: number[], timeDeltas: number[] }
  let t = 0
  const keep: number[] = []
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0
    if (t >= fromMs * 1000 && t < toMs * 1000) keep.push(id)
  })
  writeFileSync(join(trimmed, file), JSON.stringify({ ...profile, samples: keep, timeDeltas: [] }))
  return trimmed
}

// ---- CPU: the gateway, its own PostgreSQL backends, and every postgres process

async function backendsOf (pid: number): Promise<Set<string>> {
  return new Set((await pgBackendsOf(pid, Number(new URL(DATABASE_URL).port || 5432), (sql, params) => db.query(sql, params))).map(String))
}

interface CpuUse { gateway: number, pgOwn: number, pgAll: number, seconds: number }
// CPU seconds between start and stop: the gateway process, the PostgreSQL
// backends connected to it (found at stop), and every postgres process
// (background writers included, and other sessions on the same server).
function cpuMeter (gatewayPid: number) {
  const before = cpuSeconds({ gateway: [gatewayPid], postgres: /^postgres/ })
  const t0 = performance.now()
  return async (): Promise<CpuUse> => {
    const own = await backendsOf(gatewayPid)
    const after = cpuSeconds({ gateway: [gatewayPid], postgres: /^postgres/ })
    const seconds = (performance.now() - t0) / 1000
    let pgOwn = 0
    let pgAll = 0
    for (const [pid, t] of after.postgres!) {
      const d = t - (before.postgres!.get(pid) ?? 0)
      pgAll += d
      if (own.has(pid)) pgOwn += d
    }
    const g = [...after.gateway!.values()][0] ?? 0
    const g0 = [...before.gateway!.values()][0] ?? 0
    return { gateway: g - g0, pgOwn, pgAll, seconds }
  }
}

// ---- 2. generation ------------------------------------------------------------

// A small deterministic PRNG (mulberry32), so every run builds the same spread.
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// Residents (thousands, about 2023) times a take-up factor: a few aimags use
// the one-stop shops less.
const AIMAG_WEIGHT: Record<string, number> = {
  11: 1692, 21: 83, 22: 63, 23: 79, 41: 97, 42: 18 * 0.7, 43: 111, 44: 72, 45: 110, 46: 72, 48: 46 * 0.6,
  61: 110, 62: 117, 63: 63, 64: 91, 65: 97, 67: 137, 81: 74, 82: 58 * 0.6, 83: 112 * 0.5, 84: 92, 85: 86,
}
// Services asked for most, most first; the rest follow in catalogue order.
const DOMINANT = ['civil.status-certificate', 'welfare.child-money', 'insurance.contribution-statement', 'insurance.health-insurance',
  'land.cadastral-extract', 'civil.address-change', 'notary.certified-copy', 'employment.jobseeker-registration', 'civil.id-card-replacement',
  'welfare.food-stamps', 'insurance.old-age-pension', 'civil.birth-registration', 'land.fee-statement', 'welfare.social-pension']
const RURAL = /^veterinary\.|^land\.pasture-camp$|^employment\.herder-employment$/
const MONTH_WEIGHT = [0.85, 0.65, 0.95, 1.0, 1.05, 1.1, 0.8, 0.95, 1.3, 1.1, 1.05, 1.2]
const HOLIDAYS: Record<string, number> = {
  '2026-01-01': 0.1, '2026-02-17': 0.1, '2026-02-18': 0.05, '2026-02-19': 0.1, '2026-03-08': 0.5, '2026-06-01': 0.5,
  '2026-07-11': 0.05, '2026-07-12': 0.05, '2026-07-13': 0.1, '2026-07-14': 0.2, '2026-07-15': 0.3, '2026-11-26': 0.2, '2026-12-29': 0.3,
}
function purposeOf (service: string): [string, string] {
  if (service.startsWith('welfare.')) return ['welfare.eligibility', 'GOSW']
  if (/^insurance\.(old-age|survivor|disability)-pension$/.test(service)) return ['insurance.pension_claim', 'GASI']
  if (service.startsWith('insurance.')) return ['insurance.benefit_claim', 'GASI']
  if (service.startsWith('civil.')) return ['civil.certificate', 'GASR']
  if (service.startsWith('employment.')) return ['employment.registration', 'GAEP']
  if (service.startsWith('land.')) return ['land.allocation', 'ALAMGAC']
  return ['oss.case_referral', 'OSS']
}

// Slot tables: picking slot floor(random() * K) picks a value with its weight.
function slots<T> (items: Array<{ value: T, weight: number }>, k: number): Array<{ value: T, n: number }> {
  const total = items.reduce((s, i) => s + i.weight, 0)
  return items.map((i) => ({ value: i.value, n: Math.max(1, Math.round((i.weight / total) * k)) }))
}

const ROLLUP_TABLES = ['stats_flow', 'stats_durations', 'stats_delivery', 'stats_backlog', 'stats_persons', 'stats_persons_seen', 'stats_lookups'] as const

interface Generated { rows: Record<string, number>, steps: Array<[string, number]>, seconds: number, leaves: number, services: number }

async function generate (n: number): Promise<Generated> {
  const doc = buildSeedDocument()
  const rand = prng(20261130)
  const byParent = new Map<string, typeof doc.units>()
  for (const u of doc.units) {
    const p = u.parent ?? ''
    byParent.set(p, [...byParent.get(p) ?? [], u])
  }
  // Leaves: each soum or district (its own OSS counter) and each bag or khoroo.
  const leaves: Array<{ value: { leaf: string, urban: boolean }, weight: number }> = []
  for (const aimag of byParent.get('') ?? []) {
    const urban = aimag.code === '11'
    const soums = (byParent.get(aimag.code) ?? []).map((s) => ({ s, w: 0.3 + 1.4 * rand() }))
    const soumTotal = soums.reduce((a, x) => a + x.w, 0)
    for (const { s, w } of soums) {
      const soumWeight = (AIMAG_WEIGHT[aimag.code] ?? 50) * (w / soumTotal)
      const bags = (byParent.get(s.code) ?? []).map((b) => ({ b, w: 0.2 + 1.6 * rand() }))
      const own = bags.length === 0 ? 1 : urban ? 0.15 : 0.35
      leaves.push({ value: { leaf: s.code, urban }, weight: soumWeight * own })
      const bagTotal = bags.reduce((a, x) => a + x.w, 0)
      for (const { b, w: bw } of bags) leaves.push({ value: { leaf: b.code, urban }, weight: soumWeight * (1 - own) * (bw / bagTotal) })
    }
  }
  const services = doc.services.filter((s) => s.adapter !== undefined)
  const ordered = [...DOMINANT.filter((c) => services.some((s) => s.code === c)), ...services.map((s) => s.code).filter((c) => !DOMINANT.includes(c))]
  const serviceRows = (urban: boolean) => ordered.map((code, i) => {
    const s = services.find((x) => x.code === code)!
    const [purpose, agency] = purposeOf(code)
    const weight = (1 / (i + 1) ** 1.1) * (RURAL.test(code) ? (urban ? 0.05 : 4) : 1)
    return { value: { urban, service: code, pdays: s.guide.processingDays ?? 1, purpose, agency }, weight }
  })
  const days: Array<{ value: string, weight: number }> = []
  for (let t = Date.UTC(2026, 0, 1); t <= Date.UTC(2026, 11, 31); t += 86400_000) {
    const d = new Date(t)
    const iso = d.toISOString().slice(0, 10)
    const dow = d.getUTCDay()
    days.push({ value: iso, weight: MONTH_WEIGHT[d.getUTCMonth()]! * (dow === 6 ? 0.25 : dow === 0 ? 0.15 : 1) * (HOLIDAYS[iso] ?? 1) })
  }
  const leafSlots = slots(leaves, 1_000_000)
  const urbanSlots = slots(serviceRows(true), 100_000)
  const ruralSlots = slots(serviceRows(false), 100_000)
  const daySlots = slots(days, 36_500)
  const kLeaf = leafSlots.reduce((s, x) => s + x.n, 0)
  const kUrban = urbanSlots.reduce((s, x) => s + x.n, 0)
  const kRural = ruralSlots.reduce((s, x) => s + x.n, 0)
  const kDay = daySlots.reduce((s, x) => s + x.n, 0)

  const rows: Record<string, number> = Object.fromEntries(ROLLUP_TABLES.map((t) => [t, 0]))
  const steps: Array<[string, number]> = []
  const t0 = performance.now()
  const step = async (what: string, sql: string, params?: unknown[], table?: string) => {
    const t = performance.now()
    const r = await db.query(sql, params)
    steps.push([what, (performance.now() - t) / 1000])
    if (table !== undefined) rows[table]! += r.rowCount ?? 0
    return r
  }

  await db.query("SET work_mem = '512MB'")
  await db.query("SET maintenance_work_mem = '1GB'")
  await db.query('SET synchronous_commit = off')
  await db.query('SELECT setseed(0.42)')

  // The migration's keys and indexes, dropped for the load and made again
  // afterwards from their own definitions (a bulk load, then one sort each).
  const { rows: indexes } = await db.query<{ tbl: string, idx: string, def: string, con: string | null, condef: string | null }>(
    `SELECT c.relname AS tbl, i.relname AS idx, pg_get_indexdef(i.oid) AS def, con.conname AS con, pg_get_constraintdef(con.oid) AS condef
     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace ns ON ns.oid = c.relnamespace
     LEFT JOIN pg_constraint con ON con.conindid = i.oid AND con.contype IN ('p', 'u')
     WHERE ns.nspname = $1 AND c.relname = ANY($2::text[]) ORDER BY 1, 2`, [schema, [...ROLLUP_TABLES]])
  for (const ix of indexes) {
    await db.query(ix.con === null ? `DROP INDEX "${schema}"."${ix.idx}"` : `ALTER TABLE ${ix.tbl} DROP CONSTRAINT "${ix.con}"`)
  }

  await db.query('DROP TABLE IF EXISTS gen_leaf_slot, gen_service_slot, gen_day_slot, gen_app, gen_flow_leaf, gen_dur_leaf, gen_backlog_leaf, gen_persons_leaf, gen_persons_year_leaf, gen_lookup_leaf')
  await db.query('CREATE UNLOGGED TABLE gen_leaf_slot (slot int, leaf text, urban boolean)')
  await db.query('CREATE UNLOGGED TABLE gen_service_slot (urban boolean, slot int, service text, pdays int, purpose text, agency text)')
  await db.query('CREATE UNLOGGED TABLE gen_day_slot (slot int, day date)')
  await step('slot tables', `INSERT INTO gen_leaf_slot SELECT (row_number() OVER () - 1)::int, u.leaf, u.urban
    FROM unnest($1::text[], $2::int[], $3::boolean[]) AS u (leaf, n, urban), generate_series(1, u.n)`,
  [leafSlots.map((s) => s.value.leaf), leafSlots.map((s) => s.n), leafSlots.map((s) => s.value.urban)])
  for (const [urban, list] of [[true, urbanSlots], [false, ruralSlots]] as const) {
    await db.query(`INSERT INTO gen_service_slot SELECT $6::boolean, (row_number() OVER () - 1)::int, u.service, u.pdays, u.purpose, u.agency
      FROM unnest($1::text[], $2::int[], $3::int[], $4::text[], $5::text[]) AS u (service, n, pdays, purpose, agency), generate_series(1, u.n)`,
    [list.map((s) => s.value.service), list.map((s) => s.n), list.map((s) => s.value.pdays), list.map((s) => s.value.purpose), list.map((s) => s.value.agency), urban])
  }
  await db.query(`INSERT INTO gen_day_slot SELECT (row_number() OVER () - 1)::int, u.day FROM unnest($1::date[], $2::int[]) AS u (day, n), generate_series(1, u.n)`,
    [daySlots.map((s) => s.value), daySlots.map((s) => s.n)])
  await db.query('ANALYZE gen_leaf_slot, gen_service_slot, gen_day_slot')

  // The applications, one row each (not kept): where, what, how, and what
  // became of them by the end of 2026.
  const bounds = `ARRAY[${BUCKET_BOUNDS_S.join(', ')}]::float8[]`
  const decisionDays = 'greatest(s.pdays, 0.25) * (0.15 + 1.2 * r.rd2)'
  await step(`simulate ${int(n)} applications`, `CREATE UNLOGGED TABLE gen_app AS
    SELECT d.day, l.leaf, s.service, s.purpose, s.agency,
      CASE WHEN l.urban THEN (CASE WHEN r.rc < 0.55 THEN 'oss_counter' WHEN r.rc < 0.99 THEN 'online' ELSE 'mobile_oss' END)
           ELSE (CASE WHEN r.rc < 0.70 THEN 'oss_counter' WHEN r.rc < 0.85 THEN 'online' ELSE 'mobile_oss' END) END AS channel,
      r.ro < 0.015 AS failed_final,
      r.ro >= 0.015 AND r.ro < 0.025 AS retried,
      CASE WHEN r.ro < 0.015 THEN 5 WHEN r.ro < 0.025 THEN 6 WHEN r.ro < 0.055 THEN 2 ELSE 1 END AS attempts,
      width_bucket(CASE WHEN r.ro < 0.025 THEN 3600 * (1 + 47 * r.rd1) ELSE -ln(1 - r.rd1) * 20 END, ${bounds})::smallint AS del_bucket,
      CASE WHEN r.ro >= 0.015 AND r.rp >= ${STUCK} AND d.day + floor(0.375 + 0.375 * r.rt + ${decisionDays})::int <= DATE '${YEAR_END}'
           THEN d.day + floor(0.375 + 0.375 * r.rt + ${decisionDays})::int END AS decided_day,
      width_bucket(86400 * ${decisionDays}, ${bounds})::smallint AS dec_bucket,
      r.ra < 0.86 AS approved,
      CASE WHEN r.rg < 0.005 THEN 'unknown' WHEN r.rs < 0.54 THEN 'female' ELSE 'male' END AS sex,
      CASE WHEN r.rg < 0.005 THEN 'unknown' WHEN r.rg < 0.045 THEN '0-17' WHEN r.rg < 0.405 THEN '18-34' WHEN r.rg < 0.815 THEN '35-59' ELSE '60+' END AS age_band,
      r.rf < 0.8 AS first_m, r.rf < 0.48 AS first_y, ${PERSONS_SEEN ? 'gen_random_uuid()' : 'NULL::uuid'} AS person,
      CASE WHEN r.rl < 0.651 THEN 'ok' WHEN r.rl < 0.679 THEN 'partial' WHEN r.rl < 0.693 THEN 'failed' WHEN r.rl < 0.7 THEN 'denied' END AS lookup
    FROM (SELECT floor(random() * ${kLeaf})::int AS ls, floor(random() * ${kDay})::int AS ds, random() AS rsv,
            random() AS rc, random() AS ro, random() AS rd1, random() AS rd2, random() AS rt, random() AS rp, random() AS ra,
            random() AS rs, random() AS rg, random() AS rf, random() AS rl
          FROM generate_series(1, ${n}) OFFSET 0) r
    JOIN gen_leaf_slot l ON l.slot = r.ls
    JOIN gen_day_slot d ON d.slot = r.ds
    JOIN gen_service_slot s ON s.urban = l.urban AND s.slot = floor(r.rsv * CASE WHEN l.urban THEN ${kUrban} ELSE ${kRural} END)::int`)

  // Per leaf unit, as the fold would sum them: each event on its own day.
  await step('leaf cells', `CREATE UNLOGGED TABLE gen_flow_leaf AS
    SELECT v.day, a.leaf, a.service, a.channel, sum(v.received)::int AS received, sum(v.retried)::int AS retried, sum(v.delivered)::int AS delivered,
      sum(v.decided)::int AS decided, sum(v.approved)::int AS approved, sum(v.rejected)::int AS rejected, sum(v.failed)::int AS failed
    FROM gen_app a, LATERAL (VALUES (a.day, 1, a.retried::int, (NOT a.failed_final)::int, 0, 0, 0, (a.failed_final OR a.retried)::int),
                                    (a.decided_day, 0, 0, 0, 1, a.approved::int, (NOT a.approved)::int, 0)) AS v (day, received, retried, delivered, decided, approved, rejected, failed)
    WHERE v.day IS NOT NULL GROUP BY 1, 2, 3, 4`)
  await step('leaf cells', `CREATE UNLOGGED TABLE gen_dur_leaf AS
    SELECT v.day, a.leaf, a.service, a.channel, v.measure, v.bucket, count(*)::int AS n
    FROM gen_app a, LATERAL (VALUES (CASE WHEN NOT a.failed_final THEN a.day END, 'delivered', a.del_bucket), (a.decided_day, 'decided', a.dec_bucket)) AS v (day, measure, bucket)
    WHERE v.day IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6`)
  if (TOTAL_ROWS) {
    await step('leaf cells', `INSERT INTO gen_flow_leaf SELECT day, leaf, '', '', ${['received', 'retried', 'delivered', 'decided', 'approved', 'rejected', 'failed'].map((c) => `sum(${c})::int`).join(', ')}
      FROM gen_flow_leaf GROUP BY day, leaf`)
    await step('leaf cells', `INSERT INTO gen_dur_leaf SELECT day, leaf, '', '', measure, bucket, sum(n)::int FROM gen_dur_leaf GROUP BY day, leaf, measure, bucket`)
  }
  await step('leaf cells', `CREATE UNLOGGED TABLE gen_backlog_leaf AS
    SELECT day AS cohort, leaf, service, channel, sum(1 + retried::int)::int AS entries,
      sum((failed_final OR retried)::int + (decided_day IS NOT NULL)::int)::int AS exits,
      sum(1 + retried::int - (failed_final OR retried)::int - (decided_day IS NOT NULL)::int)::int AS open
    FROM gen_app GROUP BY 1, 2, 3, 4`)
  await step('leaf cells', `CREATE UNLOGGED TABLE gen_persons_leaf AS
    SELECT date_trunc('month', day)::date AS month, leaf, sex, age_band, count(*) FILTER (WHERE first_m)::int AS n
    FROM gen_app GROUP BY 1, 2, 3, 4 HAVING count(*) FILTER (WHERE first_m) > 0`)
  await step('leaf cells', `CREATE UNLOGGED TABLE gen_persons_year_leaf AS
    SELECT leaf, sex, age_band, count(*) FILTER (WHERE first_y)::int AS n
    FROM gen_app GROUP BY 1, 2, 3 HAVING count(*) FILTER (WHERE first_y) > 0`)
  await step('leaf cells', `CREATE UNLOGGED TABLE gen_lookup_leaf AS
    SELECT day, leaf, purpose, agency, lookup AS result, count(*)::int AS n
    FROM gen_app WHERE lookup IS NOT NULL AND channel <> 'online' GROUP BY 1, 2, 3, 4, 5`)

  // Every level from the leaves: bag (6), soum (4), aimag (2), country (0).
  const unitAt = (l: number) => (l === 0 ? "''" : `left(leaf, ${l})`)
  const parentAt = (l: number) => (l === 0 ? 'NULL::text' : l === 2 ? "''" : `left(leaf, ${l - 2})`)
  async function levels (o: { what: string, target: string, leaf: string, prefixCols: string[], prefixSelect: string[], prefixGroup: string[], keys: string[], sums: string[], keep?: (agg: boolean) => string }) {
    for (const l of [6, 4, 2, 0]) {
      const agg = l !== 6
      const sums = o.sums.map((c) => (agg ? `sum(${c})::int` : c))
      const group = [...o.prefixGroup, ...(l > 0 ? [unitAt(l)] : []), ...(l >= 4 ? [parentAt(l)] : []), ...o.keys]
      const keep = o.keep?.(agg)
      const sql = `INSERT INTO ${o.target} (${[...o.prefixCols, 'unit', 'parent', ...o.keys, ...o.sums].join(', ')})
        SELECT ${[...o.prefixSelect, unitAt(l), parentAt(l), ...o.keys, ...sums].join(', ')}
        FROM ${o.leaf} WHERE length(leaf) >= ${l}${!agg && keep !== undefined ? ` AND ${keep}` : ''}
        ${agg ? `GROUP BY ${group.join(', ')}${keep !== undefined ? ` HAVING ${keep}` : ''}` : ''}
        ${o.prefixGroup.length > 0 ? `ORDER BY ${o.prefixGroup.join(', ')}` : ''}`
      await step(o.what, sql, undefined, o.target)
    }
  }
  async function months (what: string, target: string, keys: string[], sums: string[]) {
    await step(what, `INSERT INTO ${target} (grain, period, unit, parent, ${[...keys, ...sums].join(', ')})
      SELECT 'month', date_trunc('month', period)::date, unit, parent, ${keys.join(', ')}, ${sums.map((c) => `sum(${c})::int`).join(', ')}
      FROM ${target} WHERE grain = 'day' GROUP BY 2, unit, parent, ${keys.join(', ')} ORDER BY 2`, undefined, target)
  }

  const flowSums = ['received', 'retried', 'delivered', 'decided', 'approved', 'rejected', 'failed']
  await levels({ what: 'stats_flow', target: 'stats_flow', leaf: 'gen_flow_leaf', prefixCols: ['grain', 'period'], prefixSelect: ["'day'", 'day'], prefixGroup: ['day'], keys: ['service', 'channel'], sums: flowSums })
  await months('stats_flow', 'stats_flow', ['service', 'channel'], flowSums)

  await levels({ what: 'stats_durations', target: 'stats_durations', leaf: 'gen_dur_leaf', prefixCols: ['grain', 'period'], prefixSelect: ["'day'", 'day'], prefixGroup: ['day'], keys: ['service', 'channel', 'measure', 'bucket'], sums: ['n'] })
  // Queue time: every delivery, the country only, no channel.
  await step('stats_durations', `INSERT INTO stats_durations (grain, period, unit, parent, service, channel, measure, bucket, n)
    SELECT 'day', day, '', NULL, service, '', 'queue', del_bucket, count(*)::int FROM gen_app WHERE NOT failed_final GROUP BY day, service, del_bucket ORDER BY day`, undefined, 'stats_durations')
  await months('stats_durations', 'stats_durations', ['service', 'channel', 'measure', 'bucket'], ['n'])

  await step('stats_delivery', `INSERT INTO stats_delivery (grain, period, service, attempts, delivered, dead_lettered)
    SELECT 'day', day, service, sum(attempts)::int, count(*) FILTER (WHERE NOT failed_final)::int, count(*) FILTER (WHERE failed_final OR retried)::int
    FROM gen_app GROUP BY day, service ORDER BY day`, undefined, 'stats_delivery')
  await step('stats_delivery', `INSERT INTO stats_delivery (grain, period, service, attempts, delivered, dead_lettered)
    SELECT 'month', date_trunc('month', period)::date, service, sum(attempts)::int, sum(delivered)::int, sum(dead_lettered)::int
    FROM stats_delivery WHERE grain = 'day' GROUP BY 2, service ORDER BY 2`, undefined, 'stats_delivery')

  // Open cohorts only: a settled one is deleted by the fold.
  // The table keeps either the open count or entries and exits, whichever the migration made.
  const { rows: backlogCols } = await db.query<{ column_name: string }>("SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'stats_backlog'", [schema])
  if (backlogCols.some((c) => c.column_name === 'open')) {
    await levels({ what: 'stats_backlog', target: 'stats_backlog', leaf: 'gen_backlog_leaf', prefixCols: ['cohort'], prefixSelect: ['cohort'], prefixGroup: ['cohort'], keys: ['service', 'channel'], sums: ['open'], keep: (agg) => (agg ? 'sum(open) <> 0' : 'open <> 0') })
  } else {
    await levels({ what: 'stats_backlog', target: 'stats_backlog', leaf: 'gen_backlog_leaf', prefixCols: ['cohort'], prefixSelect: ['cohort'], prefixGroup: ['cohort'], keys: ['service', 'channel'], sums: ['entries', 'exits'], keep: (agg) => (agg ? 'sum(entries) <> sum(exits)' : 'entries <> exits') })
  }

  await levels({ what: 'stats_persons', target: 'stats_persons', leaf: 'gen_persons_leaf', prefixCols: ['grain', 'period'], prefixSelect: ["'month'", 'month'], prefixGroup: ['month'], keys: ['sex', 'age_band'], sums: ['n'] })
  await levels({ what: 'stats_persons', target: 'stats_persons', leaf: 'gen_persons_year_leaf', prefixCols: ['grain', 'period'], prefixSelect: ["'year'", "DATE '2026-01-01'"], prefixGroup: [], keys: ['sex', 'age_band'], sums: ['n'] })

  // Who was seen where: a row per person and year, as the fold keeps
  // them to count each person once (the largest table, and the one intake's fold writes most).
  if (PERSONS_SEEN) {
    const { rows: seenCols } = await db.query<{ column_name: string }>("SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'stats_persons_seen'", [schema])
    if (seenCols.some((c) => c.column_name === 'seen')) {
      // Migration 0012: one row per person and year, listing the months and units applied at.
      await step('stats_persons_seen', `INSERT INTO stats_persons_seen (year, person, seen)
        SELECT DATE '2026-01-01', person, ARRAY[to_char(day, 'MM') || ':' || leaf] FROM gen_app WHERE first_m`, undefined, 'stats_persons_seen')
    } else {
      for (const [grain, period, flag] of [['month', "date_trunc('month', day)::date", 'first_m'], ['year', "DATE '2026-01-01'", 'first_y']] as const) {
        await step('stats_persons_seen', `INSERT INTO stats_persons_seen (grain, period, unit, person)
          SELECT '${grain}', ${period}, left(leaf, l), person FROM gen_app, generate_series(0, length(leaf), 2) AS l WHERE ${flag}`, undefined, 'stats_persons_seen')
      }
    }
  }

  await levels({ what: 'stats_lookups', target: 'stats_lookups', leaf: 'gen_lookup_leaf', prefixCols: ['grain', 'period'], prefixSelect: ["'day'", 'day'], prefixGroup: ['day'], keys: ['purpose', 'agency', 'result'], sums: ['n'] })
  await months('stats_lookups', 'stats_lookups', ['purpose', 'agency', 'result'], ['n'])

  await step('drop the simulation', 'DROP TABLE gen_leaf_slot, gen_service_slot, gen_day_slot, gen_app, gen_flow_leaf, gen_dur_leaf, gen_backlog_leaf, gen_persons_leaf, gen_persons_year_leaf, gen_lookup_leaf')
  for (const ix of indexes) {
    await step(`index ${ix.idx}`, ix.con === null ? ix.def : `ALTER TABLE ${ix.tbl} ADD CONSTRAINT "${ix.con}" ${ix.condef}`)
  }
  const { rows: again } = await db.query<{ def: string }>(
    `SELECT pg_get_indexdef(i.oid) AS def FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace ns ON ns.oid = c.relnamespace
     WHERE ns.nspname = $1 AND c.relname = ANY($2::text[]) ORDER BY c.relname, i.relname`, [schema, [...ROLLUP_TABLES]])
  if (JSON.stringify(again.map((r) => r.def)) !== JSON.stringify(indexes.map((r) => r.def))) throw new Error('the indexes made again differ from the migration\'s')
  // Vacuumed as well as analysed, so autovacuum does not set in during the measurements.
  await step('VACUUM ANALYZE', `VACUUM (ANALYZE) ${ROLLUP_TABLES.join(', ')}`)
  await db.query('RESET work_mem')
  await db.query('RESET maintenance_work_mem')
  await db.query('RESET synchronous_commit')
  return { rows, steps, seconds: (performance.now() - t0) / 1000, leaves: leaves.length, services: services.length }
}

// ---- reads --------------------------------------------------------------------

interface ReadResult { path: string, connections: number, requests: number, sent: number, byCount: boolean, rps: number, p50: number, p99: number, max: number, bad: number, statuses: string, samples: string[], bytes: number, cpu: CpuUse }

// A run of SECONDS; when too few answers finish in it (a slow report), a run
// of a fixed number of requests instead. CPU is read after the answers still
// in flight at the end have had time to finish, and divided by the requests sent.
async function read (g: Gateway, path: string, connections: number, token: string): Promise<ReadResult> {
  let statuses = new Map<number, number>()
  let samples: string[] = []
  const options = {
    url: g.url,
    connections,
    timeout: 120,
    requests: [{
      method: 'GET' as const,
      path,
      headers: { authorization: `Bearer ${token}` },
      onResponse: (status: number, body: string) => {
        statuses.set(status, (statuses.get(status) ?? 0) + 1)
        if (status !== 200 && samples.length < 3) samples.push(`${status} ${body.slice(0, 300)}`)
      },
    }],
  }
  let meter = cpuMeter(g.child.pid!)
  let result = await autocannon({ ...options, duration: SECONDS } as never) as autocannon.Result
  await sleep(Math.min(20_000, 2 * result.latency.p99 + 250))
  let cpu = await meter()
  let sent = result.requests.sent
  const min = Math.max(10, 2 * connections)
  const byCount = result.requests.total < min
  if (byCount) {
    statuses = new Map()
    samples = []
    meter = cpuMeter(g.child.pid!)
    result = await autocannon({ ...options, amount: min } as never) as autocannon.Result
    cpu = await meter()
    sent = Math.max(result.requests.total, result.requests.sent)
  }
  if (result.errors + result.timeouts + result.resets > 0) samples.push(`${result.errors} errors (${result.timeouts} timeouts), ${result.resets} resets; ${result.requests.sent} sent, ${result.requests.total} answered`)
  return {
    path,
    connections,
    requests: result.requests.total,
    sent,
    byCount,
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    bad: result.non2xx + result.errors + result.timeouts,
    statuses: [...statuses].sort((a, b) => a[0] - b[0]).map(([code, n]) => `${n}×${code}`).join(' '),
    samples,
    bytes: result.requests.total === 0 ? 0 : result.throughput.total / result.requests.total,
    cpu,
  }
}

// ---- where a report's time goes -------------------------------------------------

interface Recorded { sql: string, params: unknown[], rows: number }
const classify = (sql: string, params: unknown[]): string => {
  const table = /FROM (stats_\w+)/.exec(sql)?.[1] ?? 'other'
  const scope = /parent = \$/.test(sql) ? 'children' : /unit = \$/.test(sql) ? 'unit' : 'all'
  const what = table === 'stats_durations' && sql.includes("measure = 'queue'") ? 'stats_durations (queue)' : table
  return `${what} by ${scope}`
}

async function reportAnalysis (unit: string) {
  const pdb = reportDb!
  let recording: Recorded[] | null = null
  let memo: Map<string, unknown[]> | null = null
  const key = (sql: string, params?: unknown[]) => `${sql}\n${JSON.stringify(params ?? [])}`
  const wrapped: Database = {
    kind: pdb.kind,
    schema: pdb.schema,
    async query<T> (sql: string, params?: unknown[]) {
      if (memo !== null) {
        const rows = memo.get(key(sql, params))
        if (rows !== undefined) return { rows: rows as T[], rowCount: rows.length }
      }
      const r = await pdb.query<T>(sql, params)
      recording?.push({ sql, params: params ?? [], rows: r.rows.length })
      return r
    },
    transaction: (fn) => pdb.transaction(fn),
    exec: (sql) => pdb.exec(sql),
    onConnectionError: (l) => pdb.onConnectionError(l),
    close: () => pdb.close(),
  }
  const snap = createSnapshot(1, 'seed', buildSeedDocument())
  const answers = createStatsAnswers({
    reader: createStatsReader({ db: wrapped, catalogue: () => snap }),
    indicators: loadIndicators(),
    catalogue: () => snap,
    today: () => mongoliaToday(),
    threshold: 5,
  })
  const q = { period: PERIOD, unit, lang: 'mn' as const, protect: false }
  // Warmed up as the gateway is after a few requests (its JIT), then timed.
  for (let i = 0; i < 5; i++) await answers.report(q)
  // Wall time of the report in-process, the database answering.
  const runs = 3
  let t = performance.now()
  for (let i = 0; i < runs; i++) await answers.report(q)
  const wall = (performance.now() - t) / runs
  // The statements of one report.
  recording = []
  const report = await answers.report(q)
  const statements = recording
  recording = null
  // The same report with every answer memoised: its JavaScript alone.
  memo = new Map()
  for (const s of statements) memo.set(key(s.sql, s.params), (await pdb.query(s.sql, s.params)).rows)
  for (let i = 0; i < 5; i++) await answers.report(q)
  t = performance.now()
  for (let i = 0; i < runs; i++) await answers.report(q)
  const js = (performance.now() - t) / runs
  memo = null
  t = performance.now()
  const html = renderReportHtml(report)
  const json = JSON.stringify(report)
  const render = performance.now() - t
  // Each distinct statement alone, one after another (median of 3).
  const distinct = new Map<string, Recorded & { times: number, ms: number }>()
  for (const s of statements) {
    const k = key(s.sql, s.params)
    const d = distinct.get(k)
    if (d === undefined) distinct.set(k, { ...s, times: 1, ms: 0 })
    else d.times++
  }
  for (const d of distinct.values()) {
    const xs: number[] = []
    for (let i = 0; i < 3; i++) {
      const t1 = performance.now()
      await pdb.query(d.sql, d.params)
      xs.push(performance.now() - t1)
    }
    d.ms = xs.sort((a, b) => a - b)[1]!
  }
  const classes = new Map<string, { statements: number, distinct: number, rows: number, ms: number, maxMs: number }>()
  for (const d of distinct.values()) {
    const c = classes.get(classify(d.sql, d.params)) ?? { statements: 0, distinct: 0, rows: 0, ms: 0, maxMs: 0 }
    c.statements += d.times
    c.distinct++
    c.rows += d.rows * d.times
    c.ms += d.ms * d.times
    c.maxMs = Math.max(c.maxMs, d.ms)
    classes.set(classify(d.sql, d.params), c)
  }
  const sqlMs = [...distinct.values()].reduce((s, d) => s + d.ms * d.times, 0)
  const heaviest = [...distinct.values()].sort((a, b) => b.ms - a.ms)
  return { wall, js, render, htmlBytes: html.length, jsonBytes: json.length, statements: statements.length, distinct: distinct.size, sqlMs, classes, heaviest }
}

interface PlanNode { 'Node Type': string, 'Index Cond'?: string, Filter?: string, 'Relation Name'?: string, 'Index Name'?: string, 'Actual Rows'?: number, 'Actual Loops'?: number, 'Actual Total Time'?: number, 'Shared Hit Blocks'?: number, 'Shared Read Blocks'?: number, 'Rows Removed by Filter'?: number, 'Rows Removed by Index Recheck'?: number, 'Heap Fetches'?: number, 'Sort Method'?: string, 'Sort Space Used'?: number, Plans?: PlanNode[] }
function planSummary (plan: { Plan: PlanNode, 'Execution Time': number, 'Planning Time'?: number }): string {
  const parts: string[] = []
  const walk = (node: PlanNode, depth: number) => {
    const bits = [node['Node Type']]
    if (node['Index Name'] !== undefined) bits.push(`using ${node['Index Name']}`)
    else if (node['Relation Name'] !== undefined) bits.push(`on ${node['Relation Name']}`)
    bits.push(`rows ${node['Actual Rows'] ?? '?'}${(node['Actual Loops'] ?? 1) > 1 ? `×${node['Actual Loops']}` : ''}`)
    if ((node['Rows Removed by Filter'] ?? 0) > 0) bits.push(`removed by filter ${node['Rows Removed by Filter']}`)
    if (node['Heap Fetches'] !== undefined) bits.push(`heap fetches ${node['Heap Fetches']}`)
    if (node['Index Cond'] !== undefined) bits.push(`index cond ${node['Index Cond']}`)
    if (node.Filter !== undefined) bits.push(`filter ${node.Filter}`)
    bits.push(`${(node['Actual Total Time'] ?? 0).toFixed(2)} ms`)
    bits.push(`buffers hit ${node['Shared Hit Blocks'] ?? 0} read ${node['Shared Read Blocks'] ?? 0}`)
    parts.push(`${'  '.repeat(depth)}${bits.join(', ')}`)
    for (const child of node.Plans ?? []) walk(child, depth + 1)
  }
  walk(plan.Plan, 0)
  return `planning ${(plan['Planning Time'] ?? 0).toFixed(2)} ms, execution ${plan['Execution Time'].toFixed(2)} ms\n${parts.map((p) => `      ${p}`).join('\n')}`
}
async function explain (sql: string, params: unknown[]): Promise<{ custom: string, generic: string, equality: string | null }> {
  const c = new pg.Client({ connectionString: DATABASE_URL, options: `-c search_path="${schema}"` })
  await c.connect()
  try {
    const custom = (await c.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`, params)).rows[0]['QUERY PLAN'][0]
    // The plan the gateway may get from its named prepared statement after five runs.
    await c.query(`PREPARE bench_q AS ${sql}`)
    await c.query('SET plan_cache_mode = force_generic_plan')
    const lit = params.map((p) => (typeof p === 'number' ? String(p) : `'${String(p).replace(/'/g, "''")}'`))
    const generic = (await c.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE bench_q (${lit.join(', ')})`)).rows[0]['QUERY PLAN'][0]
    await c.query('RESET plan_cache_mode')
    // The same statement with the periods listed (period = ANY(the month or
    // day starts in the range)): the index is entered at (grain, period,
    // unit) for each, instead of walking every unit's rows of the range.
    let equality: string | null = null
    const [grain, from, to] = params as [unknown, unknown, unknown]
    if (sql.includes('period >= $2 AND period < $3') && (grain === 'month' || grain === 'day') && typeof from === 'string' && typeof to === 'string') {
      const starts: string[] = []
      for (let d = from; d < to;) {
        starts.push(d)
        const t = new Date(`${d}T00:00:00Z`)
        if (grain === 'month') t.setUTCMonth(t.getUTCMonth() + 1)
        else t.setUTCDate(t.getUTCDate() + 1)
        d = t.toISOString().slice(0, 10)
      }
      const listed = sql.replace('period >= $2 AND period < $3', `period = ANY($${params.length + 1}::date[]) AND $2::date IS NOT NULL AND $3::date IS NOT NULL`)
      equality = planSummary((await c.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${listed}`, [...params, starts])).rows[0]['QUERY PLAN'][0])
    }
    return { custom: planSummary(custom), generic: planSummary(generic), equality }
  } finally {
    await c.end()
  }
}

// ---- intake ---------------------------------------------------------------------

const snap = createSnapshot(1, 'seed', buildSeedDocument())
const intakeService = [...snap.offers(OFFICER_UNIT).values()]
  .find((o) => o.service.applicants.includes('officer') && o.channels.includes('oss_counter') && o.service.adapter !== undefined && !o.service.adapter.startsWith('veterinary'))!.service
const form = (intakeService.formSchema.examples as object[])[0]
const applicantsLabel = (a: string) => (a === 'fresh' ? 'each application from a person not seen before' : 'the 1000 citizens bench/applications.ts cycles through')

// Applicants. fresh: each application from a person not seen before (a
// well-formed registration number; intake checks the form and the birth date
// only), so the fold adds every person's rows to stats_persons_seen, the most
// it can have to write. pool: the 1000 citizens bench/applications.ts uses,
// seen again and again, so the fold finds them all already counted.
const pool = APPLICANTS.includes('pool') ? generatePopulation().livingAdults().slice(0, 1000).map((c) => c.regnum) : []
let pooled = 0
const LETTERS = 'АБВГДЕЖЗИКЛМНОӨПРСТУҮФХЦЧШЭЮЯ'
function freshRegnum (): string {
  const letter = () => LETTERS[Math.floor(Math.random() * LETTERS.length)]!
  const year = 1950 + Math.floor(Math.random() * 56)
  const two = (x: number) => String(x).padStart(2, '0')
  const month = 1 + Math.floor(Math.random() * 12) + (year >= 2000 ? 20 : 0)
  return `${letter()}${letter()}${two(year % 100)}${two(month)}${two(1 + Math.floor(Math.random() * 28))}${two(Math.floor(Math.random() * 100))}`
}
const mint = await devTokenMinter(dataDir)
const officer = { sub: 'bench-officer', role: 'officer', unit: OFFICER_UNIT, agency: 'GOSW' }

async function submit (url: string, duration: number, applicants: string) {
  const applicant = applicants === 'pool' ? () => pool[pooled++ % pool.length]! : freshRegnum
  let accepted = 0
  let other = 0
  const samples: string[] = []
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration,
    requests: [{
      method: 'POST',
      path: '/v1/applications',
      setupRequest: (req: Record<string, any>) => ({
        ...req,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${mint(officer)}`, 'idempotency-key': `bench-${randomUUID()}` },
        body: JSON.stringify({ service: intakeService.code, unit: OFFICER_UNIT, channel: 'oss_counter', applicant: { regnum: applicant() }, form }),
      }) as never,
      onResponse: (status: number, body: string) => {
        if (status === 202) accepted++
        else {
          other++
          if (samples.length < 3) samples.push(`${status} ${body.slice(0, 200)}`)
        }
      },
    }],
  })
  return { accepted, acceptedPerSecond: accepted / result.duration, p50: result.latency.p50, p99: result.latency.p99, bad: other + result.errors + result.timeouts, samples }
}

async function unfolded (): Promise<{ behind: number, oldest: number | null }> {
  const { rows } = await db.query<{ behind: number, oldest: number | null }>(
    `SELECT count(*)::int AS behind, extract(epoch FROM now() - min(e.at))::float8 AS oldest
     FROM application_events e, stats_cursor c WHERE (e.xid, e.id) > (c.event_xid, c.event_id)`)
  return rows[0]!
}
async function outboxSize (): Promise<number> {
  return (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM application_outbox')).rows[0]!.n
}
async function until (check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = performance.now()
  while (!(await check())) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`not done in ${timeoutMs / 1000} s`)
    await sleep(50)
  }
  return (performance.now() - t0) / 1000
}

// ---- the run ----------------------------------------------------------------------

const md: string[] = []
try {
  await waitFor(`${bus}/health`)
  let g = await startGateway(0)
  await db.connect()
  reportDb = createPostgresDatabase({ url: DATABASE_URL, schema, poolMax: 10, applicationName: 'bench-stats' })

  const busy0 = await machineBusy()
  say(`# stats benchmark: ${int(APPLICATIONS)} applications in the roll-ups' history`)
  say()
  say(`Node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}, machine CPU in use before the run: ${busy0 === null ? '?' : `${Math.round(busy0 * 100)}%`}`)
  const { rows: [pgInfo] } = await db.query<{ v: string, sb: string }>("SELECT current_setting('server_version') AS v, current_setting('shared_buffers') AS sb")
  say(`PostgreSQL ${pgInfo!.v} (shared_buffers ${pgInfo!.sb}), schema ${schema}; BENCH_SECONDS=${SECONDS}`)
  say(`code: a copy of the working tree taken at ${new Date().toISOString()} (src/stats, migrations and routes digest ${codeDigest}), run by every gateway of the run`)
  say()

  // 2. Generation.
  const gen: Generated = REUSE === undefined
    ? await generate(APPLICATIONS)
    : { rows: {}, steps: [], seconds: 0, leaves: 0, services: 0 }
  if (REUSE !== undefined) {
    for (const t of ROLLUP_TABLES) gen.rows[t] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`)).rows[0]!.n
    say(`## Roll-ups of schema ${schema}, generated by an earlier run (BENCH_SCHEMA), with what that run's intake added`)
  } else say(`## Roll-ups generated (${gen.leaves} leaf units: every soum/district and bag/khoroo; ${gen.services} services with an adapter; 3 channels; 2026-01-01..${YEAR_END}; ${STUCK * 100}% never decided${TOTAL_ROWS ? '; a total row per unit and period in stats_flow and stats_durations, as the fold keeps' : ''})`)
  say()
  const sizes = (await db.query<{ t: string, heap: string, idx: string }>(
    `SELECT c.relname AS t, pg_size_pretty(pg_table_size(c.oid)) AS heap, pg_size_pretty(pg_indexes_size(c.oid)) AS idx
     FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE ns.nspname = $1 AND c.relname = ANY($2::text[])`, [schema, [...ROLLUP_TABLES]])).rows
  const grains = (await db.query<{ t: string, grain: string, n: number }>(
    `SELECT 'stats_flow' AS t, grain, count(*)::int AS n FROM stats_flow GROUP BY grain
     UNION ALL SELECT 'stats_durations', grain, count(*)::int FROM stats_durations GROUP BY grain
     UNION ALL SELECT 'stats_persons', grain, count(*)::int FROM stats_persons GROUP BY grain
     UNION ALL SELECT 'stats_persons_seen', 'year', count(*)::int FROM stats_persons_seen
     UNION ALL SELECT 'stats_lookups', grain, count(*)::int FROM stats_lookups GROUP BY grain
     UNION ALL SELECT 'stats_delivery', grain, count(*)::int FROM stats_delivery GROUP BY grain`)).rows
  const tableLines = ['| table | rows | by grain | heap | indexes |', '|---|---|---|---|---|']
  for (const t of ROLLUP_TABLES) {
    const s = sizes.find((x) => x.t === t)
    const by = grains.filter((x) => x.t === t).map((x) => `${x.grain} ${int(x.n)}`).join(', ')
    tableLines.push(`| ${t} | ${int(gen.rows[t] ?? 0)} | ${by || '(open cohorts)'} | ${s?.heap ?? '?'} | ${s?.idx ?? '?'} |`)
  }
  for (const l of tableLines) say(l)
  const stepTotals = new Map<string, number>()
  for (const [what, s] of gen.steps) stepTotals.set(what.startsWith('index ') ? 'indexes (PK and parent, made after the load)' : what, (stepTotals.get(what.startsWith('index ') ? 'indexes (PK and parent, made after the load)' : what) ?? 0) + s)
  say()
  if (REUSE === undefined) say(`generation took ${gen.seconds.toFixed(1)} s: ${[...stepTotals].map(([w, s]) => `${w} ${s.toFixed(1)} s`).join(', ')}`)
  // Consistency: the country's month is the sum of its aimags'; every level alike.
  const { rows: [check] } = await db.query<{ country: number, aimags: number, soums: number, days: number, total: number | null }>(
    `SELECT (SELECT sum(received) FROM stats_flow WHERE grain = 'month' AND period = $1::date AND unit = '' AND service <> '')::int AS country,
       (SELECT sum(received) FROM stats_flow WHERE grain = 'month' AND period = $1::date AND length(unit) = 2 AND service <> '')::int AS aimags,
       (SELECT sum(received) FROM stats_flow WHERE grain = 'month' AND period = $1::date AND length(unit) = 4 AND service <> '')::int AS soums,
       (SELECT sum(received) FROM stats_flow WHERE grain = 'day' AND unit = '' AND service <> '' AND period >= $1::date AND period < $1::date + 31 AND date_trunc('month', period) = $1::date)::int AS days,
       (SELECT received FROM stats_flow WHERE grain = 'month' AND period = $1::date AND unit = '' AND service = '' AND channel = '') AS total`,
    [`${PERIOD}-01`])
  const consistent = check!.country === check!.aimags && check!.aimags === check!.soums && check!.country === check!.days && (!TOTAL_ROWS || check!.total === check!.country)
  say(`${PERIOD} received: country ${int(check!.country)}, Σ aimags ${int(check!.aimags)}, Σ soums/districts ${int(check!.soums)}, Σ country days ${int(check!.days)}${TOTAL_ROWS ? `, the country's total row ${int(check!.total ?? 0)}` : ''}: ${consistent ? 'consistent' : 'NOT CONSISTENT'}`)
  if (!consistent) process.exitCode = 1
  const { rows: [total] } = await db.query<{ n: number }>("SELECT sum(received)::bigint AS n FROM stats_flow WHERE grain = 'month' AND unit = '' AND service <> ''")
  say(`applications received in the roll-ups over 2026: ${int(total!.n)}`)
  say()
  md.push(...out.splice(0))

  // 3. Reads.
  const paths: Array<[string, string]> = [
    ['national month report (JSON)', `/v1/stats/report?period=${PERIOD}&format=json`],
    ['aimag ranking (62, soums)', `/v1/stats/ranking?indicator=applications.received&period=${PERIOD}&unit=62`],
    ['national by aimag', `/v1/stats/values?indicator=applications.received&period=${PERIOD}&by=unit`],
    ['aimag month report (62, HTML)', `/v1/stats/report?period=${PERIOD}&unit=62&format=html`],
  ]
  const admin = () => mint({ sub: 'bench-admin', role: 'admin' })
  // Warm-up: each answer a few times, and the aimag totals against the national one.
  for (const [, path] of paths) {
    for (let i = 0; i < 5; i++) {
      const res = await fetch(g.url + path, { headers: { authorization: `Bearer ${admin()}` } })
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${(await res.text()).slice(0, 300)}`)
      await res.arrayBuffer()
    }
  }
  const byAimag = await (await fetch(g.url + paths[2]![1], { headers: { authorization: `Bearer ${admin()}` } })).json() as { rows: Array<{ value: unknown }>, total: unknown }
  const sumAimags = byAimag.rows.reduce((s, r) => s + (typeof r.value === 'number' ? r.value : 0), 0)
  const agrees = byAimag.rows.length === 22 && sumAimags === check!.country && byAimag.total === check!.country
  say(`GET ${paths[2]![1]}: ${byAimag.rows.length} rows, Σ = ${int(sumAimags)}, total ${String(byAimag.total)}${agrees ? ': agrees with the roll-ups' : `: !! the roll-ups hold ${int(check!.country)} for the country in 22 aimags and the capital's rows`}`)
  const busy1 = await machineBusy()
  say(`machine CPU in use before the reads: ${busy1 === null ? '?' : `${Math.round(busy1 * 100)}%`}`)
  const reads: Array<ReadResult & { name: string }> = []
  for (const [name, path] of paths) {
    for (const c of READ_CONNECTIONS) {
      const r = await read(g, path, c, admin())
      reads.push({ ...r, name })
      console.log(`  ${name}, ${c} conn: ${r.rps.toFixed(1)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms`)
    }
  }
  say()
  say(`## Reads (autocannon, ${SECONDS} s each, admin token, gateway with the fold off)`)
  say()
  say('| answer | conn | requests | req/s | p50 ms | p99 ms | max ms | gateway CPU ms/req | PostgreSQL CPU ms/req (its backends / all postgres) | KB/answer | non-2xx | p99 < 50 ms |')
  say('|---|---|---|---|---|---|---|---|---|---|---|---|')
  for (const r of reads) {
    const per = (x: number) => (r.sent === 0 ? '-' : ms((1000 * x) / r.sent))
    say(`| ${r.name} | ${r.connections} | ${r.requests}${r.byCount ? ' (by count)' : ''} | ${r.rps.toFixed(1)} | ${r.p50} | ${r.p99} | ${r.max} | ${per(r.cpu.gateway)} | ${per(r.cpu.pgOwn)} / ${per(r.cpu.pgAll)} | ${(r.bytes / 1024).toFixed(1)} | ${r.bad} | ${r.p99 < P99_GOAL_MS ? 'yes' : 'NO'} |`)
    if (r.bad > 0) process.exitCode = 1
  }
  for (const r of reads.filter((x) => x.bad > 0)) {
    say()
    say(`!! ${r.name}, ${r.connections} connection(s): ${r.statuses}`)
    for (const x of r.samples) say(`   ${x}`)
  }
  say()
  say(`A run is ${SECONDS} s; "by count" marks an answer too slow for that, measured over a fixed number of requests instead. CPU per request counts the answers still in flight at the end of a run.`)
  const goal = (name: string) => reads.filter((r) => r.name === name && r.connections === Math.min(...READ_CONNECTIONS))[0]
  const nat = goal(paths[0]![0])!
  const rank = goal(paths[1]![0])!
  say(`goal p99 < ${P99_GOAL_MS} ms at ${nat.connections} connection(s): national month report ${nat.p99} ms (${nat.p99 < P99_GOAL_MS ? 'met' : 'NOT met'}), aimag ranking ${rank.p99} ms (${rank.p99 < P99_GOAL_MS ? 'met' : 'NOT met'})`)
  say()
  md.push(...out.splice(0))

  // 3b. Where the time goes.
  say('## Where a report\'s time goes')
  say()
  const heavy: Array<{ sql: string, params: unknown[], ms: number, rows: number, report: string }> = []
  for (const [label, unit] of [['national month report', ''], ['aimag 62 month report', '62']] as const) {
    const a = await reportAnalysis(unit)
    say(`### ${label} (in-process, the gateway's reader and answers, pool of 10)`)
    say()
    say(`- one report: ${ms(a.wall)} ms wall time (mean of 3); ${a.statements} SQL statements (${a.distinct} distinct); run one after another they take ${ms(a.sqlMs)} ms;`)
    say(`  the same report with the database's answers memoised (its JavaScript alone): ${ms(a.js)} ms; JSON + HTML rendering ${ms(a.render)} ms (${(a.jsonBytes / 1024).toFixed(0)} KB JSON, ${(a.htmlBytes / 1024).toFixed(0)} KB HTML)`)
    say()
    say('| statements on | per report | distinct | rows returned | ms per report (one after another) | slowest ms |')
    say('|---|---|---|---|---|---|')
    for (const [name, c] of [...a.classes].sort((x, y) => y[1].ms - x[1].ms)) {
      say(`| ${name} | ${c.statements} | ${c.distinct} | ${int(c.rows)} | ${ms(c.ms)} | ${ms(c.maxMs)} |`)
    }
    say()
    for (const h of a.heaviest.slice(0, 3)) heavy.push({ ...h, report: label })
  }
  const { rows: density } = await db.query<{ t: string, all: number, country: number }>(
    `SELECT 'stats_flow' AS t, count(*)::int AS all, count(*) FILTER (WHERE unit = '')::int AS country FROM stats_flow WHERE grain = 'month' AND period = $1::date
     UNION ALL SELECT 'stats_durations', count(*)::int, count(*) FILTER (WHERE unit = '')::int FROM stats_durations WHERE grain = 'month' AND period = $1::date`, [`${PERIOD}-01`])
  const { rows: [pk] } = await db.query<{ def: string }>("SELECT pg_get_indexdef('stats_durations_pkey'::regclass) AS def")
  const periodFirst = /\(grain, period, unit/.test(pk!.def)
  say(`Rows of month ${PERIOD}: ${density.map((d) => `${d.t} ${int(d.all)} (all units), ${int(d.country)} of them the country's`).join('; ')}. Primary key of stats_durations: ${pk!.def.replace(/^.*USING btree /, '')}${periodFirst ? ': a statement with `period >= $2 AND period < $3 AND unit = $4` enters it at the first month and walks every unit\'s rows of the range, since unit is not a prefix after a range' : ''}.`)
  say()
  say('### EXPLAIN (ANALYZE, BUFFERS) of the slowest statements (custom plan, then the generic plan a named prepared statement may switch to)')
  say()
  const seen = new Set<string>()
  for (const h of heavy.sort((a, b) => b.ms - a.ms)) {
    const k = `${h.sql}${JSON.stringify(h.params)}`
    if (seen.has(k) || seen.size >= 4) continue
    seen.add(k)
    say(`- ${h.report}: ${ms(h.ms)} ms alone, ${int(h.rows)} rows, params ${JSON.stringify(h.params)}`)
    say(`  \`${h.sql.replace(/\s+/g, ' ').trim()}\``)
    try {
      const e = await explain(h.sql, h.params)
      say(`    custom: ${e.custom.trimStart()}`)
      say(`    generic: ${e.generic.trimStart()}`)
      if (e.equality !== null) say(`    with the periods listed, \`period = ANY($5::date[])\` for the range: ${e.equality.trimStart()}`)
    } catch (err) {
      say(`    (EXPLAIN failed: ${(err as Error).message})`)
    }
  }
  say()
  const missed = reads.some((r) => r.connections === Math.min(...READ_CONNECTIONS) && r.p99 >= P99_GOAL_MS)
  if (PROFILE === '1' || (PROFILE === 'auto' && missed)) {
    await stopGateway(g)
    const profileDir = join(dataDir, 'profile')
    g = await startGateway(0, ['--cpu-prof', `--cpu-prof-dir=${profileDir}`])
    const windows: Array<{ name: string, from: number, to: number, r: ReadResult }> = []
    for (const [name, path] of [paths[0]!, paths[3]!]) {
      for (let i = 0; i < 3; i++) await (await fetch(g.url + path, { headers: { authorization: `Bearer ${admin()}` } })).arrayBuffer()
      const from = performance.now() - g.spawnedAt
      const r = await read(g, path, 1, admin())
      windows.push({ name, from, to: performance.now() - g.spawnedAt, r })
    }
    await stopGateway(g)
    for (const w of windows) {
      say(`### CPU profile of the gateway serving the ${w.name} (1 connection, ${w.r.requests} answers, ${w.r.rps.toFixed(1)}/s under the profiler; only the samples of that run)`)
      say()
      say('```')
      say(summariseProfile(trimProfile(profileDir, w.from, w.to)))
      say('```')
      say()
    }
  } else {
    await stopGateway(g)
  }
  md.push(...out.splice(0))

  // 4. Intake with the fold off and on.
  const modes = [{ name: 'fold off', foldMs: 0 }, { name: `fold on (${FOLD_MS} ms)`, foldMs: FOLD_MS }]
  const busy2 = await machineBusy()
  say(`## Intake: POST /v1/applications, ${CONNECTIONS} connections, ${SECONDS} s a run, fresh token and key per request, gateway WORKER=off (${intakeService.code} at ${OFFICER_UNIT}); machine CPU in use before: ${busy2 === null ? '?' : `${Math.round(busy2 * 100)}%`}`)
  say()
  type IntakeRun = { applicants: string, round: number, mode: string, foldMs: number, accepted: number, aps: number, p50: number, p99: number, bad: number, cpu: CpuUse, behind: number, oldest: number | null, catchUp: number | null, before: number }
  const intake: IntakeRun[] = []
  for (const applicants of APPLICANTS) {
    const plan = Array.from({ length: ROUNDS }, (_, i) => (i % 2 === 0 ? modes : [...modes].reverse()).map((m) => ({ ...m, round: i + 1 }))).flat()
    for (const m of plan) {
      const gw = await startGateway(m.foldMs)
      // The fold starts from where it stopped: what earlier fold-off runs left is folded before the measured run.
      let before = 0
      if (m.foldMs > 0) before = await until(async () => (await unfolded()).behind === 0, 600_000)
      const warm = await submit(gw.url, Math.min(2, SECONDS), applicants)
      if (warm.bad > 0) throw new Error(`warm-up: ${warm.bad} answers were not 202: ${warm.samples.join(' | ')}`)
      await until(async () => (await outboxSize()) === 0 && (m.foldMs === 0 || (await unfolded()).behind === 0), 300_000)
      const meter = cpuMeter(gw.child.pid!)
      const r = await submit(gw.url, SECONDS, applicants)
      const cpu = await meter()
      const lag = await unfolded()
      const catchUp = m.foldMs > 0 ? await until(async () => (await unfolded()).behind === 0, 300_000) : null
      await until(async () => (await outboxSize()) === 0, 300_000)
      await stopGateway(gw)
      if (r.bad > 0) {
        process.exitCode = 1
        console.error(`!! ${m.name}: ${r.bad} answers were not 202: ${r.samples.join(' | ')}`)
      }
      intake.push({ applicants, round: m.round, mode: m.name, foldMs: m.foldMs, accepted: r.accepted, aps: r.acceptedPerSecond, p50: r.p50, p99: r.p99, bad: r.bad, cpu, behind: lag.behind, oldest: lag.oldest, catchUp, before })
      console.log(`  ${applicants} applicants, round ${m.round}, ${m.name}: ${Math.round(r.acceptedPerSecond)} accepted/s`)
    }
  }
  say('| applicants | round | mode | accepted | accepted/s | p50 ms | p99 ms | non-202 | gateway CPU ms/app | PostgreSQL CPU ms/app (gateway\'s backends / all postgres) | events not folded at the end | oldest unfolded s | fold caught up s after | backlog folded before the run, s |')
  say('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
  for (const r of intake) {
    const per = (x: number) => ms((1000 * x) / Math.max(1, r.accepted))
    say(`| ${r.applicants} | ${r.round} | ${r.mode} | ${r.accepted} | ${Math.round(r.aps)} | ${r.p50} | ${r.p99} | ${r.bad} | ${per(r.cpu.gateway)} | ${per(r.cpu.pgOwn)} / ${per(r.cpu.pgAll)} | ${r.foldMs === 0 ? `(${r.behind}, fold off)` : r.behind} | ${r.foldMs === 0 || r.oldest === null ? '-' : r.oldest.toFixed(1)} | ${r.catchUp === null ? '-' : r.catchUp.toFixed(1)} | ${r.foldMs === 0 ? '-' : r.before.toFixed(1)} |`)
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
  const perApp = (rs: IntakeRun[], k: 'pgOwn' | 'pgAll' | 'gateway') => (1000 * rs.reduce((s, r) => s + r.cpu[k], 0)) / Math.max(1, rs.reduce((s, r) => s + r.accepted, 0))
  say()
  for (const applicants of APPLICANTS) {
    const off = intake.filter((r) => r.applicants === applicants && r.foldMs === 0)
    const on = intake.filter((r) => r.applicants === applicants && r.foldMs > 0)
    const offAps = mean(off.map((r) => r.aps))
    const onAps = mean(on.map((r) => r.aps))
    const cost = 1 - onAps / offAps
    const cpuOff = perApp(off, 'gateway') + perApp(off, 'pgOwn')
    const cpuOn = perApp(on, 'gateway') + perApp(on, 'pgOwn')
    say(`- ${applicants} applicants: fold on / fold off = ${(onAps / offAps).toFixed(3)} (mean of ${ROUNDS} round(s): ${Math.round(onAps)} vs ${Math.round(offAps)} accepted/s): the roll-ups' upkeep costs intake ${(cost * 100).toFixed(1)}% of its throughput (goal ≤ ${OVERHEAD_GOAL * 100}%: ${cost <= OVERHEAD_GOAL ? 'met' : 'NOT met'})`)
    say(`  CPU per application: PostgreSQL (the gateway's backends) ${ms(perApp(off, 'pgOwn'))} → ${ms(perApp(on, 'pgOwn'))} ms, all postgres processes ${ms(perApp(off, 'pgAll'))} → ${ms(perApp(on, 'pgAll'))} ms, gateway process ${ms(perApp(off, 'gateway'))} → ${ms(perApp(on, 'gateway'))} ms;`)
    say(`  gateway + its backends ${ms(cpuOff)} → ${ms(cpuOn)} ms (+${((cpuOn / cpuOff - 1) * 100).toFixed(0)}%): where intake is CPU-bound, as here, that alone would take ${((1 - cpuOff / cpuOn) * 100).toFixed(1)}% off its throughput`)
  }
  const { rows: [ev] } = await db.query<{ events: number, apps: number }>('SELECT (SELECT count(*)::int FROM application_events) AS events, (SELECT count(*)::int FROM applications) AS apps')
  say()
  say(`events per application: ${(ev!.events / Math.max(1, ev!.apps)).toFixed(2)} (${int(ev!.events)} events, ${int(ev!.apps)} applications); the fold takes 2000 events a batch (STATS_FOLD_BATCH default)`)
  md.push(...out.splice(0))

  // 4b. Where the fold's time goes: one more fold-off run, then what it left
  // folded here by the gateway's own fold code, each statement timed.
  {
    const pdb = reportDb!
    const timings = new Map<string, { n: number, ms: number, rows: number }>()
    const classOf = (sql: string) => {
      const t = sql.trim()
      if (/^SELECT e\.id/.test(t)) return 'events and their applications (with the previous status)'
      if (/FROM audit_log/.test(t)) return 'audit records'
      if (/pg_snapshot_xmin/.test(t)) return 'horizon'
      if (/FROM stats_cursor FOR UPDATE/.test(t)) return 'cursor (lock)'
      if (/^UPDATE stats_cursor/.test(t)) return 'cursor (move)'
      if (/^SELECT .*JOIN stats_persons_seen/s.test(t)) return 'persons already seen this year (look-up)'
      const m = /^(INSERT INTO|DELETE FROM|UPDATE) (\w+)/.exec(t)
      if (m !== null) return `${m[1] === 'INSERT INTO' ? 'upsert' : m[1]!.split(' ')[0]!.toLowerCase()} ${m[2]}`
      return t.replace(/\s+/g, ' ').slice(0, 50)
    }
    const timedQ = (q: Queryable): Queryable => ({
      async query<T> (sql: string, params?: unknown[]): Promise<QueryResult<T>> {
        const t = performance.now()
        const res = await q.query<T>(sql, params)
        const k = classOf(sql)
        const c = timings.get(k) ?? { n: 0, ms: 0, rows: 0 }
        c.n++
        c.ms += performance.now() - t
        c.rows += res.rows.length
        timings.set(k, c)
        return res
      },
    })
    const foldDb: Database = {
      kind: pdb.kind,
      schema: pdb.schema,
      query: (sql, params) => timedQ(pdb).query(sql, params),
      transaction: (fn) => pdb.transaction((tx) => fn(timedQ(tx))),
      exec: (sql) => pdb.exec(sql),
      onConnectionError: (l) => pdb.onConnectionError(l),
      close: () => pdb.close(),
    }
    const { createRollup } = await load('src/stats/rollup.ts') as { createRollup: (db: Database, options: Record<string, unknown>) => { fold (how?: { wait?: boolean }): Promise<{ events: number, audit: number }> } }
    const rollup = createRollup(foldDb, { batchSize: 2000, aheadAfterMs: 60_000 })
    // What the last fold-off run left is folded first, untimed.
    await rollup.fold({ wait: true })
    timings.clear()
    const gw = await startGateway(0)
    const r = await submit(gw.url, SECONDS, APPLICANTS[0]!)
    await until(async () => (await outboxSize()) === 0, 300_000)
    await stopGateway(gw)
    const behind = (await unfolded()).behind
    const meter = cpuMeter(process.pid)
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    const folded = await rollup.fold({ wait: true })
    const wall = performance.now() - t0
    const c1 = process.cpuUsage(c0)
    const cpu = await meter()
    const apps = folded.events / 2
    const sqlMs = [...timings.values()].reduce((a, c) => a + c.ms, 0)
    say()
    say(`### Where the fold's time goes (${applicantsLabel(APPLICANTS[0]!)}: ${r.accepted} applications taken by a fold-off gateway, ${int(behind)} events, then folded here by the gateway's fold code, in batches of 2000)`)
    say()
    say(`- ${int(folded.events)} events in ${ms(wall)} ms: ${ms((1000 * wall) / Math.max(1, apps))} µs per application (two events each); SQL ${ms(sqlMs)} ms, the rest (${ms(wall - sqlMs)} ms) JavaScript in between`)
    say(`- CPU per application: this process (the fold's JavaScript and the pg driver) ${ms((c1.user + c1.system) / Math.max(1, apps))} µs, its PostgreSQL backends ${ms((1e6 * cpu.pgOwn) / Math.max(1, apps))} µs`)
    say('- a backlog folded in full batches costs less per event than the gateway\'s fold every second during intake, whose batches are smaller; the split between statements is the point here')
    say()
    say('| statement | times | rows | ms | µs per application | share of the SQL time |')
    say('|---|---|---|---|---|---|')
    for (const [k, c] of [...timings].sort((a, b) => b[1].ms - a[1].ms)) {
      say(`| ${k} | ${c.n} | ${int(c.rows)} | ${ms(c.ms)} | ${ms((1000 * c.ms) / Math.max(1, apps))} | ${((100 * c.ms) / Math.max(1, sqlMs)).toFixed(0)}% |`)
    }
  }
  md.push(...out.splice(0))
} finally {
  await cleanup()
  rmSync(dataDir, { recursive: true, force: true })
}

const resultsDir = join(import.meta.dirname, 'results')
mkdirSync(resultsDir, { recursive: true })
writeFileSync(join(resultsDir, 'stats.md'), `${md.join('\n')}\n`)
console.log(`\nwritten to ${join(resultsDir, 'stats.md')}`)
