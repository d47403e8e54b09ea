import { setTimeout as sleep } from 'node:timers/promises'
import { Ajv, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import { Counter, Histogram, type Registry } from 'prom-client'
import { CircuitBreaker, CircuitOpenError, type BreakerState } from '../bus/breaker.ts'
import { BusTransportError, type RestClient } from '../bus/rest-client.ts'
import { XypFaultError, type XypClient } from '../bus/xyp-client.ts'
import { ProblemError } from '../errors/problem-error.ts'
import { fieldErrors } from '../plugins/problem.ts'
import { ValidationProblem } from '../errors/problem-error.ts'
import { withCitizenOtp } from './mapping.ts'
import { schemaId, type Adapter, type AdapterContext } from './types.ts'

export interface RetryPolicy {
  // Extra attempts for reads, on network errors and 5xx only.
  retries: number
  baseMs: number
  maxMs: number
}

export interface AdapterRuntimeOptions {
  adapters: Adapter[]
  schemas: Array<Record<string, unknown>>
  rest: RestClient
  xyp: XypClient
  breaker: { failureThreshold: number, coolDownMs: number }
  retry: RetryPolicy
  registry?: Registry
  now?: () => number
  random?: () => number
}

export interface AdapterInfo {
  operation: string
  provider: string
  transport: 'rest' | 'xyp'
  service: string
  kind: 'read' | 'write'
  timeoutMs: number
  summary: string
  breaker: BreakerState
  latencyMs: { count: number, p50: number | null, p95: number | null, p99: number | null }
}

export interface AdapterRuntime {
  invoke<T = unknown>(operation: string, request: unknown, ctx?: AdapterContext): Promise<T>
  has(operation: string): boolean
  // Milliseconds until the operation's provider circuit lets a call through
  // (0: now), so queued work can wait without trying.
  blockedForMs(operation: string): number
  describe(): AdapterInfo[]
  breaker(provider: string): CircuitBreaker
}

interface Compiled {
  adapter: Adapter
  request: ValidateFunction
  busResponse: ValidateFunction
  result: ValidateFunction
  latencies: number[]
  next: number
}

const WINDOW = 512

type Outcome = 'ok' | 'not_found' | 'rejected' | 'refused' | 'invalid_response' | 'bad_signature' | 'timeout' | 'unavailable' | 'circuit_open'

// A retryable failure: the provider or the network, not the request.
class Transient extends Error {
  readonly problem: ProblemError
  constructor (problem: ProblemError) {
    super(problem.detail, { cause: problem })
    this.problem = problem
  }
}

// Nothing reached the agency: the bus could not be reached, or the
// provider's circuit is open. A delivery then waits for the bus without
// spending an attempt; an agency that answered (5xx) or a reachable bus that
// timed out is another matter.
export function isBusUnreachable (err: unknown): boolean {
  if (!(err instanceof ProblemError)) return false
  if (err.code === 'UPSTREAM_CIRCUIT_OPEN') return true
  return err.cause instanceof BusTransportError && err.cause.code === 'BUS_NETWORK'
}

function percentile (sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? null
}

export function createAdapterRuntime (options: AdapterRuntimeOptions): AdapterRuntime {
  const ajv = new Ajv({ allErrors: true, strict: false })
  addFormats.default(ajv as never)
  for (const schema of options.schemas) ajv.addSchema(schema)
  const random = options.random ?? Math.random
  const breakers = new Map<string, CircuitBreaker>()
  const breakerFor = (provider: string): CircuitBreaker => {
    let b = breakers.get(provider)
    if (b === undefined) {
      b = new CircuitBreaker(provider, { ...options.breaker, ...(options.now === undefined ? {} : { now: options.now }) })
      breakers.set(provider, b)
    }
    return b
  }

  // Compiled once at start; a missing schema stops the start, not a request.
  const compiled = new Map<string, Compiled>()
  for (const adapter of options.adapters) {
    const id = schemaId(adapter.operation)
    const get = (part: string) => {
      const fn = ajv.getSchema(`${id}#/$defs/${part}`)
      if (fn === undefined) throw new Error(`adapter ${adapter.operation}: schema ${id}#/$defs/${part} is missing`)
      return fn
    }
    compiled.set(adapter.operation, { adapter, request: get('request'), busResponse: get('busResponse'), result: get('result'), latencies: [], next: 0 })
    breakerFor(adapter.provider)
  }

  const calls = new Counter({
    name: 'bus_adapter_calls_total',
    help: 'Adapter calls to the exchange bus, by adapter and outcome',
    labelNames: ['adapter', 'outcome'] as const,
    registers: options.registry === undefined ? [] : [options.registry],
  })
  const retries = new Counter({
    name: 'bus_adapter_retries_total',
    help: 'Retried read attempts, by adapter',
    labelNames: ['adapter'] as const,
    registers: options.registry === undefined ? [] : [options.registry],
  })
  const duration = new Histogram({
    name: 'bus_adapter_duration_seconds',
    help: 'Adapter call duration including retries, by adapter',
    labelNames: ['adapter'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: options.registry === undefined ? [] : [options.registry],
  })

  function invalidResponse (c: Compiled, errors: unknown, cause?: unknown): ProblemError {
    const first = (errors as Array<{ instancePath?: string, message?: string }> | null | undefined)?.[0]
    return new ProblemError('UPSTREAM_INVALID_RESPONSE',
      `${c.adapter.provider} answered ${c.adapter.operation} with data that breaks its schema` +
      (first === undefined ? '' : ` (${first.instancePath || '/'} ${first.message ?? ''})`), { cause })
  }

  // One attempt: returns the provider's body (and, on XYP, the envelope's
  // requestId), or throws ProblemError (final) or Transient (may be retried).
  async function attempt (c: Compiled, request: unknown, ctx: AdapterContext, timeoutMs: number, answered: { requestId: string }): Promise<unknown> {
    const a = c.adapter
    try {
      if (a.transport === 'rest') {
        const answer = await options.rest.call({
          service: a.service,
          body: a.toBus(request, ctx),
          timeoutMs,
          ...(ctx.xRoadId === undefined ? {} : { xRoadId: ctx.xRoadId }),
          ...(ctx.userId === undefined ? {} : { userId: ctx.userId }),
          ...(ctx.issue === undefined ? {} : { issue: ctx.issue }),
        })
        const body = answer.body as { type?: string, message?: string, detail?: string } | null
        if (answer.status >= 200 && answer.status < 300) return answer.body
        if (answer.status >= 500) {
          throw new Transient(new ProblemError('UPSTREAM_UNAVAILABLE', `${a.provider} failed (${answer.status} ${answer.xRoadError ?? body?.type ?? ''})`.trim()))
        }
        if (answer.xRoadError !== undefined) {
          throw new ProblemError('UPSTREAM_REFUSED', `the bus refused the call to ${a.service}: ${answer.xRoadError}`)
        }
        if (answer.status === 404) throw new ProblemError('UPSTREAM_NOT_FOUND', body?.message ?? `${a.provider} has no such record`)
        throw new ProblemError('UPSTREAM_REJECTED', body?.message ?? `${a.provider} rejected the request`, {
          extensions: { provider: a.provider, reason: body?.detail ?? body?.message ?? null },
        })
      }
      const { auth, fields } = a.toBus(request, ctx)
      const answer = await options.xyp.call({
        endpoint: a.endpoint,
        ...(a.namespace === undefined ? {} : { namespace: a.namespace }),
        operation: a.service,
        auth: withCitizenOtp(auth, ctx.citizenOtp),
        fields,
        timeoutMs,
      })
      answered.requestId = answer.requestId
      switch (answer.resultCode) {
        case 0: return answer.response ?? {}
        case 1: throw new ProblemError('UPSTREAM_NOT_FOUND', answer.resultMessage || `${a.provider} has no such record`)
        case 3: throw new ProblemError('UPSTREAM_REFUSED', `the bus refused ${a.service}: ${answer.resultMessage}`)
        default: throw new ProblemError('UPSTREAM_REJECTED', answer.resultMessage || `${a.provider} rejected the request`)
      }
    } catch (err) {
      if (err instanceof ProblemError || err instanceof Transient) throw err
      if (err instanceof BusTransportError) {
        switch (err.code) {
          case 'BUS_TIMEOUT': throw new ProblemError('UPSTREAM_TIMEOUT', `${a.provider} did not answer within ${timeoutMs} ms`, { cause: err })
          case 'BUS_NETWORK': throw new Transient(new ProblemError('UPSTREAM_UNAVAILABLE', `${a.provider} could not be reached`, { cause: err }))
          case 'BUS_BAD_SIGNATURE': throw new ProblemError('UPSTREAM_INVALID_SIGNATURE', err.message, { cause: err })
          case 'BUS_BAD_BODY': throw invalidResponse(c, null, err)
        }
      }
      if (err instanceof XypFaultError) {
        if (err.side === 'Server') throw new Transient(new ProblemError('UPSTREAM_UNAVAILABLE', `${a.provider} failed: ${err.faultCode}`, { cause: err }))
        throw new ProblemError('UPSTREAM_REFUSED', `the bus refused ${a.service}: ${err.faultCode}`, { cause: err })
      }
      throw err
    }
  }

  function record (c: Compiled, ms: number): void {
    c.latencies[c.next] = ms
    c.next = (c.next + 1) % WINDOW
  }

  function outcomeOf (err: unknown): Outcome {
    const code = err instanceof ProblemError ? err.code : ''
    switch (code) {
      case 'UPSTREAM_NOT_FOUND': return 'not_found'
      case 'UPSTREAM_REJECTED': return 'rejected'
      case 'UPSTREAM_REFUSED': return 'refused'
      case 'UPSTREAM_INVALID_RESPONSE': return 'invalid_response'
      case 'UPSTREAM_INVALID_SIGNATURE': return 'bad_signature'
      case 'UPSTREAM_TIMEOUT': return 'timeout'
      case 'UPSTREAM_CIRCUIT_OPEN': return 'circuit_open'
      default: return 'unavailable'
    }
  }

  return {
    has: (operation) => compiled.has(operation),
    breaker: breakerFor,
    blockedForMs (operation) {
      const c = compiled.get(operation)
      return c === undefined ? 0 : Math.max(0, breakerFor(c.adapter.provider).retryAfterMs)
    },

    async invoke<T> (operation: string, request: unknown, ctx: AdapterContext = {}): Promise<T> {
      const c = compiled.get(operation)
      if (c === undefined) throw new ProblemError('INTERNAL', `no adapter serves ${operation}`)
      if (!c.request(request)) {
        throw new ValidationProblem(fieldErrors('body', c.request.errors ?? []))
      }
      const a = c.adapter
      const breaker = breakerFor(a.provider)
      const started = performance.now()
      const attempts = a.kind === 'read' ? 1 + options.retry.retries : 1
      try {
        for (let i = 0; ; i++) {
          try {
            breaker.acquire()
          } catch (err) {
            const retryAfterMs = (err as CircuitOpenError).retryAfterMs
            throw new ProblemError('UPSTREAM_CIRCUIT_OPEN', `${a.provider} is failing; calls are paused for ${Math.ceil(retryAfterMs / 1000)} s`, {
              cause: err,
              headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
            })
          }
          const now = Date.now()
          const timeoutMs = ctx.deadline === undefined ? a.timeoutMs : Math.min(a.timeoutMs, ctx.deadline - now)
          if (timeoutMs <= 0) {
            breaker.release()
            throw new ProblemError('UPSTREAM_TIMEOUT', `no time was left to call ${a.provider}`)
          }
          try {
            const answered = { requestId: '' }
            const body = await attempt(c, request, ctx, timeoutMs, answered)
            breaker.success()
            if (!c.busResponse(body)) throw invalidResponse(c, c.busResponse.errors)
            const result = a.fromBus(body as never, answered)
            if (!c.result(result)) throw invalidResponse(c, c.result.errors)
            calls.inc({ adapter: operation, outcome: 'ok' })
            return result as T
          } catch (err) {
            if (err instanceof Transient) {
              breaker.failure()
              if (i + 1 < attempts) {
                retries.inc({ adapter: operation })
                // Full jitter: a random wait up to the capped exponential step.
                await sleep(Math.floor(random() * Math.min(options.retry.maxMs, options.retry.baseMs * 2 ** i)))
                continue
              }
              throw err.problem
            }
            // A provider that answered "not found" or "rejected" is healthy.
            const code = err instanceof ProblemError ? err.code : ''
            if (code === 'UPSTREAM_TIMEOUT') breaker.failure()
            else if (code === 'UPSTREAM_NOT_FOUND' || code === 'UPSTREAM_REJECTED') breaker.success()
            else breaker.release()
            throw err
          }
        }
      } catch (err) {
        calls.inc({ adapter: operation, outcome: outcomeOf(err) })
        throw err
      } finally {
        const ms = performance.now() - started
        record(c, ms)
        duration.observe({ adapter: operation }, ms / 1000)
      }
    },

    describe () {
      return [...compiled.values()].map((c) => {
        const sorted = c.latencies.slice().sort((x, y) => x - y)
        const round = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100)
        return {
          operation: c.adapter.operation,
          provider: c.adapter.provider,
          transport: c.adapter.transport,
          service: c.adapter.service,
          kind: c.adapter.kind,
          timeoutMs: c.adapter.timeoutMs,
          summary: c.adapter.summary,
          breaker: breakerFor(c.adapter.provider).state,
          latencyMs: { count: sorted.length, p50: round(percentile(sorted, 50)), p95: round(percentile(sorted, 95)), p99: round(percentile(sorted, 99)) },
        }
      })
    },
  }
}
