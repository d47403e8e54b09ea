import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { UnrecoverableError, Worker } from 'bullmq'
import { DELIVERY_QUEUE } from '../../src/applications/queue.ts'
import { createRedisConnection } from '../../src/redis/connection.ts'
import { buildTestApp } from '../helpers/app.ts'
import { eventually } from '../helpers/eventually.ts'
import { adults, deliveryKit, inProcessWorker, startWorkerProcess, workerEnv } from '../helpers/delivery.ts'

// PostgreSQL is the source of truth: whatever Redis loses or BullMQ gives up
// on, the reconciler finds and puts back under the same job id.

const FAST = { OUTBOX_POLL_MS: '50', DELIVERY_BACKOFF_BASE_MS: '20', DELIVERY_BACKOFF_MAX_MS: '100', DECISION_POLL_MS: '60000', RECONCILE_INTERVAL_MS: '100' }

// Every key under the test's prefix goes at once, the epoch marker with them:
// what a Redis restart without persistence does, without stopping the shared
// Redis. One DEL, so the reconciler never sees half of it.
async function forgetEverything (url: string, prefix: string): Promise<number> {
  const redis = new Redis(url)
  try {
    const keys: string[] = []
    for await (const page of redis.scanStream({ match: `${prefix}:*`, count: 500 })) keys.push(...(page as string[]))
    return keys.length === 0 ? 0 : await redis.del(...keys)
  } finally {
    redis.disconnect()
  }
}

t.test('Redis forgets every queued job: all are put back at once under their own ids, and each reaches the agency once', async (tt) => {
  // A long grace: only the lost epoch marker can explain finding them fast.
  const ctx = await buildTestApp(tt, { exchange: { citizens: 500 }, env: { ...FAST, WORKER: 'off', RECONCILE_GRACE_MS: '600000' } })
  const { app, config } = ctx
  const kit = deliveryKit(ctx)
  const ids = await kit.submitAll(tt, adults.slice(0, 30))
  const queue = app.applications.queue
  await eventually(async () => (await kit.count(ids, "status = 'queued'")) === 30 || undefined)
  tt.equal((await queue.getJobCounts('waiting')).waiting, 30)

  tt.ok(await forgetEverything(config.redis.url, config.redis.keyPrefix) > 30, 'the jobs are gone')
  const back = await eventually(async () => {
    const jobs = await queue.getJobs(['waiting'])
    return jobs.length === 30 ? jobs : undefined
  })
  tt.same(back.map((j) => j.id).sort(), [...ids].sort(), 'put back under the same ids')
  tt.ok(back.every((j) => j.data.applicationId === j.id && j.data.adapter === 'welfare.submitApplication'))

  inProcessWorker(tt, ctx)
  await kit.settled(ids, 30000)
  tt.same(await kit.reached(ids), { reached: 30 })
  tt.equal((await kit.agency()).applicationsReceived, 30, 'each exactly once at the agency')
  tt.match((await app.inject({ method: 'GET', url: '/metrics' })).body, /application_reconciler_total\{outcome="lost_requeued"\} 30/)
})

t.test('one job lost alone is found once its application is overdue', async (tt) => {
  const ctx = await buildTestApp(tt, { exchange: { citizens: 500 }, env: { ...FAST, WORKER: 'off', RECONCILE_GRACE_MS: '300' } })
  const { app } = ctx
  const kit = deliveryKit(ctx)
  const [id] = await kit.submitAll(tt, adults.slice(0, 1)) as [string]
  const queue = app.applications.queue
  await eventually(async () => (await queue.getJobState(id)) === 'waiting' || undefined)
  await queue.remove(id)
  await eventually(async () => (await queue.getJobState(id)) === 'waiting' || undefined)
  inProcessWorker(tt, ctx)
  await kit.settled([id], 30000)
  tt.equal((await kit.agency()).applicationsReceived, 1)
  const history = (await app.applications.store.history(id)).map((h) => h.status)
  tt.same(history.filter((s) => s === 'delivered'), ['delivered'])
})

t.test('a lost decision poll is asked for again', async (tt) => {
  const ctx = await buildTestApp(tt, { exchange: { citizens: 500, decisionDelayMs: 0 }, env: { ...FAST, WORKER: 'off', RECONCILE_GRACE_MS: '300', DECISION_POLL_MS: '600000' } })
  const { app } = ctx
  const kit = deliveryKit(ctx)
  const [id] = await kit.submitAll(tt, adults.slice(0, 1)) as [string]
  inProcessWorker(tt, ctx)
  await kit.settled([id], 30000)
  // The first poll waits ten minutes; Redis loses it.
  const queue = app.applications.queue
  await eventually(async () => (await queue.getJobState(`poll-${id}-1`)) === 'delayed' || undefined)
  await queue.remove(`poll-${id}-1`)
  // Due when the poll was: the test moves that moment to now.
  await app.db.query('UPDATE applications SET due_at = now() WHERE id = $1', [id])
  const decided = await eventually(async () => { const a = await app.applications.store.get(id); return a?.status === 'decided' ? a : undefined }, 30000)
  tt.match(decided, { decision: /^(approved|rejected)$/ })
  tt.equal((await app.db.query('SELECT due_at FROM applications WHERE id = $1', [id])).rows[0]!.due_at, null, 'nothing left on its way')
})

// A worker process is killed in the middle of a delivery, and BullMQ (here
// with a stall limit of 0) gives up on its job: "job stalled more than
// allowable limit", the failure that used to leave applications delivering
// forever.
async function stalledPastTheLimit (tt: Test, env: Record<string, string>) {
  const ctx = await buildTestApp(tt, { exchange: { citizens: 500 }, env: { ...FAST, WORKER: 'off', RECONCILE_GRACE_MS: '500', ...env } })
  const { app, config } = ctx
  const kit = deliveryKit(ctx)
  await kit.fault('welfare', { latencyMs: 60000 })
  const first = await startWorkerProcess(tt, workerEnv(ctx, { RECONCILE_INTERVAL_MS: '0' }))
  const [id] = await kit.submitAll(tt, adults.slice(0, 1)) as [string]
  await eventually(async () => (await kit.count([id], "status = 'delivering'")) === 1 || undefined)
  first.child.kill('SIGKILL')
  await first.exit

  // A worker with a stall limit of 0 finds the job stalled and marks it to
  // fail; taking it next (by hand, as BullMQ's manual-fetch pattern does) it
  // fails the job without running it, as any worker would.
  const connection = createRedisConnection({ url: config.redis.url, role: 'worker' })
  const checker = new Worker(DELIVERY_QUEUE, null, {
    connection, prefix: `${config.redis.keyPrefix}:bull`, autorun: false, maxStalledCount: 0, stalledInterval: 300, lockDuration: 1000,
  })
  tt.teardown(async () => { await checker.close(true); connection.disconnect() })
  void checker.startStalledCheckTimer()
  const queue = app.applications.queue
  await eventually(async () => ((await queue.getJob(id))?.deferredFailure ?? '') !== '' || undefined, 30000)
  const job = await checker.getNextJob('stall-checker', { block: false })
  tt.equal(job?.id, id)
  tt.match(job!.deferredFailure, /stalled more than allowable limit/, 'BullMQ gave up on the job')
  await job!.moveToFailed(new UnrecoverableError(job!.deferredFailure), 'stall-checker')
  await checker.close(true)
  return { ctx, kit, id }
}

t.test('BullMQ gives up on a stalled job: it counts as an attempt, goes round again, and reaches the agency once', async (tt) => {
  const { ctx, kit, id } = await stalledPastTheLimit(tt, {})
  const { app } = ctx
  const again = await eventually(async () => {
    const a = await app.applications.store.get(id)
    return a?.status === 'queued' && a.roundAttempts === 1 ? a : undefined
  }, 30000)
  tt.equal(again.attempts, 1)
  await kit.fault('welfare', null)
  await startWorkerProcess(tt, workerEnv(ctx))
  await kit.settled([id], 30000)
  const done = (await app.applications.store.get(id))!
  tt.match(done, { status: /^(delivered|decided)$/, attempts: 2, roundAttempts: 1 })
  tt.ok((await app.applications.store.history(id)).some((h) => /the queue gave up on its job/.test(h.detail ?? '')), 'the history says what happened')
  tt.equal((await kit.agency()).applicationsReceived, 1, 'once at the agency')
})

t.test('when that spends the budget, the application is dead-lettered where admins see it', async (tt) => {
  const { ctx, id } = await stalledPastTheLimit(tt, { DELIVERY_ATTEMPTS: '1' })
  const { app, token } = ctx
  const failed = await eventually(async () => { const a = await app.applications.store.get(id); return a?.status === 'failed' ? a : undefined }, 30000)
  tt.match(failed.reason, /dead-lettered after 1 attempts: the queue gave up on its job/)
  const list = await app.inject({ method: 'GET', url: '/v1/admin/applications?status=failed', headers: { authorization: `Bearer ${await token('admin')}` } })
  tt.same(list.json().applications.map((a: { id: string }) => a.id), [id])
})

t.test('unsettled status callbacks whose jobs Redis lost are sent again', async (tt) => {
  const ctx = await buildTestApp(tt, { exchange: { citizens: 500 }, env: { ...FAST, WORKER: 'off', RECONCILE_GRACE_MS: '600000' } })
  const { app, config } = ctx
  const kit = deliveryKit(ctx)
  await kit.submitAll(tt, adults.slice(0, 3))
  const callbacks = app.callbacks.queue
  await eventually(async () => ((await callbacks.getJobCounts('waiting')).waiting ?? 0) >= 6 || undefined)
  const queued = (await callbacks.getJobs(['waiting'])).map((j) => j.id).sort()
  await forgetEverything(config.redis.url, config.redis.keyPrefix)
  const back = await eventually(async () => {
    const jobs = (await callbacks.getJobs(['waiting'])).map((j) => j.id).sort()
    return jobs.length >= queued.length ? jobs : undefined
  })
  for (const id of queued) tt.ok(back.includes(id), `${id} is back`)
})
