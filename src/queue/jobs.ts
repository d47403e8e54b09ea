import type { JobState, Queue, WorkerOptions } from 'bullmq'
import type { Redis } from 'ioredis'
import { fullJitterBackoff } from '../applications/queue.ts'

export type JobStateOrUnknown = JobState | 'unknown'

// States in which a job is still on its way in Redis.
const LIVE: ReadonlySet<JobStateOrUnknown> = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'])

export function isLive (state: JobStateOrUnknown): boolean {
  return LIVE.has(state)
}

// BullMQ keeps a finished job under its id, and adding a job with that id is
// then a no-op: a job put back under the same id must replace it. Returns the
// state the job had.
export async function removeFinished (queue: Pick<Queue, 'getJobState' | 'remove'>, jobId: string): Promise<JobStateOrUnknown> {
  const state = await queue.getJobState(jobId)
  if (state === 'failed' || state === 'completed') await queue.remove(jobId)
  return state
}

// Workers that POST to partners and portals: a stopped worker's jobs are taken
// over within two lock periods, a stall counts as an attempt, and retries
// wait a full-jitter backoff.
export function callbackWorkerOptions (o: { connection: Redis, prefix: string, concurrency: number, lockDurationMs: number, attempts: number, backoffBaseMs: number, backoffMaxMs: number }): WorkerOptions {
  return {
    connection: o.connection,
    prefix: o.prefix,
    concurrency: o.concurrency,
    lockDuration: o.lockDurationMs,
    stalledInterval: o.lockDurationMs,
    maxStalledCount: o.attempts,
    settings: { backoffStrategy: fullJitterBackoff(o) },
  }
}
