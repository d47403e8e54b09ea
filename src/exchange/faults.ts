// Faults on demand, per provider, so tests and benchmarks can exercise the
// gateway's timeouts, retries and circuit breakers.

export interface FaultSettings {
  // How long the provider takes to answer. It has the request from the start:
  // a write is kept even when the caller gives up during the wait.
  latencyMs: number
  // Up to this much more, drawn from the bus's (seeded) random source.
  jitterMs: number
  // Share of calls answered 500 Server.ServerProxy.ServiceFailed (XYP.ServiceFailed),
  // 0..1, after the latency; the provider never gets those requests.
  errorRate: number
  // Connections are closed without a response.
  down: boolean
  // The response body is sent in small chunks spread over this time.
  slowDripMs: number
}

export const NO_FAULTS: Readonly<FaultSettings> = Object.freeze({ latencyMs: 0, jitterMs: 0, errorRate: 0, down: false, slowDripMs: 0 })

export const FAULT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    latencyMs: { type: 'integer', minimum: 0, maximum: 600_000 },
    jitterMs: { type: 'integer', minimum: 0, maximum: 600_000 },
    errorRate: { type: 'number', minimum: 0, maximum: 1 },
    down: { type: 'boolean' },
    slowDripMs: { type: 'integer', minimum: 0, maximum: 600_000 },
  },
} as const

export class FaultBoard {
  readonly #faults = new Map<string, FaultSettings>()

  get (provider: string): FaultSettings {
    return this.#faults.get(provider) ?? NO_FAULTS
  }

  // Replaces the provider's faults; unspecified fields are off.
  set (provider: string, patch: Partial<FaultSettings>): FaultSettings {
    const next = { ...NO_FAULTS, ...patch }
    this.#faults.set(provider, next)
    return next
  }

  reset (provider?: string): void {
    if (provider === undefined) this.#faults.clear()
    else this.#faults.delete(provider)
  }

  all (): Record<string, FaultSettings> {
    return Object.fromEntries(this.#faults)
  }
}
