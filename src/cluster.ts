import cluster, { type Worker } from 'node:cluster'
import { once } from 'node:events'
import type { FastifyBaseLogger } from 'fastify'
import { pino } from 'pino'
import { ensureDevIssuer } from './auth/dev-issuer.ts'
import { resolveMemberKeys } from './bus/index.ts'
import { assertDevelopmentAllowed, ConfigError, developmentConveniences, type Config } from './config.ts'

// GATEWAY_PROCESSES > 1: this process becomes a primary that forks that many
// gateway processes (node:cluster), which share PORT; the gateway holds no
// state of its own, so any of them can take any request. The primary serves
// nothing: it starts them, restarts one that dies, and stops them in order.

export interface Running {
  log: FastifyBaseLogger
  close(): Promise<void>
}

// A message from the primary asking a gateway process to shut down.
export const SHUTDOWN_MESSAGE = 'oss-gateway:shutdown'

// A gateway process ended before it listened; it printed why itself.
export class GatewayStartError extends Error {
  readonly code = 'GATEWAY_START_FAILED'
  readonly exitCode: number
  constructor (exitCode: number, signal: string | null) {
    super(`a gateway process exited (${signal ?? `code ${exitCode}`}) before it listened`)
    this.name = 'GatewayStartError'
    this.exitCode = exitCode
  }
}

export async function startCluster (config: Config): Promise<Running> {
  if (config.database.url === undefined || config.exchange.url === undefined) {
    throw new ConfigError(`GATEWAY_PROCESSES=${config.processes} needs DATABASE_URL and EXCHANGE_URL: the embedded store and the bundled bus emulator live inside one process`)
  }
  // Refused here once rather than in every process; and the development keys
  // are made before the fork, so the processes do not race to write them.
  assertDevelopmentAllowed(config, developmentConveniences(config))
  if (config.auth.issuers.length === 0) await ensureDevIssuer(config.dataDir)
  resolveMemberKeys(config)

  const log = pino({ level: config.logLevel, base: { pid: process.pid, role: 'primary' } }) as unknown as FastifyBaseLogger
  let stopping = false
  let restarts = 0
  const listening = new Set<Worker>()
  let failed: ((err: Error) => void) | undefined

  const fork = (): Worker => {
    const worker = cluster.fork()
    worker.once('listening', () => {
      listening.add(worker)
      log.debug({ worker: worker.process.pid }, 'gateway process listening')
    })
    worker.once('exit', (code, signal) => {
      const started = listening.delete(worker)
      if (stopping) return
      if (!started) {
        // A start that fails once fails in every process (a bad setting, no Redis): stop.
        failed?.(new GatewayStartError(code ?? 1, signal))
        return
      }
      restarts++
      const delayMs = Math.min(restarts * 200, 5000)
      log.error({ worker: worker.process.pid, code, signal, restartInMs: delayMs }, 'a gateway process died; starting another')
      setTimeout(() => { if (!stopping) fork() }, delayMs).unref()
    })
    return worker
  }

  const stopAll = async (): Promise<void> => {
    stopping = true
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead())
    await Promise.all(workers.map(async (w) => {
      const exited = once(w, 'exit')
      // A message, not a signal: a terminal's Ctrl-C has already signalled them.
      if (w.isConnected()) w.send(SHUTDOWN_MESSAGE)
      else w.process.kill('SIGTERM')
      await exited
    }))
  }

  await new Promise<void>((resolve, reject) => {
    failed = (err) => { void stopAll().finally(() => reject(err)) }
    const ready = (): void => {
      if (listening.size < config.processes) return
      cluster.off('listening', ready)
      resolve()
    }
    cluster.on('listening', ready)
    for (let i = 0; i < config.processes; i++) fork()
  })
  failed = undefined
  log.info({ processes: config.processes, port: config.port, host: config.host }, 'gateway processes ready')
  return { log, close: stopAll }
}

// In a gateway process under a primary: shut down when asked, or when the
// primary is gone (its channel closed), through the same path as a signal.
export function followPrimary (shutdown: () => void): void {
  process.on('message', (message) => { if (message === SHUTDOWN_MESSAGE) shutdown() })
  process.on('disconnect', shutdown)
}
