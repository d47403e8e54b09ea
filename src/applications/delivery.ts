import { UnrecoverableError, Worker, type Job } from 'bullmq'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import { Counter, Histogram, type Registry } from 'prom-client'
import { isBusUnreachable, type AdapterRuntime } from '../adapters/runtime.ts'
import { storeOutageOf } from '../db/database.ts'
import { createLimitedErrorLog } from '../errors/limited-log.ts'
import { ProblemError } from '../errors/problem-error.ts'
import { putOff } from '../queue/put-off.ts'
import { createHeartbeat } from './liveness.ts'
import { DELIVERY_QUEUE, fullJitterBackoff, POLL_JOB_OPTIONS, pollDelayMs, pollJobId, type DeliveryJob, type DeliveryJobName, type DeliveryQueue, type DeliverySettings } from './queue.ts'
import type { ApplicationStore } from './store.ts'

// Delivers queued applications to the agency through its write adapter, with
// X-Road-Id = the application id, so a retried delivery is the same message
// to the agency and never a second application.
//
// The attempt budget lives in the database (ApplicationStore), not in BullMQ:
// attempts count answers from the agency (a 5xx, a reachable bus that timed
// out) and attempts cut short by a stopped worker. While the bus cannot be
// reached or the provider's circuit is open, a job waits in the delayed set
// without touching the database and without spending an attempt, and comes
// back as soon as the circuit lets calls through again.

// How long a job waits, and up to as much again, while the database is away.
const STORE_WAIT_MS = 1000

// An agency's hint is honoured no sooner than this after the last ask.
const HINT_FLOOR_MS = 250

// The agency's status service (schemas/adapters/*.getApplicationStatus.json).
interface StatusAnswer {
  status: string
  reason?: { mn: string, en: string }
  result?: Record<string, unknown>
  expectedDecisionAt?: string
}

// The scheduled delay, or sooner when the agency expects to have decided by
// then. A time already past is no hint (an agency running late, or a clock
// apart): the schedule's doubling delays hold, so the polls are not spent in a
// quick loop.
export function hintedDelayMs (scheduledMs: number, expectedDecisionAt: string | undefined, now = Date.now()): number {
  const at = expectedDecisionAt === undefined ? Number.NaN : Date.parse(expectedDecisionAt)
  if (Number.isNaN(at) || at <= now) return scheduledMs
  return Math.min(scheduledMs, Math.max(HINT_FLOOR_MS, at - now + 50))
}

export interface DeliveryWorkerOptions {
  connection: Redis
  // To schedule the polls of the agency's decision.
  queue: DeliveryQueue
  prefix: string
  store: ApplicationStore
  adapters: AdapterRuntime
  settings: DeliverySettings
  concurrency: number
  lockDurationMs: number
  log: FastifyBaseLogger
  registry?: Registry
  random?: () => number
}

export function createDeliveryWorker (options: DeliveryWorkerOptions): Worker<DeliveryJob, unknown, DeliveryJobName> {
  const { store, adapters, settings } = options
  const random = options.random ?? Math.random
  const graceMs = settings.reconcileGraceMs
  const backoff = fullJitterBackoff(settings, random)
  const registers = options.registry === undefined ? [] : [options.registry]
  const attemptsTotal = new Counter({ name: 'application_delivery_attempts_total', help: 'Delivery attempts by outcome', labelNames: ['outcome'] as const, registers })
  const waits = new Counter({ name: 'application_delivery_bus_waits_total', help: 'Deliveries and decision polls put off, without an attempt, while the bus could not be reached', registers })
  const storeWaits = new Counter({ name: 'application_delivery_store_waits_total', help: 'Delivery jobs put off, without an attempt, while the database could not be reached', registers })
  const latency = new Histogram({
    name: 'application_delivery_seconds',
    help: 'From intake to delivery at the agency',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400],
    registers,
  })

  // Until the provider's circuit lets a call through, and up to a second
  // more, so jobs put off together do not all come back at the same instant.
  function busWaitMs (adapter: string): number {
    const blocked = Math.max(adapters.blockedForMs(adapter), settings.backoffBaseMs)
    return blocked + Math.floor(random() * Math.min(1000, blocked))
  }

  // The agency decides later; its status service is asked after a delay that
  // doubles each time, until it says approved or rejected. When the agency
  // says when it expects to have decided, it is asked then, never later than
  // the schedule and never sooner than HINT_FLOOR_MS.
  async function schedulePoll (id: string, adapter: string, polls: number, expectedDecisionAt?: string): Promise<void> {
    if (polls >= settings.maxDecisionPolls) {
      await store.setDue(id, null)
      return
    }
    const delay = hintedDelayMs(pollDelayMs(settings, polls), expectedDecisionAt)
    await options.queue.add('poll', { applicationId: id, adapter }, { ...POLL_JOB_OPTIONS, jobId: pollJobId(id, polls + 1), delay })
    // The first poll's due time was set with the delivery.
    if (polls > 0) await store.setDue(id, delay + graceMs)
  }

  async function poll (job: Job<DeliveryJob>, token: string | undefined): Promise<void> {
    const id = job.data.applicationId
    const app = await store.get(id)
    if (app === null || app.status !== 'delivered' || app.adapter === null) return
    const statusAdapter = app.adapter.replace(/\.submitApplication$/, '.getApplicationStatus')
    if (adapters.blockedForMs(statusAdapter) > 0) {
      waits.inc()
      return putOff(job, token, busWaitMs(statusAdapter))
    }
    const polls = await store.countPoll(id)
    let answer: StatusAnswer
    try {
      answer = await adapters.invoke<StatusAnswer>(statusAdapter, { applicationId: id }, { xRoadId: `${id}:poll:${polls}` })
    } catch (err) {
      if (!isBusUnreachable(err)) throw err
      waits.inc()
      return putOff(job, token, busWaitMs(statusAdapter))
    }
    if (answer.status === 'approved' || answer.status === 'rejected') {
      await store.transition(id, 'decided', {
        from: ['delivered'],
        decision: answer.status,
        ...(answer.reason === undefined ? {} : { reason: answer.reason.en, reasonMn: answer.reason.mn }),
        ...(answer.status === 'approved' && answer.result !== undefined ? { result: answer.result } : {}),
        detail: `the agency ${answer.status} it`,
      })
      return
    }
    await schedulePoll(id, app.adapter, polls, answer.expectedDecisionAt)
  }

  // The parent of a package's flow runs once every part is settled; the
  // package's status then says how each part ended.
  async function settlePackage (job: Job<DeliveryJob>): Promise<{ status: string }> {
    return { status: await store.settlePackage(job.data.applicationId) }
  }

  async function deliver (job: Job<DeliveryJob>, token: string | undefined): Promise<{ agencyReference: string }> {
    const id = job.data.applicationId
    const adapter = job.data.adapter ?? (await store.get(id))?.adapter ?? null
    if (adapter !== null && adapters.blockedForMs(adapter) > 0) {
      waits.inc()
      return putOff(job, token, busWaitMs(adapter))
    }
    // Counted in the database, so an attempt cut short by a crash still counts.
    let app = await store.startAttempt(id, options.lockDurationMs + graceMs)
    if (app === null && await store.reopen(id, 'a retry of its failed job in the queue')) app = await store.startAttempt(id, options.lockDurationMs + graceMs)
    if (app === null) {
      const found = await store.get(id)
      if (found === null) throw new UnrecoverableError(`application ${id} does not exist`)
      if (found.adapter === null) throw new UnrecoverableError(`application ${id} is a package; its parts are delivered`)
      return { agencyReference: found.agencyReference ?? '' }
    }
    const attempt = app.attempts
    if (app.roundAttempts >= settings.attempts) {
      await store.transition(id, 'failed', { from: ['delivering'], attempt, reason: `dead-lettered after ${app.roundAttempts} attempts: its workers stopped during delivery` })
      attemptsTotal.inc({ outcome: 'dead_lettered' })
      throw new UnrecoverableError('attempt budget spent by stopped workers')
    }
    let receipt: { agencyReference: string, expectedDecisionAt?: string }
    try {
      receipt = await adapters.invoke<{ agencyReference: string, expectedDecisionAt?: string }>(app.adapter!, {
        applicationId: app.id,
        service: app.service,
        unit: app.unit,
        channel: app.channel,
        applicant: { regnum: app.applicantRegnum },
        form: app.form,
      }, { xRoadId: app.id })
    } catch (err) {
      const problem = err instanceof ProblemError ? err : null
      const why = problem?.detail ?? (err as Error).message
      // The agency said no (4xx): final, with its reason; no retry.
      if (problem !== null && problem.status < 500) {
        await store.transition(id, 'failed', { from: ['delivering'], attempt, reason: `rejected by the agency: ${problem.detail}` })
        attemptsTotal.inc({ outcome: 'rejected' })
        throw new UnrecoverableError(problem.detail)
      }
      // Nothing reached the agency: wait for the bus, no attempt spent.
      if (isBusUnreachable(err)) {
        attemptsTotal.inc({ outcome: 'bus_unreachable' })
        waits.inc()
        const wait = busWaitMs(app.adapter!)
        await store.transition(id, 'queued', { from: ['delivering'], attempt, detail: `the bus could not be reached, no attempt spent: ${why}`, dueInMs: wait + graceMs })
        return putOff(job, token, wait)
      }
      const spent = app.roundAttempts + 1
      attemptsTotal.inc({ outcome: 'retryable_failure' })
      if (spent >= settings.attempts) {
        await store.transition(id, 'failed', { from: ['delivering'], attempt, counted: true, reason: `dead-lettered after ${spent} attempts: ${why}` })
        throw new UnrecoverableError(why)
      }
      const delay = backoff(spent)
      await store.transition(id, 'queued', { from: ['delivering'], attempt, counted: true, detail: `attempt ${attempt} failed, will retry: ${why}`, dueInMs: delay + graceMs })
      return putOff(job, token, delay)
    }
    const firstPoll = settings.maxDecisionPolls > 0 ? hintedDelayMs(pollDelayMs(settings, 0), receipt.expectedDecisionAt) + graceMs : null
    const changed = await store.transition(id, 'delivered', { from: ['delivering'], attempt, agencyReference: receipt.agencyReference, detail: `agency reference ${receipt.agencyReference}`, dueInMs: firstPoll })
    // Not changed: a worker that took the job over meanwhile recorded it.
    if (changed) {
      attemptsTotal.inc({ outcome: 'delivered' })
      latency.observe((Date.now() - Date.parse(app.createdAt)) / 1000)
      if (firstPoll !== null) {
        // Were this lost, the reconciler asks for the first poll when it is due.
        await schedulePoll(id, app.adapter!, 0, receipt.expectedDecisionAt).catch((err: unknown) => options.log.warn({ err, applicationId: id }, 'could not schedule the decision poll'))
      }
    }
    return receipt
  }

  async function handle (job: Job<DeliveryJob, unknown, DeliveryJobName>, token?: string): Promise<unknown> {
    try {
      switch (job.name) {
        case 'poll': return await poll(job, token)
        case 'package': return await settlePackage(job)
        default: return await deliver(job, token)
      }
    } catch (err) {
      // The database away costs time too, never an attempt: the job comes
      // back shortly, not at the pace of BullMQ's backoff.
      if (storeOutageOf(err) === undefined) throw err
      storeWaits.inc()
      return putOff(job, token, STORE_WAIT_MS + Math.floor(random() * STORE_WAIT_MS))
    }
  }

  const worker = new Worker<DeliveryJob, unknown, DeliveryJobName>(DELIVERY_QUEUE, handle, {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency,
    // A worker killed mid-delivery leaves its job locked until the lock runs
    // out; others look for such stalled jobs as often, so it is taken over
    // within two lock periods.
    lockDuration: options.lockDurationMs,
    stalledInterval: options.lockDurationMs,
    // Each stall is counted against the budget in the database (startAttempt),
    // which dead-letters the application; BullMQ's own limit is no lower, and
    // a job it fails anyway is found by the reconciler.
    maxStalledCount: settings.attempts,
    settings: { backoffStrategy: fullJitterBackoff(settings, random) },
  })
  // Readiness asks whether anyone is taking jobs (see liveness.ts).
  const beat = createHeartbeat(options.connection, options.prefix)
  worker.on('active', beat)
  worker.on('completed', beat)
  worker.on('failed', beat)
  worker.on('error', createLimitedErrorLog(options.log, 'delivery worker error'))
  worker.on('failed', (job, err) => {
    options.log.info({ applicationId: job?.data.applicationId, attemptsMade: job?.attemptsMade, reason: err.message }, 'delivery job failed')
  })
  return worker
}
