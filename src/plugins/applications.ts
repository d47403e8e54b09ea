import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { FlowProducer, type Queue, type Worker } from 'bullmq'
import { Gauge } from 'prom-client'
import type { Config } from '../config.ts'
import { createDeliveryWorker } from '../applications/delivery.ts'
import { createWorkerLiveness, type LivenessReport } from '../applications/liveness.ts'
import { createDeliveryQueue, type DeliveryJob } from '../applications/queue.ts'
import { createOutboxRelay } from '../applications/relay.ts'
import { createApplicationStore, type ApplicationStore } from '../applications/store.ts'
import { createRedisConnection } from '../redis/connection.ts'

declare module 'fastify' {
  interface FastifyInstance {
    applications: {
      store: ApplicationStore
      queue: Queue<DeliveryJob>
      nudge: () => void
      // Whether jobs wait with no worker taking them (readiness).
      liveness: () => Promise<LivenessReport>
    }
  }
}

export interface ApplicationsPluginOptions {
  redisUrl: string
  settings: Config['delivery']
}

// Applications: the store, the outbox relay to BullMQ, and (unless WORKER=off)
// a delivery worker in this process. Queues close after the HTTP server.
async function applicationsPlugin (app: FastifyInstance, options: ApplicationsPluginOptions): Promise<void> {
  const store = createApplicationStore(app.db)
  const prefix = `${app.redisKeyPrefix}:bull`
  const queueConnection = createRedisConnection({ url: options.redisUrl, role: 'queue', connectionName: 'oss-gateway:queue' })
  queueConnection.on('error', () => {})
  const queue = createDeliveryQueue(queueConnection, prefix)
  queue.on('error', (err) => app.log.debug({ err: { message: err.message } }, 'delivery queue error'))
  const flows = new FlowProducer({ connection: queueConnection, prefix })
  flows.on('error', (err) => app.log.debug({ err: { message: err.message } }, 'flow producer error'))
  const relay = createOutboxRelay({ store, queue, flows, settings: options.settings, intervalMs: options.settings.outboxPollMs, log: app.log })
  let worker: Worker<DeliveryJob> | null = null
  let workerConnection: ReturnType<typeof createRedisConnection> | null = null

  const liveness = createWorkerLiveness({ queue, redis: app.redis, prefix, livenessMs: options.settings.livenessMs })
  app.decorate('applications', { store, queue, nudge: () => relay.nudge(), liveness })

  // Queue depth, read when Prometheus scrapes.
  new Gauge({
    name: 'application_delivery_queue_jobs',
    help: 'Delivery queue jobs by state, and applications still in the outbox',
    labelNames: ['state'] as const,
    registers: [app.metrics.registry],
    async collect () {
      try {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed')
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n)
      } catch {
        // Redis away: the outbox figure below still tells the story.
      }
      const { rows } = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM application_outbox')
      this.set({ state: 'outbox' }, rows[0]?.n ?? 0)
    },
  })
  app.addHook('onReady', async () => {
    relay.start()
    if (options.settings.worker) {
      workerConnection = createRedisConnection({ url: options.redisUrl, role: 'worker', connectionName: 'oss-gateway:worker' })
      worker = createDeliveryWorker({
        connection: workerConnection,
        queue,
        registry: app.metrics.registry,
        prefix,
        store,
        adapters: app.adapters,
        settings: options.settings,
        concurrency: options.settings.concurrency,
        lockDurationMs: options.settings.lockDurationMs,
        log: app.log,
      })
    }
  })
  app.addHook('onClose', async () => {
    await relay.stop()
    await worker?.close()
    await flows.close()
    await queue.close()
    queueConnection.disconnect()
    workerConnection?.disconnect()
  })
}

export default fp(applicationsPlugin, { name: 'applications', fastify: '5.x', dependencies: ['storage', 'redis', 'adapters'] })
