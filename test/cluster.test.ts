import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { buildTestApp } from './helpers/app.ts'
import { adults, workerEnv } from './helpers/delivery.ts'
import { eventually } from './helpers/eventually.ts'
import { spawnServer } from './helpers/process.ts'
import { createServer } from 'node:net'

const SERVER = join(import.meta.dirname, '..', 'src', 'server.ts')

// The primary's children, from /proc (Linux).
function childrenOf (pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

const pidsOf = (lines: string[], pattern: RegExp) => new Set(lines.filter((l) => pattern.test(l)).map((l) => JSON.parse(l).pid as number))

t.test('GATEWAY_PROCESSES=2: two processes share the port and the audit chain, a dead one is replaced, SIGTERM stops them all', async (tt) => {
  const ctx = await buildTestApp(tt, { exchange: true })
  const server = spawnServer(SERVER, { ...workerEnv(ctx), PORT: '0', GATEWAY_PROCESSES: '2', WORKER: 'off', SHUTDOWN_DRAIN_MS: '0' })
  tt.teardown(() => {
    for (const pid of childrenOf(server.child.pid!)) try { process.kill(pid, 'SIGKILL') } catch {}
    server.child.kill('SIGKILL')
  })
  await server.waitFor(/"msg":"gateway processes ready"/)
  const url = await server.url
  // Their lines and the primary's share one pipe, in any order.
  await eventually(async () => pidsOf(server.lines, /Server listening at/).size === 2 || undefined)
  tt.same(new Set(childrenOf(server.child.pid!)), pidsOf(server.lines, /Server listening at/), 'both are the primary\'s children')

  // New connections are spread over both; every look-up is audited in the one chain.
  const token = await ctx.token('officer', { claims: { agency: 'GOSW' } })
  const seqs: number[] = []
  for (let i = 0; i < 12; i++) {
    const res = await request(`${url}/v1/citizens/${encodeURIComponent(adults[i]!.regnum)}/civil?purpose=welfare.eligibility&case=C-${i}`, {
      headers: { authorization: `Bearer ${token}`, connection: 'close' },
    })
    const body = await res.body.json() as { auditSeq: number }
    tt.equal(res.statusCode, 200, JSON.stringify(body))
    seqs.push(body.auditSeq)
  }
  tt.same(seqs, [...seqs].sort((a, b) => a - b), 'audit sequence numbers rise across processes')
  tt.equal(new Set(seqs).size, 12, 'one record each')
  tt.equal((await ctx.app.audit.verify()).ok, true, 'the chain verifies')
  await eventually(async () => pidsOf(server.lines, /"route":"\/v1\/citizens\/:regnum\/:source"/).size === 2 || undefined)

  // kill -9 one of them: the primary starts another; the port keeps answering.
  const [victim] = childrenOf(server.child.pid!)
  process.kill(victim!, 'SIGKILL')
  await server.waitFor(/a gateway process died; starting another/)
  await eventually(async () => {
    const now = childrenOf(server.child.pid!)
    return (now.length === 2 && !now.includes(victim!)) || undefined
  }, 60_000)
  await eventually(async () => pidsOf(server.lines, /Server listening at/).size === 3 || undefined, 60_000)
  const ready = await request(`${url}/health/ready`)
  tt.equal(ready.statusCode, 200)
  await ready.body.dump()

  const children = childrenOf(server.child.pid!)
  server.child.kill('SIGTERM')
  const { code } = await server.exit
  tt.equal(code, 0, 'the primary exits cleanly')
  for (const pid of children) {
    tt.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `gateway process ${pid} has exited`)
  }
})

t.test('GATEWAY_PROCESSES > 1 is refused without DATABASE_URL and EXCHANGE_URL (exit 78)', async (tt) => {
  const server = spawnServer(SERVER, { PORT: '0', DATA_DIR: tt.testdir(), GATEWAY_PROCESSES: '2' })
  tt.teardown(() => { server.child.kill('SIGKILL') })
  const { code } = await server.exit
  tt.equal(code, 78)
  tt.match(server.stderr(), /GATEWAY_PROCESSES=2 needs DATABASE_URL and EXCHANGE_URL/)
})

t.test('a gateway process that cannot start stops the primary with its exit code', async (tt) => {
  const ctx = await buildTestApp(tt, { exchange: true })
  // A port nothing listens on.
  const probe = createServer().listen(0, '127.0.0.1')
  await new Promise((resolve) => probe.once('listening', resolve))
  const closedPort = (probe.address() as { port: number }).port
  await new Promise((resolve) => probe.close(resolve))
  const server = spawnServer(SERVER, { ...workerEnv(ctx), PORT: '0', GATEWAY_PROCESSES: '2', WORKER: 'off', REDIS_URL: `redis://127.0.0.1:${closedPort}`, REDIS_CONNECT_TIMEOUT_MS: '500' })
  tt.teardown(() => { server.child.kill('SIGKILL') })
  const { code } = await server.exit
  tt.equal(code, 1)
  tt.match(server.stderr(), /Redis is not reachable/)
  tt.same(childrenOf(server.child.pid!), [], 'no process is left behind')
})
