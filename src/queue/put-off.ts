import { DelayedError, type Job } from 'bullmq'

// Puts a job off without failing it: BullMQ spends no attempt, and the job
// comes back after `ms`. For outages of what the job needs (the bus, the
// database), which cost time, never attempts.
export async function putOff (job: Job, token: string | undefined, ms: number): Promise<never> {
  await job.moveToDelayed(Date.now() + ms, token)
  throw new DelayedError()
}
