import { randomInt } from 'node:crypto'

// KHUR's citizen consent by one-time code. WS100008 (meta-1.5.0) "sends" the
// citizen a 6-digit code for a list of services; WS100009 checks it; a
// checked code then lets members call those citizen-1.5.0 services on the
// citizen's behalf (auth.citizen.otp) until the approval runs out. Nothing is
// sent for real: the codes land in this inbox, which /admin/otp-inbox shows.

export type OtpChannel = 'app' | 'email' | 'kiosk' | 'sms'

export interface OtpMessage {
  regnum: string
  code: string
  requestId: string
  channels: OtpChannel[]
  // Operations the code authorises; empty authorises every one.
  services: string[]
  sentAt: number
  expiresAt: number
  verifiedAt: number | null
  approvedUntil: number | null
  failedChecks: number
}

export interface OtpInboxOptions {
  now: () => number
  codeLifetimeMs: number
  approvalLifetimeMs: number
  // Oldest messages are dropped beyond this many.
  capacity?: number
}

export const DEFAULT_OTP_CODE_LIFETIME_MS = 300_000
export const DEFAULT_OTP_APPROVAL_LIFETIME_MS = 86_400_000
// After this many wrong guesses a code is void, so 6 digits cannot be walked.
export const OTP_MAX_FAILED_CHECKS = 5

export class OtpInbox {
  readonly #now: () => number
  readonly #codeLifetimeMs: number
  readonly #approvalLifetimeMs: number
  readonly #capacity: number
  // Oldest first, overall and per citizen.
  readonly #all: OtpMessage[] = []
  readonly #byRegnum = new Map<string, OtpMessage[]>()

  constructor (options: OtpInboxOptions) {
    this.#now = options.now
    this.#codeLifetimeMs = options.codeLifetimeMs
    this.#approvalLifetimeMs = options.approvalLifetimeMs
    this.#capacity = Math.max(1, options.capacity ?? 10_000)
  }

  // A new code for the citizen. Only a citizen's latest code can be checked,
  // so this supersedes any earlier one still waiting; approvals already
  // given stand.
  send (regnum: string, requestId: string, channels: OtpChannel[], services: string[]): OtpMessage {
    const sentAt = this.#now()
    const message: OtpMessage = {
      regnum,
      code: String(randomInt(100_000, 1_000_000)),
      requestId,
      channels,
      services,
      sentAt,
      expiresAt: sentAt + this.#codeLifetimeMs,
      verifiedAt: null,
      approvedUntil: null,
      failedChecks: 0,
    }
    this.#all.push(message)
    const mine = this.#byRegnum.get(regnum) ?? []
    mine.push(message)
    this.#byRegnum.set(regnum, mine)
    if (this.#all.length > this.#capacity) this.#drop()
    return message
  }

  // WS100009: true marks the citizen's latest code verified and starts the approval.
  check (regnum: string, otp: string): boolean {
    const latest = this.#byRegnum.get(regnum)?.at(-1)
    if (latest === undefined) return false
    const now = this.#now()
    if (latest.verifiedAt !== null || now >= latest.expiresAt || latest.failedChecks >= OTP_MAX_FAILED_CHECKS) return false
    if (otp !== latest.code) {
      latest.failedChecks++
      return false
    }
    latest.verifiedAt = now
    latest.approvedUntil = now + this.#approvalLifetimeMs
    return true
  }

  // Whether a checked code of the citizen still authorises the operation.
  approves (regnum: string, otp: string, operation: string): boolean {
    const now = this.#now()
    return (this.#byRegnum.get(regnum) ?? []).some((m) =>
      m.code === otp && m.verifiedAt !== null && m.approvedUntil !== null && now < m.approvedUntil &&
      (m.services.length === 0 || m.services.includes(operation)))
  }

  // Newest first.
  list (regnum?: string): OtpMessage[] {
    const source = regnum === undefined ? this.#all : (this.#byRegnum.get(regnum) ?? [])
    return source.slice().reverse()
  }

  #drop (): void {
    const oldest = this.#all.shift()
    if (oldest === undefined) return
    const mine = this.#byRegnum.get(oldest.regnum)
    mine?.shift()
    if (mine?.length === 0) this.#byRegnum.delete(oldest.regnum)
  }
}
