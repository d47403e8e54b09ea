import type { Redis } from 'ioredis'

// The bulk-harvest signal: an officer who looks up more than `maxCitizens`
// distinct citizens within `windowMinutes`. Counted with a HyperLogLog per
// officer and window, in Redis, so every gateway process sees the same count.

export interface HarvestOptions {
  redis: Redis
  keyPrefix: string
  maxCitizens: number
  windowMinutes: number
  now?: () => number
}

export function createHarvestDetector (options: HarvestOptions) {
  const windowMs = options.windowMinutes * 60_000
  const now = options.now ?? Date.now
  return {
    // True the first time the officer crosses the line in this window.
    async record (officer: string, regnum: string): Promise<{ distinct: number, flagged: boolean }> {
      const window = Math.floor(now() / windowMs)
      const key = `${options.keyPrefix}:harvest:${officer}:${window}`
      // Plain commands, not MULTI: on one connection Redis runs them in order,
      // and auto-pipelining sends them in the same write as the request's
      // rate-limit checks (a MULTI is a write and a round trip of its own).
      const [, count] = await Promise.all([
        options.redis.pfadd(key, regnum),
        options.redis.pfcount(key),
        options.redis.pexpire(key, windowMs * 2),
      ])
      const distinct = Number(count)
      if (distinct <= options.maxCitizens) return { distinct, flagged: false }
      const first = await options.redis.set(`${key}:flagged`, '1', 'PX', windowMs * 2, 'NX')
      return { distinct, flagged: first === 'OK' }
    },
  }
}
