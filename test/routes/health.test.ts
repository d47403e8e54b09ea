import t from 'tap'
import { buildApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config.ts'
import { createEmbeddedDatabase } from '../../src/db/embedded.ts'
import { migrate } from '../../src/db/migrate.ts'
import { createRedisConnection } from '../../src/redis/connection.ts'
import { createBusClients, ephemeralMemberKeys } from '../../src/bus/index.ts'
import { buildTestApp } from '../helpers/app.ts'

t.test('live is always 200; ready checks the database and Redis', async (tt) => {
  const { app } = await buildTestApp(tt)
  const live = await app.inject({ method: 'GET', url: '/health/live' })
  tt.equal(live.statusCode, 200)
  tt.same(live.json(), { status: 'ok' })
  const ready = await app.inject({ method: 'GET', url: '/health/ready' })
  tt.equal(ready.statusCode, 200)
  tt.match(ready.json(), { status: 'ready', checks: { database: { status: 'up' }, redis: { status: 'up' } } })
})

t.test('ready turns 503 once shutdown starts', async (tt) => {
  const { app } = await buildTestApp(tt)
  app.lifecycle.markShuttingDown()
  const ready = await app.inject({ method: 'GET', url: '/health/ready' })
  tt.equal(ready.statusCode, 503)
  tt.match(ready.json(), { status: 'not_ready', checks: { lifecycle: { status: 'down' } } })
  tt.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200, 'still alive while draining')
})

t.test('ready reports Redis down', async (tt) => {
  const config = loadConfig({ LOG_LEVEL: 'silent', REDIS_URL: 'redis://127.0.0.1:1' })
  const db = await createEmbeddedDatabase({ schema: 'public' })
  await migrate(db)
  // Never connected: port 1 has no Redis, so every command fails at once.
  const redis = createRedisConnection({ url: config.redis.url, role: 'client' })
  const app = await buildApp({ config, db, redis, bus: createBusClients(config, 'http://127.0.0.1:9', ephemeralMemberKeys()) })
  tt.teardown(() => app.close())
  const ready = await app.inject({ method: 'GET', url: '/health/ready' })
  tt.equal(ready.statusCode, 503)
  tt.match(ready.json(), { status: 'not_ready', checks: { database: { status: 'up' }, redis: { status: 'down', detail: String } } })
})

t.test('ready names a Redis that keeps nothing on disk, and stays ready', async (tt) => {
  const { privateRedis } = await import('../helpers/redis-server.ts')
  const { buildTestApp } = await import('../helpers/app.ts')
  const redis = await privateRedis(tt)
  const { app } = await buildTestApp(tt, { env: { REDIS_URL: redis.url } })
  const ready = await app.inject({ method: 'GET', url: '/health/ready' })
  tt.equal(ready.statusCode, 200)
  tt.match(ready.json().checks.redis, { status: 'up', detail: /KEEPS NOTHING ON DISK/ })
})
