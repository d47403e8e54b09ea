import { createHash } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { Ajv, type ValidateFunction } from 'ajv'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ApplicationDesk } from './applications.ts'
import type { BusKeys } from './bus-keys.ts'
import type { FaultBoard, FaultSettings } from './faults.ts'
import type { MemberRegistry } from './members.ts'
import type { MessageLog, MessageRecord } from './message-log.ts'
import type { Population } from './population.ts'

// State shared by both transports and the admin routes of one bus instance.

export interface ExchangeSettings {
  jwtClockSkewSeconds: number
  jwtMaxLifetimeSeconds: number
  xypMaxClockSkewSeconds: number
}

export interface ExchangeContext {
  population: Population
  members: MemberRegistry
  busKeys: BusKeys
  desks: ReadonlyMap<string, ApplicationDesk>
  faults: FaultBoard
  log: MessageLog
  now: () => number
  random: () => number
  replays: ReplayCache
  settings: ExchangeSettings
  validator: (schema: Record<string, unknown>) => ValidateFunction
}

export function sha256b64url (data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('base64url')
}

export function createValidatorCache (): (schema: Record<string, unknown>) => ValidateFunction {
  const ajv = new Ajv({ allErrors: false, strict: false })
  const cache = new WeakMap<object, ValidateFunction>()
  return (schema) => {
    let fn = cache.get(schema)
    if (fn === undefined) {
      fn = ajv.compile(schema)
      cache.set(schema, fn)
    }
    return fn
  }
}

export function describeAjvError (fn: ValidateFunction): string {
  const e = fn.errors?.[0]
  if (e === undefined) return 'the body does not match the service schema'
  return `${e.instancePath === '' ? '(body)' : e.instancePath} ${e.message ?? 'is not valid'}`
}

// Seen request JWT ids, kept until the token would have expired anyway.
export class ReplayCache {
  readonly #seen = new Map<string, number>()
  readonly #now: () => number
  #lastSweep = 0

  constructor (now: () => number) {
    this.#now = now
  }

  // False when the id was already used.
  remember (key: string, expiresAtMs: number): boolean {
    const now = this.#now()
    const until = this.#seen.get(key)
    if (until !== undefined && until > now) return false
    // Sweep expired ids at most once a second, so a busy bus stays O(1) per call.
    if (this.#seen.size > 10_000 && now - this.#lastSweep >= 1000) {
      this.#lastSweep = now
      for (const [k, exp] of this.#seen) if (exp <= now) this.#seen.delete(k)
    }
    this.#seen.set(key, expiresAtMs)
    return true
  }
}

// Timers may fire a hair early against performance.now(); never undershoot,
// so a configured latency is a floor callers can rely on.
export async function sleepAtLeast (ms: number): Promise<void> {
  if (ms <= 0) return
  const until = performance.now() + ms
  await sleep(ms)
  while (performance.now() < until) await sleep(1)
}

// ---- per-exchange tracking ---------------------------------------------------

export interface Tracking {
  startedAt: number
  requestInMs: number
  record: Omit<MessageRecord, 'requestInTs' | 'responseOutTs' | 'durationMs' | 'status' | 'responseSize' | 'succeeded'>
  // Response body bytes, known once serialised.
  responseSize: number
  // Slow-drip time for this response, if its provider has one set.
  dripMs: number
  logged: boolean
}

const tracked = new WeakMap<FastifyRequest, Tracking>()

export function track (ctx: ExchangeContext, request: FastifyRequest, transport: 'rest' | 'xyp', id: string): Tracking {
  const t: Tracking = {
    startedAt: performance.now(),
    requestInMs: ctx.now(),
    record: {
      id,
      transport,
      client: null,
      service: null,
      userId: null,
      issue: null,
      error: null,
      requestSize: Number(request.headers['content-length'] ?? 0) || 0,
    },
    responseSize: 0,
    dripMs: 0,
    logged: false,
  }
  tracked.set(request, t)
  return t
}

export function tracking (request: FastifyRequest): Tracking | undefined {
  return tracked.get(request)
}

export function finish (ctx: ExchangeContext, t: Tracking, status: number, succeeded: boolean): void {
  if (t.logged) return
  t.logged = true
  ctx.log.record({
    ...t.record,
    requestInTs: new Date(t.requestInMs).toISOString(),
    responseOutTs: new Date(ctx.now()).toISOString(),
    durationMs: Math.round((performance.now() - t.startedAt) * 1000) / 1000,
    status,
    succeeded,
    responseSize: t.responseSize,
  })
}

// Closes the connection without an answer, as a provider that is down.
export function dropConnection (ctx: ExchangeContext, request: FastifyRequest, reply: FastifyReply, t: Tracking): void {
  t.record.error = 'down'
  finish(ctx, t, 0, false)
  reply.hijack()
  request.raw.socket?.destroy()
}

// Latency and jitter, then the error rate. Returns the drip time to apply.
export async function providerFaults (ctx: ExchangeContext, f: FaultSettings): Promise<{ failed: boolean, dripMs: number }> {
  const jitter = f.jitterMs > 0 ? Math.floor(ctx.random() * (f.jitterMs + 1)) : 0
  await sleepAtLeast(f.latencyMs + jitter)
  const failed = f.errorRate > 0 && ctx.random() < f.errorRate
  return { failed, dripMs: f.slowDripMs }
}

// The body in small chunks spread over `dripMs`.
export function dripStream (body: Buffer, dripMs: number): Readable {
  const steps = Math.max(1, Math.min(20, body.length))
  const size = Math.ceil(body.length / steps)
  const pause = dripMs / steps
  return Readable.from((async function * () {
    for (let i = 0; i < body.length; i += size) {
      await sleepAtLeast(pause)
      yield body.subarray(i, i + size)
    }
  })())
}
