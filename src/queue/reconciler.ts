import type { FastifyBaseLogger } from 'fastify'
import type { EpochWatch } from './epoch.ts'
import { createPeriodic } from './periodic.ts'

// PostgreSQL is the source of truth and Redis a transport: every row on its
// way carries a due time, and a reconciler looks at the overdue ones, finds
// out whether their job is still in Redis, and puts back what was lost. It is
// safe in every process at once: each run claims its rows by moving their due
// time on (FOR UPDATE SKIP LOCKED), so no two processes check the same row.
// When Redis forgot everything (the epoch marker is gone) every row on its way
// is made due at once instead of waiting for its own due time.
export interface ReconcilerOptions<Row> {
  what: string
  epoch: EpochWatch
  // Makes every row on its way due now; returns how many.
  sweep: () => Promise<number>
  // Claims up to `limit` overdue rows.
  claim: (limit: number) => Promise<Row[]>
  // Looks for the row's job and puts it back if it is gone.
  check: (row: Row) => Promise<void>
  intervalMs: number
  batch?: number
  log: FastifyBaseLogger
}

export function createReconciler<Row> (options: ReconcilerOptions<Row>) {
  const batch = options.batch ?? 200
  async function run (): Promise<void> {
    const lost = await options.epoch.lost()
    if (lost) {
      const n = await options.sweep()
      if (n > 0) options.log.warn({ rows: n }, `Redis came back without its data: the ${options.what} looks for every job on its way now`)
    }
    for (;;) {
      const rows = await options.claim(batch)
      await Promise.all(rows.map((row) => options.check(row)))
      if (rows.length < batch) break
    }
    // Only once everything due is checked: a run cut short sweeps again.
    if (lost) await options.epoch.settle()
  }
  return createPeriodic({ run, intervalMs: options.intervalMs, log: options.log, what: options.what })
}
