import { Queue, type JobsOptions } from 'bullmq'
import type { Redis } from 'ioredis'

export const DELIVERY_QUEUE = 'applications-delivery'

// Ids and names only: no personal data in job payloads.
export interface DeliveryJob {
  applicationId: string
  // The adapter that delivers it (or asks for its decision), so a worker
  // knows its provider's circuit before touching the database. Absent on a
  // package's flow parent.
  adapter?: string
}

export type DeliveryJobName = 'deliver' | 'poll' | 'package'

export interface DeliverySettings {
  // The budget: attempts that count (see ApplicationStore.startAttempt) before
  // an application is dead-lettered.
  attempts: number
  backoffBaseMs: number
  backoffMaxMs: number
  // First poll of the agency's decision after delivery; each next one waits twice as long.
  decisionPollMs: number
  maxDecisionPolls: number
  // How long past its due time an application's job is looked for.
  reconcileGraceMs: number
}

// Delivery decides its own retries (the attempt budget lives in the
// database); BullMQ's attempts and backoff only cover a processor that failed
// for a reason of ours, a database outage say.
export function deliveryJobOptions (settings: DeliverySettings): JobsOptions {
  return {
    attempts: settings.attempts,
    backoff: { type: 'full-jitter' },
    // Bounded retention: completed jobs for a day, failed ones for a week.
    removeOnComplete: { age: 24 * 3600, count: 10000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 100000 },
  }
}

// Exponential backoff with full jitter: a random wait up to base * 2^attempt.
export function fullJitterBackoff (settings: Pick<DeliverySettings, 'backoffBaseMs' | 'backoffMaxMs'>, random: () => number = Math.random) {
  return (attemptsMade: number): number => Math.floor(random() * Math.min(settings.backoffMaxMs, settings.backoffBaseMs * 2 ** attemptsMade))
}

export type DeliveryQueue = Queue<DeliveryJob, unknown, DeliveryJobName>

export function createDeliveryQueue (connection: Redis, prefix: string): DeliveryQueue {
  return new Queue<DeliveryJob, unknown, DeliveryJobName>(DELIVERY_QUEUE, { connection, prefix })
}

export const pollJobId = (applicationId: string, poll: number) => `poll-${applicationId}-${poll}`

// A poll is a read: a few quick tries, and then the next poll is the retry.
export const POLL_JOB_OPTIONS: JobsOptions = { attempts: 3, backoff: { type: 'full-jitter' }, removeOnComplete: true, removeOnFail: { age: 7 * 24 * 3600 } }

// Decision polls wait longer each time: the first after decisionPollMs, each
// next one twice as long, at most a day.
export function pollDelayMs (settings: Pick<DeliverySettings, 'decisionPollMs'>, polls: number): number {
  return Math.min(settings.decisionPollMs * 2 ** polls, 24 * 3600 * 1000)
}
