// Chaos soak for "202 means it will arrive": `npm run chaos [-- <scenario…>] [--scale F]`.
//
// Each scenario runs a fault at full size against real processes of its own:
// PostgreSQL (initdb/pg_ctl on a free port), Redis (no persistence, as the
// machines run it), the bus emulator behind a TCP proxy, the gateway
// (WORKER=off) and delivery workers. A client like a real portal submits
// applications (one Idempotency-Key each, 24 in flight, resending with the same
// key on no answer and on 5xx, honouring Retry-After) while the fault happens;
// then the script waits for delivery to settle and compares three accounts:
// what the client was told (202 and the id), what PostgreSQL holds, and what
// the emulator's agency desks received.
//
//   worker-kill   two workers, kill -9 over and over (each restarted at once)
//   redis         Redis stopped while jobs wait in it, started again empty
//   postgres      PostgreSQL stopped during intake, started again
//   bus           the bus unreachable (proxy cut) while 1,000+ are on their way
//   gateway-kill  the gateway killed -9 during intake and restarted
//   batch         mobile OSS batches resent with the same item keys
//
// Options: --scale F shrinks counts and durations (0.1 for a quick try);
// --settle S bounds the wait for delivery after a fault; --quiet S is how long
// nothing may change, with no job left in the queue for what is still on its
// way, before the rest is declared stuck. Progress goes to stderr, the
// Markdown table to stdout; the exit code is 1 when an application was lost
// or duplicated, is still on its way once delivery has settled, or a request
// was answered 500.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import type { ChildProcess } from 'node:child_process'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import pg from 'pg'
import { DELIVERY_QUEUE } from '../src/applications/queue.ts'
import { ensureDevIssuer } from '../src/auth/dev-issuer.ts'
import { ensureDevMemberKeys } from '../src/bus/member-keys.ts'
import { buildSeedDocument } from '../src/catalogue/seed.ts'
import { loadConfig } from '../src/config.ts'
import { generatePopulation } from '../src/exchange/population.ts'
import {
  devTokenMinter, exited, freePort, startLogged, startOwnPostgres, startOwnRedis, startTcpProxy, tail, until,
  type OwnPostgres, type OwnRedis, type TcpProxy,
} from './lib.ts'

const SCENARIOS = ['worker-kill', 'redis', 'postgres', 'bus', 'gateway-kill', 'batch'] as const
type ScenarioName = typeof SCENARIOS[number]

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    scale: { type: 'string', default: '1' },
    settle: { type: 'string' },
    quiet: { type: 'string', default: '150' },
    'keep-logs': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
})
if (opts.help === true) {
  process.stdout.write(`usage: npm run chaos -- [${SCENARIOS.join('|')} …] [--scale F] [--settle S] [--quiet S] [--keep-logs]\n`)
  process.exit(0)
}
function usageError (message: string): never {
  process.stderr.write(`chaos: ${message}\n`)
  process.exit(2)
}
const SCALE = Number(opts.scale)
if (!(SCALE > 0 && SCALE <= 10)) usageError(`--scale must be in (0, 10], got ${opts.scale}`)
const unknown = positionals.filter((p) => !(SCENARIOS as readonly string[]).includes(p))
if (unknown.length > 0) usageError(`unknown scenario ${unknown.join(', ')}; choose from ${SCENARIOS.join(', ')}`)
for (const o of ['settle', 'quiet'] as const) if (opts[o] !== undefined && !(Number(opts[o]) > 0)) usageError(`--${o} takes seconds, got ${opts[o]}`)
const chosen: ScenarioName[] = positionals.length === 0 ? [...SCENARIOS] : SCENARIOS.filter((s) => positionals.includes(s))
// Delivery backoff does not shrink with --scale, so neither does the wait much.
const SETTLE_MS = Number(opts.settle ?? Math.max(180, Math.round(900 * SCALE))) * 1000
const QUIET_MS = Number(opts.quiet) * 1000
const count = (n: number) => Math.max(20, Math.round(n * SCALE))
const ms = (s: number) => Math.max(2, s * SCALE) * 1000

const LANES = 24 // requests in flight, as a busy portal has
const REQUEST_TIMEOUT_MS = 30_000
const GIVE_UP_MS = 300_000 // a submission without a final answer after this is abandoned
const AGENCIES = ['welfare', 'civil', 'social-insurance'] // where child money and the newborn package go
const ON_THE_WAY = ['received', 'queued', 'delivering']
const SETTLED = ['delivered', 'decided', 'failed']
const LIVE_JOB = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'])

const say = (line: string) => process.stderr.write(`${line}\n`)
const fmt = (n: number) => n.toLocaleString('en-US')

// ---- the world: services shared by every scenario, and their clean-up --------

const cleanups: Array<() => Promise<unknown>> = []
const children = new Set<ChildProcess>()
let cleaning: Promise<void> | null = null
function cleanup (): Promise<void> {
  cleaning ??= (async () => {
    for (const child of children) child.kill('SIGKILL')
    for (const fn of cleanups.reverse()) await fn().catch(() => {})
  })()
  return cleaning
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`\n${signal}: stopping every process and removing temporary files`)
    void cleanup().finally(() => process.exit(130))
  })
}

const root = mkdtempSync(join(tmpdir(), 'chaos-oss-'))
cleanups.push(async () => {
  if (opts['keep-logs'] === true) say(`logs kept in ${root}`)
  else rmSync(root, { recursive: true, force: true })
})
const dataDir = join(root, 'data')
ensureDevMemberKeys(dataDir)
await ensureDevIssuer(dataDir)
const mint = await devTokenMinter(dataDir)
const defaults = loadConfig({})

const seed = buildSeedDocument()
const service = (code: string) => seed.services.find((s) => s.code === code)!
const childMoney = service('welfare.child-money')
const newborn = service('package.newborn')
const example = (s: typeof childMoney) => (s.formSchema.examples as Array<Record<string, unknown>>)[0]!
const adults = generatePopulation({ citizens: defaults.exchange.citizens }).livingAdults()
// A mobile round not over yet (the gateway refuses finished ones) that takes child money.
const today = new Date().toISOString().slice(0, 10)
const round = seed.mobileRounds.find((r) => r.to >= today && r.services.includes(childMoney.code))

say(`chaos: scale ${SCALE}, scenarios ${chosen.join(', ')}; settle ≤ ${SETTLE_MS / 1000} s, stuck after ${QUIET_MS / 1000} s quiet; process logs in ${root}${opts['keep-logs'] === true ? '' : ' (removed at the end; --keep-logs keeps them)'}`)
let postgres: OwnPostgres
let redis: OwnRedis
try {
  postgres = await startOwnPostgres()
  cleanups.push(() => postgres.destroy())
  redis = await startOwnRedis()
  cleanups.push(() => redis.destroy())
} catch (err) {
  await cleanup()
  throw err
}
say(`own PostgreSQL ${postgres.url}, own Redis ${redis.url}`)

// ---- one scenario's processes ----------------------------------------------

// The running scenario's stack, closed when it ends however it ends, and the
// signal that stops its client from resending.
let current: Stack | null = null
let scenarioOver = new AbortController()

interface Stack {
  name: string
  schema: string
  gatewayUrl: string
  busUrl: string
  proxy: TcpProxy
  db: pg.Pool
  queue: Queue
  // What happened beside the fault (for the table), and what should not have.
  notes: string[]
  problems: string[]
  startWorker (i: number): void
  killWorker (i: number): Promise<void>
  workersUp (): Promise<number>
  restartGateway (): Promise<void>
  agencyFaults (faults: Record<string, unknown> | null): Promise<void>
  close (): Promise<void>
}

async function openStack (name: string, options: { workers: number }): Promise<Stack> {
  const id = `${name.replaceAll('-', '_')}_${process.pid}`
  const schema = `chaos_${id}`
  const prefix = `chaos:${id}`
  const busPort = await freePort()
  const gwPort = await freePort()
  const busUrl = `http://127.0.0.1:${busPort}`
  const gatewayUrl = `http://127.0.0.1:${gwPort}`
  const log = (what: string) => join(root, `${name}-${what}.log`)
  const notes: string[] = []
  const problems: string[] = []
  const expected = new WeakSet<ChildProcess>() // exits we caused
  let closed = false

  // A process that exits by itself is a finding; the gateway and workers are
  // then started again a second later, as their supervisor would.
  function spawnWatched (script: string, env: Record<string, string>, what: string, restart?: () => unknown): ChildProcess {
    const child = startLogged(script, env, log(what))
    children.add(child)
    child.once('exit', (code, signal) => {
      children.delete(child)
      if (expected.has(child) || closed) return
      const line = `${what} exited by itself (${code ?? signal})${restart === undefined ? '' : ', restarted'}`
      problems.push(line)
      say(`!! ${name}: ${line}; last lines of ${log(what)}:\n${tail(log(what), 5).split('\n').map((l) => l.slice(0, 400)).join('\n')}`)
      if (restart !== undefined) setTimeout(() => { if (!closed) void Promise.resolve(restart()).catch(() => {}) }, 1000)
    })
    return child
  }
  async function kill (child: ChildProcess | null, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (child === null) return
    expected.add(child)
    child.kill(signal)
    await exited(child)
  }

  const emulator = spawnWatched('src/exchange/main.ts', { EXCHANGE_PORT: String(busPort), DATA_DIR: dataDir, EXCHANGE_LOG_LEVEL: 'warn' }, 'exchange')
  const proxy = await startTcpProxy(busPort)
  const env = {
    DATA_DIR: dataDir,
    DATABASE_URL: postgres.url,
    DATABASE_SCHEMA: schema,
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: prefix,
    EXCHANGE_URL: proxy.url,
    WORKER: 'off',
    LOG_LEVEL: 'warn',
  }
  let gateway: ChildProcess | null = null
  const startGateway = async (): Promise<void> => {
    gateway = spawnWatched('src/server.ts', { ...env, PORT: String(gwPort) }, 'gateway', startGateway)
    if (!await until(async () => (await fetch(`${gatewayUrl}/health/live`)).ok, 120_000, 100)) throw new Error(`the gateway did not start; see ${log('gateway')}`)
  }
  const workers: Array<ChildProcess | null> = []
  const db = new pg.Pool({ connectionString: postgres.url, max: 4 })
  db.on('error', () => {}) // PostgreSQL may be stopped on purpose
  const queueRedis = new Redis(redis.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => 500 })
  queueRedis.on('error', () => {})
  const queue = new Queue(DELIVERY_QUEUE, { connection: queueRedis, prefix: `${prefix}:bull` })
  queue.on('error', () => {})

  const stack: Stack = {
    name,
    schema,
    gatewayUrl,
    busUrl,
    proxy,
    db,
    queue,
    notes,
    problems,
    startWorker (i) {
      const worker = spawnWatched('src/worker.ts', env, `worker-${i + 1}`, () => { if (workers[i] === worker) stack.startWorker(i) })
      workers[i] = worker
    },
    async killWorker (i) {
      const w = workers[i] ?? null
      workers[i] = null
      await kill(w)
    },
    async workersUp () {
      return await queue.getWorkersCount()
    },
    async restartGateway () {
      await kill(gateway)
      await startGateway()
    },
    async agencyFaults (faults) {
      for (const provider of AGENCIES) {
        const res = await fetch(`${busUrl}/admin/faults/${provider}`, faults === null
          ? { method: 'DELETE' }
          : { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(faults) })
        if (!res.ok) throw new Error(`setting faults on ${provider}: ${res.status} ${await res.text()}`)
      }
    },
    async close () {
      if (closed) return
      closed = true
      for (const w of workers) await kill(w, 'SIGTERM')
      await kill(gateway, 'SIGTERM')
      await kill(emulator, 'SIGTERM')
      await proxy.close()
      await queue.close().catch(() => {})
      queueRedis.disconnect()
      await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {})
      await db.end().catch(() => {})
    },
  }
  cleanups.push(() => stack.close())
  current = stack

  if (!await until(async () => (await fetch(`${busUrl}/health`)).ok, 60_000)) throw new Error(`the emulator did not start; see ${log('exchange')}`)
  await startGateway()
  for (let i = 0; i < options.workers; i++) stack.startWorker(i)
  if (!await until(async () => await stack.workersUp() >= options.workers, 60_000)) throw new Error(`the workers did not start; see ${log('worker-1')}`)
  return stack
}

// ---- what we ask the gateway, and what it answers ---------------------------

interface Submission {
  key: string
  kind: 'plain' | 'package'
  body: string
  claims: Record<string, unknown>
  // Ids of every 202 (or accepted/duplicate batch item) for this key: one, if all is well.
  ids: Set<string>
  final: number | null
  gaveUp: boolean
}

// Citizens applying online for themselves; every 20th applies for the newborn package.
function submissions (name: string, n: number, offset: number): Submission[] {
  return Array.from({ length: n }, (_, i) => {
    const c = adults[(offset + i) % adults.length]!
    const s = i % 20 === 19 ? newborn : childMoney
    return {
      key: `chaos-${name}-${i}-${randomUUID()}`,
      kind: s === newborn ? 'package' : 'plain',
      body: JSON.stringify({ service: s.code, unit: c.homeUnit, channel: 'online', applicant: { regnum: c.regnum }, form: example(s) }),
      claims: { role: 'citizen', sub: c.regnum, azp: 'chaos-portal' },
      ids: new Set(),
      final: null,
      gaveUp: false,
    }
  })
}

interface Tally {
  answers: Map<string, number>
  samples: Map<string, string>
  noRetryAfter: number
  started: number
  accepted: number
  finished: number
}
const newTally = (): Tally => ({ answers: new Map(), samples: new Map(), noRetryAfter: 0, started: 0, accepted: 0, finished: 0 })

function record (tally: Tally, answer: string, body = ''): void {
  tally.answers.set(answer, (tally.answers.get(answer) ?? 0) + 1)
  if (!tally.samples.has(answer) && body !== '') tally.samples.set(answer, body.slice(0, 240))
}

const netError = (err: unknown) => (err as Error).name === 'TimeoutError' ? 'no answer (timeout)' : 'no answer (connection)'
const retryAfterMs = (header: string | null) => {
  if (header === null) return null
  const s = Number(header)
  return Number.isFinite(s) ? Math.min(10, Math.max(0, s)) * 1000 : null
}
// Backoff of the client: Retry-After when given (at most 10 s), else jittered doubling up to 5 s.
const clientWait = (attempt: number, retryAfter: number | null) => retryAfter ?? Math.min(5000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2)

// One POST per try, the same key each time, until a final answer (2xx or 4xx).
// A 500 is resent too (the key makes it safe), and counted as a finding.
async function submit (gatewayUrl: string, sub: Submission, tally: Tally): Promise<void> {
  const deadline = Date.now() + GIVE_UP_MS
  for (let attempt = 1; ; attempt++) {
    let status: number | null = null
    let text = ''
    let retryAfter: number | null = null
    try {
      const res = await fetch(`${gatewayUrl}/v1/applications`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${mint(sub.claims)}`, 'idempotency-key': sub.key },
        body: sub.body,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      })
      retryAfter = retryAfterMs(res.headers.get('retry-after'))
      text = await res.text()
      status = res.status
    } catch (err) {
      record(tally, netError(err))
    }
    if (status !== null) {
      let code = ''
      try {
        code = (JSON.parse(text) as { code?: string }).code ?? ''
      } catch {}
      record(tally, status === 202 ? '202' : `${status}${code === '' ? '' : ` ${code}`}`, status === 202 ? '' : text)
      if (status === 503 && retryAfter === null) tally.noRetryAfter++
      if (status === 202) {
        let id = '(no id in the answer)'
        try {
          id = (JSON.parse(text) as { id?: string }).id ?? id
        } catch {}
        sub.ids.add(id)
        sub.final = 202
        tally.accepted++
        return
      }
      if (status < 500 && status !== 429 && status !== 408) {
        sub.final = status
        return
      }
    }
    if (Date.now() > deadline || scenarioOver.signal.aborted) {
      sub.gaveUp = true
      return
    }
    await sleep(clientWait(attempt, retryAfter))
  }
}

// Submissions started at `rate` per second, at most LANES at once.
function startLoad (gatewayUrl: string, subs: Submission[], rate: number): { tally: Tally, done: Promise<number> } {
  const tally = newTally()
  const t0 = performance.now()
  let next = 0
  const lane = async () => {
    for (;;) {
      const i = next++
      if (i >= subs.length) return
      const wait = t0 + (i * 1000) / rate - performance.now()
      if (wait > 0) await sleep(wait)
      tally.started++
      await submit(gatewayUrl, subs[i]!, tally)
      tally.finished++
    }
  }
  return { tally, done: Promise.all(Array.from({ length: LANES }, lane)).then(() => Date.now()) }
}

// ---- what PostgreSQL and the agency hold ------------------------------------

interface Snapshot { byStatus: Record<string, number>, outbox: number, onTheWay: number }

async function snapshot (stack: Stack): Promise<Snapshot | null> {
  try {
    const { rows } = await stack.db.query<{ status: string, n: number }>(
      `SELECT status, count(*)::int AS n FROM "${stack.schema}".applications WHERE adapter IS NOT NULL GROUP BY status`)
    const { rows: [o] } = await stack.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${stack.schema}".application_outbox`)
    const byStatus = Object.fromEntries(rows.map((r) => [r.status, r.n]))
    return { byStatus, outbox: o!.n, onTheWay: ON_THE_WAY.reduce((s, k) => s + (byStatus[k] ?? 0), 0) }
  } catch {
    return null
  }
}

interface AgencyCounters { received: number, submissions: number, replays: number }
async function agencyCounters (stack: Stack): Promise<AgencyCounters> {
  const { providers } = await (await fetch(`${stack.busUrl}/admin/providers`)).json() as { providers: Array<{ counters?: { applicationsReceived: number, submissions: number, idempotentReplays: number } }> }
  const sum = (k: 'applicationsReceived' | 'submissions' | 'idempotentReplays') => providers.reduce((s, p) => s + (p.counters?.[k] ?? 0), 0)
  return { received: sum('applicationsReceived'), submissions: sum('submissions'), replays: sum('idempotentReplays') }
}

const statusLine = (s: Snapshot | null) => s === null
  ? 'database unreachable'
  : [...ON_THE_WAY, ...SETTLED].filter((k) => (s.byStatus[k] ?? 0) > 0).map((k) => `${k} ${fmt(s.byStatus[k]!)}`).join(', ') + (s.outbox > 0 ? `; outbox ${fmt(s.outbox)}` : '')

// A progress line every 5 s while a phase runs.
function ticker (stack: Stack, phase: () => string): () => void {
  const t0 = Date.now()
  const over = scenarioOver.signal // a scenario that failed half-way stops its ticker too
  const timer = setInterval(() => {
    if (over.aborted) return clearInterval(timer)
    void (async () => {
      const s = await snapshot(stack)
      const agency = await agencyCounters(stack).then((a) => `agency ${fmt(a.received)}`, () => 'agency ?')
      say(`[${stack.name} ${((Date.now() - t0) / 1000).toFixed(0)} s] ${phase()} · ${statusLine(s)} · ${agency}`)
    })()
  }, 5000)
  return () => clearInterval(timer)
}

// Whether anything in the queue will still move what is on its way.
async function anyLiveJob (stack: Stack): Promise<boolean> {
  const { rows } = await stack.db.query<{ id: string }>(
    `SELECT id FROM "${stack.schema}".applications WHERE adapter IS NOT NULL AND status = ANY($1) LIMIT 5000`, [ON_THE_WAY])
  for (let i = 0; i < rows.length; i += 50) {
    const states = await Promise.all(rows.slice(i, i + 50).map((r) => stack.queue.getJobState(r.id)))
    if (states.some((s) => LIVE_JOB.has(s))) return true
  }
  return false
}

interface Settled { drainedAt: number | null, stuck: boolean }

// Waits until nothing is on its way, or it is stuck (no change for QUIET_MS
// and no job left that would move it), or the settle deadline passes.
async function settle (stack: Stack): Promise<Settled> {
  const deadline = Date.now() + SETTLE_MS
  let last = ''
  let changedAt = Date.now()
  let checkedAt = 0
  const stop = ticker(stack, () => 'settling')
  try {
    for (;;) {
      const s = await snapshot(stack)
      if (s !== null) {
        if (s.onTheWay === 0 && s.outbox === 0) return { drainedAt: Date.now(), stuck: false }
        // Decision polls keep changing delivered into decided: not progress here.
        const agency = await agencyCounters(stack).then((a) => a.received, () => null)
        const now = JSON.stringify([ON_THE_WAY.map((k) => s.byStatus[k] ?? 0), s.byStatus.failed ?? 0, s.outbox, agency])
        if (now !== last) {
          last = now
          changedAt = Date.now()
        }
        if (s.outbox === 0 && Date.now() - changedAt >= QUIET_MS && Date.now() - checkedAt >= 10_000) {
          checkedAt = Date.now()
          if (!await anyLiveJob(stack).catch(() => true)) return { drainedAt: null, stuck: true }
        }
      }
      if (Date.now() > deadline) return { drainedAt: null, stuck: false }
      await sleep(500)
    }
  } finally {
    stop()
  }
}

// Asks each agency, through the bus and as the gateway, whether it holds these
// applications: the ground truth for the ones PostgreSQL does not call delivered.
async function atTheAgency (stack: Stack, rows: Array<{ id: string, adapter: string }>): Promise<Map<string, boolean>> {
  const found = new Map<string, boolean>()
  if (rows.length === 0) return found
  try {
    const { loadAdapters, loadAdapterSchemas } = await import('../src/adapters/load.ts')
    const { createAdapterRuntime } = await import('../src/adapters/runtime.ts')
    const { createBusClients, resolveMemberKeys } = await import('../src/bus/index.ts')
    const config = loadConfig({ DATA_DIR: dataDir, EXCHANGE_URL: stack.busUrl })
    const bus = createBusClients(config, stack.busUrl, resolveMemberKeys(config).keys)
    const adapters = createAdapterRuntime({
      adapters: await loadAdapters(),
      schemas: loadAdapterSchemas(),
      ...bus,
      // Many "not found" answers in a row must not open a circuit here.
      breaker: { failureThreshold: 1_000_000, coolDownMs: 100 },
      retry: { retries: 3, baseMs: 50, maxMs: 500 },
    })
    try {
      for (let i = 0; i < rows.length; i += 16) {
        await Promise.all(rows.slice(i, i + 16).map(async (r) => {
          try {
            await adapters.invoke(r.adapter.replace(/\.submitApplication$/, '.getApplicationStatus'), { applicationId: r.id }, { xRoadId: `${r.id}:chaos:${randomUUID()}` })
            found.set(r.id, true)
          } catch (err) {
            if ((err as { code?: string }).code === 'UPSTREAM_NOT_FOUND') found.set(r.id, false)
          }
        }))
      }
    } finally {
      await Promise.all([bus.rest.close(), bus.xyp.close()]).catch(() => {})
    }
  } catch (err) {
    stack.problems.push(`could not ask the agencies one by one (${(err as Error).message}); counted from their totals`)
  }
  return found
}

interface Row {
  name: ScenarioName
  fault: string
  submitted: string
  reached: string
  lost: number
  duplicated: number
  answers: string
  deadLettered: number
  inFlight: string
  drain: string
  attempts: string
  what: string
  bad: boolean
}

const median = (xs: number[]) => {
  if (xs.length === 0) return 0
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

async function measure (stack: Stack, name: ScenarioName, fault: string, subs: Submission[], tally: Tally, faultEndedAt: number, settled: Settled, success = '202'): Promise<Row> {
  const { rows } = await stack.db.query<{ id: string, package_id: string | null, adapter: string | null, status: string, attempts: number }>(
    `SELECT id, package_id, adapter, status, attempts FROM "${stack.schema}".applications`)
  const byId = new Map(rows.map((r) => [r.id, r]))
  const parts = new Map<string, typeof rows>()
  for (const r of rows) if (r.package_id !== null) parts.set(r.package_id, [...(parts.get(r.package_id) ?? []), r])

  // Every agency application a 202 promised: a plain one, or a package's parts.
  const expected: typeof rows = []
  let missing = 0 // promised, but not in the database at all
  const told = new Set<string>()
  for (const s of subs) {
    for (const id of s.ids) {
      told.add(id)
      const row = byId.get(id)
      if (row === undefined) missing += s.kind === 'package' ? 3 : 1
      else if (row.adapter !== null) expected.push(row)
      else expected.push(...(parts.get(id) ?? []))
    }
  }
  const accepted = subs.filter((s) => s.ids.size > 0)
  const twoIds = subs.filter((s) => s.ids.size > 1).length
  const untold = rows.filter((r) => r.package_id === null && !told.has(r.id))
  const untoldDeliverables = untold.reduce((n, r) => n + (r.adapter === null ? (parts.get(r.id)?.length ?? 0) : 1), 0)

  const unsure = expected.filter((r) => r.status !== 'delivered' && r.status !== 'decided')
  const found = await atTheAgency(stack, unsure.map((r) => ({ id: r.id, adapter: r.adapter! })))
  const counters = await agencyCounters(stack)
  const asked = unsure.every((r) => found.has(r.id))
  const reached = asked
    ? expected.length - unsure.filter((r) => found.get(r.id) !== true).length
    : Math.min(expected.length, counters.received)
  const lost = expected.length + missing - reached
  const duplicated = twoIds + Math.max(0, counters.received - reached - untoldDeliverables)

  // Still on its way in the gateway (or dead-lettered), and whether the agency has it after all.
  const open = new Map<string, { n: number, there: number }>()
  for (const r of unsure) {
    const o = open.get(r.status) ?? { n: 0, there: 0 }
    o.n++
    if (found.get(r.id) === true) o.there++
    open.set(r.status, o)
  }
  const inFlight = [...open].filter(([s]) => ON_THE_WAY.includes(s))
  const stuck = inFlight.reduce((n, [, o]) => n + o.n, 0)
  const deadLettered = expected.filter((r) => r.status === 'failed').length
  const attempts = expected.map((r) => r.attempts)

  const answers = [...tally.answers].filter(([k]) => k !== success).sort((a, b) => b[1] - a[1])
  const fives = answers.filter(([k]) => k.startsWith('500')).reduce((n, [, c]) => n + c, 0)
  const gaveUp = subs.filter((s) => s.gaveUp).length
  const refused = subs.filter((s) => s.final !== null && s.final !== 202 && s.ids.size === 0).length
  const packages = accepted.filter((s) => s.kind === 'package').length
  const there = (o: { n: number, there: number }) => !asked ? '' : o.there === 0 ? ', none at the agency' : o.there === o.n ? ', all at the agency' : `, ${fmt(o.there)} at the agency`

  const times = new Map<string, number>()
  for (const p of stack.problems) times.set(p, (times.get(p) ?? 0) + 1)
  const what = [...times].map(([p, n]) => n === 1 ? p : `${p} (${n} times)`)
  for (const [status, o] of open) what.push(`${fmt(o.n)} ${status === 'failed' ? 'dead-lettered (`failed`)' : `stay \`${status}\``}${there(o)}`)
  if (missing > 0) what.push(`${fmt(missing)} answered 202 but not in the database`)
  if (fives > 0) what.push(`${fmt(fives)} requests answered 500 (resent with the same key)`)
  if (tally.noRetryAfter > 0) what.push(`${fmt(tally.noRetryAfter)} × 503 without Retry-After`)
  if (duplicated > 0) what.push(`${fmt(duplicated)} duplicated${twoIds > 0 ? ` (${fmt(twoIds)} keys got two ids)` : ''}`)
  if (gaveUp > 0) what.push(`${fmt(gaveUp)} submissions without a final answer after ${GIVE_UP_MS / 1000} s`)
  if (refused > 0) what.push(`${fmt(refused)} refused with a 4xx`)
  if (untold.length > 0) what.push(`${fmt(untold.length)} in the database without a 202 to the client`)
  if (settled.stuck) what.push(`stopped waiting: nothing moved for ${QUIET_MS / 1000} s and no job was left for them`)
  else if (settled.drainedAt === null) what.push(`not settled within ${SETTLE_MS / 1000} s`)
  if (what.length === 0) what.push('every application reached its agency once')
  what.push(...stack.notes, `agency: ${fmt(counters.submissions)} submissions, ${fmt(counters.replays)} idempotent replays`)

  return {
    name,
    fault,
    submitted: `${fmt(subs.length)} → ${fmt(accepted.length)}${packages > 0 ? ` (${fmt(packages)} packages)` : ''}`,
    reached: `${fmt(reached)} of ${fmt(expected.length + missing)}`,
    lost,
    duplicated,
    answers: answers.length === 0 ? '—' : answers.map(([k, c]) => `${k}: ${fmt(c)}`).join(', '),
    deadLettered,
    inFlight: stuck === 0 ? '—' : inFlight.map(([s, o]) => `${s} ${fmt(o.n)}`).join(', '),
    drain: settled.drainedAt === null ? 'not drained' : ((settled.drainedAt - faultEndedAt) / 1000).toFixed(1),
    attempts: attempts.length === 0 ? '—' : `${Math.max(...attempts)} / ${median(attempts)}`,
    what: what.join('; '),
    // Still on its way when delivery stopped moving: the gateway never finishes it.
    bad: lost > 0 || duplicated > 0 || fives > 0 || stuck > 0 || stack.problems.length > 0,
  }
}

// ---- the scenarios ------------------------------------------------------------

interface Outcome { stack: Stack, subs: Submission[], tally: Tally, faultEndedAt: number, fault: string, success?: string }
const settings: string[] = []

async function happens (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 600_000): Promise<void> {
  if (!await until(check, timeoutMs, 100)) throw new Error(`${what} did not happen within ${timeoutMs / 1000} s`)
}

// Two workers, kill -9 every 2.5 s (each restarted at once) for the longer of
// the intake and 2.5 lock durations: a job taken over from a killed worker is
// only retaken after its lock runs out, and must be exposed to kills again.
async function workerKill (): Promise<Outcome> {
  const n = count(2000)
  const intakeMs = 80_000 * SCALE
  const everyMs = 2500
  const phaseMs = Math.max(intakeMs, 2.5 * defaults.delivery.lockDurationMs)
  const kills = Math.max(2, Math.round(phaseMs / everyMs))
  const rate = n / (intakeMs / 1000)
  const stack = await openStack('worker-kill', { workers: 2 })
  // A slow agency keeps every worker's slots busy, so a kill strands deliveries.
  await stack.agencyFaults({ latencyMs: 1000, jitterMs: 1000 })
  settings.push(`worker-kill: ${fmt(n)} applications at ${rate.toFixed(0)}/s, 2 workers, agency latency 1–2 s, kill -9 every ${everyMs / 1000} s for ${(phaseMs / 1000).toFixed(0)} s (the longer of the intake and 2.5 × DELIVERY_LOCK_MS), alternating workers, each restarted at once; a kill waits until both workers are up`)
  const subs = submissions('worker-kill', n, 0)
  const { tally, done } = startLoad(stack.gatewayUrl, subs, rate)
  const stop = ticker(stack, () => `submitted ${fmt(tally.started)}/${fmt(n)}, killed ${k}`)
  const t0 = Date.now()
  let k = 0
  for (; k < kills; k++) {
    const at = t0 + (phaseMs * (k + 0.5)) / kills
    if (at > Date.now()) await sleep(at - Date.now())
    await until(async () => await stack.workersUp() >= 2, 15_000)
    await stack.killWorker(k % 2)
    stack.startWorker(k % 2)
  }
  await stack.agencyFaults(null)
  const faultEndedAt = Date.now()
  await done
  stop()
  return { stack, subs, tally, faultEndedAt, fault: `a delivery worker killed with \`kill -9\`, ${kills} times over ${fmt(n)} applications, two workers` }
}

// Redis stopped while jobs wait in it (the agency is slow), started again empty.
async function redisOutage (): Promise<Outcome> {
  const n = count(1500)
  const rate = 60
  const outage = ms(11)
  const stack = await openStack('redis', { workers: 1 })
  await stack.agencyFaults({ latencyMs: 400 })
  settings.push(`redis: ${fmt(n)} applications at ${rate}/s, 1 worker, agency latency 400 ms (jobs pile up in Redis), Redis stopped (SIGTERM, no persistence) for ${outage / 1000} s once 55% are accepted, then started again`)
  const subs = submissions('redis', n, 3000)
  const { tally, done } = startLoad(stack.gatewayUrl, subs, rate)
  const stop = ticker(stack, () => `submitted ${fmt(tally.started)}/${fmt(n)}`)
  await happens(() => tally.accepted >= 0.55 * n, '55% accepted')
  const before = await snapshot(stack)
  await redis.stop('SIGTERM')
  say(`[redis] Redis stopped with ${statusLine(before)}`)
  stack.notes.push(`stopped with ${fmt((before?.byStatus.queued ?? 0) + (before?.byStatus.delivering ?? 0))} queued or delivering`)
  await sleep(outage)
  await redis.start()
  say('[redis] Redis started again, empty')
  await stack.agencyFaults(null)
  const faultEndedAt = Date.now()
  await done
  stop()
  return { stack, subs, tally, faultEndedAt, fault: `Redis stopped for ${outage / 1000} s and started again, as the machines run it (no persistence)` }
}

// PostgreSQL stopped (fast shutdown) during intake, started again.
async function postgresOutage (): Promise<Outcome> {
  const n = count(2400)
  const rate = 40
  const outage = ms(20)
  const stack = await openStack('postgres', { workers: 1 })
  settings.push(`postgres: ${fmt(n)} applications at ${rate}/s, 1 worker, PostgreSQL stopped (\`pg_ctl stop -m fast\`) for ${outage / 1000} s once a third are accepted`)
  const subs = submissions('postgres', n, 5000)
  const { tally, done } = startLoad(stack.gatewayUrl, subs, rate)
  const stop = ticker(stack, () => `submitted ${fmt(tally.started)}/${fmt(n)}`)
  await happens(() => tally.accepted >= n / 3, 'a third accepted')
  await postgres.stop('fast')
  say('[postgres] PostgreSQL stopped')
  await sleep(outage)
  await postgres.start()
  say('[postgres] PostgreSQL started again')
  const faultEndedAt = Date.now()
  await done
  stop()
  return { stack, subs, tally, faultEndedAt, fault: `PostgreSQL stopped for ${outage / 1000} s during intake` }
}

// The bus unreachable (every connection reset, new ones refused) while many
// applications are on their way; the emulator and its desks stay up.
async function busOutage (): Promise<Outcome> {
  const n = count(1400)
  const rate = 100
  const outage = ms(60)
  const threshold = Math.round(1000 * SCALE)
  const stack = await openStack('bus', { workers: 1 })
  await stack.agencyFaults({ latencyMs: 1000 })
  settings.push(`bus: ${fmt(n)} applications at ${rate}/s, 1 worker, agency latency 1 s until the cut, the proxy between gateway/workers and the bus cut for ${outage / 1000} s once ${fmt(threshold)} are on their way`)
  const subs = submissions('bus', n, 1000)
  const { tally, done } = startLoad(stack.gatewayUrl, subs, rate)
  const stop = ticker(stack, () => `submitted ${fmt(tally.started)}/${fmt(n)}`)
  let finished = false
  void done.then(() => { finished = true })
  await happens(async () => finished || ((await snapshot(stack))?.onTheWay ?? 0) >= threshold, `${threshold} on their way`)
  const before = await snapshot(stack)
  await stack.proxy.cut()
  say(`[bus] bus cut with ${statusLine(before)}`)
  stack.notes.push(`cut with ${fmt(before?.onTheWay ?? 0)} on their way`)
  await sleep(outage)
  await stack.agencyFaults(null)
  await stack.proxy.restore()
  say('[bus] bus reachable again')
  const faultEndedAt = Date.now()
  await done
  stop()
  return { stack, subs, tally, faultEndedAt, fault: `the bus unreachable for ${outage / 1000} s (connections reset, new ones refused)` }
}

// The gateway killed -9 three times during intake, restarted at once.
async function gatewayKill (): Promise<Outcome> {
  const n = count(2000)
  const rate = 50
  const kills = 3
  const stack = await openStack('gateway-kill', { workers: 1 })
  settings.push(`gateway-kill: ${fmt(n)} applications at ${rate}/s, 1 worker, the gateway killed -9 at 25%, 50% and 75% accepted and restarted at once`)
  const subs = submissions('gateway-kill', n, 7000)
  const { tally, done } = startLoad(stack.gatewayUrl, subs, rate)
  const stop = ticker(stack, () => `submitted ${fmt(tally.started)}/${fmt(n)}`)
  for (let k = 1; k <= kills; k++) {
    await happens(() => tally.accepted >= (n * k) / (kills + 1), `${k}/${kills + 1} accepted`)
    const t = Date.now()
    await stack.restartGateway()
    say(`[gateway-kill] gateway killed and back in ${((Date.now() - t) / 1000).toFixed(1)} s`)
  }
  const faultEndedAt = Date.now()
  await done
  stop()
  return { stack, subs, tally, faultEndedAt, fault: `the gateway killed (-9) ${kills} times during intake and restarted` }
}

// Mobile OSS vans syncing: each batch's first answer is lost (the client hangs
// up), then it is sent twice more at once with the same item keys.
async function batchResend (): Promise<Outcome> {
  const n = count(2000)
  const size = Math.min(250, n)
  const stack = await openStack('batch', { workers: 1 })
  const unit = round?.unit ?? '8322'
  const units = round?.bags ?? [unit]
  const channel = round === undefined ? 'oss_counter' : 'mobile_oss'
  const claims = { role: 'officer', sub: 'chaos-van-1', unit, agency: 'GOSW' }
  settings.push(`batch: ${fmt(n)} applications in batches of ${size}, ${round === undefined ? `no mobile round runs today, so at the counter of ${unit}` : `round ${round.id} of ${unit}`}, two vans at once; each batch sent and hung up on after 20–220 ms, then sent twice at once`)
  const subs: Submission[] = Array.from({ length: n }, (_, i) => {
    const c = adults[(9000 + i) % adults.length]!
    return {
      key: `chaos-batch-${i}-${randomUUID()}`,
      kind: 'plain',
      body: JSON.stringify({ service: childMoney.code, unit: units[i % units.length], channel, applicant: { regnum: c.regnum }, form: example(childMoney) }),
      claims,
      ids: new Set(),
      final: null,
      gaveUp: false,
    }
  })
  const tally = newTally()
  const items = { accepted: 0, duplicate: 0 }
  // One send of a batch; a full one is resent on no answer and 5xx.
  async function send (batch: Submission[], hangUpMs?: number): Promise<void> {
    const body = JSON.stringify({ items: batch.map((s) => ({ idempotencyKey: s.key, application: JSON.parse(s.body) })) })
    const deadline = Date.now() + GIVE_UP_MS
    for (let attempt = 1; ; attempt++) {
      let retryAfter: number | null = null
      try {
        const res = await fetch(`${stack.gatewayUrl}/v1/applications/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${mint(claims)}` },
          body,
          signal: hangUpMs === undefined ? AbortSignal.timeout(REQUEST_TIMEOUT_MS * 4) : AbortSignal.timeout(hangUpMs),
        })
        retryAfter = retryAfterMs(res.headers.get('retry-after'))
        const text = await res.text()
        record(tally, String(res.status), res.status === 200 ? '' : text)
        if (res.status === 200) {
          const answer = JSON.parse(text) as { results: Array<{ index: number, result: string, id?: string, problem?: { code: string } }> }
          for (const r of answer.results) {
            const s = batch[r.index]!
            if (r.id !== undefined) {
              s.ids.add(r.id)
              s.final = 202
            } else {
              s.final = s.final ?? 422
              record(tally, `item ${r.result} ${r.problem?.code ?? ''}`.trim())
            }
            if (r.result === 'accepted') items.accepted++
            if (r.result === 'duplicate') items.duplicate++
          }
          return
        }
        if (res.status < 500) return
      } catch (err) {
        if (hangUpMs !== undefined) return // we hung up: the answer is lost on purpose
        record(tally, netError(err))
      }
      if (Date.now() > deadline || scenarioOver.signal.aborted) {
        for (const s of batch) s.gaveUp = s.ids.size === 0
        return
      }
      await sleep(clientWait(attempt, retryAfter))
    }
  }
  const batches: Submission[][] = []
  for (let i = 0; i < n; i += size) batches.push(subs.slice(i, i + size))
  let next = 0
  const stop = ticker(stack, () => `batches ${next}/${batches.length}`)
  await Promise.all([0, 1].map(async () => {
    for (;;) {
      const b = batches[next++]
      if (b === undefined) return
      await send(b, 20 + Math.random() * 200)
      await Promise.all([send(b), send(b)])
    }
  }))
  for (const s of subs) if (s.ids.size > 0) tally.accepted++
  stop()
  stack.notes.push(`items answered accepted ${fmt(items.accepted)}, duplicate ${fmt(items.duplicate)}`)
  return { stack, subs, tally, faultEndedAt: Date.now(), fault: 'mobile OSS batches resent (POST /v1/applications/batch, same item keys): first answer lost, then sent twice at once', success: '200' }
}

const RUN: Record<ScenarioName, () => Promise<Outcome>> = {
  'worker-kill': workerKill,
  redis: redisOutage,
  postgres: postgresOutage,
  bus: busOutage,
  'gateway-kill': gatewayKill,
  batch: batchResend,
}

// ---- main ------------------------------------------------------------------------

const results: Row[] = []
try {
  for (const name of chosen) {
    const t0 = Date.now()
    say(`\n=== ${name} ===`)
    let outcome: Outcome | undefined
    scenarioOver = new AbortController()
    try {
      outcome = await RUN[name]()
      say(`[${name}] load finished (${fmt(outcome.tally.accepted)} accepted); waiting for delivery to settle`)
      const settled = await settle(outcome.stack)
      const row = await measure(outcome.stack, name, outcome.fault, outcome.subs, outcome.tally, outcome.faultEndedAt, settled, outcome.success)
      results.push(row)
      for (const [answer, body] of outcome.tally.samples) say(`[${name}] first ${answer} answer: ${body}`)
      say(`[${name}] ${row.what} (${((Date.now() - t0) / 1000).toFixed(0)} s)`)
    } catch (err) {
      say(`!! ${name} could not run: ${(err as Error).stack ?? String(err)}`)
      results.push({ name, fault: name, submitted: '—', reached: '—', lost: 0, duplicated: 0, answers: '—', deadLettered: 0, inFlight: '—', drain: '—', attempts: '—', what: `the scenario could not run: ${(err as Error).message}`, bad: true })
    } finally {
      scenarioOver.abort()
      // Assigned by openStack, which TypeScript does not follow here.
      const stack = current as Stack | null
      current = null
      await stack?.close().catch(() => {})
    }
  }
} finally {
  await cleanup()
}

const cell = (s: string | number) => String(typeof s === 'number' ? fmt(s) : s).replaceAll('|', '\\|').replaceAll('\n', ' ')
const out = [
  '| fault | submitted → answered 202 | reached the agency (distinct, of expected) | lost | duplicated | answers other than 202 | dead-lettered | in flight at the end | drain after the fault (s) | attempts max / median | what happened |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
  ...results.map((r) => `| ${[r.fault, r.submitted, r.reached, r.lost, r.duplicated, r.answers, r.deadLettered, r.inFlight, r.drain, r.attempts, r.what].map(cell).join(' | ')} |`),
  '',
  `Scale ${SCALE}, Node ${process.version}; own PostgreSQL and Redis (no persistence); gateway WORKER=off behind its own workers; the bus emulator behind a TCP proxy. A package (every 20th application, package.newborn) is three agency applications. Settle: up to ${SETTLE_MS / 1000} s after the load, or stuck after ${QUIET_MS / 1000} s without change and with no job left for what is on its way. "Drain" runs from the end of the fault to nothing left on its way.`,
  `Delivery settings (production defaults): ${Object.entries(defaults.delivery).filter(([k]) => k !== 'worker').map(([k, v]) => `${k} ${String(v)}`).join(', ')}; bus: breaker ${defaults.bus.breakerFailures} failures / ${defaults.bus.breakerCoolDownMs} ms, connect timeout ${defaults.bus.connectTimeoutMs} ms.`,
  ...settings.map((s) => `- ${s}`),
]
// Exits when stdout is written: an idle keep-alive socket must not hold the run.
process.stdout.write(out.join('\n') + '\n', () => process.exit(results.some((r) => r.bad) ? 1 : 0))
