// A delivery worker as its own process: `npm run worker`. It takes jobs from
// the same queue as the gateway's in-process worker (set WORKER=off on the
// gateways to leave delivery to these). Without EXCHANGE_URL it calls the bus
// that `npm start` runs on EXCHANGE_PORT.
import closeWithGrace from 'close-with-grace'
import pino from 'pino'
import { loadAdapters, loadAdapterSchemas } from './adapters/load.ts'
import { createAdapterRuntime } from './adapters/runtime.ts'
import { createDeliveryWorker } from './applications/delivery.ts'
import { createDeliveryQueue } from './applications/queue.ts'
import { createApplicationStore } from './applications/store.ts'
import { createBusClients, resolveMemberKeys } from './bus/index.ts'
import { callbackDispatcher, createCallbackWorker } from './callbacks/delivery.ts'
import { createCallbackStore } from './callbacks/store.ts'
import { createAddressPolicy } from './callbacks/url-guard.ts'
import { ConfigError, loadConfig } from './config.ts'
import { openDatabase } from './db/index.ts'
import { loggerOptions } from './logger.ts'
import { createRedisConnection } from './redis/connection.ts'

export async function startWorker (config = loadConfig()) {
  const log = pino(loggerOptions(config.logLevel))
  const db = await openDatabase(config)
  const { keys } = resolveMemberKeys(config)
  const bus = createBusClients(config, config.exchange.url ?? `http://127.0.0.1:${config.exchange.port}`, keys)
  const adapters = createAdapterRuntime({
    adapters: await loadAdapters(),
    schemas: loadAdapterSchemas(),
    ...bus,
    breaker: { failureThreshold: config.bus.breakerFailures, coolDownMs: config.bus.breakerCoolDownMs },
    retry: { retries: config.bus.readRetries, baseMs: config.bus.retryBaseMs, maxMs: config.bus.retryMaxMs },
  })
  const connection = createRedisConnection({ url: config.redis.url, role: 'worker', connectionName: 'oss-gateway:worker' })
  const queueConnection = createRedisConnection({ url: config.redis.url, role: 'queue', connectionName: 'oss-gateway:queue' })
  queueConnection.on('error', () => {})
  const queue = createDeliveryQueue(queueConnection, `${config.redis.keyPrefix}:bull`)
  const worker = createDeliveryWorker({
    connection,
    queue,
    prefix: `${config.redis.keyPrefix}:bull`,
    store: createApplicationStore(db),
    adapters,
    settings: config.delivery,
    concurrency: config.delivery.concurrency,
    lockDurationMs: config.delivery.lockDurationMs,
    log: log as never,
  })
  // Status callbacks to portals go from the same process.
  const agent = callbackDispatcher(createAddressPolicy({ allowedCidrs: config.callbacks.allowedCidrs }), config.callbacks)
  const callbackWorker = createCallbackWorker({
    connection,
    prefix: `${config.redis.keyPrefix}:bull`,
    store: createCallbackStore(db),
    dispatcher: agent,
    signingKey: keys.signing,
    settings: config.callbacks,
    concurrency: config.delivery.concurrency,
    log: log as never,
  })
  await Promise.all([worker.waitUntilReady(), callbackWorker.waitUntilReady()])
  log.info({ concurrency: config.delivery.concurrency, pid: process.pid }, 'delivery worker ready')
  return {
    worker,
    log,
    async close () {
      await Promise.all([worker.close(), callbackWorker.close()])
      await agent.close()
      await queue.close()
      connection.disconnect()
      queueConnection.disconnect()
      await Promise.all([bus.rest.close(), bus.xyp.close()])
      await db.close()
    },
  }
}

if (import.meta.main) {
  let started
  try {
    started = await startWorker()
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`error: ${err.message}`)
      process.exit(78)
    }
    throw err
  }
  const { log, close } = started
  closeWithGrace({ delay: 30000, logger: log }, async ({ signal, err }) => {
    if (err !== undefined) log.error({ err }, 'closing after an uncaught error')
    else log.info({ signal }, 'worker shutting down')
    await close()
  })
}
