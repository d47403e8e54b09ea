// Delivery and callback workers as their own process: `npm run worker`. It is
// the gateway's own composition (src/server.ts `compose`), made ready but not
// listening: the same workers, relays and reconcilers, sharing the queues with
// the gateways (set WORKER=off on those to leave delivery to these processes).
// Without EXCHANGE_URL it calls the bus that `npm start` runs on EXCHANGE_PORT.
import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig, type Config } from './config.ts'
import { compose } from './server.ts'

export async function startWorker (config: Config = loadConfig()) {
  config.delivery.worker = true
  const { app } = await compose(config, { runExchange: false })
  await app.ready()
  app.log.info({ concurrency: config.delivery.concurrency, pid: process.pid }, 'delivery worker ready')
  return { app, log: app.log, close: () => app.close() }
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
