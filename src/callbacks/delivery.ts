import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import { Counter, type Registry } from 'prom-client'
import type { Dispatcher } from 'undici'
import type { MemberKey } from '../bus/member-keys.ts'
import { storeOutageOf } from '../db/database.ts'
import { createLimitedErrorLog } from '../errors/limited-log.ts'
import { callbackWorkerOptions } from '../queue/jobs.ts'
import { putOff } from '../queue/put-off.ts'
import { signDetached } from './sign.ts'
import type { CallbackStore } from './store.ts'
import { postCallback } from './post.ts'
import { createCallbackAgent, type AddressPolicy } from './url-guard.ts'

// Status callbacks to portals: their own queue, so a slow or absent portal
// never holds up deliveries to agencies. Jobs carry the event id only.

export const CALLBACK_QUEUE = 'applications-callbacks'

export interface CallbackJob { eventId: number }

// How long a callback waits, and up to as much again, while the database is away.
const STORE_WAIT_MS = 1000

// One job per status change: an event relayed twice is one callback.
export const callbackJobId = (eventId: number) => `event-${eventId}`

export interface CallbackSettings {
  attempts: number
  backoffBaseMs: number
  backoffMaxMs: number
  timeoutMs: number
}

export function createCallbackQueue (connection: Redis, prefix: string): Queue<CallbackJob> {
  return new Queue<CallbackJob>(CALLBACK_QUEUE, { connection, prefix })
}

export function callbackJobOptions (settings: CallbackSettings) {
  return {
    attempts: settings.attempts,
    backoff: { type: 'full-jitter' },
    removeOnComplete: { age: 24 * 3600, count: 10000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 100000 },
  }
}

// The SSRF-guarded agent callbacks go through, with the one timeout for every phase.
export function callbackDispatcher (policy: AddressPolicy, settings: CallbackSettings) {
  return createCallbackAgent(policy, { connectTimeoutMs: settings.timeoutMs, headersTimeoutMs: settings.timeoutMs, bodyTimeoutMs: settings.timeoutMs })
}

export interface CallbackWorkerOptions {
  connection: Redis
  prefix: string
  store: CallbackStore
  // The SSRF-guarded agent (callbackDispatcher): every connection is checked.
  dispatcher: Dispatcher
  signingKey: MemberKey
  settings: CallbackSettings
  concurrency: number
  lockDurationMs: number
  log: FastifyBaseLogger
  registry?: Registry
}

export function createCallbackWorker (options: CallbackWorkerOptions): Worker<CallbackJob> {
  const registers = options.registry === undefined ? [] : [options.registry]
  const sent = new Counter({ name: 'portal_callbacks_total', help: 'Status callbacks to portals by outcome', labelNames: ['outcome'] as const, registers })

  // Settled in the database once nothing more will be tried, so the
  // reconciler knows an unsettled callback whose job is gone was lost.
  async function handle (job: Job<CallbackJob>, token?: string): Promise<{ status: number } | { skipped: string }> {
    try {
      return await send(job)
    } catch (err) {
      // The database away costs time, never one of the callback's attempts.
      if (storeOutageOf(err) === undefined) throw err
      return putOff(job, token, STORE_WAIT_MS + Math.floor(Math.random() * STORE_WAIT_MS))
    }
  }

  async function send (job: Job<CallbackJob>): Promise<{ status: number } | { skipped: string }> {
    const { eventId } = job.data
    const change = await options.store.change(eventId)
    if (change === null) {
      await options.store.settle(eventId)
      return { skipped: 'the portal has no callback URL' }
    }
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1)
    const giveUp = async (outcome: 'refused' | 'rejected', message: string): Promise<never> => {
      sent.inc({ outcome })
      await options.store.settle(eventId)
      throw new UnrecoverableError(message)
    }
    const retry = async (message: string): Promise<never> => {
      sent.inc({ outcome: 'retryable_failure' })
      if (lastAttempt) await options.store.settle(eventId)
      throw new Error(message)
    }
    const body = Buffer.from(JSON.stringify(change.body))
    const posted = await postCallback(change.url, {
      body,
      headers: {
        'x-jws-signature': await signDetached(body, options.signingKey),
        // The same id on every attempt, so a portal can drop repeats.
        'idempotency-key': `event-${change.body.eventId}`,
      },
      dispatcher: options.dispatcher,
      timeoutMs: options.settings.timeoutMs,
    })
    switch (posted.outcome) {
      case 'sent':
        sent.inc({ outcome: 'sent' })
        await options.store.settle(eventId)
        return { status: posted.status }
      case 'refused': return giveUp('refused', `callback URL of ${change.portal} refused: ${posted.reason}`)
      case 'rejected': return giveUp('rejected', `${change.portal} answered ${posted.status}`)
      case 'retry': return retry(`${change.portal}: ${posted.reason}`)
    }
  }

  // As for deliveries: a stopped worker's callbacks are taken over within
  // two lock periods, and whatever BullMQ gives up on the reconciler finds.
  const worker = new Worker<CallbackJob>(CALLBACK_QUEUE, handle, callbackWorkerOptions({ ...options, ...options.settings }))
  worker.on('error', createLimitedErrorLog(options.log, 'callback worker error'))
  worker.on('failed', (job, err) => options.log.info({ eventId: job?.data.eventId, attemptsMade: job?.attemptsMade, reason: err.message }, 'status callback failed'))
  return worker
}
