import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { buildApp, type AppOptions } from '../../src/app.ts'
import { ensureDevIssuer } from '../../src/auth/dev-issuer.ts'
import { loadConfig, type Config, type IssuerConfig } from '../../src/config.ts'
import { openDatabase } from '../../src/db/index.ts'
import { connectRedis, createRedisConnection } from '../../src/redis/connection.ts'
import { dropSchema, TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from './services.ts'
import { createBusClients, ephemeralMemberKeys, resolveMemberKeys } from '../../src/bus/index.ts'
import { startExchange, type ExchangeOptions, type RunningExchange } from '../../src/exchange/index.ts'
import { signTestToken, type TokenOverrides } from './tokens.ts'

export interface TestApp {
  app: FastifyInstance
  config: Config
  dataDir: string
  token: (role: string, overrides?: TokenOverrides) => Promise<string>
  // The bus emulator, when the test asked for one.
  exchange?: RunningExchange
}

export interface TestAppOptions {
  env?: Record<string, string>
  // Called before the app is ready, to add test-only routes.
  extend?: (app: FastifyInstance) => Promise<void> | void
  appOptions?: Partial<Pick<AppOptions, 'verifier' | 'logStream' | 'today' | 'now'>>
  // Start a bus emulator on a free port that trusts this gateway's member keys.
  exchange?: boolean | Omit<ExchangeOptions, 'members'>
  // Another app's DATA_DIR, so both trust the same development issuer.
  dataDir?: string
  // Changes to the development issuer's configuration (e.g. its DPoP roles).
  issuer?: Partial<IssuerConfig>
}

// A gateway on the real PostgreSQL (its own schema) and the real Redis (its own
// key prefix), trusting a development issuer whose keys live in the test's
// own directory. Everything is dropped when the test ends.
export async function buildTestApp (t: Test, options: TestAppOptions = {}): Promise<TestApp> {
  const name = uniqueName('t')
  const dataDir = options.dataDir ?? t.testdir()
  const issuer = await ensureDevIssuer(dataDir)
  const config = loadConfig({
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: name,
    DATABASE_POOL_MAX: '4',
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: `test:${name}`,
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    ...options.env,
  })
  config.auth.issuers = [{ ...issuer.config, ...options.issuer }]
  const redis = createRedisConnection({ url: config.redis.url, role: 'client' })
  await connectRedis(redis, config.redis.url)
  const db = await openDatabase(config)
  let exchange: RunningExchange | undefined
  let bus
  if (options.exchange === undefined || options.exchange === false) {
    // Port 9 (discard): tests without a bus never send anything there.
    bus = createBusClients(config, 'http://127.0.0.1:9', ephemeralMemberKeys())
  } else {
    const { keys } = resolveMemberKeys(config)
    exchange = await startExchange({
      port: 0,
      citizens: 500,
      ...(options.exchange === true ? {} : options.exchange),
      members: [{
        id: config.bus.memberId,
        jwks: keys.publicJwks as never,
        xyp: { accessToken: config.bus.xypAccessToken, publicKeyPem: keys.xypPublicKeyPem },
        allowedServices: ['*'],
      }],
    })
    bus = createBusClients(config, exchange.url, keys)
  }
  const app = await buildApp({ config, db, redis, bus, ...options.appOptions })
  await options.extend?.(app)
  t.teardown(async () => {
    await app.close()
    await exchange?.close()
    await dropSchema(name)
  })
  await app.ready()
  return { app, config, dataDir, token: (role, overrides) => signTestToken(dataDir, role, overrides), ...(exchange === undefined ? {} : { exchange }) }
}
