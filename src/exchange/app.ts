import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { adminRoutes } from './admin.ts'
import { ApplicationDesk } from './applications.ts'
import { createBusKeys, type BusSigningKeyInput } from './bus-keys.ts'
import { createValidatorCache, ReplayCache, type ExchangeContext } from './context.ts'
import { FaultBoard } from './faults.ts'
import { MemberRegistry, type MemberDefinition } from './members.ts'
import { MessageLog } from './message-log.ts'
import { DEFAULT_OTP_APPROVAL_LIFETIME_MS, DEFAULT_OTP_CODE_LIFETIME_MS, OtpInbox } from './otp.ts'
import { DEFAULT_CITIZENS, DEFAULT_SEED, generatePopulation, type Population } from './population.ts'
import { createRandom } from './prng.ts'
import { PROVIDERS } from './providers.ts'
import { restTransport } from './rest-transport.ts'
import { xypMetaTransport } from './xyp-meta.ts'
import { xypTransport } from './xyp-transport.ts'

export interface ExchangeOptions {
  // Size of the synthetic population (default 10,000) and its seed.
  citizens?: number
  seed?: string
  // A population generated earlier with generatePopulation(); overrides
  // citizens and seed (lets tests share one).
  population?: Population
  // Client members: who may call, with which keys, and what.
  members?: MemberDefinition[]
  // The bus's Ed25519 signing keys, oldest first; the last one signs.
  // Generated at start when not given.
  signingKeys?: BusSigningKeyInput[]
  // How long an agency takes to decide an application (default 2000). Its
  // answers say when to ask (expectedDecisionAt), and the gateway asks then.
  decisionDelayMs?: number
  // The bus clock in epoch milliseconds (default Date.now). It drives JWT and
  // XYP timestamp checks, decisions, one-time codes and message-log times.
  now?: () => number
  // Uniform [0, 1) source for fault injection (default: seeded from `seed`).
  random?: () => number
  // When set, /admin/* needs Authorization: Bearer <adminToken>.
  adminToken?: string
  // Message-log ring buffer capacity (default 10,000 records).
  messageLogSize?: number
  // Request JWT clock skew (default 30) and maximum lifetime (default 300).
  jwtClockSkewSeconds?: number
  jwtMaxLifetimeSeconds?: number
  // Allowed XYP timestamp drift (default 120).
  xypMaxClockSkewSeconds?: number
  // KHUR citizen one-time codes (meta-1.5.0): how long a code can be checked
  // (default 300,000 ms), and how long a checked code then authorises its
  // services (default 86,400,000 ms).
  otpCodeLifetimeMs?: number
  otpApprovalLifetimeMs?: number
  bodyLimitBytes?: number
  logger?: FastifyServerOptions['logger']
}

export const DEFAULT_DECISION_DELAY_MS = 2000

// Builds the bus emulator. It never listens: use startExchange() or main.ts.
export function buildExchange (options: ExchangeOptions = {}): FastifyInstance {
  const seed = options.population?.seed ?? options.seed ?? DEFAULT_SEED
  const population = options.population ?? generatePopulation({ seed, citizens: options.citizens ?? DEFAULT_CITIZENS })
  const now = options.now ?? Date.now
  const faultRandom = createRandom(seed, 'faults')
  const decisionDelayMs = options.decisionDelayMs ?? DEFAULT_DECISION_DELAY_MS
  const ctx: ExchangeContext = {
    population,
    members: new MemberRegistry(options.members ?? []),
    busKeys: createBusKeys(options.signingKeys),
    desks: new Map(PROVIDERS.map((p) => [p.name, new ApplicationDesk(p.memberCode, { decisionDelayMs, now, population })])),
    faults: new FaultBoard(),
    log: new MessageLog(options.messageLogSize ?? 10_000),
    otp: new OtpInbox({
      now,
      codeLifetimeMs: options.otpCodeLifetimeMs ?? DEFAULT_OTP_CODE_LIFETIME_MS,
      approvalLifetimeMs: options.otpApprovalLifetimeMs ?? DEFAULT_OTP_APPROVAL_LIFETIME_MS,
    }),
    deliveries: new Map(),
    now,
    random: options.random ?? faultRandom.next,
    replays: new ReplayCache(now),
    settings: {
      jwtClockSkewSeconds: options.jwtClockSkewSeconds ?? 30,
      jwtMaxLifetimeSeconds: options.jwtMaxLifetimeSeconds ?? 300,
      xypMaxClockSkewSeconds: options.xypMaxClockSkewSeconds ?? 120,
    },
    validator: createValidatorCache(),
  }

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimitBytes ?? 1_048_576,
    // Paths carry member ids; keep them exactly as sent.
    routerOptions: { ignoreTrailingSlash: false, ignoreDuplicateSlashes: false },
    genReqId: () => crypto.randomUUID(),
  })

  app.get('/.well-known/jwks.json', async (_request, reply) => {
    return await reply.header('cache-control', 'max-age=60').send(ctx.busKeys.jwks)
  })
  app.get('/health', async () => ({ status: 'ok', seed: population.seed, citizens: population.size }))

  app.register(restTransport(ctx))
  app.register(xypTransport(ctx))
  app.register(xypMetaTransport(ctx))
  app.register(adminRoutes(ctx, options.adminToken))

  app.setNotFoundHandler(async (request, reply) => {
    return await reply.code(404).send({ type: 'NotFound', message: `No route ${request.method} ${request.url.split('?')[0] ?? ''}`, detail: '' })
  })
  return app
}
