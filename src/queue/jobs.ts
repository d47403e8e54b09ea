import type { JobState, Queue } from 'bullmq'

export type JobStateOrUnknown = JobState | 'unknown'

// States in which a job is still on its way in Redis.
const LIVE: ReadonlySet<JobStateOrUnknown> = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'])

export function isLive (state: JobStateOrUnknown): boolean {
  return LIVE.has(state)
}

// BullMQ keeps a finished job under its id, and adding a job with that id is
// then a no-op: a job put back under the same id must replace it. Returns the
// state the job had.
export async function removeFinished (queue: Queue, jobId: string): Promise<JobStateOrUnknown> {
  const state = await queue.getJobState(jobId)
  if (state === 'failed' || state === 'completed') await queue.remove(jobId)
  return state
}
