import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Queue, Worker } from 'bullmq'
import type { Config } from '../config.ts'
import type { MemberKey } from '../bus/member-keys.ts'
import { createRelay } from '../applications/relay.ts'
import { callbackDispatcher, callbackJobOptions, createCallbackQueue, createCallbackWorker, type CallbackJob } from '../callbacks/delivery.ts'
import { createCallbackStore, type CallbackStore } from '../callbacks/store.ts'
import { createAddressPolicy, type AddressPolicy } from '../callbacks/url-guard.ts'
import { createRedisConnection } from '../redis/connection.ts'

declare module 'fastify' {
  interface FastifyInstance {
    callbacks: { store: CallbackStore, policy: AddressPolicy, queue: Queue<CallbackJob> }
  }
}

export interface CallbacksPluginOptions {
  redisUrl: string
  settings: Config['callbacks']
  // Run a callback worker in this process (with the delivery worker).
  worker: boolean
  concurrency: number
  signingKey: MemberKey
}

// Status callbacks to portals: a relay from the events marked `notify` to the
// callback queue, and (with WORKER=on) the worker that POSTs them.
async function callbacksPlugin (app: FastifyInstance, options: CallbacksPluginOptions): Promise<void> {
  const store = createCallbackStore(app.db)
  const policy = createAddressPolicy({ allowedCidrs: options.settings.allowedCidrs })
  const prefix = `${app.redisKeyPrefix}:bull`
  const queueConnection = createRedisConnection({ url: options.redisUrl, role: 'queue', connectionName: 'oss-gateway:callbacks' })
  queueConnection.on('error', () => {})
  const queue = createCallbackQueue(queueConnection, prefix)
  queue.on('error', (err) => app.log.debug({ err: { message: err.message } }, 'callback queue error'))

  // jobId = event id: an event relayed twice is one callback.
  const relay = createRelay({
    what: 'callback',
    intervalMs: options.settings.pollMs,
    log: app.log,
    async drain () {
      for (;;) {
        const ids = await store.pending(500)
        if (ids.length === 0) return
        await queue.addBulk(ids.map((eventId) => ({ name: 'status', data: { eventId }, opts: { ...callbackJobOptions(options.settings), jobId: `event-${eventId}` } })))
        await store.markQueued(ids)
      }
    },
  })
  let worker: Worker<CallbackJob> | null = null
  let workerConnection: ReturnType<typeof createRedisConnection> | null = null
  const agent = callbackDispatcher(policy, options.settings)

  app.decorate('callbacks', { store, policy, queue })
  app.addHook('onReady', async () => {
    relay.start()
    if (!options.worker) return
    workerConnection = createRedisConnection({ url: options.redisUrl, role: 'worker', connectionName: 'oss-gateway:callback-worker' })
    worker = createCallbackWorker({
      connection: workerConnection,
      prefix,
      store,
      dispatcher: agent,
      signingKey: options.signingKey,
      settings: options.settings,
      concurrency: options.concurrency,
      log: app.log,
      registry: app.metrics.registry,
    })
  })
  app.addHook('onClose', async () => {
    await relay.stop()
    await worker?.close()
    await queue.close()
    await agent.close()
    queueConnection.disconnect()
    workerConnection?.disconnect()
  })
}

export default fp(callbacksPlugin, { name: 'callbacks', fastify: '5.x', dependencies: ['storage', 'redis', 'metrics', 'applications'] })
