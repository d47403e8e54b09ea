import { statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
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
  await server.waitFor(/"url":"\/test\/slow"/)
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

t.test('the default start: embedded store, development keys, ready within 30 s', async (tt) => {
  const dataDir = tt.testdir()
  // Kept as the machines run Redis: nothing on disk, which the start names.
  const redis = await privateRedis(tt)
  const started = Date.now()
  const server = spawnServer(SERVER, { PORT: '0', DATA_DIR: dataDir, REDIS_URL: redis.url, REDIS_KEY_PREFIX: `test:${uniqueName('dev')}` })
  tt.teardown(() => { server.child.kill('SIGKILL') })
  const url = await server.url
  const ready = await request(`${url}/health/ready`)
  const elapsedMs = Date.now() - started
  tt.equal(ready.statusCode, 200)
  await ready.body.dump()
  tt.ok(elapsedMs < 30000, `ready in ${elapsedMs} ms`)
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
