// Public catalogue read throughput: `npm run bench:catalogue`.
// Runs the gateway as its own process (embedded store, bundled bus, logs at
// warn) and drives it with autocannon from this one, 50 connections, for
// GET /v1/units/{bag}/services, its 304 revalidation, and /health/live as the
// floor of the same server (routing, hooks, serialisation, no catalogue work).
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { buildSeedDocument } from '../src/catalogue/seed.ts'
import { freePort, waitFor } from './lib.ts'

const DURATION_SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)

const seed = buildSeedDocument()
const bag = seed.mobileRounds[0]?.bags[0] ?? seed.units.find((u) => u.level === "bag")!.code
const dataDir = mkdtempSync(join(tmpdir(), 'oss-bench-'))
const port = await freePort()
const url = `http://127.0.0.1:${port}`
const server = spawn(process.execPath, [join(import.meta.dirname, '..', 'src', 'server.ts')], {
  env: { ...process.env, PORT: String(port), EXCHANGE_PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', REDIS_KEY_PREFIX: `bench:${process.pid}` },
  stdio: ['ignore', 'ignore', 'inherit'],
})
await waitFor(`${url}/health/ready`)

async function run (title: string, path: string, headers: Record<string, string> = {}) {
  const result = await autocannon({ url: url + path, connections: CONNECTIONS, duration: DURATION_SECONDS, headers })
  const non2xx = result.non2xx - (headers['if-none-match'] === undefined ? 0 : result['3xx'] ?? 0)
  return { title, path, rps: Math.round(result.requests.average), p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.timeouts + Math.max(0, non2xx) }
}

try {
  const target = `/v1/units/${bag}/services`
  const first = await fetch(url + target)
  const etag = first.headers.get('etag') ?? ''
  await first.arrayBuffer()
  await run('warm-up', target)
  const rows = [
    await run('/health/live (floor)', '/health/live'),
    await run('units/{bag}/services', target),
    await run('units/{bag}/services, If-None-Match', target, { 'if-none-match': etag }),
    await run('services?q=… (search)', '/v1/services?q=huuhed&lang=en'),
  ]
  const floor = rows[0]!.rps
  console.log(`\n${CONNECTIONS} connections, ${DURATION_SECONDS} s each, bag ${bag}, Node ${process.version}\n`)
  console.log('| request | req/s | p50 ms | p99 ms | errors | share of floor |')
  console.log('|---|---|---|---|---|---|')
  for (const r of rows) console.log(`| ${r.title} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.errors} | ${(r.rps / floor).toFixed(2)} |`)
} finally {
  server.kill('SIGTERM')
  await new Promise((resolve) => server.on('exit', resolve))
  rmSync(dataDir, { recursive: true, force: true })
}
