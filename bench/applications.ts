// Applications, intake and delivery: `npm run bench:applications`.
//   1. intake: POST /v1/applications through the gateway (WORKER=off, so only
//      intake and the outbox relay run there), 50 connections, a fresh officer
//      token and a unique Idempotency-Key per request;
//   2. bare BullMQ `add` on the same Redis, 50 concurrent loops, as the floor
//      the relay's part of intake is measured against;
//   3. delivery: ONE `src/worker.ts` process drains ≥ 10,000 queued
//      applications to the emulator (latency 0), once per DELIVERY_CONCURRENCY
//      and reconciler setting (off; the defaults; every second with a grace
//      of a second, so that it checks every queued application's job each
//      second), and the emulator's distinct-application counters must equal
//      the number delivered (exactly once at the agency). The gateway runs no
//      reconciler, so the worker's is the one measured. BENCH_ROUNDS runs the
//      settings again, in reverse order every other round, so that a drift
//      over the run (tables growing, a neighbour's load) falls on each setting
//      alike; rates are averaged over rounds, and CPU is also given in
//      milliseconds per delivery per process, which a noisy machine moves
//      less than a rate. BENCH_BASELINE_WORKER names the worker.ts of another
//      checkout (a git worktree of an earlier commit, say), run as one more
//      setting, `baseline`, against the same tables, queue and emulator.
// BENCH_PROFILE=1 runs the gateway (for intake only: it is restarted without
// the profiler before delivery) and each worker with --cpu-prof; the profiles
// are kept in BENCH_PROFILE_DIR when it is set.
// Env: BENCH_SECONDS (10), BENCH_CONNECTIONS (50), BENCH_DELIVERIES (10000),
// BENCH_DELIVERY_CONCURRENCY (16,50), BENCH_RECONCILER (off,default,1s), BENCH_ROUNDS (2),
// BENCH_DATABASE_URL, BENCH_REDIS_URL.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import pg from 'pg'
import { deliveryJobOptions } from '../src/applications/queue.ts'
import { ensureDevIssuer } from '../src/auth/dev-issuer.ts'
import { ensureDevMemberKeys } from '../src/bus/member-keys.ts'
import { buildSeedDocument } from '../src/catalogue/seed.ts'
import { createSnapshot } from '../src/catalogue/snapshot.ts'
import { loadConfig } from '../src/config.ts'
import { generatePopulation } from '../src/exchange/index.ts'
import { createEpochWatch, epochKey } from '../src/queue/epoch.ts'
import { benchGatewayEnv, cpuSeconds, cpuShare, cpuUsed, deleteRedisKeys, devTokenMinter, dropPgSchema, freePort, machineBusy, percentile, start, stop, summariseProfile, waitFor } from './lib.ts'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const DELIVERIES = Number(process.env.BENCH_DELIVERIES ?? 10_000)
const CONCURRENCIES = (process.env.BENCH_DELIVERY_CONCURRENCY ?? '16,50').split(',').map(Number)
const RECONCILERS: Record<string, Record<string, string>> = {
  off: { RECONCILE_INTERVAL_MS: '0' },
  default: {},
  '1s': { RECONCILE_INTERVAL_MS: '1000', RECONCILE_GRACE_MS: '1000' },
}
const BASELINE_WORKER = process.env.BENCH_BASELINE_WORKER
if (BASELINE_WORKER !== undefined) RECONCILERS.baseline = {}
const RECONCILER_RUNS = (process.env.BENCH_RECONCILER ?? `off,default,1s${BASELINE_WORKER === undefined ? '' : ',baseline'}`).split(',').filter((r) => Object.hasOwn(RECONCILERS, r))
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)
const plan = Array.from({ length: ROUNDS }, (_, round) => CONCURRENCIES.flatMap((concurrency) =>
  (round % 2 === 0 ? RECONCILER_RUNS : [...RECONCILER_RUNS].reverse()).map((reconciler) => ({ concurrency, reconciler, round: round + 1 })))).flat()
const PROFILE = process.env.BENCH_PROFILE === '1'
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'
const OFFICER_UNIT = '8322'

const dataDir = mkdtempSync(join(tmpdir(), 'oss-bench-apps-'))
const profileDir = process.env.BENCH_PROFILE_DIR ?? join(dataDir, 'profile')
ensureDevMemberKeys(dataDir)
await ensureDevIssuer(dataDir)
const schema = `bench_apps_${process.pid}`
const keyPrefix = `bench:${schema}`
const busPort = await freePort()
const gwPort = await freePort()
const bus = `http://127.0.0.1:${busPort}`
const gateway = `http://127.0.0.1:${gwPort}`

// Shared by the gateway and the workers. Decision polls are pushed an hour
// out so that they never run inside a measured delivery window.
const env = benchGatewayEnv({ dataDir, bus, databaseUrl: DATABASE_URL, schema, redisUrl: REDIS_URL, keyPrefix })
const profileArgs = (name: string) => (PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, name)}`] : [])

const exchange = start('src/exchange/main.ts', { EXCHANGE_PORT: String(busPort), DATA_DIR: dataDir, EXCHANGE_LOG_LEVEL: 'warn' })
let server = start('src/server.ts', { ...env, PORT: String(gwPort) }, profileArgs('gateway'))
const workers: ReturnType<typeof start>[] = []
const db = new pg.Client({ connectionString: DATABASE_URL })

let cleaned: Promise<void> | null = null
function cleanup (): Promise<void> {
  cleaned ??= (async () => {
    for (const w of workers) await stop(w).catch(() => {})
    await stop(server).catch(() => {})
    await stop(exchange).catch(() => {})
    await db.end().catch(() => {})
    await dropPgSchema(DATABASE_URL, schema).catch((err) => console.error(`could not drop schema ${schema}: ${(err as Error).message}`))
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

const say = (line = '') => console.log(line)
// Which process a phase's CPU went to (all PostgreSQL backends on the machine
// count, so other work on it shows up there too).
const cpu = (worker?: { pid?: number }) => cpuSeconds({
  driver: [process.pid], gateway: [server.pid], worker: [worker?.pid], exchange: [exchange.pid], postgres: /^postgres/, redis: /^redis-server/,
})

try {
  await waitFor(`${bus}/health`)
  await waitFor(`${gateway}/health/ready`)
  await db.connect()

  // What the intake tests submit at a counter: an officer of 8322, a service
  // offered there at the counter, its schema's first example as the form,
  // and citizens the emulator knows, so that the agency accepts them.
  const snap = createSnapshot(1, 'seed', buildSeedDocument())
  const service = [...snap.offers(OFFICER_UNIT).values()]
    .find((o) => o.service.applicants.includes('officer') && o.channels.includes('oss_counter') && o.service.adapter !== undefined && !o.service.adapter.startsWith('veterinary'))!.service
  const form = (service.formSchema.examples as object[])[0]
  const citizens = generatePopulation().livingAdults().slice(0, 1000).map((c) => c.regnum)
  const mint = await devTokenMinter(dataDir)
  const officer = { sub: 'bench-officer', role: 'officer', unit: OFFICER_UNIT, agency: 'GOSW' }
  let n = 0

  async function submit (opts: { duration?: number, amount?: number }) {
    const statuses = new Map<number, number>()
    const samples: string[] = []
    const result = await autocannon({
      url: gateway,
      connections: CONNECTIONS,
      ...(opts.amount === undefined ? { duration: opts.duration ?? SECONDS } : { amount: opts.amount }),
      requests: [{
        method: 'POST',
        path: '/v1/applications',
        setupRequest: (req: Record<string, any>) => ({
          ...req,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${mint(officer)}`, 'idempotency-key': `bench-${randomUUID()}` },
          body: JSON.stringify({ service: service.code, unit: OFFICER_UNIT, channel: 'oss_counter', applicant: { regnum: citizens[n++ % citizens.length] }, form }),
        }) as never,
        onResponse: (status: number, body: string) => {
          statuses.set(status, (statuses.get(status) ?? 0) + 1)
          if (status !== 202 && samples.length < 5) samples.push(`${status} ${body.slice(0, 300)}`)
        },
      }],
    })
    const accepted = statuses.get(202) ?? 0
    const rejected = [...statuses].filter(([s]) => s !== 202)
    return {
      rps: Math.round(result.requests.average),
      acceptedPerSecond: Math.round(accepted / result.duration),
      accepted,
      p50: result.latency.p50,
      p99: result.latency.p99,
      non202: rejected.reduce((sum, [, c]) => sum + c, 0) + result.errors + result.timeouts,
      detail: [...rejected.map(([s, c]) => `${c} × ${s}`), ...(result.errors + result.timeouts > 0 ? [`${result.errors} errors, ${result.timeouts} timeouts`] : []), ...samples],
    }
  }

  const statusCounts = async () => {
    const { rows } = await db.query<{ status: string, n: number }>(`SELECT status, count(*)::int AS n FROM "${schema}".applications GROUP BY status`)
    return Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<string, number>
  }
  const outboxSize = async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".application_outbox`)).rows[0]!.n
  // Waits for the gateway's relay to move the whole outbox into BullMQ.
  async function relayed (timeoutMs = 300_000): Promise<number> {
    const t0 = performance.now()
    while (await outboxSize() > 0) {
      if (performance.now() - t0 > timeoutMs) throw new Error(`the outbox did not drain in ${timeoutMs / 1000} s`)
      await sleep(50)
    }
    return (performance.now() - t0) / 1000
  }
  const agencyCounters = async () => {
    const { providers } = await (await fetch(`${bus}/admin/providers`)).json() as { providers: Array<{ counters?: { applicationsReceived: number, submissions: number, idempotentReplays: number } }> }
    const sum = (k: 'applicationsReceived' | 'submissions' | 'idempotentReplays') => providers.reduce((s, p) => s + (p.counters?.[k] ?? 0), 0)
    return { received: sum('applicationsReceived'), submissions: sum('submissions'), replays: sum('idempotentReplays') }
  }
  const showRejections = (what: string, r: Awaited<ReturnType<typeof submit>>) => {
    if (r.non202 > 0) {
      process.exitCode = 1
      say(`!! ${what}: ${r.non202} answers were not 202:`)
      for (const d of r.detail) say(`   ${d}`)
    }
  }

  say(`\n${CONNECTIONS} connections, ${SECONDS} s, Node ${process.version}, ${service.code} at ${OFFICER_UNIT} (oss_counter), PostgreSQL schema ${schema}, gateway WORKER=off, logs at warn`)
  const busy = await machineBusy()
  if (busy !== null) say(`machine CPU in use before the run: ${Math.round(busy * 100)}%${busy > 0.1 ? ' — other work is running; expect lower numbers' : ''}`)
  say()

  // 1. Intake. The warm-up's backlog is relayed before the measured run.
  showRejections('warm-up', await submit({ duration: Math.min(3, SECONDS) }))
  await relayed()
  const cpu0 = cpu()
  const intake = await submit({ duration: SECONDS })
  const cpu1 = cpu()
  const lag = await relayed()
  const cpu2 = cpu()
  say('| intake | req/s | accepted/s | p50 ms | p99 ms | non-202 |')
  say('|---|---|---|---|---|---|')
  say(`| POST /v1/applications | ${intake.rps} | ${intake.acceptedPerSecond} | ${intake.p50} | ${intake.p99} | ${intake.non202} |`)
  showRejections('intake', intake)
  say(`goal ≥ 1500 accepted/s: ${intake.acceptedPerSecond >= 1500 ? 'met' : 'NOT met'}`)
  say(`outbox relayed into BullMQ ${lag.toFixed(1)} s after the run ended (relay ≈ ${Math.round(intake.accepted / (SECONDS + lag))}/s over the run and its tail)`)
  say(`CPU (% of one core) during intake: ${cpuShare(cpu0, cpu1, SECONDS)}`)
  if (lag > 0.5) say(`CPU during the relay's tail: ${cpuShare(cpu1, cpu2, lag)}`)

  // 2. Bare BullMQ add: the same job options as the relay, a throwaway queue.
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null })
  const bare = new Queue('bench-bare', { connection: redis, prefix: `${keyPrefix}:bare` })
  await bare.waitUntilReady()
  const jobOptions = deliveryJobOptions(loadConfig({}).delivery)
  const addLatencies: number[] = []
  const until = performance.now() + SECONDS * 1000
  const t0 = performance.now()
  const cpu3 = cpu()
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (performance.now() < until) {
      const t = performance.now()
      const id = randomUUID()
      await bare.add('deliver', { applicationId: id }, { ...jobOptions, jobId: id })
      addLatencies.push(performance.now() - t)
    }
  }))
  const addSeconds = (performance.now() - t0) / 1000
  const addsPerSecond = Math.round(addLatencies.length / addSeconds)
  const cpu4 = cpu()
  await bare.close()
  redis.disconnect()
  addLatencies.sort((a, b) => a - b)
  say(`\nbare BullMQ add (${CONNECTIONS} loops): ${addsPerSecond} adds/s, p50 ${percentile(addLatencies, 50).toFixed(2)} ms, p99 ${percentile(addLatencies, 99).toFixed(2)} ms`)
  say(`CPU during bare add: ${cpuShare(cpu3, cpu4, addSeconds)}`)
  say(`ratio intake/bare-add = ${(intake.acceptedPerSecond / addsPerSecond).toFixed(3)}`)

  // The gateway's profile is of intake: the top-ups below run unprofiled.
  if (PROFILE) {
    await stop(server)
    server = start('src/server.ts', { ...env, PORT: String(gwPort) })
    // Not /health/ready: it fails while jobs wait with no worker, as they do here.
    await waitFor(`${gateway}/health/live`)
  }

  // 3. Delivery by one worker process, once per concurrency, each run with
  // the same number of queued applications (topped up through intake).
  let batch = 0
  const runs: string[] = []
  const cpuNotes: string[] = []
  let best = 0
  const rates = new Map<string, number[]>()
  const cpuPerDelivery = new Map<string, Record<string, number>>()
  // Every run starts from tables of the same size: what earlier runs
  // delivered is deleted and vacuumed away, so a later run does not pay for
  // larger tables and indexes than an earlier one.
  const clearSettled = async () => {
    const settled = "('delivered', 'decided', 'failed')"
    await db.query(`DELETE FROM "${schema}".application_events e USING "${schema}".applications a WHERE e.application_id = a.id AND a.status IN ${settled}`)
    await db.query(`DELETE FROM "${schema}".applications WHERE status IN ${settled}`)
    await db.query(`VACUUM ANALYZE "${schema}".applications, "${schema}".application_events`)
  }
  // As in a deployment whose Redis kept its data: the reconcilers' markers are
  // there, so the first worker with a reconciler does not take Redis for a
  // new one and look for every queued job at once (a recovery, not the
  // steady cost measured here).
  const markers = new Redis(REDIS_URL)
  for (const what of ['deliveries', 'callbacks'] as const) await createEpochWatch(markers, epochKey(keyPrefix, what)).settle()
  markers.disconnect()
  for (const { concurrency, reconciler, round } of plan) {
    await clearSettled()
    const before = await statusCounts()
    const pending = (before.received ?? 0) + (before.queued ?? 0)
    batch ||= Math.max(DELIVERIES, pending)
    if (pending < batch) {
      const topUp = await submit({ amount: batch - pending })
      showRejections('top-up', topUp)
      if (topUp.non202 > 0) throw new Error('top-up intake failed')
    }
    await relayed()
    const queued = await statusCounts()
    const toDeliver = (queued.queued ?? 0) + (queued.received ?? 0)
    const doneBefore = (queued.delivered ?? 0) + (queued.decided ?? 0)
    const failedBefore = queued.failed ?? 0
    const agencyBefore = await agencyCounters()

    const since = new Date()
    const spawned = performance.now()
    const worker = start(reconciler === 'baseline' ? BASELINE_WORKER! : 'src/worker.ts', { ...env, DELIVERY_CONCURRENCY: String(concurrency), RECONCILE_INTERVAL_MS: '5000', RECONCILE_GRACE_MS: '60000', ...RECONCILERS[reconciler] }, profileArgs(`worker-c${concurrency}-${reconciler}-${round}`))
    workers.push(worker)
    const cpu5 = cpu(worker)
    let firstSeen = 0
    let now: Record<string, number> = {}
    for (;;) {
      await sleep(250)
      if (worker.exitCode !== null || worker.signalCode !== null) throw new Error(`the worker exited (${worker.exitCode ?? worker.signalCode})`)
      now = await statusCounts()
      const done = (now.delivered ?? 0) + (now.decided ?? 0) - doneBefore
      const failed = (now.failed ?? 0) - failedBefore
      if (firstSeen === 0 && done > 0) firstSeen = performance.now()
      if (done + failed >= toDeliver) break
      if (performance.now() - spawned > 600_000) throw new Error(`only ${done} of ${toDeliver} delivered in 600 s: ${JSON.stringify(now)}`)
    }
    const wallSeconds = (performance.now() - spawned) / 1000
    const cpuEnd = cpu(worker)
    cpuNotes.push(`CPU during delivery at concurrency ${concurrency}, reconciler ${reconciler}, round ${round}: ${cpuShare(cpu5, cpuEnd, wallSeconds)}`)
    const delivered = (now.delivered ?? 0) + (now.decided ?? 0) - doneBefore
    const failed = (now.failed ?? 0) - failedBefore
    // The database's own clock: first 'delivering' to last 'delivered' event.
    const { rows } = await db.query<{ first: Date, last: Date }>(
      `SELECT min(at) FILTER (WHERE status = 'delivering') AS first, max(at) FILTER (WHERE status = 'delivered') AS last
       FROM "${schema}".application_events WHERE at >= $1`, [since])
    const activeSeconds = (rows[0]!.last.getTime() - rows[0]!.first.getTime()) / 1000
    const agency = await agencyCounters()
    best = Math.max(best, Math.round(delivered / activeSeconds))
    const key = `${concurrency}/${reconciler}`
    rates.set(key, [...rates.get(key) ?? [], delivered / activeSeconds])
    const perDelivery = cpuPerDelivery.get(key) ?? { deliveries: 0 }
    perDelivery.deliveries! += delivered
    for (const [name, seconds] of Object.entries(cpuUsed(cpu5, cpuEnd))) perDelivery[name] = (perDelivery[name] ?? 0) + seconds
    cpuPerDelivery.set(key, perDelivery)
    await stop(worker)
    const received = agency.received - agencyBefore.received
    const exact = received === delivered && failed === 0 && delivered === toDeliver
    runs.push(`| ${round} | ${concurrency} | ${reconciler} | ${toDeliver} | ${delivered} | ${failed} | ${Math.round(delivered / activeSeconds)} | ${activeSeconds.toFixed(1)} | ${Math.round(delivered / wallSeconds)} | ${((firstSeen - spawned) / 1000).toFixed(1)} | ${received} | ${agency.submissions - agencyBefore.submissions} | ${agency.replays - agencyBefore.replays} | ${exact ? 'yes' : 'NO'} |`)
    if (!exact) {
      process.exitCode = 1
      console.error(`!! at concurrency ${concurrency}: ${delivered} of ${toDeliver} delivered, ${failed} failed, the agencies counted ${received}`)
    }
  }
  say('\ndelivery, one worker process, emulator latency 0 ms')
  say('| round | concurrency | reconciler | queued | delivered | failed | deliveries/s (first→last delivery) | s | deliveries/s (from worker start) | s to first | agency distinct | agency submissions | agency replays | exactly once |')
  say('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
  for (const r of runs) say(r)
  for (const concurrency of CONCURRENCIES) {
    const mean = (r: string) => {
      const xs = rates.get(`${concurrency}/${r}`)
      return xs === undefined ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length
    }
    for (const base of ['off', 'baseline']) {
      const of = mean(base)
      for (const reconciler of RECONCILER_RUNS.filter((r) => r !== base && r !== 'baseline')) {
        const on = mean(reconciler)
        if (of !== undefined && on !== undefined) say(`concurrency ${concurrency}: reconciler ${reconciler} / ${base} = ${(on / of).toFixed(3)} (mean of ${ROUNDS} round(s): ${Math.round(on)} vs ${Math.round(of)} deliveries/s)`)
      }
    }
    for (const reconciler of RECONCILER_RUNS) {
      const { deliveries, ...used } = cpuPerDelivery.get(`${concurrency}/${reconciler}`) ?? { deliveries: 0 }
      if (!deliveries) continue
      const ms = Object.entries(used).filter(([name]) => ['worker', 'exchange', 'postgres', 'redis'].includes(name)).map(([name, s]) => `${name} ${(1000 * s / deliveries).toFixed(2)}`)
      say(`concurrency ${concurrency}, reconciler ${reconciler}: CPU ms per delivery: ${ms.join(', ')}`)
    }
  }
  for (const r of cpuNotes) say(r)
  say(`goal ≥ 1000 deliveries/s with one worker: ${best >= 1000 ? 'met' : 'NOT met'} (best ${best}/s)`)
} finally {
  await cleanup()
  if (PROFILE) {
    const workerProfiles = plan.map(({ concurrency: c, reconciler: r, round }) => [`worker, DELIVERY_CONCURRENCY=${c}, reconciler ${r}, round ${round}`, `worker-c${c}-${r}-${round}`] as const)
    for (const [title, dir] of [['gateway (intake)', 'gateway'] as const, ...workerProfiles]) {
      console.log(`\n--- profile: ${title} ---`)
      try {
        console.log(summariseProfile(join(profileDir, dir)))
      } catch {
        console.log('(no profile written)')
      }
    }
  }
  rmSync(dataDir, { recursive: true, force: true })
}
