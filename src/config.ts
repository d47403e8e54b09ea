import net from 'node:net'
import { envSchema } from 'env-schema'
import { Ajv } from 'ajv'
import ipaddr from 'ipaddr.js'
import { parseRoleMap } from './console/identity.ts'

// One schema for every setting. Names carry their units; defaults give a
// working development gateway with only Redis running.
const schema = {
  type: 'object',
  additionalProperties: true,
  required: [],
  properties: {
    HOST: { type: 'string', default: '127.0.0.1', minLength: 1 },
    PORT: { type: 'integer', default: 3000, minimum: 0, maximum: 65535 },
    GATEWAY_PROCESSES: { type: 'integer', default: 1, minimum: 1, maximum: 64 },
    LOG_LEVEL: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    DATA_DIR: { type: 'string', default: './data', minLength: 1 },
    DATABASE_URL: { type: 'string', pattern: '^postgres(ql)?://' },
    DATABASE_SCHEMA: { type: 'string', default: 'public', pattern: '^[a-z_][a-z0-9_]{0,62}$' },
    DATABASE_POOL_MAX: { type: 'integer', default: 10, minimum: 1, maximum: 200 },
    REDIS_URL: { type: 'string', default: 'redis://127.0.0.1:6379', pattern: '^rediss?://' },
    REDIS_KEY_PREFIX: { type: 'string', default: 'oss', pattern: '^[A-Za-z0-9:_.-]{1,64}$' },
    REDIS_CONNECT_TIMEOUT_MS: { type: 'integer', default: 3000, minimum: 100 },
    BODY_LIMIT_BYTES: { type: 'integer', default: 1048576, minimum: 1024 },
    CONNECTION_TIMEOUT_MS: { type: 'integer', default: 0, minimum: 0 },
    REQUEST_TIMEOUT_MS: { type: 'integer', default: 30000, minimum: 1 },
    KEEP_ALIVE_TIMEOUT_MS: { type: 'integer', default: 72000, minimum: 1 },
    SHUTDOWN_DRAIN_MS: { type: 'integer', default: 0, minimum: 0 },
    SHUTDOWN_TIMEOUT_MS: { type: 'integer', default: 10000, minimum: 100 },
    TRUST_PROXY: { type: 'boolean', default: false },
    OSS_DEVELOPMENT: { type: 'boolean', default: false },
    // Empty, or a bearer token of 16 or more printable characters.
    METRICS_TOKEN: { type: 'string', default: '', pattern: '^([!-~]{16,})?$' },
    WORKER_PORT: { type: 'integer', default: 0, minimum: 0, maximum: 65535 },
    AUTH_ISSUERS: { type: 'string', default: '' },
    AUTH_CLOCK_SKEW_SECONDS: { type: 'integer', default: 30, minimum: 0, maximum: 30 },
    AUTH_MAX_TOKEN_AGE_SECONDS: { type: 'integer', default: 900, minimum: 60, maximum: 86400 },
    AUTH_DPOP_PROOF_MAX_AGE_SECONDS: { type: 'integer', default: 60, minimum: 5, maximum: 300 },
    DASHBOARD_SESSION_TTL_SECONDS: { type: 'integer', default: 1800, minimum: 60, maximum: 43200 },
    CONSOLE_OIDC_ISSUER: { type: 'string', pattern: '^https?://' },
    CONSOLE_OIDC_CLIENT_ID: { type: 'string', default: 'oss-console', minLength: 1 },
    CONSOLE_OIDC_CLIENT_SECRET: { type: 'string', default: '' },
    CONSOLE_OIDC_SCOPE: { type: 'string', default: 'openid profile', minLength: 1 },
    CONSOLE_ROLE_CLAIM: { type: 'string', default: 'oss_role', minLength: 1 },
    CONSOLE_UNIT_CLAIM: { type: 'string', default: 'oss_unit', minLength: 1 },
    CONSOLE_AGENCY_CLAIM: { type: 'string', default: 'oss_agency', minLength: 1 },
    CONSOLE_ROLE_MAP: { type: 'string', default: '' },
    CONSOLE_SESSION_IDLE_MS: { type: 'integer', default: 1800000, minimum: 60000 },
    CONSOLE_SESSION_MAX_MS: { type: 'integer', default: 43200000, minimum: 60000 },
    CONSOLE_LOGIN_MS: { type: 'integer', default: 600000, minimum: 10000 },
    DOCS_ENABLED: { type: 'boolean', default: true },
    CATALOGUE_REFRESH_MS: { type: 'integer', default: 2000, minimum: 100 },
    WORKER: { type: 'string', enum: ['on', 'off'], default: 'on' },
    DELIVERY_ATTEMPTS: { type: 'integer', default: 12, minimum: 1, maximum: 10000 },
    DELIVERY_BACKOFF_BASE_MS: { type: 'integer', default: 1000, minimum: 1 },
    DELIVERY_BACKOFF_MAX_MS: { type: 'integer', default: 600000, minimum: 1 },
    DELIVERY_CONCURRENCY: { type: 'integer', default: 50, minimum: 1, maximum: 1000 },
    DELIVERY_LOCK_MS: { type: 'integer', default: 5000, minimum: 1000 },
    OUTBOX_POLL_MS: { type: 'integer', default: 500, minimum: 10 },
    DECISION_POLL_MS: { type: 'integer', default: 60000, minimum: 10 },
    DECISION_MAX_POLLS: { type: 'integer', default: 20, minimum: 0 },
    WORKER_LIVENESS_MS: { type: 'integer', default: 120000, minimum: 1000 },
    RECONCILE_INTERVAL_MS: { type: 'integer', default: 5000, minimum: 0 },
    STATS_FOLD_INTERVAL_MS: { type: 'integer', default: 2000, minimum: 0 },
    STATS_FOLD_BATCH: { type: 'integer', default: 2000, minimum: 1, maximum: 50000 },
    STATS_SUPPRESSION_THRESHOLD: { type: 'integer', default: 5, minimum: 3 },
    RECONCILE_GRACE_MS: { type: 'integer', default: 60000, minimum: 100 },
    CALLBACK_ALLOWED_CIDRS: { type: 'string', default: '' },
    CALLBACK_ATTEMPTS: { type: 'integer', default: 10, minimum: 1, maximum: 1000 },
    CALLBACK_BACKOFF_BASE_MS: { type: 'integer', default: 2000, minimum: 1 },
    CALLBACK_BACKOFF_MAX_MS: { type: 'integer', default: 3600000, minimum: 1 },
    CALLBACK_TIMEOUT_MS: { type: 'integer', default: 10000, minimum: 100, maximum: 120000 },
    CALLBACK_POLL_MS: { type: 'integer', default: 500, minimum: 10 },
    AUDIT_BATCH_WINDOW_MS: { type: 'integer', default: 2, minimum: 0, maximum: 100 },
    OFFICER_LOOKUPS_PER_MINUTE: { type: 'integer', default: 60, minimum: 1 },
    UNIT_LOOKUPS_PER_MINUTE: { type: 'integer', default: 600, minimum: 1 },
    HARVEST_DISTINCT_CITIZENS: { type: 'integer', default: 100, minimum: 1 },
    HARVEST_WINDOW_MINUTES: { type: 'integer', default: 60, minimum: 1, maximum: 10080 },
    CONSENT_OTP_MAX_FAILURES: { type: 'integer', default: 5, minimum: 1, maximum: 100 },
    CONSENT_OTP_LOCK_MS: { type: 'integer', default: 900000, minimum: 1000 },
    CONSENT_OTP_CODE_MS: { type: 'integer', default: 300000, minimum: 10000 },
    CONSENT_REQUEST_MS: { type: 'integer', default: 86400000, minimum: 60000 },
    EXCHANGE_URL: { type: 'string', pattern: '^https?://' },
    EXCHANGE_PORT: { type: 'integer', default: 3100, minimum: 0, maximum: 65535 },
    EXCHANGE_CITIZENS: { type: 'integer', default: 10000, minimum: 1, maximum: 1000000 },
    BUS_MEMBER_ID: { type: 'string', default: 'MN/GOV/OSS/gateway', pattern: '^[A-Z]{2}/[A-Z]+/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+$' },
    BUS_SIGNING_KEYS_FILE: { type: 'string', minLength: 1 },
    BUS_XYP_PRIVATE_KEY_FILE: { type: 'string', minLength: 1 },
    BUS_XYP_ACCESS_TOKEN: { type: 'string', default: 'oss-gateway-dev-xyp-token', minLength: 1 },
    BUS_JWKS_URL: { type: 'string', pattern: '^https?://' },
    BUS_CONNECTIONS: { type: 'integer', default: 32, minimum: 1, maximum: 1024 },
    BUS_CONNECT_TIMEOUT_MS: { type: 'integer', default: 2000, minimum: 10 },
    BUS_READ_RETRIES: { type: 'integer', default: 2, minimum: 0, maximum: 10 },
    BUS_RETRY_BASE_MS: { type: 'integer', default: 50, minimum: 1 },
    BUS_RETRY_MAX_MS: { type: 'integer', default: 1000, minimum: 1 },
    BUS_BREAKER_FAILURES: { type: 'integer', default: 5, minimum: 1 },
    BUS_BREAKER_COOLDOWN_MS: { type: 'integer', default: 10000, minimum: 100 },
    DCI_SENDER_ID: { type: 'string', default: 'oss-gateway.mn', pattern: '^[A-Za-z0-9._:-]{1,100}$' },
    DCI_TOKEN_ISSUER: { type: 'string', default: 'urn:mn:oss-gateway:dci', minLength: 1 },
    DCI_TOKEN_AUDIENCE: { type: 'string', default: 'urn:mn:oss-gateway:dci', minLength: 1 },
    DCI_TOKEN_TTL_SECONDS: { type: 'integer', default: 300, minimum: 60, maximum: 3600 },
    DCI_MESSAGES_PER_MINUTE: { type: 'integer', default: 120, minimum: 1 },
    DCI_MAX_ITEMS_PER_MESSAGE: { type: 'integer', default: 100, minimum: 1, maximum: 10000 },
    DCI_RETENTION_DAYS: { type: 'integer', default: 30, minimum: 1, maximum: 3650 },
    DCI_EVENTS_POLL_MS: { type: 'integer', default: 1000, minimum: 10, maximum: 3_600_000 },
  },
} as const

export type Role = 'citizen' | 'officer' | 'admin' | 'partner' | 'analyst'
export const ROLES: readonly Role[] = ['citizen', 'officer', 'admin', 'partner', 'analyst']

export interface IssuerConfig {
  issuer: string
  audience: string
  algorithms: Array<'EdDSA' | 'ES256'>
  // Exactly one of these: a JWKS document on disk, or one served over HTTPS
  // (or, for the gateway's own partner tokens, its keys in memory).
  jwksFile?: string
  jwksUri?: string
  jwks?: { keys: ReadonlyArray<Record<string, unknown>> }
  // The JOSE `typ` header the issuer puts on access tokens (RFC 9068).
  typ: string
  // Roles this issuer may assert; a portal's issuer, say, only `citizen`.
  roles: Role[]
  // Roles whose tokens must be DPoP-bound (RFC 9449 cnf.jkt), each request
  // with a fresh proof; other roles may use either kind.
  dpop?: { required: Role[] }
}

const issuerSchema = {
  type: 'array',
  minItems: 1,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['issuer', 'audience'],
    properties: {
      issuer: { type: 'string', minLength: 1 },
      audience: { type: 'string', minLength: 1 },
      algorithms: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['EdDSA', 'ES256'] }, default: ['EdDSA', 'ES256'] },
      jwksFile: { type: 'string', minLength: 1 },
      jwksUri: { type: 'string', pattern: '^https://' },
      typ: { type: 'string', minLength: 1, default: 'at+jwt' },
      roles: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ROLES }, default: ROLES },
      dpop: {
        type: 'object',
        additionalProperties: false,
        required: ['required'],
        properties: { required: { type: 'array', uniqueItems: true, items: { enum: ROLES } } },
      },
    },
    oneOf: [{ required: ['jwksFile'] }, { required: ['jwksUri'] }],
  },
} as const

export interface Config {
  host: string
  port: number
  // Gateway processes sharing PORT (node:cluster); 1 runs the gateway in this process.
  processes: number
  // Where `npm run worker` serves /metrics and /health/*; 0 is a free port.
  workerPort: number
  // OSS_DEVELOPMENT: development conveniences are wanted even where other
  // machines can reach this process.
  development: boolean
  metrics: { token?: string }
  logLevel: string
  dataDir: string
  database: { url?: string, schema: string, poolMax: number }
  redis: { url: string, keyPrefix: string, connectTimeoutMs: number }
  http: { bodyLimitBytes: number, connectionTimeoutMs: number, requestTimeoutMs: number, keepAliveTimeoutMs: number, trustProxy: boolean }
  shutdown: { drainMs: number, timeoutMs: number }
  auth: { issuers: IssuerConfig[], clockSkewSeconds: number, maxTokenAgeSeconds: number, dpopProofMaxAgeSeconds: number, dashboardSessionTtlSeconds: number }
  docsEnabled: boolean
  // The web console's sign-in: an OpenID Connect provider (none: the
  // development provider in-process), the role mapping and session limits.
  console: {
    oidc?: { issuer: string, clientId: string, clientSecret: string, scope: string }
    roleClaim: string
    unitClaim: string
    agencyClaim: string
    roleMap: ReadonlyMap<string, 'admin' | 'analyst' | 'officer'>
    sessionIdleMs: number
    sessionMaxMs: number
    loginMs: number
  }
  catalogue: { refreshMs: number }
  audit: { batchWindowMs: number }
  // 0 turns the roll-up fold off (benchmarks compare with and without it).
  stats: { foldIntervalMs: number, foldBatch: number, suppressionThreshold: number }
  delivery: {
    worker: boolean
    attempts: number
    backoffBaseMs: number
    backoffMaxMs: number
    concurrency: number
    lockDurationMs: number
    outboxPollMs: number
    decisionPollMs: number
    maxDecisionPolls: number
    livenessMs: number
    // 0 turns the reconciler off (benchmarks compare with and without it).
    reconcileIntervalMs: number
    reconcileGraceMs: number
  }
  callbacks: { allowedCidrs: string[], attempts: number, backoffBaseMs: number, backoffMaxMs: number, timeoutMs: number, pollMs: number }
  officers: { perOfficerPerMinute: number, perUnitPerMinute: number, harvestDistinctCitizens: number, harvestWindowMinutes: number }
  consent: { otpMaxFailures: number, otpLockMs: number, otpCodeMs: number, requestMs: number }
  exchange: { url?: string, port: number, citizens: number }
  bus: {
    memberId: string
    signingKeysFile?: string
    xypPrivateKeyFile?: string
    xypAccessToken: string
    jwksUrl?: string
    connections: number
    connectTimeoutMs: number
    readRetries: number
    retryBaseMs: number
    retryMaxMs: number
    breakerFailures: number
    breakerCoolDownMs: number
  }
  // The DCI face for partner systems: the gateway's own sender id, and the
  // short-lived bearer tokens it issues to registered partners.
  dci: { senderId: string, tokenIssuer: string, tokenAudience: string, tokenTtlSeconds: number, messagesPerMinute: number, maxItemsPerMessage: number, retentionDays: number, eventsPollMs: number }
}

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID'
  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ConfigError'
  }
}

interface RawEnv {
  HOST: string
  PORT: number
  GATEWAY_PROCESSES: number
  WORKER_PORT: number
  OSS_DEVELOPMENT: boolean
  METRICS_TOKEN: string
  LOG_LEVEL: string
  DATA_DIR: string
  DATABASE_URL?: string
  DATABASE_SCHEMA: string
  DATABASE_POOL_MAX: number
  REDIS_URL: string
  REDIS_KEY_PREFIX: string
  REDIS_CONNECT_TIMEOUT_MS: number
  BODY_LIMIT_BYTES: number
  CONNECTION_TIMEOUT_MS: number
  REQUEST_TIMEOUT_MS: number
  KEEP_ALIVE_TIMEOUT_MS: number
  SHUTDOWN_DRAIN_MS: number
  SHUTDOWN_TIMEOUT_MS: number
  TRUST_PROXY: boolean
  AUTH_ISSUERS: string
  AUTH_CLOCK_SKEW_SECONDS: number
  AUTH_MAX_TOKEN_AGE_SECONDS: number
  AUTH_DPOP_PROOF_MAX_AGE_SECONDS: number
  DASHBOARD_SESSION_TTL_SECONDS: number
  CONSOLE_OIDC_ISSUER?: string
  CONSOLE_OIDC_CLIENT_ID: string
  CONSOLE_OIDC_CLIENT_SECRET: string
  CONSOLE_OIDC_SCOPE: string
  CONSOLE_ROLE_CLAIM: string
  CONSOLE_UNIT_CLAIM: string
  CONSOLE_AGENCY_CLAIM: string
  CONSOLE_ROLE_MAP: string
  CONSOLE_SESSION_IDLE_MS: number
  CONSOLE_SESSION_MAX_MS: number
  CONSOLE_LOGIN_MS: number
  DOCS_ENABLED: boolean
  CATALOGUE_REFRESH_MS: number
  AUDIT_BATCH_WINDOW_MS: number
  WORKER: 'on' | 'off'
  DELIVERY_ATTEMPTS: number
  WORKER_LIVENESS_MS: number
  RECONCILE_INTERVAL_MS: number
  STATS_FOLD_INTERVAL_MS: number
  STATS_FOLD_BATCH: number
  STATS_SUPPRESSION_THRESHOLD: number
  RECONCILE_GRACE_MS: number
  CALLBACK_ALLOWED_CIDRS: string
  CALLBACK_ATTEMPTS: number
  CALLBACK_BACKOFF_BASE_MS: number
  CALLBACK_BACKOFF_MAX_MS: number
  CALLBACK_TIMEOUT_MS: number
  CALLBACK_POLL_MS: number
  DELIVERY_BACKOFF_BASE_MS: number
  DELIVERY_BACKOFF_MAX_MS: number
  DELIVERY_CONCURRENCY: number
  DELIVERY_LOCK_MS: number
  OUTBOX_POLL_MS: number
  DECISION_POLL_MS: number
  DECISION_MAX_POLLS: number
  OFFICER_LOOKUPS_PER_MINUTE: number
  UNIT_LOOKUPS_PER_MINUTE: number
  HARVEST_DISTINCT_CITIZENS: number
  HARVEST_WINDOW_MINUTES: number
  CONSENT_OTP_MAX_FAILURES: number
  CONSENT_OTP_LOCK_MS: number
  CONSENT_OTP_CODE_MS: number
  CONSENT_REQUEST_MS: number
  EXCHANGE_URL?: string
  EXCHANGE_PORT: number
  EXCHANGE_CITIZENS: number
  BUS_MEMBER_ID: string
  BUS_SIGNING_KEYS_FILE?: string
  BUS_XYP_PRIVATE_KEY_FILE?: string
  BUS_XYP_ACCESS_TOKEN: string
  BUS_JWKS_URL?: string
  DCI_SENDER_ID: string
  DCI_TOKEN_ISSUER: string
  DCI_TOKEN_AUDIENCE: string
  DCI_TOKEN_TTL_SECONDS: number
  DCI_MESSAGES_PER_MINUTE: number
  DCI_MAX_ITEMS_PER_MESSAGE: number
  DCI_RETENTION_DAYS: number
  DCI_EVENTS_POLL_MS: number
  BUS_CONNECTIONS: number
  BUS_CONNECT_TIMEOUT_MS: number
  BUS_READ_RETRIES: number
  BUS_RETRY_BASE_MS: number
  BUS_RETRY_MAX_MS: number
  BUS_BREAKER_FAILURES: number
  BUS_BREAKER_COOLDOWN_MS: number
}

const ajv = new Ajv({ useDefaults: true, allErrors: true })
const validateIssuers = ajv.compile(issuerSchema)

function parseIssuers (text: string): IssuerConfig[] {
  if (text.trim() === '') return []
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new ConfigError('AUTH_ISSUERS must be a JSON array of issuers', { cause: err })
  }
  if (!validateIssuers(value)) {
    const first = validateIssuers.errors?.[0]
    throw new ConfigError(`AUTH_ISSUERS${first?.instancePath ?? ''} ${first?.message ?? 'is invalid'}`)
  }
  return value as IssuerConfig[]
}

// Reads and validates the environment. Throws ConfigError naming the variable.
export function loadConfig (env: Record<string, string | undefined> = process.env): Config {
  let raw: RawEnv
  try {
    raw = envSchema<RawEnv>({ schema, data: { ...env }, env: false, dotenv: false })
  } catch (err) {
    // env-schema says "env/PORT must be integer"; keep the variable name first.
    const message = (err as Error).message.replace(/(^|, )env\//g, '$1')
    throw new ConfigError(`invalid configuration: ${message}`, { cause: err })
  }
  const issuers = parseIssuers(raw.AUTH_ISSUERS)
  // The gateway's partner tokens must not pass for another issuer's, nor theirs for its own.
  if (issuers.some((i) => i.issuer === raw.DCI_TOKEN_ISSUER)) {
    throw new ConfigError(`DCI_TOKEN_ISSUER ${raw.DCI_TOKEN_ISSUER} is also an issuer in AUTH_ISSUERS; give the gateway's partner tokens their own issuer`)
  }
  let roleMap: ReadonlyMap<string, 'admin' | 'analyst' | 'officer'>
  try {
    roleMap = parseRoleMap(raw.CONSOLE_ROLE_MAP)
  } catch (err) {
    throw new ConfigError(`CONSOLE_ROLE_MAP: ${(err as Error).message}`, { cause: err })
  }
  if (raw.CONSOLE_OIDC_ISSUER !== undefined) {
    const { hostname, protocol } = new URL(raw.CONSOLE_OIDC_ISSUER)
    if (protocol !== 'https:' && !isLoopbackHost(hostname.replace(/^\[|\]$/g, ''))) throw new ConfigError('CONSOLE_OIDC_ISSUER must be https (plain http only for a provider on this machine)')
    if (raw.CONSOLE_OIDC_CLIENT_SECRET === '') throw new ConfigError('CONSOLE_OIDC_CLIENT_SECRET is required with CONSOLE_OIDC_ISSUER')
  }
  return {
    host: raw.HOST,
    port: raw.PORT,
    processes: raw.GATEWAY_PROCESSES,
    workerPort: raw.WORKER_PORT,
    development: raw.OSS_DEVELOPMENT,
    metrics: raw.METRICS_TOKEN === '' ? {} : { token: raw.METRICS_TOKEN },
    logLevel: raw.LOG_LEVEL,
    dataDir: raw.DATA_DIR,
    database: { url: raw.DATABASE_URL, schema: raw.DATABASE_SCHEMA, poolMax: raw.DATABASE_POOL_MAX },
    redis: { url: raw.REDIS_URL, keyPrefix: raw.REDIS_KEY_PREFIX, connectTimeoutMs: raw.REDIS_CONNECT_TIMEOUT_MS },
    http: {
      bodyLimitBytes: raw.BODY_LIMIT_BYTES,
      connectionTimeoutMs: raw.CONNECTION_TIMEOUT_MS,
      requestTimeoutMs: raw.REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: raw.KEEP_ALIVE_TIMEOUT_MS,
      trustProxy: raw.TRUST_PROXY,
    },
    shutdown: { drainMs: raw.SHUTDOWN_DRAIN_MS, timeoutMs: raw.SHUTDOWN_TIMEOUT_MS },
    auth: {
      issuers,
      clockSkewSeconds: raw.AUTH_CLOCK_SKEW_SECONDS,
      maxTokenAgeSeconds: raw.AUTH_MAX_TOKEN_AGE_SECONDS,
      dpopProofMaxAgeSeconds: raw.AUTH_DPOP_PROOF_MAX_AGE_SECONDS,
      dashboardSessionTtlSeconds: raw.DASHBOARD_SESSION_TTL_SECONDS,
    },
    docsEnabled: raw.DOCS_ENABLED,
    console: {
      ...(raw.CONSOLE_OIDC_ISSUER === undefined
        ? {}
        : { oidc: { issuer: raw.CONSOLE_OIDC_ISSUER, clientId: raw.CONSOLE_OIDC_CLIENT_ID, clientSecret: raw.CONSOLE_OIDC_CLIENT_SECRET, scope: raw.CONSOLE_OIDC_SCOPE } }),
      roleClaim: raw.CONSOLE_ROLE_CLAIM,
      unitClaim: raw.CONSOLE_UNIT_CLAIM,
      agencyClaim: raw.CONSOLE_AGENCY_CLAIM,
      roleMap,
      sessionIdleMs: raw.CONSOLE_SESSION_IDLE_MS,
      sessionMaxMs: raw.CONSOLE_SESSION_MAX_MS,
      loginMs: raw.CONSOLE_LOGIN_MS,
    },
    catalogue: { refreshMs: raw.CATALOGUE_REFRESH_MS },
    audit: { batchWindowMs: raw.AUDIT_BATCH_WINDOW_MS },
    stats: { foldIntervalMs: raw.STATS_FOLD_INTERVAL_MS, foldBatch: raw.STATS_FOLD_BATCH, suppressionThreshold: raw.STATS_SUPPRESSION_THRESHOLD },
    delivery: {
      worker: raw.WORKER === 'on',
      attempts: raw.DELIVERY_ATTEMPTS,
      backoffBaseMs: raw.DELIVERY_BACKOFF_BASE_MS,
      backoffMaxMs: raw.DELIVERY_BACKOFF_MAX_MS,
      concurrency: raw.DELIVERY_CONCURRENCY,
      lockDurationMs: raw.DELIVERY_LOCK_MS,
      outboxPollMs: raw.OUTBOX_POLL_MS,
      decisionPollMs: raw.DECISION_POLL_MS,
      maxDecisionPolls: raw.DECISION_MAX_POLLS,
      livenessMs: raw.WORKER_LIVENESS_MS,
      reconcileIntervalMs: raw.RECONCILE_INTERVAL_MS,
      reconcileGraceMs: raw.RECONCILE_GRACE_MS,
    },
    callbacks: {
      allowedCidrs: raw.CALLBACK_ALLOWED_CIDRS.split(',').map((c) => c.trim()).filter((c) => c !== ''),
      attempts: raw.CALLBACK_ATTEMPTS,
      backoffBaseMs: raw.CALLBACK_BACKOFF_BASE_MS,
      backoffMaxMs: raw.CALLBACK_BACKOFF_MAX_MS,
      timeoutMs: raw.CALLBACK_TIMEOUT_MS,
      pollMs: raw.CALLBACK_POLL_MS,
    },
    officers: {
      perOfficerPerMinute: raw.OFFICER_LOOKUPS_PER_MINUTE,
      perUnitPerMinute: raw.UNIT_LOOKUPS_PER_MINUTE,
      harvestDistinctCitizens: raw.HARVEST_DISTINCT_CITIZENS,
      harvestWindowMinutes: raw.HARVEST_WINDOW_MINUTES,
    },
    consent: {
      otpMaxFailures: raw.CONSENT_OTP_MAX_FAILURES,
      otpLockMs: raw.CONSENT_OTP_LOCK_MS,
      otpCodeMs: raw.CONSENT_OTP_CODE_MS,
      requestMs: raw.CONSENT_REQUEST_MS,
    },
    exchange: { url: raw.EXCHANGE_URL, port: raw.EXCHANGE_PORT, citizens: raw.EXCHANGE_CITIZENS },
    bus: {
      memberId: raw.BUS_MEMBER_ID,
      signingKeysFile: raw.BUS_SIGNING_KEYS_FILE,
      xypPrivateKeyFile: raw.BUS_XYP_PRIVATE_KEY_FILE,
      xypAccessToken: raw.BUS_XYP_ACCESS_TOKEN,
      jwksUrl: raw.BUS_JWKS_URL,
      connections: raw.BUS_CONNECTIONS,
      connectTimeoutMs: raw.BUS_CONNECT_TIMEOUT_MS,
      readRetries: raw.BUS_READ_RETRIES,
      retryBaseMs: raw.BUS_RETRY_BASE_MS,
      retryMaxMs: raw.BUS_RETRY_MAX_MS,
      breakerFailures: raw.BUS_BREAKER_FAILURES,
      breakerCoolDownMs: raw.BUS_BREAKER_COOLDOWN_MS,
    },
    dci: { senderId: raw.DCI_SENDER_ID, tokenIssuer: raw.DCI_TOKEN_ISSUER, tokenAudience: raw.DCI_TOKEN_AUDIENCE, tokenTtlSeconds: raw.DCI_TOKEN_TTL_SECONDS, messagesPerMinute: raw.DCI_MESSAGES_PER_MINUTE, maxItemsPerMessage: raw.DCI_MAX_ITEMS_PER_MESSAGE, retentionDays: raw.DCI_RETENTION_DAYS, eventsPollMs: raw.DCI_EVENTS_POLL_MS },
  }
}

// True for addresses only this machine reaches: 127.0.0.0/8, ::1 (also
// IPv4-mapped) and the name localhost. Any other name may resolve anywhere.
export function isLoopbackHost (host: string): boolean {
  const text = host.trim().toLowerCase()
  if (text === 'localhost') return true
  if (net.isIP(text) === 0) return false
  return ipaddr.process(text).range() === 'loopback'
}

// Why this process's listener is reachable from other machines, or null when
// it is not: a non-loopback HOST, or a proxy in front that forwards to it.
export function exposure (config: Pick<Config, 'host' | 'http'>): string | null {
  if (!isLoopbackHost(config.host)) return `HOST=${config.host} is not a loopback address`
  if (config.http.trustProxy) return 'TRUST_PROXY=true says a proxy forwards requests from other machines'
  return null
}

export interface DevelopmentConvenience {
  // The variables that replace it with the real thing.
  variables: string[]
  what: string
}

// The development conveniences this configuration falls back on. Read before
// compose() replaces the missing issuers with the development one.
export function developmentConveniences (config: Config): DevelopmentConvenience[] {
  const found: DevelopmentConvenience[] = []
  if (config.auth.issuers.length === 0) {
    found.push({ variables: ['AUTH_ISSUERS'], what: 'a token issuer the gateway generated itself' })
  }
  if (config.exchange.url === undefined) {
    found.push({ variables: ['EXCHANGE_URL'], what: 'the bundled bus emulator with synthetic citizens' })
  }
  const keyFiles = [
    ...(config.bus.signingKeysFile === undefined ? ['BUS_SIGNING_KEYS_FILE'] : []),
    ...(config.bus.xypPrivateKeyFile === undefined ? ['BUS_XYP_PRIVATE_KEY_FILE'] : []),
  ]
  if (keyFiles.length > 0) found.push({ variables: keyFiles, what: 'throwaway development member keys' })
  if (config.bus.xypAccessToken === schema.properties.BUS_XYP_ACCESS_TOKEN.default) {
    found.push({ variables: ['BUS_XYP_ACCESS_TOKEN'], what: 'the development XYP access token' })
  }
  return found
}

// The console's development identity provider (password-less users) runs only
// where no other machine reaches the gateway, or when OSS_DEVELOPMENT=true;
// elsewhere, without CONSOLE_OIDC_ISSUER, the console is off and the gateway
// runs without it. Returns why it is off, or null.
export function consoleOff (config: Config): string | null {
  if (config.console.oidc !== undefined) return null
  const exposed = exposure(config)
  if (exposed === null || config.development) return null
  return `the console is off: CONSOLE_OIDC_ISSUER is not set, and its development identity provider does not run where other machines can reach the gateway (${exposed})`
}

// Development mode is for one's own machine: it refuses where other machines
// can reach the process, unless OSS_DEVELOPMENT=true. Returns the one-line
// reason to refuse, or null.
export function developmentRefusal (config: Config, conveniences = developmentConveniences(config)): string | null {
  const exposed = exposure(config)
  if (conveniences.length === 0 || exposed === null || config.development) return null
  const variables = conveniences.flatMap((c) => c.variables)
  return `refusing to start in development mode where other machines can reach it (${exposed}): ` +
    `it would use ${conveniences.map((c) => c.what).join(', ')}. ` +
    `Set ${variables.join(', ')}; or bind HOST to a loopback address (127.0.0.1); ` +
    'or set OSS_DEVELOPMENT=true to run development mode there anyway'
}

export function assertDevelopmentAllowed (config: Config, conveniences?: DevelopmentConvenience[]): void {
  const refusal = developmentRefusal(config, conveniences)
  if (refusal !== null) throw new ConfigError(refusal)
}
