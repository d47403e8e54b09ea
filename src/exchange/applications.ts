import { createHash } from 'node:crypto'
import { ProviderError } from './errors.ts'
import { decide, rejectionReason, resultOf, type ApplicationResult, type Bilingual, type Outcome } from './outcomes.ts'
import type { Population } from './population.ts'

export { decide } from './outcomes.ts'

// One agency's application desk: the write side of a provider. Writes are
// idempotent twice over: a repeated X-Road-Id from the same client gets the
// first answer back unchanged, and a repeated applicationId never becomes a
// second application. `applicationsReceived` counts distinct applications,
// which makes exactly-once delivery checkable from outside.

export interface SubmitBody {
  applicationId: string
  service: string
  unit: string
  channel: string
  applicant: { regnum: string }
  form: Record<string, unknown>
}

export interface Receipt {
  applicationId: string
  agencyReference: string
  status: 'received'
  receivedAt: string
  // When the agency expects to have decided: the time to ask.
  expectedDecisionAt: string
}

export interface ApplicationStatus {
  applicationId: string
  agencyReference: string
  status: 'received' | 'approved' | 'rejected'
  // Why it was rejected, in Mongolian and English.
  reason?: Bilingual
  decidedAt?: string
  // What the agency gives on approval (outcomes.ts).
  result?: ApplicationResult
  expectedDecisionAt?: string
}

interface Application {
  applicationId: string
  agencyReference: string
  contentDigest: string
  receivedAtMs: number
  service: string
  form: Record<string, unknown>
  decision?: { status: Outcome, reason?: Bilingual, result?: ApplicationResult }
}

export interface DeskCounters {
  applicationsReceived: number
  submissions: number
  idempotentReplays: number
}

export class ApplicationDesk {
  readonly prefix: string
  readonly decisionDelayMs: number
  readonly now: () => number
  readonly population: Population | undefined
  // Decisions on demand (admin route): every decision from now on, or null for the usual mix.
  forcedOutcome: Outcome | null = null
  readonly #issued = new Set<string>()
  readonly #applications = new Map<string, Application>()
  readonly #byXRoadId = new Map<string, Receipt>()
  #submissions = 0
  #replays = 0

  constructor (prefix: string, options: { decisionDelayMs: number, now: () => number, population?: Population }) {
    this.prefix = prefix
    this.decisionDelayMs = options.decisionDelayMs
    this.now = options.now
    this.population = options.population
  }

  // Answers a repeated X-Road-Id from the cache, or undefined.
  replay (clientId: string, xRoadId: string): Receipt | undefined {
    const hit = this.#byXRoadId.get(`${clientId}\u0000${xRoadId}`)
    if (hit !== undefined) this.#replays++
    return hit
  }

  submit (clientId: string, xRoadId: string, body: SubmitBody): Receipt {
    this.#submissions++
    const contentDigest = createHash('sha256')
      .update(JSON.stringify([body.service, body.unit, body.applicant.regnum, body.form]))
      .digest('base64url')
    let app = this.#applications.get(body.applicationId)
    if (app === undefined) {
      app = {
        applicationId: body.applicationId,
        agencyReference: `${this.prefix}-${String(this.#applications.size + 1).padStart(7, '0')}`,
        contentDigest,
        receivedAtMs: this.now(),
        service: body.service,
        form: body.form,
      }
      this.#applications.set(app.applicationId, app)
    } else if (app.contentDigest !== contentDigest) {
      throw new ProviderError('Provider.Conflict', 'An application with this id and different content was already received', `applicationId ${body.applicationId}`)
    }
    const receipt: Receipt = {
      applicationId: app.applicationId,
      agencyReference: app.agencyReference,
      status: 'received',
      receivedAt: new Date(app.receivedAtMs).toISOString(),
      expectedDecisionAt: new Date(app.receivedAtMs + this.decisionDelayMs).toISOString(),
    }
    this.#byXRoadId.set(`${clientId}\u0000${xRoadId}`, receipt)
    return receipt
  }

  status (applicationId: string): ApplicationStatus {
    const app = this.#applications.get(applicationId)
    if (app === undefined) {
      throw new ProviderError('Provider.NotFound', 'No application with this id was received', `applicationId ${applicationId}`)
    }
    const decidedAtMs = app.receivedAtMs + this.decisionDelayMs
    if (this.now() < decidedAtMs) {
      return { applicationId, agencyReference: app.agencyReference, status: 'received', expectedDecisionAt: new Date(decidedAtMs).toISOString() }
    }
    // Decided once, when first asked after its time; the same answer ever after.
    if (app.decision === undefined) {
      const decision = this.forcedOutcome === null ? decide(applicationId) : { status: this.forcedOutcome, ...(this.forcedOutcome === 'rejected' ? { reason: rejectionReason(applicationId) } : {}) }
      app.decision = decision.status === 'approved'
        ? { status: 'approved', result: resultOf({ applicationId, prefix: this.prefix, service: app.service, form: app.form, decidedAtMs, issued: this.#issued, ...(this.population === undefined ? {} : { population: this.population }) }) }
        : decision
    }
    return {
      applicationId,
      agencyReference: app.agencyReference,
      status: app.decision.status,
      ...(app.decision.reason === undefined ? {} : { reason: app.decision.reason }),
      decidedAt: new Date(decidedAtMs).toISOString(),
      ...(app.decision.result === undefined ? {} : { result: app.decision.result }),
    }
  }

  counters (): DeskCounters {
    return { applicationsReceived: this.#applications.size, submissions: this.#submissions, idempotentReplays: this.#replays }
  }
}
