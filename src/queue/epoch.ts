import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'

// Tells whether Redis lost its data since the last look: a marker key that
// only a Redis which forgot everything (a restart without persistence, a
// flush, a failover to an empty replica) no longer holds. Redis's own run id
// would also change on a restart that kept the data, and flag nothing lost.
export function createEpochWatch (redis: Redis, key: string) {
  let seen: string | null = null
  return {
    // True when the data was lost since the last call, or when this is the
    // first call and the marker is missing (a Redis that started empty). The
    // caller recovers first and then calls `settle`, so a crash in between
    // leaves the marker missing and the next look recovers again.
    async lost (): Promise<boolean> {
      const value = await redis.get(key)
      if (value === null) return true
      const changed = seen !== null && value !== seen
      seen = value
      return changed
    },
    async settle (): Promise<void> {
      await redis.set(key, randomUUID(), 'NX')
      seen = await redis.get(key)
    },
  }
}

// Where each reconciler keeps its marker, under the gateway's key prefix.
export function epochKey (prefix: string, what: 'deliveries' | 'callbacks'): string {
  return `${prefix}:epoch:${what}`
}

export type EpochWatch = ReturnType<typeof createEpochWatch>
