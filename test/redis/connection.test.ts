import t from 'tap'
import { connectRedis, createRedisConnection, evictionWarning, persistenceWarning, readEvictionPolicy, readPersistence, redactUrl } from '../../src/redis/connection.ts'
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

t.test('a worker whose Redis drops its first connections still takes jobs once Redis answers', async (tt) => {
  // The regression: BullMQ connected a lazy connection itself and, when that
  // first connect failed, kept the failure for good (the worker never took
  // another job). Here Redis is out of reach while the worker starts.
  const { startTcpProxy } = await import('../helpers/tcp-proxy.ts')
  const { Queue, Worker } = await import('bullmq')
  const target = new URL(TEST_REDIS_URL)
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) })
  tt.teardown(() => proxy.close())
  proxy.cut()
  const prefix = `test:reconnect:${process.pid}:${Date.now()}`
  const connection = createRedisConnection({ url: `redis://127.0.0.1:${proxy.port}`, role: 'worker' })
  connection.on('error', () => {})
  const done: string[] = []
  const worker = new Worker('q', async (job) => { done.push(job.id!) }, { connection, prefix })
  worker.on('error', () => {})
  tt.teardown(async () => { await worker.close(true); connection.disconnect() })
  const { eventually } = await import('../helpers/eventually.ts')
  await eventually(async () => proxy.refused >= 2 || undefined)
  proxy.restore()
  const queueConnection = createRedisConnection({ url: TEST_REDIS_URL, role: 'queue' })
  const queue = new Queue('q', { connection: queueConnection, prefix })
  tt.teardown(async () => { await queue.obliterate({ force: true }); await queue.close(); queueConnection.disconnect() })
  await queue.add('job', {}, { jobId: 'after-the-outage' })
  await eventually(async () => done.includes('after-the-outage') || undefined)
  tt.pass('the job was taken')
})

t.test('a Redis that keeps nothing on disk is named; one with an append-only file is not', async (tt) => {
  const { privateRedis } = await import('../helpers/redis-server.ts')
  const volatile = await privateRedis(tt)
  const durable = await privateRedis(tt, ['--save', '', '--appendonly', 'yes', '--dir', tt.testdir()])
  const read = async (url: string) => {
    const redis = createRedisConnection({ url, role: 'client' })
    await connectRedis(redis, url)
    try { return await readPersistence(redis) } finally { redis.disconnect() }
  }
  const none = await read(volatile.url)
  tt.same(none, { aof: false, rdb: false })
  tt.match(persistenceWarning(none), /KEEPS NOTHING ON DISK.*appendonly yes/)
  const aof = await read(durable.url)
  tt.same(aof, { aof: true, rdb: false })
  tt.equal(persistenceWarning(aof), null)
  tt.equal(persistenceWarning({ aof: null, rdb: null }), null, 'a server that does not say is not accused')
})
