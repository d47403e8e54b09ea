import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { FlowProducer, type Worker } from 'bullmq'
import { Gauge } from 'prom-client'
import type { Config } from '../config.ts'
import { createDeliveryWorker } from '../applications/delivery.ts'
import { createWorkerLiveness, type LivenessReport } from '../applications/liveness.ts'
import { createDeliveryQueue, type DeliveryJob, type DeliveryJobName, type DeliveryQueue } from '../applications/queue.ts'
import { createDeliveryReconciler } from '../applications/reconciler.ts'
import { createOutboxRelay } from '../applications/relay.ts'
import { createApplicationStore, type ApplicationStore } from '../applications/store.ts'
import { closeWorker } from '../queue/close.ts'
import { epochKey } from '../queue/epoch.ts'
import { createLimitedErrorLog } from '../errors/limited-log.ts'
import { createRedisConnection } from '../redis/connection.ts'

declare module 'fastify' {
  interface FastifyInstance {
    applications: {
      store: ApplicationStore
      queue: DeliveryQueue
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

// Applications: the store, the outbox relay to BullMQ, the reconciler that
// puts back what Redis lost, and (unless WORKER=off) a delivery worker in this
// process. Queues close after the HTTP server.
async function applicationsPlugin (app: FastifyInstance, options: ApplicationsPluginOptions): Promise<void> {
  const store = createApplicationStore(app.db)
  const prefix = `${app.redisKeyPrefix}:bull`
  const queueConnection = createRedisConnection({ url: options.redisUrl, role: 'queue', connectionName: 'oss-gateway:queue' })
  queueConnection.on('error', createLimitedErrorLog(app.log, 'the delivery queue\'s Redis connection failed'))
  const queue = createDeliveryQueue(queueConnection, prefix)
  queue.on('error', createLimitedErrorLog(app.log, 'delivery queue error'))
  const flows = new FlowProducer({ connection: queueConnection, prefix })
  flows.on('error', createLimitedErrorLog(app.log, 'flow producer error'))
  const relay = createOutboxRelay({ store, queue, flows, settings: options.settings, intervalMs: options.settings.outboxPollMs, log: app.log })
  const reconciler = createDeliveryReconciler({
    store,
    queue,
    redis: app.redis,
    epochKey: epochKey(app.redisKeyPrefix, 'deliveries'),
    settings: options.settings,
    intervalMs: options.settings.reconcileIntervalMs,
    log: app.log,
    registry: app.metrics.registry,
  })
  let worker: Worker<DeliveryJob, unknown, DeliveryJobName> | null = null
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
      try {
        const { rows } = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM application_outbox')
        this.set({ state: 'outbox' }, rows[0]?.n ?? 0)
      } catch {
        // The store away: the scrape still answers, and readiness tells.
      }
    },
  })
  app.addHook('onReady', async () => {
    relay.start()
    if (options.settings.reconcileIntervalMs > 0) reconciler.start()
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
    // Timers first; runs in progress end once the connections go.
    const stopping = Promise.all([relay.stop(), reconciler.stop()])
    if (worker !== null && workerConnection !== null) await closeWorker(worker, workerConnection, options.settings.lockDurationMs)
    queueConnection.disconnect()
    await stopping
    await flows.close()
    await queue.close()
  })
}

export default fp(applicationsPlugin, { name: 'applications', fastify: '5.x', dependencies: ['storage', 'redis', 'adapters'] })
