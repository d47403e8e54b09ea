import { Queue, type JobsOptions } from 'bullmq'
import type { Redis } from 'ioredis'

export const DELIVERY_QUEUE = 'applications-delivery'

export interface DeliveryJob {
  // Ids only: no personal data in job payloads.
  applicationId: string
}

export interface DeliverySettings {
  attempts: number
  backoffBaseMs: number
  backoffMaxMs: number
  // First poll of the agency's decision after delivery; each next one waits twice as long.
  decisionPollMs: number
  maxDecisionPolls: number
}

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

export function createDeliveryQueue (connection: Redis, prefix: string): Queue<DeliveryJob> {
  return new Queue<DeliveryJob>(DELIVERY_QUEUE, { connection, prefix })
}
