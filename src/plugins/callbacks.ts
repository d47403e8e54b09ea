import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Queue, Worker } from 'bullmq'
import type { Config } from '../config.ts'
import type { MemberKey } from '../bus/member-keys.ts'
import { callbackDispatcher, callbackJobId, callbackJobOptions, createCallbackQueue, createCallbackWorker, type CallbackJob } from '../callbacks/delivery.ts'
import { createCallbackReconciler } from '../callbacks/reconciler.ts'
import { createCallbackStore, type CallbackStore } from '../callbacks/store.ts'
import { createAddressPolicy, type AddressPolicy } from '../callbacks/url-guard.ts'
import { closeWorker } from '../queue/close.ts'
import { epochKey } from '../queue/epoch.ts'
import { createLimitedErrorLog } from '../errors/limited-log.ts'
import { createPeriodic } from '../queue/periodic.ts'
import { createRedisConnection } from '../redis/connection.ts'

declare module 'fastify' {
  interface FastifyInstance {
    callbacks: { store: CallbackStore, policy: AddressPolicy, queue: Queue<CallbackJob> }
  }
}

export interface CallbacksPluginOptions {
  redisUrl: string
  settings: Config['callbacks']
  delivery: Pick<Config['delivery'], 'worker' | 'concurrency' | 'lockDurationMs' | 'reconcileIntervalMs' | 'reconcileGraceMs'>
  signingKey: MemberKey
}

// Status callbacks to portals: a relay from the events marked `notify` to the
// callback queue, a reconciler for those Redis lost, and (with WORKER=on) the
// worker that POSTs them.
async function callbacksPlugin (app: FastifyInstance, options: CallbacksPluginOptions): Promise<void> {
  const { delivery } = options
  const store = createCallbackStore(app.db)
  const policy = createAddressPolicy({ allowedCidrs: options.settings.allowedCidrs })
  const prefix = `${app.redisKeyPrefix}:bull`
  const queueConnection = createRedisConnection({ url: options.redisUrl, role: 'queue', connectionName: 'oss-gateway:callbacks' })
  queueConnection.on('error', createLimitedErrorLog(app.log, 'the callback queue\'s Redis connection failed'))
  const queue = createCallbackQueue(queueConnection, prefix)
  queue.on('error', createLimitedErrorLog(app.log, 'callback queue error'))

  const relay = createPeriodic({
    what: 'callback relay',
    intervalMs: options.settings.pollMs,
    log: app.log,
    async run () {
      for (;;) {
        const ids = await store.pending(500)
        if (ids.length === 0) return
        await queue.addBulk(ids.map((eventId) => ({ name: 'status', data: { eventId }, opts: { ...callbackJobOptions(options.settings), jobId: callbackJobId(eventId) } })))
        await store.markQueued(ids, delivery.reconcileGraceMs)
      }
    },
  })
  const reconciler = createCallbackReconciler({
    store,
    queue,
    redis: app.redis,
    epochKey: epochKey(app.redisKeyPrefix, 'callbacks'),
    settings: options.settings,
    graceMs: delivery.reconcileGraceMs,
    intervalMs: delivery.reconcileIntervalMs,
    log: app.log,
  })
  let worker: Worker<CallbackJob> | null = null
  let workerConnection: ReturnType<typeof createRedisConnection> | null = null
  const agent = callbackDispatcher(policy, options.settings)

  app.decorate('callbacks', { store, policy, queue })
  app.addHook('onReady', async () => {
    relay.start()
    if (delivery.reconcileIntervalMs > 0) reconciler.start()
    if (!delivery.worker) return
    workerConnection = createRedisConnection({ url: options.redisUrl, role: 'worker', connectionName: 'oss-gateway:callback-worker' })
    worker = createCallbackWorker({
      connection: workerConnection,
      prefix,
      store,
      dispatcher: agent,
      signingKey: options.signingKey,
      settings: options.settings,
      concurrency: delivery.concurrency,
      lockDurationMs: delivery.lockDurationMs,
      log: app.log,
      registry: app.metrics.registry,
    })
  })
  app.addHook('onClose', async () => {
    const stopping = Promise.all([relay.stop(), reconciler.stop()])
    if (worker !== null && workerConnection !== null) await closeWorker(worker, workerConnection, delivery.lockDurationMs)
    queueConnection.disconnect()
    await stopping
    await queue.close()
    await agent.close()
  })
}

export default fp(callbacksPlugin, { name: 'callbacks', fastify: '5.x', dependencies: ['storage', 'redis', 'metrics', 'applications'] })
