import { randomUUID } from 'node:crypto'
import type { Database, Queryable } from '../db/index.ts'
import type { AuditEntry } from '../audit/record.ts'
import type { AdapterContext } from '../adapters/types.ts'
import { consentNeeded, rank, type ConsentLevel, type Policies, type PurposeDef } from '../citizen/policy.ts'
import { ProblemError } from '../errors/problem-error.ts'
import type { SecretBox } from '../secrets/sealed.ts'

// Citizens' consents to look-ups. An officer asks for one for a purpose and a
// case: by a one-time code that KHUR sends the citizen (WS100008) and checks
// (WS100009), or as a request the citizen approves in a portal. A citizen may
// also give a standing consent for a purpose from a portal. PostgreSQL holds
// every consent and every look-up reads it there, so a revocation holds at
// once in every gateway process. Each change goes into the audit chain in the
// transaction that makes it.

export type ConsentMethod = 'otp' | 'portal'
export type ConsentState = 'pending' | 'active' | 'refused' | 'revoked' | 'expired'

export interface ConsentSettings {
  // Wrong codes in a row, per citizen and per officer, before the key is locked.
  otpMaxFailures: number
  otpLockMs: number
  // How long a sent code may be checked (KHUR's own code lifetime).
  otpCodeMs: number
  // How long a request waits for the citizen's approval in a portal.
  requestMs: number
}

export interface Consent {
  id: string
  citizen: string
  purpose: string
  sources: string[]
  fields: Record<string, string[]>
  method: ConsentMethod
  state: ConsentState
  case: string | null
  askedBy: { agency: string | null, unit: string | null, officer: string | null, portal: string | null }
  // A partner system's purpose: the partner it is for, or null for any granted the purpose.
  partner: string | null
  busRequestId: string | null
  createdAt: string
  pendingUntil: string | null
  givenAt: string | null
  expiresAt: string | null
  endedAt: string | null
}

export interface ConsentUse {
  auditSeq: number
  at: string
  // A partner system's look-up: its id and registered name.
  partner: { id: string, name: string } | null
  agency: string | null
  unit: string | null
  case: string | null
  sources: string[]
  result: string
}

export interface Officer { sub: string, agency: string, unit: string }
export interface RequestContext { requestId: string, clientIp: string | null }

// What a look-up under a consent carries: its id for the audit record and,
// for a code, the code for XYP's auth.citizen.
export interface UsableConsent { id: string, method: ConsentMethod, otp: string | null }

export interface ConsentDeps {
  db: Database
  appendWithin: (tx: Queryable, entries: AuditEntry[]) => Promise<unknown>
  // The bus, through the schema-checked adapters (khur.registerOtp, khur.checkOtp).
  invoke: <T>(operation: string, body: unknown, ctx: AdapterContext) => Promise<T>
  // The KHUR XYP service behind an operation, when it goes over XYP.
  xypServiceOf: (operation: string) => string | undefined
  policies: Policies
  // Partner systems' purposes (DCI face): consent is given for them from a portal only.
  partnerPurposes: Record<string, { name: PurposeDef['name'], consent: { needs: 'none' | 'portal', legalBasis?: PurposeDef['name'], validForHours?: number } }>
  secrets: SecretBox
  settings: ConsentSettings
  now?: () => number
}

interface Row {
  id: string
  citizen: string
  purpose: string
  sources: string[]
  fields: Record<string, string[]>
  method: ConsentMethod
  state: ConsentState
  case_ref: string | null
  asked_agency: string | null
  asked_unit: string | null
  asked_officer: string | null
  asked_portal: string | null
  partner: string | null
  bus_request_id: string | null
  otp_sealed: string | null
  created_ms: string
  pending_until_ms: string | null
  given_ms: string | null
  expires_ms: string | null
  ended_ms: string | null
}

const iso = (ms: string | number | null): string | null => ms === null ? null : new Date(Number(ms)).toISOString()

function toConsent (r: Row): Consent {
  return {
    id: r.id,
    citizen: r.citizen,
    purpose: r.purpose,
    sources: r.sources,
    fields: r.fields,
    method: r.method,
    state: r.state,
    case: r.case_ref,
    askedBy: { agency: r.asked_agency, unit: r.asked_unit, officer: r.asked_officer, portal: r.asked_portal },
    partner: r.partner,
    busRequestId: r.bus_request_id,
    createdAt: iso(r.created_ms)!,
    pendingUntil: iso(r.pending_until_ms),
    givenAt: iso(r.given_ms),
    expiresAt: iso(r.expires_ms),
    endedAt: iso(r.ended_ms),
  }
}

const context = (id: string) => `consent:${id}`

export function createConsents (deps: ConsentDeps) {
  const { db, policies, settings } = deps
  const now = deps.now ?? Date.now

  function purposeOf (code: string): PurposeDef {
    const purpose = policies.purposes[code]
    if (purpose === undefined) throw new ProblemError('VALIDATION_FAILED', `unknown purpose ${code}`)
    return purpose
  }

  function entry (c: Pick<Consent, 'id' | 'citizen' | 'purpose' | 'case' | 'method' | 'sources'>, action: string, who: { actor: string, unit?: string | null, agency?: string | null }, ctx: RequestContext, more: Record<string, unknown> = {}): AuditEntry {
    return {
      recordType: 'consent_change',
      at: new Date(now()).toISOString(),
      requestId: ctx.requestId,
      actor: who.actor,
      actorUnit: who.unit ?? null,
      actorAgency: who.agency ?? null,
      purpose: c.purpose,
      caseRef: c.case,
      citizen: c.citizen,
      sourcesAsked: c.sources,
      sourcesAnswered: [],
      result: action,
      clientIp: ctx.clientIp,
      details: { consent: c.id, method: c.method, ...more },
    }
  }

  // Consents whose time is up become expired, each change audited; done
  // before a citizen's consents are read, so what is read is current.
  async function expireDue (tx: Queryable, citizen: string, ctx: RequestContext): Promise<void> {
    const at = now()
    const { rows } = await tx.query<Row>(
      `UPDATE consents SET state = 'expired', ended_ms = $2, otp_sealed = NULL
       WHERE citizen = $1 AND ((state = 'active' AND expires_ms <= $2) OR (state = 'pending' AND pending_until_ms <= $2))
       RETURNING *`, [citizen, at])
    if (rows.length > 0) await deps.appendWithin(tx, rows.map((r) => entry(toConsent(r), 'expired', { actor: 'system' }, ctx)))
  }

  function coveredFields (purpose: PurposeDef, sources: string[]): Record<string, string[]> {
    return Object.fromEntries(sources.map((s) => [s, purpose.sources[s]!]))
  }

  function checkSources (code: string, purpose: PurposeDef, asked: string[] | undefined): string[] {
    const allowed = Object.keys(purpose.sources)
    const sources = asked ?? allowed
    for (const s of sources) {
      if (!allowed.includes(s)) throw new ProblemError('SOURCE_FORBIDDEN', `the purpose ${code} does not cover the source ${s}`, { extensions: { source: s, purpose: code } })
    }
    return sources
  }

  // Locks are per key: one citizen, one officer. An attempt counts before
  // the bus is asked, so attempts made at once cannot slip past the limit.
  async function attempt (keys: string[]): Promise<{ failures: number, lockedUntil: number }> {
    const at = now()
    const { rows } = await db.query<{ failures: number, locked_until_ms: string }>(
      `INSERT INTO consent_otp_guard (key, failures, locked_until_ms) SELECT k, 1, 0 FROM unnest($1::text[]) AS k
       ON CONFLICT (key) DO UPDATE SET failures = CASE WHEN consent_otp_guard.locked_until_ms > $2 THEN consent_otp_guard.failures ELSE consent_otp_guard.failures + 1 END
       RETURNING failures, locked_until_ms`, [keys, at])
    return {
      failures: Math.max(...rows.map((r) => r.failures)),
      lockedUntil: Math.max(...rows.map((r) => Number(r.locked_until_ms))),
    }
  }

  function lockedError (until: number): ProblemError {
    const seconds = Math.max(1, Math.ceil((until - now()) / 1000))
    return new ProblemError('OTP_LOCKED', `too many wrong codes for this citizen or officer; try again in ${seconds} s`, {
      headers: { 'retry-after': String(seconds) },
      extensions: { lockedUntil: new Date(until).toISOString() },
    })
  }

  async function guardLocked (keys: string[]): Promise<void> {
    const { rows } = await db.query<{ locked_until_ms: string }>('SELECT locked_until_ms FROM consent_otp_guard WHERE key = ANY($1::text[])', [keys])
    const until = Math.max(0, ...rows.map((r) => Number(r.locked_until_ms)))
    if (until > now()) throw lockedError(until)
  }

  const guardKeys = (citizen: string, officer: Officer) => [`citizen:${citizen}`, `officer:${officer.agency}:${officer.sub}`]

  async function owned (tx: Queryable, id: string, citizen: string): Promise<Row> {
    const { rows } = await tx.query<Row>('SELECT * FROM consents WHERE id = $1 AND citizen = $2 FOR UPDATE', [id, citizen])
    // Another citizen's consent is as absent as one that never was.
    if (rows[0] === undefined) throw new ProblemError('NOT_FOUND', `no consent ${id} of yours`)
    return rows[0]
  }

  function notNeeded (code: string, law: PurposeDef['name'] | undefined): ProblemError {
    return new ProblemError('CONSENT_NOT_NEEDED', `the purpose ${code} needs no consent: ${law?.en ?? 'the law allows it'}`, { extensions: { purpose: code } })
  }

  function validForMs (purpose: PurposeDef): number {
    return (purpose.consent.validForHours ?? 0) * 3_600_000
  }

  return {
    // An officer asks: for `otp` KHUR sends the citizen a code now; for
    // `portal` the request waits for the citizen in their portal.
    async request (input: { citizen: string, purpose: string, caseRef: string, method: ConsentMethod, sources?: string[], officer: Officer } & RequestContext): Promise<Consent> {
      const purpose = purposeOf(input.purpose)
      if (!purpose.agencies.includes(input.officer.agency)) {
        throw new ProblemError('PURPOSE_FORBIDDEN', `officers of ${input.officer.agency} may not use the purpose ${input.purpose}`, { extensions: { purpose: input.purpose } })
      }
      const sources = checkSources(input.purpose, purpose, input.sources)
      const need = consentNeeded(purpose, sources)
      if (need.level === 'none') throw notNeeded(input.purpose, purpose.consent.legalBasis)
      if (rank(input.method) < rank(need.level)) {
        throw new ProblemError('CONSENT_METHOD_TOO_WEAK', `${need.because.length > 0 ? need.because.join(', ') : `the purpose ${input.purpose}`} needs consent by ${need.level}, not ${input.method}`, {
          extensions: { needs: need.level, because: need.because, errors: [{ in: 'body', pointer: '/method', detail: `must be ${need.level}` }] },
        })
      }
      const id = randomUUID()
      const at = now()
      let busRequestId: string | null = null
      if (input.method === 'otp') {
        await guardLocked(guardKeys(input.citizen, input.officer))
        // The code authorises exactly the XYP services behind the sources asked.
        const services = sources.map((s) => deps.xypServiceOf(policies.sources[s]!.operation)).filter((s): s is string => s !== undefined)
        const sent = await deps.invoke<{ requestId: string }>('khur.registerOtp', { regnum: input.citizen, services }, {
          xRoadId: input.requestId, userId: input.officer.sub, issue: input.caseRef, citizenRegnum: input.citizen,
        })
        busRequestId = sent.requestId
      }
      const pendingUntil = at + (input.method === 'otp' ? settings.otpCodeMs : settings.requestMs)
      return db.transaction(async (tx) => {
        // KHUR checks only a citizen's latest code: earlier ones waiting are void.
        if (input.method === 'otp') {
          const { rows: superseded } = await tx.query<Row>(
            `UPDATE consents SET state = 'expired', ended_ms = $2 WHERE citizen = $1 AND method = 'otp' AND state = 'pending' RETURNING *`, [input.citizen, at])
          if (superseded.length > 0) {
            await deps.appendWithin(tx, superseded.map((r) => entry(toConsent(r), 'superseded', { actor: input.officer.sub, unit: input.officer.unit, agency: input.officer.agency }, input, { by: id })))
          }
        }
        const { rows } = await tx.query<Row>(
          `INSERT INTO consents (id, citizen, purpose, sources, fields, method, state, case_ref, asked_agency, asked_unit, asked_officer, bus_request_id, created_ms, pending_until_ms)
           VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $10, $11, $12, $13) RETURNING *`,
          [id, input.citizen, input.purpose, sources, JSON.stringify(coveredFields(purpose, sources)), input.method, input.caseRef,
            input.officer.agency, input.officer.unit, input.officer.sub, busRequestId, at, pendingUntil])
        const consent = toConsent(rows[0]!)
        await deps.appendWithin(tx, [entry(consent, input.method === 'otp' ? 'otp_sent' : 'requested', { actor: input.officer.sub, unit: input.officer.unit, agency: input.officer.agency }, input,
          busRequestId === null ? {} : { busRequestId })])
        return consent
      })
    },

    // The code the citizen read out, checked by KHUR. Wrong codes count
    // against the citizen and the officer alike.
    async checkOtp (input: { id: string, code: string, officer: Officer } & RequestContext): Promise<Consent> {
      const { rows } = await db.query<Row>('SELECT * FROM consents WHERE id = $1', [input.id])
      const row = rows[0]
      if (row === undefined || row.asked_agency !== input.officer.agency || row.asked_unit !== input.officer.unit) throw new ProblemError('NOT_FOUND', `no consent ${input.id} asked for by this OSS unit`)
      if (row.method !== 'otp') throw new ProblemError('CONSENT_NOT_PENDING', 'this consent is not given by a one-time code')
      if (row.state !== 'pending' || Number(row.pending_until_ms) <= now()) {
        throw new ProblemError('CONSENT_NOT_PENDING', row.state === 'pending' ? 'the code has expired; ask for a new one' : `the consent is ${row.state}`, { extensions: { state: row.state } })
      }
      const keys = guardKeys(row.citizen, input.officer)
      const counted = await attempt(keys)
      if (counted.lockedUntil > now()) throw lockedError(counted.lockedUntil)
      let match: boolean
      try {
        match = (await deps.invoke<{ match: boolean }>('khur.checkOtp', { regnum: row.citizen, otp: input.code }, {
          xRoadId: input.requestId, userId: input.officer.sub, ...(row.case_ref === null ? {} : { issue: row.case_ref }), citizenRegnum: row.citizen,
        })).match
      } catch (err) {
        // The bus did not say: the attempt does not count.
        await db.query('UPDATE consent_otp_guard SET failures = GREATEST(failures - 1, 0) WHERE key = ANY($1::text[])', [keys])
        throw err
      }
      const consent = toConsent(row)
      const who = { actor: input.officer.sub, unit: input.officer.unit, agency: input.officer.agency }
      if (!match) {
        const locking = counted.failures >= settings.otpMaxFailures
        const until = now() + settings.otpLockMs
        await db.transaction(async (tx) => {
          if (locking) await tx.query('UPDATE consent_otp_guard SET failures = 0, locked_until_ms = $2 WHERE key = ANY($1::text[])', [keys, until])
          await deps.appendWithin(tx, [entry(consent, locking ? 'otp_locked' : 'otp_wrong', who, input, locking ? { lockedUntil: new Date(until).toISOString() } : { failures: counted.failures })])
        })
        if (locking) throw lockedError(until)
        const left = settings.otpMaxFailures - counted.failures
        throw new ProblemError('OTP_WRONG', `the code does not match; ${left} ${left === 1 ? 'try' : 'tries'} left before the citizen's codes are locked`, {
          extensions: { attemptsLeft: left, errors: [{ in: 'body', pointer: '/code', detail: 'does not match the code KHUR sent' }] },
        })
      }
      const purpose = purposeOf(row.purpose)
      const at = now()
      return db.transaction(async (tx) => {
        const { rows: given } = await tx.query<Row>(
          `UPDATE consents SET state = 'active', given_ms = $2, expires_ms = $3, otp_sealed = $4
           WHERE id = $1 AND state = 'pending' RETURNING *`, [row.id, at, at + validForMs(purpose), deps.secrets.seal(input.code, context(row.id))])
        if (given[0] === undefined) throw new ProblemError('CONSENT_NOT_PENDING', 'the consent changed meanwhile', { extensions: { state: 'unknown' } })
        await tx.query('UPDATE consent_otp_guard SET failures = 0 WHERE key = ANY($1::text[])', [keys])
        const c = toConsent(given[0])
        await deps.appendWithin(tx, [entry(c, 'given', who, input, { busRequestId: c.busRequestId, expiresAt: c.expiresAt })])
        return c
      })
    },

    // For the officer who asked (same agency and unit): to follow a request.
    async forUnit (id: string, officer: Officer): Promise<Consent> {
      const { rows } = await db.query<Row>('SELECT * FROM consents WHERE id = $1 AND asked_agency = $2 AND asked_unit = $3', [id, officer.agency, officer.unit])
      if (rows[0] === undefined) throw new ProblemError('NOT_FOUND', `no consent ${id} asked for by this OSS unit`)
      const c = toConsent(rows[0])
      // Shown as it stands now, even before anything wrote the expiry down.
      const due = (c.state === 'active' && Date.parse(c.expiresAt!) <= now()) || (c.state === 'pending' && Date.parse(c.pendingUntil!) <= now())
      return due ? { ...c, state: 'expired' } : c
    },

    // The consent a look-up can go ahead under, or what it lacks. Read from
    // the database every time: revoked means refused, in every process.
    async usable (input: { citizen: string, purpose: string, caseRef: string, agency: string, sources: string[] } & RequestContext): Promise<{ consent: UsableConsent } | { needs: ConsentLevel, because: string[] } | { none: true }> {
      const purpose = purposeOf(input.purpose)
      const need = consentNeeded(purpose, input.sources)
      if (need.level === 'none') return { none: true }
      const methods = (['otp', 'portal'] as const).filter((m) => rank(m) >= rank(need.level))
      const row = await db.transaction(async (tx) => {
        await expireDue(tx, input.citizen, input)
        const { rows } = await tx.query<Row>(
          `SELECT * FROM consents
           WHERE citizen = $1 AND purpose = $2 AND state = 'active' AND expires_ms > $3 AND method = ANY($4::text[]) AND sources @> $5::text[]
             AND (case_ref IS NULL OR (case_ref = $6 AND asked_agency = $7))
           ORDER BY given_ms DESC LIMIT 1`,
          [input.citizen, input.purpose, now(), methods, input.sources, input.caseRef, input.agency])
        return rows[0]
      })
      if (row === undefined) return { needs: need.level, because: need.because }
      const otp = row.otp_sealed === null ? null : deps.secrets.open(row.otp_sealed, context(row.id))
      return { consent: { id: row.id, method: row.method, otp } }
    },

    // For a partner system's look-up (DCI face): a standing consent for the
    // purpose, for this partner or for any. Read from the database every time.
    async usableByPartner (input: { citizen: string, purpose: string, partner: string } & RequestContext): Promise<{ consent: { id: string, givenAt: string } } | { needs: 'portal' } | { none: true }> {
      const purpose = deps.partnerPurposes[input.purpose]
      if (purpose === undefined || purpose.consent.needs === 'none') return { none: true }
      const row = await db.transaction(async (tx) => {
        await expireDue(tx, input.citizen, input)
        const { rows } = await tx.query<Row>(
          `SELECT * FROM consents
           WHERE citizen = $1 AND purpose = $2 AND state = 'active' AND expires_ms > $3 AND case_ref IS NULL AND (partner IS NULL OR partner = $4)
           ORDER BY given_ms DESC LIMIT 1`,
          [input.citizen, input.purpose, now(), input.partner])
        return rows[0]
      })
      return row === undefined ? { needs: 'portal' } : { consent: { id: row.id, givenAt: iso(row.given_ms)! } }
    },

    // The citizen's consents, newest first, each with the look-ups made under it.
    async ofCitizen (citizen: string, ctx: RequestContext, limit: number): Promise<Array<Consent & { uses: ConsentUse[] }>> {
      const rows = await db.transaction(async (tx) => {
        await expireDue(tx, citizen, ctx)
        return (await tx.query<Row>('SELECT * FROM consents WHERE citizen = $1 ORDER BY created_ms DESC, id LIMIT $2', [citizen, limit])).rows
      })
      if (rows.length === 0) return []
      const { rows: uses } = await db.query<{ seq: string, at: string | Date, actor: string, actor_agency: string | null, actor_unit: string | null, case_ref: string | null, sources_answered: string[], result: string, consent: string, partner_name: string | null }>(
        `SELECT seq, at, actor, actor_agency, actor_unit, case_ref, sources_answered, result, details->>'consent' AS consent, details->>'partnerName' AS partner_name FROM audit_log
         WHERE citizen = $1 AND record_type = 'citizen_lookup' AND details->>'consent' = ANY($2::text[]) ORDER BY seq DESC`,
        [citizen, rows.map((r) => r.id)])
      return rows.map((r) => ({
        ...toConsent(r),
        uses: uses.filter((u) => u.consent === r.id).map((u) => ({
          auditSeq: Number(u.seq),
          at: new Date(u.at).toISOString(),
          partner: u.actor.startsWith('partner:') ? { id: u.actor.slice('partner:'.length), name: u.partner_name ?? '' } : null,
          agency: u.actor_agency,
          unit: u.actor_unit,
          case: u.case_ref,
          sources: u.sources_answered,
          result: u.result,
        })),
      }))
    },

    // The citizen answers a request from a portal.
    async decide (input: { id: string, citizen: string, portal: string, approve: boolean } & RequestContext): Promise<Consent> {
      return db.transaction(async (tx) => {
        await expireDue(tx, input.citizen, input)
        const row = await owned(tx, input.id, input.citizen)
        if (row.state !== 'pending') throw new ProblemError('CONSENT_NOT_PENDING', `the consent is ${row.state}`, { extensions: { state: row.state } })
        if (row.method !== 'portal') throw new ProblemError('CONSENT_NOT_PENDING', 'this request is answered with the code KHUR sent you, at the counter', { extensions: { state: row.state } })
        const at = now()
        const { rows } = input.approve
          ? await tx.query<Row>("UPDATE consents SET state = 'active', given_ms = $2, expires_ms = $3, asked_portal = $4 WHERE id = $1 RETURNING *", [row.id, at, at + validForMs(purposeOf(row.purpose)), input.portal])
          : await tx.query<Row>("UPDATE consents SET state = 'refused', ended_ms = $2, asked_portal = $3 WHERE id = $1 RETURNING *", [row.id, at, input.portal])
        const c = toConsent(rows[0]!)
        await deps.appendWithin(tx, [entry(c, input.approve ? 'given' : 'refused', { actor: `citizen@${input.portal}` }, input, input.approve ? { expiresAt: c.expiresAt } : {})])
        return c
      })
    },

    // A standing consent given from a portal: any case, any agency the purpose allows.
    // For a partner system's purpose, `partner` narrows it to one partner.
    async stand (input: { citizen: string, portal: string, purpose: string, sources?: string[], partner?: string } & RequestContext): Promise<Consent> {
      const forPartners = deps.partnerPurposes[input.purpose]
      let sources: string[] = []
      let fields: Record<string, string[]> = {}
      let lifetimeMs: number
      if (forPartners !== undefined) {
        if (forPartners.consent.needs === 'none') throw notNeeded(input.purpose, forPartners.consent.legalBasis)
        if (input.sources !== undefined) throw new ProblemError('VALIDATION_FAILED', 'a partner system\'s purpose covers its record types, not sources', { extensions: { errors: [{ in: 'body', pointer: '/sources', detail: 'not for a partner system\'s purpose' }] } })
        lifetimeMs = (forPartners.consent.validForHours ?? 0) * 3_600_000
      } else {
        if (input.partner !== undefined) throw new ProblemError('VALIDATION_FAILED', `${input.purpose} is not a partner system's purpose`, { extensions: { errors: [{ in: 'body', pointer: '/partner', detail: 'only with a partner system\'s purpose' }] } })
        const purpose = purposeOf(input.purpose)
        sources = checkSources(input.purpose, purpose, input.sources)
        if (consentNeeded(purpose, sources).level === 'none') throw notNeeded(input.purpose, purpose.consent.legalBasis)
        fields = coveredFields(purpose, sources)
        lifetimeMs = validForMs(purpose)
      }
      const at = now()
      return db.transaction(async (tx) => {
        const { rows } = await tx.query<Row>(
          `INSERT INTO consents (id, citizen, purpose, sources, fields, method, state, asked_portal, partner, created_ms, given_ms, expires_ms)
           VALUES ($1, $2, $3, $4, $5, 'portal', 'active', $6, $7, $8, $8, $9) RETURNING *`,
          [randomUUID(), input.citizen, input.purpose, sources, JSON.stringify(fields), input.portal, input.partner ?? null, at, at + lifetimeMs])
        const c = toConsent(rows[0]!)
        await deps.appendWithin(tx, [entry(c, 'given', { actor: `citizen@${input.portal}` }, input, { standing: true, expiresAt: c.expiresAt })])
        return c
      })
    },

    // Withdrawn by the citizen: a pending request or a consent given.
    async revoke (input: { id: string, citizen: string, portal: string } & RequestContext): Promise<Consent> {
      return db.transaction(async (tx) => {
        await expireDue(tx, input.citizen, input)
        const row = await owned(tx, input.id, input.citizen)
        if (row.state !== 'active' && row.state !== 'pending') throw new ProblemError('CONSENT_NOT_PENDING', `the consent is already ${row.state}`, { extensions: { state: row.state } })
        const { rows } = await tx.query<Row>("UPDATE consents SET state = 'revoked', ended_ms = $2, otp_sealed = NULL WHERE id = $1 RETURNING *", [row.id, now()])
        const c = toConsent(rows[0]!)
        await deps.appendWithin(tx, [entry(c, 'revoked', { actor: `citizen@${input.portal}` }, input)])
        return c
      })
    },
  }
}

export type Consents = ReturnType<typeof createConsents>
