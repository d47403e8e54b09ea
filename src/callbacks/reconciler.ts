import type { FastifyBaseLogger } from 'fastify'
import type { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { createEpochWatch } from '../queue/epoch.ts'
import { isLive, removeFinished } from '../queue/jobs.ts'
import { createReconciler } from '../queue/reconciler.ts'
import { callbackJobOptions, callbackJobId, type CallbackJob, type CallbackSettings } from './delivery.ts'
import type { CallbackStore } from './store.ts'

// Status callbacks still unsettled past their due time whose job Redis lost
// or BullMQ gave up on go back on the queue under the same job id; a portal
// that gets one twice drops the repeat by its Idempotency-Key.
export function createCallbackReconciler (options: {
  store: CallbackStore
  queue: Queue<CallbackJob>
  redis: Redis
  epochKey: string
  settings: CallbackSettings
  graceMs: number
  intervalMs: number
  log: FastifyBaseLogger
}) {
  const { store, queue, log } = options
  async function check (eventId: number): Promise<void> {
    const jobId = callbackJobId(eventId)
    const state = await removeFinished(queue, jobId)
    // Settled meanwhile (the job finished after the claim): nothing to send.
    if (isLive(state) || !await store.unsettled(eventId)) return
    log.warn({ eventId, jobState: state }, 'an unsettled status callback had no job in the queue: queued again')
    await queue.add('status', { eventId }, { ...callbackJobOptions(options.settings), jobId })
  }
  return createReconciler({
    what: 'callback reconciler',
    epoch: createEpochWatch(options.redis, options.epochKey),
    sweep: () => store.allDueNow(),
    claim: (limit) => store.claimOverdue(limit, options.graceMs),
    check,
    intervalMs: options.intervalMs,
    log,
  })
}
