import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import { Counter, type Registry } from 'prom-client'
import { createEpochWatch } from '../queue/epoch.ts'
import { isLive, removeFinished } from '../queue/jobs.ts'
import { createReconciler } from '../queue/reconciler.ts'
import { deliveryJobOptions, POLL_JOB_OPTIONS, pollJobId, type DeliveryQueue, type DeliverySettings } from './queue.ts'
import { ON_THE_WAY, type ApplicationStore, type OverdueApplication } from './store.ts'

// Finds the applications whose job Redis lost or BullMQ gave up on, and puts
// them back under the same job id (so the same X-Road-Id: the agency still
// sees one message):
// - on its way (received, queued, delivering) with no job: queued again;
// - its job failed in BullMQ (stalled past the limit, say) while the database
//   still has it on its way: an attempt that counts, then queued again, or
//   dead-lettered when the budget is spent;
// - delivered, with its next decision poll missing: the poll is queued;
// - a package: brought in line with its parts.

export interface DeliveryReconcilerOptions {
  store: ApplicationStore
  queue: DeliveryQueue
  // Holds the epoch marker (see src/queue/epoch.ts).
  redis: Redis
  epochKey: string
  settings: DeliverySettings
  intervalMs: number
  log: FastifyBaseLogger
  registry?: Registry
}

export function createDeliveryReconciler (options: DeliveryReconcilerOptions) {
  const { store, queue, settings, log } = options
  const graceMs = settings.reconcileGraceMs
  const outcomes = new Counter({
    name: 'application_reconciler_total',
    help: 'Applications the reconciler found overdue, by what it did',
    labelNames: ['outcome'] as const,
    registers: options.registry === undefined ? [] : [options.registry],
  })

  async function putBack (row: OverdueApplication): Promise<void> {
    await removeFinished(queue, row.id)
    await queue.add('deliver', { applicationId: row.id, adapter: row.adapter! }, { ...deliveryJobOptions(settings), jobId: row.id })
  }

  async function check (row: OverdueApplication): Promise<void> {
    if (row.adapter === null) {
      const status = await store.settlePackage(row.id)
      if (!ON_THE_WAY.includes(status)) await store.setDue(row.id, null)
      outcomes.inc({ outcome: 'package_settled' })
      return
    }
    if (ON_THE_WAY.includes(row.status)) {
      const state = await queue.getJobState(row.id)
      if (isLive(state)) {
        outcomes.inc({ outcome: 'alive' })
        return
      }
      if (state === 'failed') {
        const now = await store.jobGivenUp(row.id, settings.attempts, graceMs)
        if (now === null) return
        log.warn({ applicationId: row.id, status: now }, 'the queue gave up on a delivery the database has on its way: counted as an attempt')
        outcomes.inc({ outcome: now === 'failed' ? 'dead_lettered' : 'given_up_requeued' })
        if (now === 'failed') return
      } else {
        log.warn({ applicationId: row.id, jobState: state }, 'a delivery on its way had no job in the queue: queued again')
        outcomes.inc({ outcome: 'lost_requeued' })
      }
      await putBack(row)
      return
    }
    if (row.status === 'delivered' && row.polls < settings.maxDecisionPolls) {
      const jobId = pollJobId(row.id, row.polls + 1)
      const state = await removeFinished(queue, jobId)
      if (isLive(state)) {
        outcomes.inc({ outcome: 'alive' })
        return
      }
      await queue.add('poll', { applicationId: row.id, adapter: row.adapter }, { ...POLL_JOB_OPTIONS, jobId })
      outcomes.inc({ outcome: 'poll_requeued' })
      return
    }
    // Settled: nothing on its way any more.
    await store.setDue(row.id, null)
  }

  return createReconciler({
    what: 'delivery reconciler',
    epoch: createEpochWatch(options.redis, options.epochKey),
    sweep: () => store.allDueNow(),
    claim: (limit) => store.claimOverdue(limit, graceMs),
    check,
    intervalMs: options.intervalMs,
    log,
  })
}
