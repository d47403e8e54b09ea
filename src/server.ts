import closeWithGrace from 'close-with-grace'
import cluster from 'node:cluster'
import type { FastifyInstance } from 'fastify'
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp } from './app.ts'
import { followPrimary, GatewayStartError, startCluster, type Running } from './cluster.ts'
import { ensureDevIssuer } from './auth/dev-issuer.ts'
import { assertDevelopmentAllowed, ConfigError, consoleOff, developmentConveniences, exposure, loadConfig, type Config } from './config.ts'
import { openDatabase } from './db/index.ts'
import { createBusClients, resolveMemberKeys } from './bus/index.ts'
import { claimKeyPrefix, connectRedis, createRedisConnection, databaseIdentity, evictionWarning, persistenceWarning, readEvictionPolicy, readPersistence, RedisUnreachableError } from './redis/connection.ts'

export interface StartOptions {
  config?: Config
  // Extra plugins, registered after the gateway's own (used by tests).
  extend?: (app: FastifyInstance) => Promise<void>
}

export interface Started {
  app: FastifyInstance
  url: string
  close: () => Promise<void>
}

export interface ComposeOptions {
  // Run the bundled bus emulator when EXCHANGE_URL is unset (the gateway does;
  // a worker calls the one `npm start` runs).
  runExchange: boolean
  // What the app serves: the whole API, or a worker's /health/* and /metrics.
  surface: 'gateway' | 'worker'
}

export interface Composed {
  app: FastifyInstance
  config: Config
  // The bundled bus emulator, when this process runs it.
  exchange?: { url: string, close: () => Promise<void> }
}

// The composition root, shared by the gateway and `npm run worker`: opens
// Redis and the database, resolves keys and the bus, and builds the app. Only
// the gateway runs the bundled emulator (when EXCHANGE_URL is unset); a worker
// process calls the one `npm start` runs.
export async function compose (config: Config, options: ComposeOptions = { runExchange: true, surface: 'gateway' }): Promise<Composed> {
  // Before anything is generated or opened: development conveniences where
  // other machines can reach this process are refused (src/config.ts).
  const conveniences = developmentConveniences(config)
  assertDevelopmentAllowed(config, conveniences)
  const exposed = exposure(config)

  let devMode = false
  if (config.auth.issuers.length === 0) {
    const dev = await ensureDevIssuer(config.dataDir)
    config.auth.issuers = [dev.config]
    devMode = true
  }

  const redis = createRedisConnection({ url: config.redis.url, role: 'client', connectTimeoutMs: config.redis.connectTimeoutMs })
  await connectRedis(redis, config.redis.url)
  const [evictionPolicy, persistence] = await Promise.all([readEvictionPolicy(redis), readPersistence(redis)])
  const database = databaseIdentity({ url: config.database.url, schema: config.database.schema, embeddedDir: resolve(config.dataDir, 'db'), host: hostname() })
  const prefixOwner = await claimKeyPrefix(redis, config.redis.keyPrefix, database)

  let db
  try {
    db = await openDatabase(config)
  } catch (err) {
    redis.disconnect()
    throw err
  }

  // Without EXCHANGE_URL the bundled bus emulator runs in the gateway's
  // process, on its own port; the gateway still reaches it only over HTTP.
  const { keys, development: devBusKeys } = resolveMemberKeys(config)
  let exchange: { url: string, close: () => Promise<void> } | undefined
  let exchangeUrl = config.exchange.url
  if (exchangeUrl === undefined && options.runExchange) {
    const { startExchange } = await import('./exchange/index.ts')
    exchange = await startExchange({
      port: config.exchange.port,
      citizens: config.exchange.citizens,
      members: [{
        id: config.bus.memberId,
        name: 'One-Stop-Shop integration gateway',
        jwks: keys.publicJwks as never,
        xyp: { accessToken: config.bus.xypAccessToken, publicKeyPem: keys.xypPublicKeyPem },
        allowedServices: ['*'],
      }],
      logger: false,
    })
    exchangeUrl = exchange.url
  }
  exchangeUrl ??= `http://127.0.0.1:${config.exchange.port}`

  const app = await buildApp({ config, db, redis, bus: createBusClients(config, exchangeUrl, keys), surface: options.surface })
  if (conveniences.length > 0 && exposed !== null) {
    app.log.warn({ host: config.host, conveniences: conveniences.map((c) => c.what) },
      `DEVELOPMENT MODE WHERE OTHER MACHINES CAN REACH IT (${exposed}), because OSS_DEVELOPMENT=true: ` +
      `never do this with real people's data; set ${conveniences.flatMap((c) => c.variables).join(', ')} for anything but development`)
  }
  if (devMode) {
    app.log.warn({ issuer: config.auth.issuers[0]?.issuer, keys: `${config.dataDir}/keys` },
      'DEVELOPMENT MODE: no AUTH_ISSUERS configured, trusting the throwaway development issuer; mint tokens with `npm run token`')
  }
  const consoleReason = consoleOff(config)
  if (consoleReason !== null) app.log.warn(`${consoleReason}; set CONSOLE_OIDC_ISSUER and CONSOLE_OIDC_CLIENT_SECRET to sign in to /console`)
  else if (config.console.oidc === undefined) app.log.info('the console at /console signs in through the development identity provider at /dev-idp (users admin, analyst, officer)')
  const unsafe = evictionWarning(evictionPolicy)
  if (unsafe !== null) app.log.warn({ maxmemoryPolicy: evictionPolicy }, unsafe)
  if (prefixOwner !== null) {
    app.log.warn({ keyPrefix: config.redis.keyPrefix, thisDatabase: database, otherDatabase: prefixOwner },
      `ANOTHER GATEWAY USES THIS REDIS_KEY_PREFIX WITH ANOTHER DATABASE: give each deployment sharing this Redis its own REDIS_KEY_PREFIX (if that deployment is gone for good, delete the key ${config.redis.keyPrefix}:owner)`)
  }
  const volatile = persistenceWarning(persistence)
  if (volatile !== null) app.log.warn({ redisPersistence: persistence }, volatile)
  app.log.info({ store: db.kind, schema: db.schema }, db.kind === 'embedded' ? 'using the embedded store (PGlite)' : 'using PostgreSQL')
  app.log.info({ exchange: exchangeUrl, member: config.bus.memberId, developmentKeys: devBusKeys },
    exchange === undefined ? 'using the exchange bus' : 'started the bundled exchange bus emulator')
  return { app, config, ...(exchange === undefined ? {} : { exchange }) }
}

// Listens on config.host and `port`, and returns how to shut down in order:
// readiness 503 first, then in-flight requests finish, then connections and
// queues close. Shared by the gateway and `npm run worker`.
export async function serve (composed: Composed, port: number): Promise<Started> {
  const { app, config, exchange } = composed
  await app.listen({ port, host: config.host })
  const address = app.server.address()
  const url = typeof address === 'object' && address !== null
    ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
    : String(address)

  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= (async () => {
      app.lifecycle.markShuttingDown()
      // Give load balancers time to see readiness fail before the port closes.
      if (config.shutdown.drainMs > 0) await sleep(config.shutdown.drainMs)
      await app.close()
      await exchange?.close()
    })()
    return closing
  }
  return { app, url, close }
}

// The gateway: composes, listens on PORT, and shuts down in order on SIGTERM/SIGINT.
export async function startServer (options: StartOptions = {}): Promise<Started> {
  const config = options.config ?? loadConfig()
  const composed = await compose(config)
  if (options.extend !== undefined) await options.extend(composed.app)
  return serve(composed, config.port)
}

// A process's entry point (the gateway's and the worker's): a bad setting or a
// refused start is one line and exit 78 (EX_CONFIG), an unreachable Redis or
// a locked embedded store one line and exit 1; then shutdown on signals.
let closing = false

export async function run (start: (config: Config) => Promise<Running>): Promise<void> {
  let config: Config
  let running: Running
  try {
    config = loadConfig()
    running = await start(config)
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`error: ${err.message}`)
      process.exit(78) // EX_CONFIG
    }
    if (err instanceof RedisUnreachableError || (err as { code?: string }).code === 'EMBEDDED_STORE_LOCKED') {
      console.error(`error: ${(err as Error).message}`)
      process.exit(1)
    }
    // A gateway process under GATEWAY_PROCESSES printed its own reason.
    if (err instanceof GatewayStartError) process.exit(err.exitCode)
    throw err
  }
  closeWithGrace({ delay: config.shutdown.timeoutMs + config.shutdown.drainMs, logger: running.log }, async ({ signal, err }) => {
    closing = true
    if (err !== undefined) running.log.error({ err }, 'closing after an uncaught error')
    else running.log.info({ signal }, 'shutting down')
    await running.close()
  })
}

export const running = (started: Started): Running => ({ log: started.app.log, close: started.close })

// The gateway: GATEWAY_PROCESSES of them sharing PORT under a primary
// (src/cluster.ts), or this process alone.
export async function main (options: Omit<StartOptions, 'config'> = {}): Promise<void> {
  // Asked by the primary to stop: the same path as a signal, taken once.
  if (cluster.isWorker) followPrimary(() => { if (!closing) process.kill(process.pid, 'SIGTERM') })
  await run(async (config) => cluster.isPrimary && config.processes > 1
    ? startCluster(config)
    : running(await startServer({ ...options, config })))
}

if (import.meta.main) await main()
