// A circuit breaker per provider. After `failureThreshold` consecutive
// failures it opens and calls fail at once; after `coolDownMs` one probe is
// let through (half-open), and its outcome closes or reopens the circuit.

export type BreakerState = 'closed' | 'open' | 'half-open'

// While one probe is out, other calls are told to come back this much later.
const PROBE_WAIT_MS = 1000

export interface BreakerOptions {
  failureThreshold: number
  coolDownMs: number
  now?: () => number
}

export class CircuitOpenError extends Error {
  readonly code = 'CIRCUIT_OPEN'
  readonly retryAfterMs: number
  constructor (name: string, retryAfterMs: number) {
    super(`the circuit to ${name} is open`)
    this.name = 'CircuitOpenError'
    this.retryAfterMs = retryAfterMs
  }
}

export class CircuitBreaker {
  readonly name: string
  #options: Required<BreakerOptions>
  #state: BreakerState = 'closed'
  #failures = 0
  #openedAt = 0
  #probing = false

  constructor (name: string, options: BreakerOptions) {
    this.name = name
    this.#options = { now: Date.now, ...options }
  }

  get state (): BreakerState {
    if (this.#state === 'open' && this.#options.now() - this.#openedAt >= this.#options.coolDownMs) return 'half-open'
    return this.#state
  }

  // How long until a call may go out: 0 when one may go now.
  get retryAfterMs (): number {
    const state = this.state
    if (state === 'closed') return 0
    if (state === 'open') return this.#openedAt + this.#options.coolDownMs - this.#options.now()
    return this.#probing ? PROBE_WAIT_MS : 0
  }

  // Throws CircuitOpenError when the call must not go out.
  acquire (): void {
    const state = this.state
    if (state === 'closed') return
    if (state === 'open') {
      throw new CircuitOpenError(this.name, this.#openedAt + this.#options.coolDownMs - this.#options.now())
    }
    // half-open: one probe at a time
    if (this.#probing) throw new CircuitOpenError(this.name, PROBE_WAIT_MS)
    this.#state = 'half-open'
    this.#probing = true
  }

  success (): void {
    this.#state = 'closed'
    this.#failures = 0
    this.#probing = false
  }

  failure (): void {
    this.#probing = false
    this.#failures++
    if (this.#state === 'half-open' || this.#failures >= this.#options.failureThreshold) {
      this.#state = 'open'
      this.#openedAt = this.#options.now()
    }
  }

  // A call that neither proves nor disproves the provider's health (our own
  // request was refused, say) releases a probe without changing the state.
  release (): void {
    if (this.#state === 'half-open') {
      this.#probing = false
    }
  }
}
