import { createHash } from 'node:crypto'
import { ProviderError } from './errors.ts'

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
}

export interface ApplicationStatus {
  applicationId: string
  agencyReference: string
  status: 'received' | 'approved' | 'rejected'
  reason?: string
  decidedAt?: string
}

interface Application {
  applicationId: string
  agencyReference: string
  contentDigest: string
  receivedAtMs: number
}

export interface DeskCounters {
  applicationsReceived: number
  submissions: number
  idempotentReplays: number
}

const REJECTION_REASONS = [
  'The applicant does not meet the eligibility conditions',
  'Supporting documents are missing or incomplete',
  'The applicant already holds this entitlement',
] as const

// Most applications are approved; the decision is a pure function of the id.
export function decide (applicationId: string): { status: 'approved' | 'rejected', reason?: string } {
  const digest = createHash('sha256').update(applicationId).digest()
  if ((digest[0] ?? 0) < 218) return { status: 'approved' }
  return { status: 'rejected', reason: REJECTION_REASONS[(digest[1] ?? 0) % REJECTION_REASONS.length] ?? REJECTION_REASONS[0] }
}

export class ApplicationDesk {
  readonly prefix: string
  readonly decisionDelayMs: number
  readonly now: () => number
  readonly #applications = new Map<string, Application>()
  readonly #byXRoadId = new Map<string, Receipt>()
  #submissions = 0
  #replays = 0

  constructor (prefix: string, options: { decisionDelayMs: number, now: () => number }) {
    this.prefix = prefix
    this.decisionDelayMs = options.decisionDelayMs
    this.now = options.now
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
      return { applicationId, agencyReference: app.agencyReference, status: 'received' }
    }
    const decision = decide(applicationId)
    return {
      applicationId,
      agencyReference: app.agencyReference,
      status: decision.status,
      ...(decision.reason === undefined ? {} : { reason: decision.reason }),
      decidedAt: new Date(decidedAtMs).toISOString(),
    }
  }

  counters (): DeskCounters {
    return { applicationsReceived: this.#applications.size, submissions: this.#submissions, idempotentReplays: this.#replays }
  }
}
