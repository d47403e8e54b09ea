// The officer's citizen view, through the gateway and straight to the bus:
//   a) the 5-source view through the gateway (auth, validation, policy, audit
//      write, fan-out of 5 signed calls, response signatures checked)
//   b) the same 5 calls straight to the emulator, in parallel, signed
//   c) one source through the gateway, against the same call through the
//      bare signed-request gateway (bench/baseline/server.ts) and made directly
// at emulator latency 0 and 20 ms, 50 connections; with each process's CPU
// milliseconds per request (gateway, baseline, emulator, the gateway's own
// PostgreSQL backends, Redis and this driver), read from /proc, which stay
// comparable on a busy machine. Gateway runs use autocannon
// with a fresh token per request (tokens are single-use); the direct runs use
// the gateway's own bus client in 50 concurrent loops, since each iteration is
// 5 signed calls. BENCH_PROFILE=1 profiles the gateway (--cpu-prof).
import { createPrivateKey, randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { createEd25519Signer } from '../src/bus/jws.ts'
import { ensureDevMemberKeys, devMemberFiles, loadMemberKeys } from '../src/bus/member-keys.ts'
import { createRestClient } from '../src/bus/rest-client.ts'
import { DEV_AUDIENCE, DEV_ISSUER, devIssuerFiles, ensureDevIssuer } from '../src/auth/dev-issuer.ts'
import { loadPolicies } from '../src/citizen/policy.ts'
import { loadAdapters } from '../src/adapters/load.ts'
import { generatePopulation } from '../src/exchange/index.ts'
import pg from 'pg'
import { cpuSeconds, cpuUsed, freePort, percentile, pgBackendsOf, start, stop, summariseProfile, waitFor } from './lib.ts'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const PROFILE = process.env.BENCH_PROFILE === '1'
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

const dataDir = mkdtempSync(join(tmpdir(), 'oss-bench-view-'))
const profileDir = join(dataDir, 'profile')
ensureDevMemberKeys(dataDir)
await ensureDevIssuer(dataDir)
const schema = `bench_${process.pid}`
const busPort = await freePort()
const gwPort = await freePort()
const basePort = await freePort()
const bus = `http://127.0.0.1:${busPort}`
const gateway = `http://127.0.0.1:${gwPort}`
const baselineUrl = `http://127.0.0.1:${basePort}`

const exchange = start('src/exchange/main.ts', { EXCHANGE_PORT: String(busPort), DATA_DIR: dataDir, EXCHANGE_LOG_LEVEL: 'warn' })
const server = start('src/server.ts', {
  PORT: String(gwPort),
  DATA_DIR: dataDir,
  EXCHANGE_URL: bus,
  DATABASE_URL,
  DATABASE_SCHEMA: schema,
  REDIS_KEY_PREFIX: `bench:${schema}`,
  LOG_LEVEL: 'warn',
  OFFICER_LOOKUPS_PER_MINUTE: '100000000',
  UNIT_LOOKUPS_PER_MINUTE: '100000000',
  HARVEST_DISTINCT_CITIZENS: '100000000',
}, PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])

// The bare signed-request gateway (bench/baseline/server.ts), for the one-source read.
const civilService = (await loadAdapters()).find((a) => a.operation === loadPolicies().sources.civil!.operation) as { service: string } | undefined
const baseline = start('bench/baseline/server.ts', { PORT: String(basePort), DATA_DIR: dataDir, EXCHANGE_URL: bus, SERVICE: civilService!.service })

async function cleanup (): Promise<void> {
  await stop(baseline)
  await stop(server)
  await stop(exchange)
  const pg = (await import('pg')).default
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await client.end()
}

try {
  await waitFor(`${bus}/health`)
  await waitFor(`${gateway}/health/ready`)
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${baselineUrl}/v1/citizens/x/civil`)
      break
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  const citizens = generatePopulation().livingAdults().slice(0, 1000)
  const policies = loadPolicies()
  const adapters = new Map((await loadAdapters()).map((a) => [a.operation, a]))
  // The bus calls of the view the gateway is asked for (its purpose's sources).
  const sources = Object.keys(policies.purposes['welfare.eligibility']!.sources).map((name) => adapters.get(policies.sources[name]!.operation)!)

  // Officer tokens, signed on node:crypto so the driver keeps up.
  const jwk = JSON.parse(readFileSync(devIssuerFiles(dataDir).privateJwkFile, 'utf8'))
  const tokenSigner = createEd25519Signer(createPrivateKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d }, format: 'jwk' }), jwk.kid)
  const officerToken = () => {
    const iat = Math.floor(Date.now() / 1000)
    return tokenSigner.sign({ iss: DEV_ISSUER, aud: DEV_AUDIENCE, sub: 'bench-officer', role: 'officer', unit: '8322', agency: 'GOSW', iat, exp: iat + 300, jti: randomUUID() }, 'at+jwt')
  }

  let n = 0
  const nextCitizen = () => citizens[n++ % citizens.length]!.regnum

  // CPU milliseconds per request of every process of the run, read from
  // /proc: PostgreSQL counts the gateway's own backends only (the audit log).
  const pgClient = new pg.Client({ connectionString: DATABASE_URL })
  await pgClient.connect()
  const pgPort = Number(new URL(DATABASE_URL).port || 5432)
  let gatewayBackends: number[] = []
  const processes = () => cpuSeconds({
    gateway: [server.pid],
    baseline: [baseline.pid],
    emulator: [exchange.pid],
    postgres: gatewayBackends,
    redis: /^redis-server$/,
    driver: [process.pid],
  })
  async function measured<T extends { rps: number }> (run: () => Promise<T>): Promise<T & { cpu: Record<string, number>, requests: number }> {
    gatewayBackends = await pgBackendsOf(server.pid!, pgPort, (sql, params) => pgClient.query(sql, params))
    const before = processes()
    const r = await run()
    const used = cpuUsed(before, processes())
    const requests = r.rps * SECONDS
    return { ...r, requests, cpu: Object.fromEntries(Object.entries(used).map(([k, v]) => [k, (1000 * v) / Math.max(1, requests)])) }
  }

  async function viaGateway (title: string, path: (regnum: string) => string, url = gateway) {
    const result = await autocannon({
      url,
      connections: CONNECTIONS,
      duration: SECONDS,
      requests: [{
        method: 'GET',
        setupRequest: (req: Record<string, any>) => ({ ...req, path: path(nextCitizen()), headers: { authorization: `Bearer ${officerToken()}` } }),
      }],
    })
    return { title, rps: Math.round(result.requests.average), p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.timeouts + result.non2xx }
  }

  const keys = loadMemberKeys(devMemberFiles(dataDir).privateJwks, devMemberFiles(dataDir).xypPrivatePem)
  const client = createRestClient({ baseUrl: bus, memberId: 'MN/GOV/OSS/gateway', signingKey: keys.signing, connections: CONNECTIONS * 5 })
  async function direct (title: string, calls: typeof sources) {
    const latencies: number[] = []
    let errors = 0
    const until = Date.now() + SECONDS * 1000
    await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < until) {
        const regnum = nextCitizen()
        const t0 = performance.now()
        const answers = await Promise.all(calls.map((a) => client.call({ service: (a as { service: string }).service, body: { regnum }, timeoutMs: 5000 }).catch(() => null)))
        if (answers.some((x) => x === null || x.status !== 200)) errors++
        latencies.push(performance.now() - t0)
      }
    }))
    latencies.sort((x, y) => x - y)
    return { title, rps: Math.round(latencies.length / SECONDS), p50: Math.round(percentile(latencies, 50)), p99: Math.round(percentile(latencies, 99)), errors }
  }

  async function setLatency (ms: number) {
    for (const p of ['civil', 'social-insurance', 'welfare', 'employment', 'land']) {
      await fetch(`${bus}/admin/faults/${p}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latencyMs: ms }) })
    }
  }

  const query = 'purpose=welfare.eligibility&case=BENCH-1'
  await viaGateway('warm-up', (r) => `/v1/citizens/${encodeURIComponent(r)}?${query}`)
  const report: string[] = [`\n${CONNECTIONS} connections, ${SECONDS} s per run, Node ${process.version}, gateway logs at warn, PostgreSQL audit\n`]
  for (const latency of [0, 20]) {
    await setLatency(latency)
    const a = await measured(() => viaGateway('a) 5-source view via gateway', (r) => `/v1/citizens/${encodeURIComponent(r)}?${query}`))
    const b = await measured(() => direct('b) same 5 calls, direct', sources))
    const c = await measured(() => viaGateway('c) 1 source via gateway', (r) => `/v1/citizens/${encodeURIComponent(r)}/civil?${query}`))
    const cb = await measured(() => viaGateway('c) 1 source via the bare baseline', (r) => `/v1/citizens/${encodeURIComponent(r)}/civil`, baselineUrl))
    const cd = await measured(() => direct('c) 1 source, direct', [sources[0]!]))
    const columns = ['gateway', 'baseline', 'emulator', 'postgres', 'redis', 'driver']
    report.push(`emulator latency ${latency} ms`)
    report.push(`| run | req/s | p50 ms | p99 ms | errors | CPU ms per request: ${columns.join(' / ')} |`, '|---|---|---|---|---|---|')
    for (const r of [a, b, c, cb, cd]) report.push(`| ${r.title} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.errors} | ${columns.map((k) => (r.cpu[k] ?? 0).toFixed(2)).join(' / ')} |`)
    report.push(`ratio a/b = ${(a.rps / b.rps).toFixed(2)}, c/direct = ${(c.rps / cd.rps).toFixed(2)}, c/baseline = ${(c.rps / cb.rps).toFixed(2)}, baseline/direct = ${(cb.rps / cd.rps).toFixed(2)}\n`)
  }
  await client.close()
  await pgClient.end()
  console.log(report.join('\n'))
} finally {
  await cleanup()
  if (PROFILE) console.log(summariseProfile(profileDir))
  rmSync(dataDir, { recursive: true, force: true })
}
