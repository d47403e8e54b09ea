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
import type { OtpInbox } from './otp.ts'
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
  // One-time codes "sent" to citizens (KHUR meta-1.5.0).
  otp: OtpInbox
  // Requests each provider received, by provider name, on both transports.
  deliveries: Map<string, number>
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
// so a configured latency is a floor callers can rely on. An aborted signal
// ends the wait early.
export async function sleepAtLeast (ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted === true) return
  const until = performance.now() + ms
  try {
    await sleep(ms, undefined, signal === undefined ? undefined : { signal })
    while (performance.now() < until) await sleep(1, undefined, signal === undefined ? undefined : { signal })
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err
  }
}

// ---- per-exchange tracking ---------------------------------------------------

// One exchange is logged once both are known: the answer the bus settled on,
// and the end of the response (written in full, or cut off by the client).
// Either may come first: a client that leaves while the provider works closes
// the response before there is an answer.

export interface Tracking {
  startedAt: number
  requestInMs: number
  record: Omit<MessageRecord, 'requestInTs' | 'responseOutTs' | 'durationMs' | 'status' | 'responseSize' | 'succeeded' | 'clientDisconnected'>
  // Response body bytes, known once serialised.
  responseSize: number
  // Slow-drip time for this response, if its provider has one set.
  dripMs: number
  // The answer's status and outcome, once the bus has one.
  answer: { status: number, succeeded: boolean } | null
  // Aborted when the client closes the connection before the whole answer
  // was written. Waits on the client's behalf end on it.
  gone: AbortController
  ended: boolean
  logged: boolean
}

const tracked = new WeakMap<FastifyRequest, Tracking>()

// `cutShort` is the refusal the transport answers a request whose body never
// arrived in full.
export function track (
  ctx: ExchangeContext, request: FastifyRequest, reply: FastifyReply,
  transport: 'rest' | 'xyp', id: string, cutShort: { status: number, error: string },
): Tracking {
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
      delivered: false,
      requestSize: Number(request.headers['content-length'] ?? 0) || 0,
      citizenAuth: null,
      citizenOtpValid: null,
    },
    responseSize: 0,
    dripMs: 0,
    answer: null,
    gone: new AbortController(),
    ended: false,
    logged: false,
  }
  tracked.set(request, t)
  // The response's close is the one signal for every phase: Fastify's
  // onRequestAbort only fires while the body is being read, and onResponse
  // never fires for an answer that was not written in full.
  const res = reply.raw
  let written = false
  res.once('finish', () => {
    written = true
    t.ended = true
    // An answer written outside the hooks (Fastify's last-resort error path).
    if (t.answer === null) t.answer = { status: res.statusCode, succeeded: res.statusCode < 400 }
    log(ctx, t)
  })
  res.once('close', () => {
    if (!written) {
      t.gone.abort()
      // A request cut short can never reach the provider. Settled here, not
      // by Fastify's body-read error, which depends on its listeners being
      // attached before the socket closed.
      if (t.answer === null && !request.raw.complete) {
        t.record.error = cutShort.error
        t.answer = { status: cutShort.status, succeeded: false }
      }
    }
    t.ended = true
    log(ctx, t)
  })
  return t
}

export function tracking (request: FastifyRequest): Tracking | undefined {
  return tracked.get(request)
}

// The answer the bus sends (or would send, if the client has gone).
export function settle (ctx: ExchangeContext, t: Tracking, status: number, succeeded: boolean): void {
  if (t.logged) return
  t.answer = { status, succeeded }
  log(ctx, t)
}

function log (ctx: ExchangeContext, t: Tracking): void {
  if (t.logged || !t.ended || t.answer === null) return
  t.logged = true
  ctx.log.record({
    ...t.record,
    requestInTs: new Date(t.requestInMs).toISOString(),
    responseOutTs: new Date(ctx.now()).toISOString(),
    durationMs: Math.round((performance.now() - t.startedAt) * 1000) / 1000,
    status: t.answer.status,
    succeeded: t.answer.succeeded,
    clientDisconnected: t.gone.signal.aborted,
    responseSize: t.responseSize,
  })
}

// Hands the request to the provider and counts it. Not once its client has
// gone: nobody would get the answer, so the provider must not act on it.
export function deliver (ctx: ExchangeContext, t: Tracking, provider: string): boolean {
  if (t.gone.signal.aborted) return false
  t.record.delivered = true
  ctx.deliveries.set(provider, (ctx.deliveries.get(provider) ?? 0) + 1)
  return true
}

// Closes the connection without an answer, as a provider that is down.
export function dropConnection (ctx: ExchangeContext, request: FastifyRequest, reply: FastifyReply, t: Tracking): void {
  t.record.error = 'down'
  t.answer = { status: 0, succeeded: false }
  // Logged now: the close that follows is the bus's doing, not the client's.
  t.ended = true
  log(ctx, t)
  reply.hijack()
  request.raw.socket?.destroy()
}

export interface FaultPlan {
  // How long the provider takes to answer: latency plus jitter.
  delayMs: number
  // Answer Server.ServerProxy.ServiceFailed (after delayMs) without delivering.
  failed: boolean
  dripMs: number
}

// Draws one call's faults up front, jitter before failure, from the bus's
// seeded random source.
export function planFaults (ctx: ExchangeContext, f: FaultSettings): FaultPlan {
  const jitter = f.jitterMs > 0 ? Math.floor(ctx.random() * (f.jitterMs + 1)) : 0
  const failed = f.errorRate > 0 && ctx.random() < f.errorRate
  return { delayMs: f.latencyMs + jitter, failed, dripMs: f.slowDripMs }
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
