import { execFileSync } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { eventually } from './helpers/eventually.ts'
import { spawnServer } from './helpers/process.ts'
import { privateRedis } from './helpers/redis-server.ts'
import { dropSchema, TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from './helpers/services.ts'

const SERVER = join(import.meta.dirname, '..', 'src', 'server.ts')
const SLOW_SERVER = join(import.meta.dirname, 'fixtures', 'slow-server.ts')

t.test('SIGTERM: readiness 503 first, in-flight requests finish, then the process exits cleanly', async (tt) => {
  const schema = uniqueName('srv')
  tt.teardown(() => dropSchema(schema))
  const server = spawnServer(SLOW_SERVER, {
    PORT: '0',
    DATA_DIR: tt.testdir(),
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: schema,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: `test:${schema}`,
    SHUTDOWN_DRAIN_MS: '1000',
    SLOW_MS: '3000',
  })
  tt.teardown(() => { server.child.kill('SIGKILL') })
  const url = await server.url

  const before = await request(`${url}/health/ready`)
  tt.equal(before.statusCode, 200)
  await before.body.dump()

  const inFlight = request(`${url}/test/slow`)
  await server.waitFor(/"route":"\/test\/slow"/)
  server.child.kill('SIGTERM')
  await server.waitFor(/"msg":"shutting down"/)

  const during = await request(`${url}/health/ready`)
  tt.equal(during.statusCode, 503, 'readiness fails while draining')
  tt.match(await during.body.json(), { status: 'not_ready', checks: { lifecycle: { status: 'down' } } })

  const slow = await inFlight
  tt.equal(slow.statusCode, 200, 'the in-flight request completed')
  tt.same(await slow.body.json(), { done: true })

  const { code, signal } = await server.exit
  tt.equal(code, 0)
  tt.equal(signal, null)
  await tt.rejects(request(`${url}/health/live`), { code: 'ECONNREFUSED' }, 'the port is closed')
})

// CPU time the process has used so far, its threads included. The wall clock
// would measure the machine's other work too: the default start is several
// seconds of CPU (initialising the embedded Postgres, the catalogue seed), so
// on a machine shared with other test files its wall time is whatever share of
// the cores it gets.
function cpuTimeMs (pid: number): number {
  try {
    // utime and stime, in USER_HZ (1/100 s), after the parenthesised name.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    // No /proc (macOS): ps says [dd-][hh:]mm:ss[.ss]
    const text = execFileSync('ps', ['-o', 'time=', '-p', String(pid)], { encoding: 'utf8' }).trim()
    const [days, clock] = text.includes('-') ? text.split('-') : ['0', text]
    return Math.round((Number(days) * 86400 + clock!.split(':').reduce((sum, part) => sum * 60 + Number(part), 0)) * 1000)
  }
}

t.test('the default start: embedded store, development keys, ready within 30 s of its own CPU time', async (tt) => {
  const dataDir = tt.testdir()
  // Kept as the machines run Redis: nothing on disk, which the start names.
  const redis = await privateRedis(tt)
  const started = Date.now()
  const server = spawnServer(SERVER, { PORT: '0', DATA_DIR: dataDir, REDIS_URL: redis.url, REDIS_KEY_PREFIX: `test:${uniqueName('dev')}` })
  tt.teardown(() => { server.child.kill('SIGKILL') })
  const url = await server.url
  // Asked until it says ready, as an orchestrator's probe is: each check has a
  // 2 s deadline, which a process just started on a busy machine can miss.
  const answers: unknown[] = []
  const ready = await eventually(async () => {
    const res = await request(`${url}/health/ready`)
    answers.push(await res.body.json())
    return res.statusCode === 200 ? answers.at(-1) : undefined
  }, 60000).catch((err: Error) => ({ notReady: err.message, answers }))
  const cpuMs = cpuTimeMs(server.child.pid!)
  tt.match(ready, { status: 'ready', checks: { database: { status: 'up' }, redis: { status: 'up' }, delivery: { status: 'up' } } })
  tt.ok(cpuMs < 30000, `ready after ${cpuMs} ms of CPU time (${Date.now() - started} ms on the wall clock, ${answers.length} readiness probes)`)
  tt.ok(server.lines.some((l) => /DEVELOPMENT MODE/.test(l)), 'says it is in development mode')
  tt.ok(server.lines.some((l) => /using the embedded store/.test(l)))
  tt.ok(server.lines.some((l) => /"level":40.*REDIS KEEPS NOTHING ON DISK/.test(l)), 'warns that Redis keeps nothing on disk')
  tt.equal(statSync(join(dataDir, 'keys', 'dev-issuer.private.jwk.json')).mode & 0o777, 0o600, 'the private key is readable by its owner only')
  server.child.kill('SIGTERM')
  tt.equal((await server.exit).code, 0)
})

t.test('start-up failures stop with one line that says what to do', async (tt) => {
  const noRedis = spawnServer(SERVER, { PORT: '0', DATA_DIR: tt.testdir(), REDIS_URL: 'redis://127.0.0.1:1', REDIS_CONNECT_TIMEOUT_MS: '500' })
  tt.equal((await noRedis.exit).code, 1)
  const lines = noRedis.stderr().trim().split('\n')
  tt.equal(lines.length, 1)
  tt.match(lines[0], /Redis is not reachable at redis:\/\/127\.0\.0\.1:1.*redis-server/)

  const badConfig = spawnServer(SERVER, { PORT: 'eighty' })
  tt.equal((await badConfig.exit).code, 78)
  tt.match(badConfig.stderr(), /PORT must be integer/)
})
