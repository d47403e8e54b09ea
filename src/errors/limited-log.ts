import type { FastifyBaseLogger } from 'fastify'

// An error that repeats while a dependency is away (a Redis connection
// retrying every second, a pool losing its idle clients) is logged whole, as
// `{ err }` with its stack and cause, the first time it is seen; the same
// error again (name, code and message) is logged at most once per interval,
// with how many were left out, so an outage neither vanishes from the log nor
// drowns it.

export const ERROR_LOG_INTERVAL_MS = 60_000

export interface LimitedLogOptions {
  level?: 'error' | 'warn' | 'info' | 'debug'
  intervalMs?: number
  now?: () => number
}

// Errors seen lately, by name, code and message; a few suffice per call site.
const KEPT_KEYS = 32

export function createLimitedErrorLog (log: FastifyBaseLogger, msg: string, options: LimitedLogOptions = {}): (err: unknown, fields?: Record<string, unknown>) => void {
  const level = options.level ?? 'warn'
  const intervalMs = options.intervalMs ?? ERROR_LOG_INTERVAL_MS
  const now = options.now ?? Date.now
  const seen = new Map<string, { at: number, left: number }>()
  return (err, fields = {}) => {
    const key = err instanceof Error ? `${err.name}:${(err as { code?: unknown }).code ?? ''}:${err.message}` : String(err)
    const t = now()
    const last = seen.get(key)
    if (last !== undefined && t - last.at < intervalMs) {
      last.left++
      return
    }
    // `repeated`: how often this same error was left out since its last line.
    log[level]({ ...fields, err, ...(last !== undefined && last.left > 0 ? { repeated: last.left } : {}) }, msg)
    if (last === undefined && seen.size >= KEPT_KEYS) seen.clear()
    seen.set(key, { at: t, left: 0 })
  }
}
