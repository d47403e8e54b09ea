import { UnrecoverableError, Worker, type Job, type Queue } from 'bullmq'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import { Counter, Histogram, type Registry } from 'prom-client'
import type { AdapterRuntime } from '../adapters/runtime.ts'
import { ProblemError } from '../errors/problem-error.ts'
import { createHeartbeat } from './liveness.ts'
import { DELIVERY_QUEUE, fullJitterBackoff, type DeliveryJob, type DeliverySettings } from './queue.ts'
import type { ApplicationStore } from './store.ts'

// Delivers queued applications to the agency through its write adapter, with
// X-Road-Id = the application id, so a retried delivery is the same message
// to the agency and never a second application.

export interface DeliveryWorkerOptions {
  connection: Redis
  // To schedule the polls of the agency's decision.
  queue: Queue<DeliveryJob>
  prefix: string
  store: ApplicationStore
  adapters: AdapterRuntime
  settings: DeliverySettings
  concurrency: number
  lockDurationMs: number
  log: FastifyBaseLogger
  registry?: Registry
}

export function createDeliveryWorker (options: DeliveryWorkerOptions): Worker<DeliveryJob> {
  const { store, adapters, settings } = options
  const registers = options.registry === undefined ? [] : [options.registry]
  const attemptsTotal = new Counter({ name: 'application_delivery_attempts_total', help: 'Delivery attempts by outcome', labelNames: ['outcome'] as const, registers })
  const latency = new Histogram({
    name: 'application_delivery_seconds',
    help: 'From intake to delivery at the agency',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400],
    registers,
  })

  // The agency decides later; its status service is asked after a delay that
  // doubles each time, until it says approved or rejected.
  async function schedulePoll (id: string, polls: number): Promise<void> {
    if (polls >= settings.maxDecisionPolls) return
    const delay = Math.min(settings.decisionPollMs * 2 ** polls, 24 * 3600 * 1000)
    await options.queue.add('poll', { applicationId: id }, { jobId: `poll-${id}-${polls + 1}`, delay, attempts: 3, backoff: { type: 'full-jitter' }, removeOnComplete: true, removeOnFail: { age: 7 * 24 * 3600 } })
  }

  async function poll (job: Job<DeliveryJob>): Promise<void> {
    const id = job.data.applicationId
    const app = await store.get(id)
    if (app === null || app.status !== 'delivered' || app.adapter === null) return
    const polls = await store.countPoll(id)
    const statusAdapter = app.adapter.replace(/\.submitApplication$/, '.getApplicationStatus')
    const answer = await adapters.invoke<{ status: string, reason?: string }>(statusAdapter, { applicationId: id }, { xRoadId: `${id}:poll:${polls}` })
    if (answer.status === 'approved' || answer.status === 'rejected') {
      await store.transition(id, 'decided', { decision: answer.status, ...(answer.reason === undefined ? {} : { reason: answer.reason }), detail: `the agency ${answer.status} it` })
      return
    }
    await schedulePoll(id, polls)
  }

  // The parent of a package's flow runs once every part is settled; the
  // package's status then says how each part ended.
  async function settlePackage (job: Job<DeliveryJob>): Promise<{ status: string }> {
    return { status: await store.settlePackage(job.data.applicationId) }
  }

  async function handle (job: Job<DeliveryJob>): Promise<unknown> {
    switch (job.name) {
      case 'poll': return poll(job)
      case 'package': return settlePackage(job)
      default: return deliver(job)
    }
  }

  async function deliver (job: Job<DeliveryJob>): Promise<{ agencyReference: string }> {
    const id = job.data.applicationId
    // Counted in the database, so an attempt cut short by a crash still counts.
    const app = await store.startAttempt(id)
    if (app === null) {
      const found = await store.get(id)
      if (found === null) throw new UnrecoverableError(`application ${id} does not exist`)
      if (found.adapter === null) throw new UnrecoverableError(`application ${id} is a package; its parts are delivered`)
      return { agencyReference: found.agencyReference ?? '' }
    }
    const attempt = app.attempts
    try {
      const receipt = await adapters.invoke<{ agencyReference: string }>(app.adapter!, {
        applicationId: app.id,
        service: app.service,
        unit: app.unit,
        channel: app.channel,
        applicant: { regnum: app.applicantRegnum },
        form: app.form,
      }, { xRoadId: app.id })
      await store.transition(id, 'delivered', { attempt, agencyReference: receipt.agencyReference, detail: `agency reference ${receipt.agencyReference}` })
      attemptsTotal.inc({ outcome: 'delivered' })
      latency.observe((Date.now() - Date.parse(app.createdAt)) / 1000)
      await schedulePoll(id, 0).catch((err) => options.log.warn({ err: { message: (err as Error).message }, applicationId: id }, 'could not schedule the decision poll'))
      return receipt
    } catch (err) {
      const problem = err instanceof ProblemError ? err : null
      // The agency said no (4xx): final, with its reason; no retry.
      if (problem !== null && problem.status < 500) {
        await store.transition(id, 'failed', { attempt, reason: `rejected by the agency: ${problem.detail}` })
        attemptsTotal.inc({ outcome: 'rejected' })
        throw new UnrecoverableError(problem.detail)
      }
      const why = problem?.detail ?? (err as Error).message
      attemptsTotal.inc({ outcome: 'retryable_failure' })
      // This round's attempts, as BullMQ counts them: an admin's retry starts a new round.
      if (job.attemptsMade + 1 >= (job.opts.attempts ?? settings.attempts)) {
        await store.transition(id, 'failed', { attempt, reason: `dead-lettered after ${attempt} attempts: ${why}` })
      } else {
        await store.transition(id, 'queued', { attempt, detail: `attempt ${attempt} failed, will retry: ${why}` })
      }
      throw err
    }
  }

  const worker = new Worker<DeliveryJob>(DELIVERY_QUEUE, handle, {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency,
    lockDuration: options.lockDurationMs,
    // A worker killed mid-delivery leaves its job locked until the lock runs
    // out; others look for such stalled jobs this often.
    stalledInterval: Math.min(30000, options.lockDurationMs),
    settings: { backoffStrategy: fullJitterBackoff(settings) },
  })
  // Readiness asks whether anyone is taking jobs (see liveness.ts).
  const beat = createHeartbeat(options.connection, options.prefix)
  worker.on('active', beat)
  worker.on('completed', beat)
  worker.on('failed', beat)
  worker.on('error', (err) => options.log.warn({ err: { message: err.message } }, 'delivery worker error'))
  worker.on('failed', (job, err) => {
    options.log.info({ applicationId: job?.data.applicationId, attemptsMade: job?.attemptsMade, reason: err.message }, 'delivery attempt failed')
  })
  return worker
}
