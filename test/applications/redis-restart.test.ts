import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { eventually } from '../helpers/eventually.ts'
import { adults, deliveryKit } from '../helpers/delivery.ts'
import { privateRedis } from '../helpers/redis-server.ts'

// "202 means it will arrive": a Redis of the test's own, kept as the machines
// run it (nothing on disk), stopped and started with jobs queued in it.

const FAST = { OUTBOX_POLL_MS: '50', DELIVERY_BACKOFF_BASE_MS: '20', DELIVERY_BACKOFF_MAX_MS: '100', DECISION_POLL_MS: '600000', RECONCILE_INTERVAL_MS: '200' }

t.test('Redis without persistence stopped and started with jobs queued: the reconciler puts every one back, and each arrives once', async (tt) => {
  const redis = await privateRedis(tt)
  // A grace of a minute: only the Redis restart itself can explain a quick recovery.
  const ctx = await buildTestApp(tt, {
    exchange: { citizens: 500 },
    env: { ...FAST, REDIS_URL: redis.url, RECONCILE_GRACE_MS: '60000', DELIVERY_CONCURRENCY: '4' },
  })
  const { app } = ctx
  const kit = deliveryKit(ctx)
  // The agency is slow: most jobs wait in Redis when it stops.
  await kit.fault('welfare', { latencyMs: 2000 })
  const before = await kit.submitAll(tt, adults.slice(0, 40))
  await eventually(async () => (await kit.count(before, "status = 'received'")) === 0 || undefined)
  tt.ok(((await app.applications.queue.getJobCounts('waiting')).waiting ?? 0) > 20, 'jobs wait in Redis')

  await redis.stop()
  // Intake goes on while Redis is away: the outbox holds them.
  const during = await kit.submitAll(tt, adults.slice(40, 50))
  tt.equal((await app.inject({ method: 'GET', url: '/health/ready' })).json().checks.redis.status, 'down')
  await redis.start()
  await kit.fault('welfare', null)

  const ids = [...before, ...during]
  await kit.settled(ids, 60000)
  tt.same(await kit.reached(ids), { reached: 50 })
  tt.equal((await kit.agency()).applicationsReceived, 50, 'each exactly once at the agency')
  tt.ok((await kit.deliveredEvents(ids)).every((n) => n === 1), 'each delivered once in its history')
  const ready = (await app.inject({ method: 'GET', url: '/health/ready' })).json()
  tt.equal(ready.checks.redis.status, 'up')
})
