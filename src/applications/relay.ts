import type { FlowProducer } from 'bullmq'
import type { FastifyBaseLogger } from 'fastify'
import { removeFinished } from '../queue/jobs.ts'
import { createPeriodic } from '../queue/periodic.ts'
import { deliveryJobOptions, type DeliveryQueue, type DeliverySettings } from './queue.ts'
import type { ApplicationStore } from './store.ts'

// Moves outbox rows into the delivery queue, jobId = application id, so a row
// relayed twice (by two processes, or after a crash) is still one job. Once
// queued, an application carries a due time: should its job vanish from Redis,
// the reconciler puts it back.
export function createOutboxRelay (options: {
  store: ApplicationStore
  queue: DeliveryQueue
  flows: FlowProducer
  settings: DeliverySettings
  intervalMs: number
  log: FastifyBaseLogger
}) {
  const dueInMs = options.settings.reconcileGraceMs
  async function drain (): Promise<void> {
    for (;;) {
      const rows = await options.store.pendingOutbox(100)
      if (rows.length === 0) return
      // New plain applications, the bulk of the outbox, go as one page.
      const plain = rows.filter((r) => r.parts === null && !r.retry)
      if (plain.length > 0) {
        await options.queue.addBulk(plain.map(({ id, adapter }) => ({ name: 'deliver' as const, data: { applicationId: id, adapter: adapter! }, opts: { ...deliveryJobOptions(options.settings), jobId: id } })))
        await options.store.markQueued(plain.map((r) => r.id), dueInMs)
      }
      for (const { id, retry, adapter, parts } of rows.filter((r) => r.parts !== null || r.retry)) {
        if (parts !== null) {
          // A package: one flow, a child job per agency and a parent that runs
          // once every child is settled (a failed child does not hold it up).
          if (await options.queue.getJob(id) === undefined) {
            await options.flows.add({
              name: 'package',
              queueName: options.queue.name,
              prefix: options.queue.opts.prefix,
              data: { applicationId: id },
              opts: { jobId: id, removeOnComplete: { age: 24 * 3600, count: 10000 }, removeOnFail: { age: 7 * 24 * 3600 } },
              children: parts.map((part) => ({
                name: 'deliver',
                queueName: options.queue.name,
                prefix: options.queue.opts.prefix,
                data: { applicationId: part.id, adapter: part.adapter },
                opts: { ...deliveryJobOptions(options.settings), jobId: part.id, ignoreDependencyOnFailure: true },
              })),
            })
          }
          await options.store.markQueued([id], dueInMs)
          continue
        }
        // The failed job keeps its id in the queue; it must go first.
        if (retry) await removeFinished(options.queue, id)
        await options.queue.add('deliver', { applicationId: id, adapter: adapter! }, { ...deliveryJobOptions(options.settings), jobId: id })
        await options.store.markQueued([id], dueInMs)
      }
    }
  }

  return createPeriodic({ run: drain, intervalMs: options.intervalMs, log: options.log, what: 'outbox relay' })
}
