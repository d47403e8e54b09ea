import t from 'tap'
import { connectRedis, createRedisConnection, evictionWarning, readEvictionPolicy, redactUrl } from '../../src/redis/connection.ts'
import { TEST_REDIS_URL } from '../helpers/services.ts'

t.test('connections are set up for their role', async (tt) => {
  const worker = createRedisConnection({ url: TEST_REDIS_URL, role: 'worker' })
  const queue = createRedisConnection({ url: TEST_REDIS_URL, role: 'queue' })
  tt.equal(worker.options.maxRetriesPerRequest, null, 'BullMQ workers wait for Redis forever')
  tt.equal(queue.options.enableOfflineQueue, false, 'producers fail fast while Redis is away')
  await connectRedis(queue, TEST_REDIS_URL)
  tt.teardown(() => { queue.disconnect(); worker.disconnect() })
  tt.type(await readEvictionPolicy(queue), 'string', 'the real Redis tells its eviction policy')
})

t.test('an unsafe eviction policy gets a loud warning', async (tt) => {
  tt.equal(evictionWarning('noeviction'), null)
  tt.equal(evictionWarning(null), null)
  tt.match(evictionWarning('allkeys-lru'), /UNSAFE FOR QUEUES.*allkeys-lru.*noeviction/)
})

t.test('an unreachable Redis is one clear error, with no password in it', async (tt) => {
  const url = 'redis://:s3cret@127.0.0.1:1'
  const redis = createRedisConnection({ url, role: 'client', connectTimeoutMs: 300 })
  await tt.rejects(connectRedis(redis, url), { code: 'REDIS_UNREACHABLE', message: /redis:\/\/:\*\*\*@127\.0\.0\.1:1.*redis-server/ })
  tt.equal(redactUrl('not a url'), '(invalid URL)')
})
