import type { FlowProducer, Queue } from 'bullmq'
import type { FastifyBaseLogger } from 'fastify'
import { deliveryJobOptions, type DeliveryJob, type DeliverySettings } from './queue.ts'
import type { ApplicationStore } from './store.ts'

// A relay: drains a table into a queue now and then, and at once when nudged.
// One drain at a time; a nudge during a drain runs another right after. While
// Redis is away a drain fails, the rows wait, and the next tick tries again.
export function createRelay (options: { drain: () => Promise<void>, intervalMs: number, log: FastifyBaseLogger, what: string }) {
  let timer: NodeJS.Timeout | null = null
  let running: Promise<void> | null = null
  let again = false
  let stopped = false
  let failing = false
  const drain = options.drain

  function tick (): Promise<void> {
    if (running !== null) {
      again = true
      return running
    }
    running = drain().then(() => {
      if (failing) options.log.info(`the ${options.what} relay reaches the queue again`)
      failing = false
    }, (err) => {
      if (!failing) options.log.warn({ err: { message: (err as Error).message } }, `the ${options.what} relay cannot reach the queue; rows wait in the database`)
      failing = true
    }).finally(() => {
      running = null
      if (again && !stopped) {
        again = false
        void tick()
      }
    })
    return running
  }

  return {
    // Called after each intake so delivery starts at once, not at the next tick.
    nudge (): void {
      if (!stopped) void tick()
    },
    start (): void {
      stopped = false
      timer = setInterval(() => void tick(), options.intervalMs)
      timer.unref()
      void tick()
    },
    async stop (): Promise<void> {
      stopped = true
      if (timer !== null) clearInterval(timer)
      await running
    },
    tick,
  }
}

// Moves outbox rows into the delivery queue, jobId = application id, so a row
// relayed twice (by two processes, or after a crash) is still one job.
export function createOutboxRelay (options: {
  store: ApplicationStore
  queue: Queue<DeliveryJob>
  flows: FlowProducer
  settings: DeliverySettings
  intervalMs: number
  log: FastifyBaseLogger
}) {
  async function drain (): Promise<void> {
    for (;;) {
      const ids = await options.store.pendingOutbox(100)
      if (ids.length === 0) return
      // New plain applications, the bulk of the outbox, go as one page.
      const plain = ids.filter((r) => r.parts === null && !r.retry).map((r) => r.id)
      if (plain.length > 0) {
        await options.queue.addBulk(plain.map((id) => ({ name: 'deliver', data: { applicationId: id }, opts: { ...deliveryJobOptions(options.settings), jobId: id } })))
        await options.store.markQueued(plain)
      }
      for (const { id, retry, parts } of ids.filter((r) => r.parts !== null || r.retry)) {
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
                data: { applicationId: part },
                opts: { ...deliveryJobOptions(options.settings), jobId: part, ignoreDependencyOnFailure: true },
              })),
            })
          }
          await options.store.markQueued([id])
          continue
        }
        if (retry) {
          // The failed job keeps its id in the queue; it must go first.
          const old = await options.queue.getJob(id)
          if (old !== undefined && await old.isFailed()) await old.remove()
        }
        await options.queue.add('deliver', { applicationId: id }, { ...deliveryJobOptions(options.settings), jobId: id })
        await options.store.markQueued([id])
      }
    }
  }

  return createRelay({ drain, intervalMs: options.intervalMs, log: options.log, what: 'outbox' })
}
