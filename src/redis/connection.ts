import { once } from 'node:events'
import { Redis, type RedisOptions } from 'ioredis'

// What a connection is for decides how it behaves while Redis is away:
// - `client` (replay cache, rate limits) and `queue` (BullMQ producers) fail
//   fast, so a request gets a 503 instead of hanging;
// - `worker` (BullMQ workers) waits for Redis forever, as BullMQ requires.
// BullMQ's connections connect at once: given a lazy one, BullMQ connects it
// itself and, should Redis drop during that first connect, keeps the failure
// for good (a worker that never takes another job).
export type RedisRole = 'client' | 'queue' | 'worker'

export interface RedisConnectionOptions {
  url: string
  role: RedisRole
  connectTimeoutMs?: number
  connectionName?: string
}

export function createRedisConnection (options: RedisConnectionOptions): Redis {
  const common: RedisOptions = {
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 3000,
    connectionName: options.connectionName ?? `oss-gateway:${options.role}`,
    // Reconnect with a capped backoff; never give up on a long outage.
    retryStrategy: (times) => Math.min(times * 200, 5000),
  }
  const byRole: Record<RedisRole, RedisOptions> = {
    // Commands issued in the same tick (a request's checks, concurrent
    // requests') leave in one write.
    client: { enableOfflineQueue: false, maxRetriesPerRequest: 1, enableAutoPipelining: true },
    queue: { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false },
    worker: { enableOfflineQueue: true, maxRetriesPerRequest: null, lazyConnect: false },
  }
  return new Redis(options.url, { ...common, ...byRole[options.role] })
}

export class RedisUnreachableError extends Error {
  readonly code = 'REDIS_UNREACHABLE'
  constructor (url: string, options?: { cause?: unknown }) {
    super(`Redis is not reachable at ${redactUrl(url)}: start one with ` +
      '`redis-server --daemonize yes --save "" --appendonly no` or set REDIS_URL', options)
    this.name = 'RedisUnreachableError'
  }
}

export function redactUrl (url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString().replace(/\/$/, '')
  } catch {
    return '(invalid URL)'
  }
}

// Connects once at start: an unreachable Redis stops the start with one line.
export async function connectRedis (redis: Redis, url: string): Promise<void> {
  // The failure is reported once, below, not as ioredis' "unhandled error event".
  const quiet = () => {}
  redis.on('error', quiet)
  try {
    if (redis.status === 'wait') await redis.connect()
    else if (redis.status !== 'ready') await once(redis, 'ready')
    await redis.ping()
  } catch (err) {
    redis.disconnect()
    throw new RedisUnreachableError(url, { cause: err })
  } finally {
    redis.off('error', quiet)
  }
}

// Queues are only safe when Redis never evicts keys. Returns the policy, or
// null when the server does not let us read it (managed services may not).
export async function readEvictionPolicy (redis: Redis): Promise<string | null> {
  try {
    const reply = await redis.config('GET', 'maxmemory-policy') as string[]
    return reply[1] ?? null
  } catch {
    return null
  }
}

// The loud warning for a Redis that may evict keys, or null when it is safe
// or the policy could not be read.
export function evictionWarning (policy: string | null): string | null {
  if (policy === null || policy === 'noeviction') return null
  return `REDIS IS UNSAFE FOR QUEUES: maxmemory-policy is "${policy}", so Redis may evict queued jobs; set it to "noeviction"`
}

export interface RedisPersistence {
  // Append-only file on; null when the server does not say.
  aof: boolean | null
  // RDB snapshots configured (`save` not empty); null when the server does not say.
  rdb: boolean | null
}

// What Redis keeps on disk. CONFIG may be off on managed services; INFO
// persistence still tells whether the append-only file is on.
export async function readPersistence (redis: Redis): Promise<RedisPersistence> {
  let aof: boolean | null = null
  let rdb: boolean | null = null
  try {
    const [, appendonly] = await redis.config('GET', 'appendonly') as string[]
    const [, save] = await redis.config('GET', 'save') as string[]
    aof = appendonly === 'yes'
    rdb = (save ?? '').trim() !== ''
  } catch {
    try {
      const info = await redis.info('persistence')
      const m = /aof_enabled:(\d)/.exec(info)
      if (m !== null) aof = m[1] === '1'
    } catch {}
  }
  return { aof, rdb }
}

// The loud warning for a Redis that keeps nothing on disk, or null. The
// gateway loses nothing when Redis does (PostgreSQL is the source of truth and
// the reconciler puts lost jobs back); what it costs is recovery time.
export function persistenceWarning (p: RedisPersistence): string | null {
  if (p.aof !== false || p.rdb !== false) return null
  return 'REDIS KEEPS NOTHING ON DISK (appendonly no, save ""): a restart empties the queues. Nothing is lost, ' +
    'the gateway re-queues from PostgreSQL, but recovery waits for that; in production run Redis with appendonly yes'
}

// Gateways sharing one Redis need REDIS_KEY_PREFIX values of their own: the
// queues under a prefix carry application ids of one database, and another
// database's workers would take them and find nothing. The prefix's owner key
// says which database uses it; returns the other database's name when it is
// not this one (it stays until deleted: a deployment that moved to another
// database on purpose deletes `<prefix>:owner` once).
export async function claimKeyPrefix (redis: Redis, prefix: string, database: string): Promise<string | null> {
  const key = `${prefix}:owner`
  if (await redis.set(key, database, 'NX') === 'OK') return null
  const owner = await redis.get(key)
  return owner === null || owner === database ? null : owner
}

// The database a deployment uses, without credentials: PostgreSQL's address,
// database and schema, or the embedded store's directory on this host.
export function databaseIdentity (options: { url?: string, schema: string, embeddedDir: string, host: string }): string {
  if (options.url === undefined) return `embedded:${options.host}:${options.embeddedDir}#${options.schema}`
  try {
    const u = new URL(options.url)
    return `postgres://${u.hostname}:${u.port || '5432'}${u.pathname}#${options.schema}`
  } catch {
    return `postgres:(unparsable URL)#${options.schema}`
  }
}
