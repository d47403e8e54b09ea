import type { Queue } from 'bullmq'
import type { Redis } from 'ioredis'

// Is anyone delivering? Workers stamp a heartbeat when they take or finish a
// job; readiness fails when jobs have waited longer than the window and no
// worker has stamped within it. A quiet queue with no jobs is fine, and so is
// a job that was only just queued.

export function heartbeatKey (prefix: string): string {
  return `${prefix}:delivery-heartbeat`
}

// At most one write a second, whatever the job rate.
export function createHeartbeat (redis: Redis, prefix: string, now: () => number = Date.now) {
  let last = 0
  return function beat (): void {
    const t = now()
    if (t - last < 1000) return
    last = t
    redis.set(heartbeatKey(prefix), String(t), 'EX', 7 * 24 * 3600).catch(() => {})
  }
}

export interface LivenessReport { status: 'up' | 'down', detail: string }

export function createWorkerLiveness (options: { queue: Queue, redis: Redis, prefix: string, livenessMs: number, now?: () => number }) {
  const now = options.now ?? Date.now
  return async function check (): Promise<LivenessReport> {
    const counts = await options.queue.getJobCounts('wait', 'prioritized')
    const waiting = (counts.wait ?? 0) + (counts.prioritized ?? 0)
    if (waiting === 0) return { status: 'up', detail: 'no job waiting' }
    const [oldest] = await options.queue.getJobs(['wait'], 0, 0, true)
    const beat = Number(await options.redis.get(heartbeatKey(options.prefix)) ?? 0)
    const t = now()
    const waitedMs = oldest === undefined ? 0 : t - oldest.timestamp
    const quietMs = t - beat
    if (waitedMs > options.livenessMs && quietMs > options.livenessMs) {
      const since = beat === 0 ? 'no worker has taken a job yet' : `no worker has taken or finished a job for ${Math.round(quietMs / 1000)} s`
      return { status: 'down', detail: `${waiting} jobs waiting, the oldest for ${Math.round(waitedMs / 1000)} s; ${since}` }
    }
    return { status: 'up', detail: `${waiting} jobs waiting` }
  }
}
