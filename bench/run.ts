// The benchmark: `npm run bench`. One process tree, one run, one emulator
// (latency 0): for each path, each variant measured in its own window after
// a 1 s warm-up, with req/s, p50/p99, errors and each process's CPU
// milliseconds per request, read from /proc before and after the window
// (the figure that stays comparable when other work shares the machine).
//   one-source read  GET /v1/citizens/:regnum/civil (civil source)
//   five-source view GET /v1/citizens/:regnum
//   intake           POST /v1/applications (gateway WORKER=off: 202 after the commit)
//   delivery         the queued applications drained by one src/worker.ts, then by two
//   catalogue read   GET /v1/units/{bag}/services
//   dci              POST /dci/social/registry/sync/search, a partner's signed
//                    envelope per request (npm run bench:dci runs it alone)
// Variants: direct (the gateway's own bus client, signed, from this process,
// in BENCH_CONNECTIONS loops), nginx (the same client through an nginx proxy;
// for the catalogue nginx serving the same bytes from a file), baseline
// (bench/baseline/server.ts: Fastify + token check + signed bus calls),
// gateway (src/server.ts) and gateway ×2 (GATEWAY_PROCESSES=2).
// The gateway ×2 runs come after every single-process gateway run (one
// gateway at a time, so that no other gateway's relay takes a share of the
// outbox). Results go to stdout and bench/results/latest.md.
// Env: BENCH_SECONDS (5), BENCH_CONNECTIONS (50), BENCH_PATHS (one-source,
// five-source,intake,delivery,catalogue,dci), BENCH_PROFILE=1 (--cpu-prof the
// single-process gateway; kept in BENCH_PROFILE_DIR when set), BENCH_DATABASE_URL, BENCH_REDIS_URL,
// BENCH_GATEWAY_ROOT (another checkout, a git worktree of an earlier commit
// say, whose src/server.ts and src/worker.ts are measured instead of this
// one's, against the same emulator, baseline and nginx: before and after),
// BENCH_RESULTS (where the tables go instead of bench/results/latest.md),
// BENCH_TOKENS=fresh (a new officer token on every request, instead of one
// per officer reused as clients do), BENCH_ROUNDS (1: each path's direct,
// nginx, baseline and gateway variants run that many times, every other round
// in reverse order, so a machine's drift falls on both sides of a ratio).
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { loadAdapters } from '../src/adapters/load.ts'
import { ensureDevIssuer } from '../src/auth/dev-issuer.ts'
import { devMemberFiles, ensureDevMemberKeys, loadMemberKeys } from '../src/bus/member-keys.ts'
import { createRestClient, type RestClient } from '../src/bus/rest-client.ts'
import { buildSeedDocument } from '../src/catalogue/seed.ts'
import { loadPolicies } from '../src/citizen/policy.ts'
import { signDciMessage } from '../src/dci/signature.ts'
import {
  agencyCounters, applicationStatuses, BENCH_OFFICER, benchGatewayEnv, cannon, cleanupOnce, closedLoops, cpuSeconds, cpuUsed, deleteRedisKeys,
  devTokenMinter, dropPgSchema, freePort, intakeTarget, machineBusy, nginxBinary, outboxDrained, pgBackendsOf, processTree, ROOT, start,
  startNginx, stopTree, summariseProfile, until, waitFor, type CannonRequest, type LoadResult, type Nginx,
} from './lib.ts'

const GATEWAY_ROOT = process.env.BENCH_GATEWAY_ROOT ?? ROOT
const RESULTS = process.env.BENCH_RESULTS ?? join(ROOT, 'bench', 'results', 'latest.md')
const PATHS = ['one-source', 'five-source', 'intake', 'delivery', 'catalogue', 'dci'] as const
type PathName = typeof PATHS[number]
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1)
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('BENCH_ROUNDS must be a positive integer')
const WARM_UP_SECONDS = 1
// A gateway just started runs cold code (interpreted, not yet optimised):
// this long of the first path's load, unmeasured, before its first variant.
const GATEWAY_WARM_UP_SECONDS = 3
const MIN_DELIVERIES = 5000
const NGINX_WORKERS = 1
const selected = (process.env.BENCH_PATHS ?? PATHS.join(',')).split(',').map((p) => p.trim()).filter(Boolean)
for (const p of selected) if (!(PATHS as readonly string[]).includes(p)) throw new Error(`BENCH_PATHS: unknown path ${p} (one of ${PATHS.join(', ')})`)
const wanted = (p: PathName) => selected.includes(p)
const PROFILE = process.env.BENCH_PROFILE === '1'
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'
const PG_PORT = Number(new URL(DATABASE_URL).port || 5432)
const LOOKUP_QUERY = 'purpose=welfare.eligibility&case=BENCH-1'

const began = performance.now()
const startedAt = new Date()
const progress = (line: string) => console.error(`[${((performance.now() - began) / 1000).toFixed(0).padStart(3)} s] ${line}`)
const busyBefore = await machineBusy()
const loadBefore = loadavg()

const dataDir = mkdtempSync(join(tmpdir(), 'oss-bench-run-'))
const profileDir = process.env.BENCH_PROFILE_DIR ?? join(dataDir, 'profile')
ensureDevMemberKeys(dataDir)
await ensureDevIssuer(dataDir)
const schema = `bench_${process.pid}`
const keyPrefix = `bench:${schema}`
const busPort = await freePort()
const bus = `http://127.0.0.1:${busPort}`
const env = {
  ...benchGatewayEnv({ dataDir, bus, databaseUrl: DATABASE_URL, schema, redisUrl: REDIS_URL, keyPrefix }),
  // Without the per-officer, per-unit, harvest and per-partner limits: a load test is one officer (or one partner).
  OFFICER_LOOKUPS_PER_MINUTE: '100000000',
  UNIT_LOOKUPS_PER_MINUTE: '100000000',
  HARVEST_DISTINCT_CITIZENS: '100000000',
  DCI_MESSAGES_PER_MINUTE: '100000000',
}

// ---- processes and clean-up ---------------------------------------------------

type Child = ReturnType<typeof start>
const children = new Set<Child>()
const spawnChild = (script: string, vars: Record<string, string>, nodeArgs: string[] = []) => {
  const child = start(script, vars, nodeArgs)
  children.add(child)
  return child
}
const stopChild = async (child: Child) => {
  await stopTree(child)
  children.delete(child)
}
let nginx: Nginx | null = null
const db = new pg.Client({ connectionString: DATABASE_URL })
const clients: RestClient[] = []
const cleanup = cleanupOnce(async () => {
  await nginx?.stop().catch(() => {})
  for (const c of clients) await c.close().catch(() => {})
  for (const child of [...children].reverse()) await stopChild(child).catch(() => {})
  await db.end().catch(() => {})
  await dropPgSchema(DATABASE_URL, schema).catch((err) => console.error(`could not drop schema ${schema}: ${(err as Error).message}`))
  await deleteRedisKeys(REDIS_URL, `${keyPrefix}:`).catch((err) => console.error(`could not delete ${keyPrefix}:* in Redis: ${(err as Error).message}`))
  rmSync(dataDir, { recursive: true, force: true })
})

// ---- CPU per request -----------------------------------------------------------

const PROCS = ['gateway', 'worker', 'emulator', 'nginx', 'baseline', 'postgres', 'redis', 'driver'] as const
type Proc = typeof PROCS[number]
type Cpu = Partial<Record<Proc, number>>

// The processes a variant involves; PostgreSQL counts only the backends
// serving `pgClients` (found at the start and at the end of the window),
// Redis every redis-server.
interface Involved { pids: Partial<Record<Exclude<Proc, 'postgres' | 'redis' | 'driver'>, number[]>>, pgClients?: number[], redis?: boolean }

// CPU seconds of the involved processes from now until the returned function
// is called, with how many requests that was: ms per request.
async function cpuWindow (involved: Involved): Promise<(requests: number) => Promise<Cpu>> {
  const pgClients = involved.pgClients ?? []
  const backends = async () => (pgClients.length === 0 ? [] : await pgBackendsOf(pgClients, PG_PORT, (sql, params) => db.query(sql, params)))
  const own = new Set((await backends()).map(String))
  const read = () => cpuSeconds({
    ...involved.pids,
    ...(pgClients.length > 0 ? { postgres: /^postgres$/ } : {}),
    ...(involved.redis === true ? { redis: /^redis-server$/ } : {}),
    driver: [process.pid],
  })
  const before = read()
  return async (requests) => {
    for (const pid of await backends()) own.add(String(pid))
    const after = read()
    for (const r of [before, after]) if (r.postgres !== undefined) r.postgres = new Map([...r.postgres].filter(([pid]) => own.has(pid)))
    return Object.fromEntries(Object.entries(cpuUsed(before, after)).map(([k, s]) => [k, (1000 * s) / Math.max(1, requests)]))
  }
}

interface Row { variant: string, rps?: number, p50?: number, p99?: number, errors?: number, cpu?: Cpu, note?: string, rounds?: number[] }

// One row of a variant's rounds (each as long as the others): req/s the mean,
// p50 and p99 the median, CPU per request weighted by each round's requests.
function combineRounds (runs: Row[]): Row {
  const measured = runs.filter((r) => r.note === undefined && r.rps !== undefined)
  if (measured.length === 0 || runs.length === 1) return runs[0]!
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b)
    return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
  }
  const total = measured.reduce((n, r) => n + r.rps!, 0)
  const cpu: Cpu = {}
  for (const k of PROCS) {
    const with_ = measured.filter((r) => r.cpu?.[k] !== undefined)
    if (with_.length > 0) cpu[k] = with_.reduce((n, r) => n + r.cpu![k]! * r.rps!, 0) / Math.max(1, with_.reduce((n, r) => n + r.rps!, 0))
  }
  return {
    variant: runs[0]!.variant,
    rps: total / measured.length,
    p50: median(measured.map((r) => r.p50!)),
    p99: median(measured.map((r) => r.p99!)),
    errors: measured.reduce((n, r) => n + (r.errors ?? 0), 0),
    cpu,
    rounds: measured.map((r) => r.rps!),
  }
}

// A variant: a warm-up, then the measured window (its CPU read across it and
// across `tail`, work the window left behind, such as the outbox relay).
// `prepare` runs before each load, outside the window: work a client does
// ahead, such as signing its requests.
async function variant (name: string, involved: () => Involved, load: (seconds: number) => Promise<LoadResult>, tail?: () => Promise<unknown>, prepare?: () => void): Promise<Row> {
  progress(`${name}: warm-up`)
  prepare?.()
  await load(WARM_UP_SECONDS)
  await tail?.()
  prepare?.()
  const cpu = await cpuWindow(involved())
  const r = await load(SECONDS)
  await tail?.()
  const row = { variant: name, rps: r.rps, p50: r.p50, p99: r.p99, errors: r.errors, cpu: await cpu(r.ok) }
  if (r.errors > 0) {
    process.exitCode = 1
    console.error(`!! ${name}: ${r.errors} failed:\n   ${r.detail.join('\n   ')}`)
  }
  return row
}
const skipped = (variant: string, note: string): Row => ({ variant, note })

// ---- set-up ---------------------------------------------------------------------

const exchange = spawnChild('src/exchange/main.ts', { EXCHANGE_PORT: String(busPort), DATA_DIR: dataDir, EXCHANGE_LOG_LEVEL: 'warn' })

interface Gateway { child: Child, url: string, processes: number }
let gateway: Gateway | null = null
const seed = buildSeedDocument()
const bag = seed.mobileRounds[0]?.bags[0] ?? seed.units.find((u) => u.level === 'bag')!.code
const cataloguePath = `/v1/units/${bag}/services`

// A gateway on a free port; with processes > 1, GATEWAY_PROCESSES=N. Returns
// why it could not be had when a multi-process gateway does not start or
// starts as one process.
async function startGateway (processes: number, nodeArgs: string[] = []): Promise<Gateway | string> {
  const port = await freePort()
  const child = spawnChild(join(GATEWAY_ROOT, 'src/server.ts'), { ...env, PORT: String(port), ...(processes > 1 ? { GATEWAY_PROCESSES: String(processes) } : {}) }, nodeArgs)
  const url = `http://127.0.0.1:${port}`
  // Not /health/ready: it fails while jobs wait with no worker, as they do after intake.
  const live = async () => child.exitCode !== null || child.signalCode !== null || ((await fetch(`${url}${cataloguePath}`)).ok && (await fetch(`${url}/health/live`)).ok)
  const up = await until(live, 120_000, 100) && child.exitCode === null && child.signalCode === null
  if (!up) {
    await stopChild(child)
    const why = `the gateway${processes > 1 ? ` with GATEWAY_PROCESSES=${processes}` : ''} did not start (exit ${child.exitCode ?? child.signalCode ?? 'none, no answer in 120 s'})`
    if (processes > 1) return why
    throw new Error(why)
  }
  if (processes > 1) {
    // The primary and its cluster workers, every one of them listening.
    const forked = await until(() => processTree(child.pid).length >= processes + 1, 30_000)
    if (!forked) {
      const n = processTree(child.pid).length
      await stopChild(child)
      return `GATEWAY_PROCESSES=${processes} is not honoured yet: the gateway ran as ${n} process${n === 1 ? '' : 'es'}`
    }
    for (let i = 0; i < 20 * processes; i++) await (await fetch(`${url}/health/live`)).arrayBuffer()
  }
  return { child, url, processes }
}

// As officers' tools do, each of BENCH_CONNECTIONS officers uses its token
// for many requests (made afresh after four of its five minutes); with
// BENCH_TOKENS=fresh every request brings a token never seen before.
const FRESH_TOKENS = process.env.BENCH_TOKENS === 'fresh'
const mint = await devTokenMinter(dataDir)
const officerTokens: Array<{ token: string, madeAt: number }> = []
let turn = 0
const authorization = () => {
  if (FRESH_TOKENS) return `Bearer ${mint(BENCH_OFFICER)}`
  const i = turn++ % CONNECTIONS
  const held = officerTokens[i]
  if (held === undefined || Date.now() - held.madeAt > 240_000) officerTokens[i] = { token: mint({ ...BENCH_OFFICER, sub: `${BENCH_OFFICER.sub}-${i}` }), madeAt: Date.now() }
  return `Bearer ${officerTokens[i]!.token}`
}
const adapters = new Map((await loadAdapters()).map((a) => [a.operation, a]))
const policies = loadPolicies()
// The bus calls of the gateway's view: the sources of the purpose it is asked for.
const LOOKUP_PURPOSE = new URLSearchParams(LOOKUP_QUERY).get('purpose')!
const sources = Object.keys(policies.purposes[LOOKUP_PURPOSE]!.sources).map((name) => adapters.get(policies.sources[name]!.operation)!.service)
const civil = adapters.get(policies.sources.civil!.operation)!.service
const intake = await intakeTarget()
let n = 0
const nextCitizen = () => intake.citizens[n++ % intake.citizens.length]!
const submitService = adapters.get(intake.adapter)!.service
const submission = () => ({ service: intake.service, unit: BENCH_OFFICER.unit, channel: 'oss_counter', applicant: { regnum: nextCitizen() }, form: intake.form })

const report: string[] = []
const say = (line = '') => report.push(line)
let totalSeconds = 0
const notes: string[] = []
try {
  await db.connect()
  await waitFor(`${bus}/health`)
  await fetch(`${bus}/admin/faults`, { method: 'DELETE' })

  progress('starting the gateway')
  gateway = await startGateway(1, PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []) as Gateway

  // The catalogue answer as the gateway gives it, for nginx and the baseline to serve.
  const catalogueBody = Buffer.from(await (await fetch(`${gateway.url}${cataloguePath}`)).arrayBuffer())
  const catalogueFile = join(dataDir, 'catalogue.json')
  writeFileSync(catalogueFile, catalogueBody)

  const basePort = await freePort()
  const baselineUrl = `http://127.0.0.1:${basePort}`
  const baseline = spawnChild('bench/baseline/server.ts', {
    PORT: String(basePort), DATA_DIR: dataDir, EXCHANGE_URL: bus, SERVICE: civil, SOURCES: sources.join(','), SUBMIT_SERVICE: submitService, STATIC_BODY: catalogueFile,
  })
  await waitFor(`${baselineUrl}${cataloguePath}`)

  let nginxNote = ''
  if (nginxBinary() === null) nginxNote = 'nginx not installed (Debian: apt-get install nginx-light)'
  else {
    try {
      nginx = await startNginx({ upstreamPort: busPort, files: { [cataloguePath]: catalogueBody }, workerProcesses: NGINX_WORKERS })
    } catch (err) {
      nginxNote = (err as Error).message
    }
  }

  const keys = loadMemberKeys(devMemberFiles(dataDir).privateJwks, devMemberFiles(dataDir).xypPrivatePem)
  const busClient = (baseUrl: string) => {
    const c = createRestClient({ baseUrl, memberId: 'MN/GOV/OSS/gateway', signingKey: keys.signing, connections: CONNECTIONS * 5 })
    clients.push(c)
    return c
  }
  const direct = busClient(bus)
  const viaNginx = nginx === null ? null : busClient(nginx.url)

  // A partner system on the DCI face: registered by an admin, with its own
  // key, a client-credentials token, and each request a signed envelope.
  const partnerKey = generateKeyPairSync('ed25519')
  let partnerSecret = ''
  // Only when the path runs: a gateway from BENCH_GATEWAY_ROOT may have no DCI face.
  if (wanted('dci')) {
    const registered = await fetch(`${gateway.url}/v1/admin/partners`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${mint({ role: 'admin', sub: 'bench-admin' })}` },
      body: JSON.stringify({ id: 'bench.partner', name: 'Benchmark MIS', jwks: { keys: [{ ...partnerKey.publicKey.export({ format: 'jwk' }), kid: 'b1' }] }, purposes: ['social_protection.eligibility'], recordTypes: ['SRPerson'] }),
    })
    if (registered.status !== 201) throw new Error(`registering the benchmark partner: ${registered.status} ${await registered.text()}`)
    partnerSecret = ((await registered.json()) as { clientSecret: string }).clientSecret
  }
  const partnerToken = async () => {
    const res = await fetch(`${gateway!.url}/oauth2/client/token`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`bench.partner:${partnerSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })
    return ((await res.json()) as { access_token: string }).access_token
  }
  let dciToken = wanted('dci') ? await partnerToken() : ''
  const signedSearch = () => {
    const header = { version: '1.0.0', message_id: randomUUID(), message_ts: new Date().toISOString(), action: 'search', sender_id: 'bench.partner', total_count: 1 }
    const message = { transaction_id: randomUUID().slice(0, 32), search_request: [{ reference_id: randomUUID(), timestamp: header.message_ts, search_criteria: { query_type: 'idtype-value', query: { type: 'UIN', value: nextCitizen() } } }] }
    return JSON.stringify({ signature: signDciMessage({ header, message, senderId: 'bench.partner', key: { kid: 'b1', privateKey: partnerKey.privateKey } }), header, message })
  }
  // The partner signs its envelopes before a load starts, as autocannon makes
  // its requests: signing is the partner's work, on the partner's machine,
  // and not in the measured window. Each load starts from fresh ones (well
  // inside the signature's 300 s and message_ts's 5 min); signed in the
  // window only if the pool runs dry.
  const DCI_POOL = 15_000
  let dciPool: string[] = []
  const refillDci = () => { dciPool = Array.from({ length: DCI_POOL }, signedSearch) }
  const dciSearch = () => ({ method: 'POST' as const, path: '/dci/social/registry/sync/search', headers: { 'content-type': 'application/json', authorization: `Bearer ${dciToken}` }, body: dciPool.pop() ?? signedSearch() })
  // The token lasts DCI_TOKEN_TTL_SECONDS (300 s): a fresh one every four minutes.
  const refreshDciToken = setInterval(() => { if (wanted('dci')) partnerToken().then((token) => { dciToken = token }, () => {}) }, 240_000)
  refreshDciToken.unref()
  const welfare = adapters.get('welfare.getEnrolments')!.service

  // The bus calls each path makes, one iteration each.
  const readCalls = (services: string[]) => async (client: RestClient) => {
    const regnum = nextCitizen()
    const answers = await Promise.all(services.map((service) => client.call({ service, body: { regnum }, timeoutMs: 5000 })))
    return answers.every((a) => a.status === 200)
  }
  const submitCall = async (client: RestClient) => {
    const applicationId = randomUUID()
    const answer = await client.call({ service: submitService, body: adapters.get(intake.adapter)!.toBus({ applicationId, ...submission() }, { xRoadId: applicationId }), xRoadId: applicationId, timeoutMs: 5000 })
    return answer.status >= 200 && answer.status < 300
  }
  const viaClient = (client: RestClient, call: (c: RestClient) => Promise<boolean>) => (seconds: number) => closedLoops(CONNECTIONS, seconds, () => call(client))
  const viaHttp = (url: string, make: () => CannonRequest, okStatus = 200) => (seconds: number) => cannon({ url, connections: CONNECTIONS, seconds, make, okStatus })
  const get = (path: () => string) => () => ({ method: 'GET' as const, path: path(), headers: { authorization: authorization() } })
  const post = () => ({ method: 'POST' as const, path: '/v1/applications', headers: { 'content-type': 'application/json', authorization: authorization(), 'idempotency-key': `bench-${randomUUID()}` }, body: JSON.stringify(submission()) })
  const anonymous = (path: string) => () => ({ method: 'GET' as const, path })

  const drained = () => outboxDrained((sql, params) => db.query(sql, params), schema)
  // Who takes part in a variant of a path (the emulator only where the path calls the bus).
  const involved = (who: 'direct' | 'nginx' | 'baseline' | 'gateway', bus: boolean) => (): Involved => {
    const emulator = bus ? { emulator: [exchange.pid!] } : {}
    switch (who) {
      case 'direct': return { pids: emulator }
      case 'nginx': return { pids: { ...emulator, nginx: processTree(nginx!.child.pid) } }
      case 'baseline': return { pids: { ...emulator, baseline: [baseline.pid!] } }
      case 'gateway': {
        const pids = processTree(gateway!.child.pid)
        return { pids: { ...emulator, gateway: pids }, pgClients: pids, redis: true }
      }
    }
  }

  interface PathPlan {
    name: PathName
    title: string
    direct?: (seconds: number) => Promise<LoadResult>
    directNote?: string
    nginx?: (seconds: number) => Promise<LoadResult>
    // Whether the path calls the bus (the catalogue read does not).
    bus: boolean
    baseline: ((seconds: number) => Promise<LoadResult>) | null
    baselineNote?: string
    gateway: (url: string) => (seconds: number) => Promise<LoadResult>
    tail?: () => Promise<unknown>
    prepare?: () => void
  }
  const plans: PathPlan[] = [
    {
      name: 'one-source',
      bus: true,
      title: `one-source read (civil: ${civil})`,
      direct: viaClient(direct, readCalls([civil])),
      ...(viaNginx === null ? {} : { nginx: viaClient(viaNginx, readCalls([civil])) }),
      baseline: viaHttp(baselineUrl, get(() => `/v1/citizens/${encodeURIComponent(nextCitizen())}/civil`)),
      gateway: (url) => viaHttp(url, get(() => `/v1/citizens/${encodeURIComponent(nextCitizen())}/civil?${LOOKUP_QUERY}`)),
    },
    {
      name: 'five-source',
      bus: true,
      title: `five-source view (${sources.length} bus calls in parallel per view)`,
      direct: viaClient(direct, readCalls(sources)),
      ...(viaNginx === null ? {} : { nginx: viaClient(viaNginx, readCalls(sources)) }),
      baseline: viaHttp(baselineUrl, get(() => `/v1/citizens/${encodeURIComponent(nextCitizen())}`)),
      gateway: (url) => viaHttp(url, get(() => `/v1/citizens/${encodeURIComponent(nextCitizen())}?${LOOKUP_QUERY}`)),
    },
    {
      name: 'intake',
      bus: true,
      title: `intake (POST /v1/applications: ${intake.service} at ${BENCH_OFFICER.unit}, agency service ${submitService}; only 202s count; the gateway's CPU includes relaying its outbox to BullMQ after the window, and it calls no bus here)`,
      direct: viaClient(direct, submitCall),
      ...(viaNginx === null ? {} : { nginx: viaClient(viaNginx, submitCall) }),
      baseline: viaHttp(baselineUrl, post, 202),
      gateway: (url) => viaHttp(url, post, 202),
      tail: drained,
    },
    {
      name: 'dci',
      bus: true,
      title: `DCI sync search by UIN (POST /dci/social/registry/sync/search, one envelope per request, signed by the partner before the load, record SRPerson: ${civil} and ${welfare}; direct and nginx: those two bus calls)`,
      direct: viaClient(direct, readCalls([civil, welfare])),
      ...(viaNginx === null ? {} : { nginx: viaClient(viaNginx, readCalls([civil, welfare])) }),
      baseline: null,
      baselineNote: 'n/a (the baseline has no DCI face)',
      gateway: (url) => viaHttp(url, dciSearch),
      prepare: refillDci,
    },
    {
      name: 'catalogue',
      bus: false,
      title: `catalogue read (GET ${cataloguePath}, ${catalogueBody.length} bytes)`,
      directNote: 'n/a (no bus call)',
      ...(nginx === null ? {} : { nginx: viaHttp(nginx.url, anonymous(cataloguePath)) }),
      baseline: viaHttp(baselineUrl, anonymous(cataloguePath)),
      gateway: (url) => viaHttp(url, anonymous(cataloguePath)),
    },
  ]
  const rows = new Map<PathName, Row[]>()
  const active = plans.filter((p) => wanted(p.name))
  const warmGateway = async (g: Gateway) => {
    if (active[0] === undefined) return
    progress(`gateway ×${g.processes}: ${GATEWAY_WARM_UP_SECONDS} s warm-up after its start (${active[0].name})`)
    active[0].prepare?.()
    await active[0].gateway(g.url)(GATEWAY_WARM_UP_SECONDS)
    await active[0].tail?.()
  }
  await warmGateway(gateway)

  // 1. Everything but the gateway ×2, with the single-process gateway.
  for (const p of active) {
    const g = gateway
    const steps: Array<() => Promise<Row>> = [
      async () => (p.direct === undefined ? skipped('direct', p.directNote ?? 'n/a') : await variant(`${p.name}: direct`, involved('direct', p.bus), p.direct)),
      async () => (p.nginx === undefined ? skipped('nginx', nginxNote) : await variant(`${p.name}: nginx`, involved('nginx', p.bus), p.nginx)),
      async () => (p.baseline === null ? skipped('baseline', p.baselineNote ?? 'n/a') : await variant(`${p.name}: baseline`, involved('baseline', p.bus), p.baseline)),
      async () => await variant(`${p.name}: gateway`, involved('gateway', p.bus), p.gateway(g.url), p.tail, p.prepare),
    ]
    const runs: Row[][] = steps.map(() => [])
    for (let round = 0; round < ROUNDS; round++) {
      if (ROUNDS > 1) progress(`${p.name}: round ${round + 1} of ${ROUNDS}`)
      const order = round % 2 === 0 ? steps.map((_, i) => i) : steps.map((_, i) => steps.length - 1 - i)
      for (const i of order) runs[i]!.push(await steps[i]!())
    }
    const list = runs.map(combineRounds)
    for (const r of list) r.variant = r.variant.replace(`${p.name}: `, '')
    rows.set(p.name, list)
  }
  let profile = ''
  if (PROFILE) {
    await stopChild(gateway.child)
    gateway = null
    profile = summariseProfile(profileDir)
  }

  // 2. The gateway ×2: every path again, the single-process gateway stopped.
  if (active.length > 0 || wanted('delivery')) {
    if (gateway !== null) await stopChild(gateway.child)
    progress('starting the gateway with GATEWAY_PROCESSES=2')
    const two = await startGateway(2)
    if (typeof two === 'string') {
      notes.push(`gateway ×2 skipped: ${two}`)
      for (const p of active) rows.get(p.name)!.push(skipped('gateway ×2', two))
      gateway = await startGateway(1) as Gateway
    } else {
      gateway = two
      await warmGateway(gateway)
      for (const p of active) {
        const r = await variant(`${p.name}: gateway ×2`, involved('gateway', p.bus), p.gateway(gateway.url), p.tail, p.prepare)
        rows.get(p.name)!.push({ ...r, variant: 'gateway ×2' })
      }
    }
  }

  // 3. Delivery: what intake left queued (topped up to MIN_DELIVERIES) by
  // one worker process, then a fresh batch of MIN_DELIVERIES by two.
  interface Delivery { row: Row, delivered: number, toDeliver: number, exact: boolean, detail: string }
  const deliveries: Delivery[] = []
  if (wanted('delivery')) {
    const q = (sql: string, params?: unknown[]) => db.query(sql, params)
    for (const workers of [1, 2]) {
      await drained()
      // What earlier runs settled is deleted, so each batch meets tables of the same size.
      await db.query(`DELETE FROM "${schema}".application_events e USING "${schema}".applications a WHERE e.application_id = a.id AND a.status IN ('delivered', 'decided', 'failed')`)
      await db.query(`DELETE FROM "${schema}".applications WHERE status IN ('delivered', 'decided', 'failed')`)
      await db.query(`VACUUM ANALYZE "${schema}".applications, "${schema}".application_events`)
      const pendingOf = (c: Record<string, number>) => (c.received ?? 0) + (c.queued ?? 0)
      const pending = pendingOf(await applicationStatuses(q, schema))
      const batch = Math.max(MIN_DELIVERIES, pending)
      if (pending < batch) {
        progress(`delivery: topping up ${batch - pending} applications`)
        const topUp = await cannon({ url: gateway!.url, connections: CONNECTIONS, amount: batch - pending, make: post, okStatus: 202 })
        if (topUp.errors > 0) throw new Error(`top-up intake failed: ${topUp.detail.join('; ')}`)
        await drained()
      }
      const before = await applicationStatuses(q, schema)
      const toDeliver = pendingOf(before)
      const done = (c: Record<string, number>) => (c.delivered ?? 0) + (c.decided ?? 0)
      const agencyBefore = await agencyCounters(bus)
      const since = new Date()
      progress(`delivery: ${toDeliver} applications, ${workers} worker process${workers === 1 ? '' : 'es'}`)
      const procs = Array.from({ length: workers }, () => spawnChild(join(GATEWAY_ROOT, 'src/worker.ts'), env))
      const workerPids = () => procs.flatMap((w) => processTree(w.pid))
      let now = before
      let cpu: ((requests: number) => Promise<Cpu>) | null = null
      let doneAtCpu = 0
      const spawned = performance.now()
      for (;;) {
        await sleep(100)
        if (procs.some((w) => w.exitCode !== null || w.signalCode !== null)) throw new Error('a worker exited during delivery')
        now = await applicationStatuses(q, schema)
        const settled = done(now) - done(before) + (now.failed ?? 0) - (before.failed ?? 0)
        // CPU from the first delivery on: the workers' start-up is not delivery.
        if (cpu === null && settled > 0) {
          doneAtCpu = done(now)
          cpu = await cpuWindow({ pids: { worker: workerPids(), emulator: [exchange.pid!] }, pgClients: workerPids(), redis: true })
        }
        if (settled >= toDeliver) break
        if (performance.now() - spawned > 300_000) throw new Error(`delivery: ${settled} of ${toDeliver} settled in 300 s`)
      }
      const used = await cpu!(done(now) - doneAtCpu)
      for (const w of procs) await stopChild(w)
      const delivered = done(now) - done(before)
      const failed = (now.failed ?? 0) - (before.failed ?? 0)
      // The database's clock: the first 'delivering' to the last 'delivered' event.
      const { rows: span } = await db.query<{ first: Date, last: Date }>(
        `SELECT min(at) FILTER (WHERE status = 'delivering') AS first, max(at) FILTER (WHERE status = 'delivered') AS last FROM "${schema}".application_events WHERE at >= $1`, [since])
      const seconds = (span[0]!.last.getTime() - span[0]!.first.getTime()) / 1000
      const agency = await agencyCounters(bus)
      const received = agency.received - agencyBefore.received
      const exact = received === delivered && failed === 0 && delivered === toDeliver
      if (!exact) process.exitCode = 1
      deliveries.push({
        row: { variant: `${workers} worker${workers === 1 ? '' : 's'}`, rps: delivered / seconds, errors: failed + (exact ? 0 : Math.abs(received - delivered)), cpu: used },
        delivered,
        toDeliver,
        exact,
        detail: `${workers} worker${workers === 1 ? '' : 's'}: ${delivered} of ${toDeliver} delivered in ${seconds.toFixed(1)} s (first delivery to last), ${failed} failed; the agencies counted ${received} distinct applications, ${agency.submissions - agencyBefore.submissions} submissions, ${agency.replays - agencyBefore.replays} replays: exactly once ${exact ? 'yes' : 'NO — RUN FAILED'}`,
      })
    }
  }
  totalSeconds = (performance.now() - began) / 1000

  // ---- the report ---------------------------------------------------------------
  const cores = cpus()
  say('# npm run bench')
  say()
  say(`${startedAt.toISOString()}; Node ${process.version}; ${cores.length} cores (${cores[0]?.model.trim() ?? '?'}); load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')} before the run, ${loadavg().map((x) => x.toFixed(2)).join(' ')} at the end`)
  say(`machine CPU in use before the run (machineBusy): ${busyBefore === null ? 'unknown' : `${Math.round(busyBefore * 100)}%`}${busyBefore !== null && busyBefore > 0.1 ? ' — other work is running: compare CPU ms per request rather than req/s' : ''}`)
  say(`settings: BENCH_SECONDS=${SECONDS} per variant${ROUNDS > 1 ? ` in each of BENCH_ROUNDS=${ROUNDS} rounds (every other in reverse order; req/s the mean of the rounds, p50 and p99 their median, CPU over all of them)` : ''} after a ${WARM_UP_SECONDS} s warm-up (and ${GATEWAY_WARM_UP_SECONDS} s of the first path's load after each gateway start), BENCH_CONNECTIONS=${CONNECTIONS}, paths ${selected.join(', ')}; emulator latency 0 ms; ` +
    `nginx ${nginx === null ? `skipped (${nginxNote})` : `${nginx.version}, worker_processes ${nginx.workers}, keepalive upstream, access_log off`}; ` +
    `${FRESH_TOKENS ? 'a new officer token on every request' : `${CONNECTIONS} officers, each reusing its token`}; gateways${GATEWAY_ROOT === ROOT ? '' : ` from ${GATEWAY_ROOT}`} with WORKER=off, no statistics fold, no reconciler, logs at warn, look-up and DCI message limits lifted, other settings default; PostgreSQL schema ${schema}, Redis prefix ${keyPrefix}; whole run ${totalSeconds.toFixed(0)} s`)
  say('CPU ms per request: each process\'s CPU time over the measured window (from /proc) divided by the successful requests in it; "–": not part of that variant. ' +
    'gateway: all its processes; nginx: master and workers; postgres: only the backends serving the gateway or worker; redis: every redis-server; driver: this process (autocannon, or the bus client\'s signing and checking for direct and nginx).')
  for (const note of notes) say(note)
  const num = (x: number | undefined, digits = 0) => (x === undefined ? '–' : x.toFixed(digits))
  const table = (list: Row[]) => {
    say(`| variant | req/s | p50 ms | p99 ms | errors | CPU ms per request: ${PROCS.join(' / ')} |`)
    say('|---|---|---|---|---|---|')
    for (const r of list) {
      say(r.note !== undefined
        ? `| ${r.variant} | – | – | – | – | ${r.note} |`
        : `| ${r.variant} | ${num(r.rps)} | ${num(r.p50, r.p50 !== undefined && r.p50 < 10 ? 1 : 0)} | ${num(r.p99, r.p99 !== undefined && r.p99 < 10 ? 1 : 0)} | ${num(r.errors)} | ${PROCS.map((k) => num(r.cpu?.[k], 3)).join(' / ')} |`)
    }
  }
  const find = (path: PathName, variant: string) => rows.get(path)?.find((r) => r.variant === variant && r.note === undefined)
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? 'n/a' : (a / b).toFixed(2))
  const cpuOf = (r: Row | undefined, ...procs: Proc[]) => (r?.cpu === undefined ? undefined : procs.reduce((s, k) => s + (r.cpu![k] ?? 0), 0))
  for (const p of plans) {
    if (p.name === 'catalogue' && wanted('delivery')) {
      say()
      say('## delivery (src/worker.ts, default DELIVERY_CONCURRENCY, deliveries/s from the first delivery to the last; CPU from the first delivery on)')
      say()
      const intakeDirect = find('intake', 'direct')
      table([
        intakeDirect === undefined ? skipped('direct', 'n/a (the intake path did not run)') : { ...intakeDirect, variant: 'direct (the intake direct figure, reused: the same submit call)' },
        ...deliveries.map((d) => d.row),
      ])
      for (const d of deliveries) say(`- ${d.detail}`)
      const one = deliveries[0]?.row
      const two = deliveries[1]?.row
      say(`ratios: 2 workers/1 worker = ${ratio(two?.rps, one?.rps)}, 1 worker/direct = ${ratio(one?.rps, intakeDirect?.rps)}`)
    }
    if (!wanted(p.name)) continue
    const list = rows.get(p.name)!
    say()
    say(`## ${p.title}`)
    say()
    table(list)
    const g = find(p.name, 'gateway')
    say(`ratios: gateway/baseline = ${ratio(g?.rps, find(p.name, 'baseline')?.rps)}, gateway/direct = ${p.direct === undefined ? 'n/a' : ratio(g?.rps, find(p.name, 'direct')?.rps)}, ` +
      `gateway/nginx = ${ratio(g?.rps, find(p.name, 'nginx')?.rps)}, gateway ×2/gateway = ${ratio(find(p.name, 'gateway ×2')?.rps, g?.rps)}`)
    const d = find(p.name, 'direct')
    if (g?.rounds !== undefined && d?.rounds !== undefined && g.rounds.length === d.rounds.length) {
      say(`gateway/direct per round: ${g.rounds.map((x, i) => ratio(x, d.rounds![i])).join(', ')}`)
    }
  }

  // Against the issue's goals.
  const verdict = (x: number | undefined, floor: number, goal: number, higherIsBetter: boolean, digits: number) => {
    if (x === undefined || Number.isNaN(x)) return 'not measured'
    const meets = (limit: number) => (higherIsBetter ? x >= limit : x <= limit)
    return `${x.toFixed(digits)} — ${meets(goal) ? 'goal met' : meets(floor) ? 'floor met, goal not' : 'BELOW THE FLOOR'}`
  }
  const gw1 = find('one-source', 'gateway')
  const oneWorker = deliveries[0]?.row
  const intakeGw = find('intake', 'gateway')
  const rate = (r: Row | undefined) => (r?.rps === undefined ? undefined : r.rps)
  const goals: Array<[string, string, string, string]> = [
    ['one-source read: full/baseline req/s', '≥ 0.6', '≥ 0.8', verdict(rate(gw1) !== undefined && rate(find('one-source', 'baseline')) ? rate(gw1)! / rate(find('one-source', 'baseline'))! : undefined, 0.6, 0.8, true, 2)],
    ['one-source read: full/direct req/s', '≥ 0.6', '≥ 0.8', verdict(rate(gw1) !== undefined && rate(find('one-source', 'direct')) ? rate(gw1)! / rate(find('one-source', 'direct'))! : undefined, 0.6, 0.8, true, 2)],
    [`five-source view: p99 ms at 0 ms bus latency, ${CONNECTIONS} connections`, '< 50', '< 15', verdict(find('five-source', 'gateway')?.p99, 50, 15, false, 0)],
    ['intake: accepted/s', '≥ 2,000', '≥ 3,000', verdict(rate(intakeGw), 2000, 3000, true, 0)],
    ['delivery: deliveries/s per worker process', '≥ 1,200', '≥ 2,000', verdict(rate(oneWorker), 1200, 2000, true, 0)],
    ['one-source read: gateway CPU ms per read', '≤ 0.5', '≤ 0.3', verdict(cpuOf(gw1, 'gateway'), 0.5, 0.3, false, 3)],
    ['intake: CPU ms per application, gateway + PostgreSQL', '≤ 0.8', '≤ 0.4', verdict(cpuOf(intakeGw, 'gateway', 'postgres'), 0.8, 0.4, false, 3)],
    ['delivery: CPU ms per delivery, worker + PostgreSQL', '≤ 1.2', '≤ 0.6', verdict(cpuOf(oneWorker, 'worker', 'postgres'), 1.2, 0.6, false, 3)],
    ['DCI sync search by UIN: gateway/direct req/s', '≥ 0.5', '–', verdict(rate(find('dci', 'gateway')) !== undefined && rate(find('dci', 'direct')) ? rate(find('dci', 'gateway'))! / rate(find('dci', 'direct'))! : undefined, 0.5, 0.5, true, 2)],
  ]
  say()
  say('## against the goals (single-process gateway, one worker)')
  say()
  say('| path | floor | goal | measured |')
  say('|---|---|---|---|')
  for (const [what, floor, goal, measured] of goals) say(`| ${what} | ${floor} | ${goal} | ${measured} |`)
  if (deliveries.some((d) => !d.exact)) say('\n**RUN FAILED: a delivery batch was not delivered exactly once (see the delivery section).**')
  if (profile !== '') {
    say()
    say('## CPU profile of the single-process gateway (every path it served, start-up included)')
    say()
    say('```')
    say(profile)
    say('```')
  }
  const text = report.join('\n') + '\n'
  console.log(text)
  writeFileSync(RESULTS, text)
  progress(`written to ${RESULTS}`)
} finally {
  await cleanup()
}
