// Delivery and callback workers as their own process: `npm run worker`. It is
// the gateway's own composition (src/server.ts `compose`): the same workers,
// relays and reconcilers, sharing the queues with the gateways (set WORKER=off
// on those to leave delivery to these processes). It serves only /health/*
// and /metrics, on HOST:WORKER_PORT (0, the default, takes a free port, so
// several workers run side by side; the ready line says where). The same
// development-mode rule as the gateway's applies. Without EXCHANGE_URL it
// calls the bus that `npm start` runs on EXCHANGE_PORT.
import type { Config } from './config.ts'
import { compose, run, running, serve, type Started } from './server.ts'

export async function startWorker (config: Config): Promise<Started> {
  config.delivery.worker = true
  config.docsEnabled = false
  const composed = await compose(config, { runExchange: false, surface: 'worker' })
  const started = await serve(composed, config.workerPort)
  started.app.log.info({ url: started.url, concurrency: config.delivery.concurrency, pid: process.pid }, 'delivery worker ready')
  return started
}

if (import.meta.main) await run(async (config) => running(await startWorker(config)))
