import { randomUUID } from 'node:crypto'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import t from 'tap'
import { createHeartbeat, createWorkerLiveness } from '../../src/applications/liveness.ts'
import { buildTestApp } from '../helpers/app.ts'

// The clock is ours: the queue's job timestamps are real, the checker's "now" is moved by hand.

t.test('liveness: down only when jobs have waited past the window and no worker stamped within it', async (tt) => {
  const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: null })
  const prefix = `test:liveness:${randomUUID()}`
  const queue = new Queue('applications-delivery', { connection: redis, prefix })
  tt.teardown(async () => {
    await queue.obliterate({ force: true })
    await queue.close()
    await redis.del(`${prefix}:delivery-heartbeat`)
    redis.disconnect()
  })
  let now = Date.now()
  const check = createWorkerLiveness({ queue, redis, prefix, livenessMs: 60000, now: () => now })

  tt.match(await check(), { status: 'up', detail: 'no job waiting' })
  await queue.add('deliver', { applicationId: 'a' })
  tt.match(await check(), { status: 'up', detail: '1 jobs waiting' }, 'a job just queued is no alarm')
  now += 61000
  tt.match(await check(), { status: 'down', detail: /1 jobs waiting, the oldest for 6\d s; no worker has taken a job yet/ })

  // A worker takes or finishes a job: its stamp keeps readiness up for the window.
  const beat = createHeartbeat(redis, prefix, () => now)
  beat()
  // One connection answers in order: once this read is back, the stamp is written.
  tt.equal(await redis.get(`${prefix}:delivery-heartbeat`), String(now))
  tt.match(await check(), { status: 'up' })
  now += 61000
  tt.match(await check(), { status: 'down', detail: /no worker has taken or finished a job for 61 s/ })
})

t.test('readiness reports the delivery check; with no worker and old jobs it fails', async (tt) => {
  const { app } = await buildTestApp(tt, { env: { WORKER: 'off', WORKER_LIVENESS_MS: '1000' } })
  const ready = await app.inject({ method: 'GET', url: '/health/ready' })
  tt.equal(ready.statusCode, 200)
  tt.match(ready.json(), { checks: { delivery: { status: 'up' } } })
  // A job queued well over the window ago, and no worker anywhere.
  await app.applications.queue.add('deliver', { applicationId: randomUUID() }, { timestamp: Date.now() - 5000 })
  const stuck = await app.inject({ method: 'GET', url: '/health/ready' })
  tt.equal(stuck.statusCode, 503)
  tt.match(stuck.json(), { status: 'not_ready', checks: { delivery: { status: 'down', detail: /1 jobs waiting.*no worker has taken a job yet/ } } })
})
