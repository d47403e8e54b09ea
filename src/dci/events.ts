import { createHash } from 'node:crypto'
import type { Database, Queryable } from '../db/database.ts'
import { mongolianDate } from '../stats/calendar.ts'
import type { DciEvent, DciPolicy } from './policy.ts'
import type { DciRegistry } from './spec.ts'
import { frequencyOf, type Frequency } from './frequency.ts'
import { createSubscriptionStore, matches, type EventFacts, type Subscription } from './subscriptions.ts'

// The events partners subscribe to, produced from the bus: an agency's
// approval of a birth, death or marriage registration or of a welfare
// enrolment, as the delivery worker recorded it. The feed walks application
// events in commit order and, for each matching active subscription, stores
// one notify transaction (its message_id fixed by event and subscription,
// so a walk repeated after a crash creates nothing twice). Jobs then sign
// and deliver them like every other DCI answer.

// What a notify carries about the event: the approved application's data
// the record is made of. Kept in the notify transaction until it is sent.
export interface EventData {
  eventId: string
  service: string
  unit: string
  applicant: string
  form: Record<string, unknown>
  result: Record<string, unknown> | null
  decidedAt: string
}

// One notify transaction: the events of one subscription that leave together
// (one, or those a frequency gathered). `event` is how a single one was kept
// before frequencies were honoured.
export interface NotifyRequest {
  subscription: string
  registry: DciRegistry
  eventType: string
  events?: EventData[]
  event?: EventData
}

export const eventsOf = (request: NotifyRequest): EventData[] => request.events ?? (request.event === undefined ? [] : [request.event])

const str = (v: unknown): string | undefined => typeof v === 'string' && v !== '' ? v : undefined

// Who the event is about, where and when, as filters see it.
export function factsOf (event: DciEvent, data: EventData): EventFacts & { subject: string | undefined } {
  const decided = mongolianDate(data.decidedAt)
  const related = (...v: unknown[]) => v.map(str).filter((s): s is string => s !== undefined)
  switch (event.subject) {
    case 'newborn': {
      const subject = str(data.result?.regnum)
      return { subject, uins: related(subject, data.applicant, data.form.otherParentRegnum), unit: str(data.form.birthUnit) ?? data.unit, date: str(data.form.birthDate) ?? decided }
    }
    case 'deceased': {
      const subject = str(data.form.deceasedRegnum)
      return { subject, uins: related(subject, data.applicant), unit: str(data.form.placeOfDeathUnit) ?? data.unit, date: str(data.form.dateOfDeath) ?? decided }
    }
    case 'applicant':
      return { subject: data.applicant, uins: related(data.applicant, data.form.spouseRegnum), unit: data.unit, date: decided }
  }
}

const identifier = (regnum: string) => [{ '@type': 'Identifier', identifier_type: 'UIN', identifier_value: regnum }]

// The notified record, of the subscription's record type, from what the
// agency approved; persons the event names stand as identifiers only.
export function notifyRecord (event: DciEvent, recordType: string, data: EventData): Record<string, unknown> {
  const facts = factsOf(event, data)
  const subject = facts.subject!
  const f = data.form
  const certificate = str(data.result?.certificateNumber)
  let person: Record<string, unknown>
  switch (event.subject) {
    case 'newborn':
      person = {
        identifier: identifier(subject),
        name: { '@type': 'Name', surname: f.childPatronymic, given_name: f.childGivenName, clan_name: f.clanName },
        sex: f.sex,
        birth_date: f.birthDate,
        birth_place: facts.unit,
        parent: [data.applicant, str(f.otherParentRegnum)].filter((p) => p !== undefined).map((p) => ({ identifier: identifier(p!) })),
        ...(certificate === undefined ? {} : { birth_certificate_number: certificate }),
      }
      break
    case 'deceased':
      person = {
        identifier: identifier(subject),
        death_date: facts.date,
        death_place: facts.unit,
        ...(certificate === undefined ? {} : { death_certificate_number: certificate }),
      }
      break
    case 'applicant':
      person = data.service === 'civil.marriage-registration'
        ? { identifier: identifier(subject), marital_status: 'married', marriage_date: facts.date, spouse: { identifier: identifier(String(f.spouseRegnum)) }, ...(certificate === undefined ? {} : { marriage_certificate_number: certificate }) }
        : { identifier: identifier(subject) }
      break
  }
  const enrolment = event.subject === 'applicant' && data.service !== 'civil.marriage-registration'
    ? [{ name: 'welfare_enrolments', value: [{ programme_code: data.service, status: 'active', enrolled_on: facts.date, ...(data.result === null ? {} : { benefit: data.result }) }] }]
    : undefined
  if (recordType === 'Member') {
    return {
      '@type': 'Member',
      member_identifier: identifier(subject),
      demographic_info: { '@type': 'SRPerson', ...person },
      ...(event.subject === 'newborn' ? { related_person: person.parent, relationship_head: 'child' } : {}),
      ...(enrolment === undefined ? {} : { additional_attributes: enrolment }),
    }
  }
  return { '@type': recordType, ...person, ...(enrolment === undefined ? {} : { additional_attributes: enrolment }) }
}

// Fixed by event and subscription: the same notify is never stored twice.
export function notifyMessageId (eventId: string, code: string): string {
  return `notify-${createHash('sha256').update(`${eventId}\n${code}`).digest('base64url').slice(0, 32)}`
}

interface EventRow {
  id: string
  xid: string
  at: string
  service: string
  unit: string
  applicant: string
  form: Record<string, unknown> | string
  result: Record<string, unknown> | string | null
}

export interface EventFeedOptions {
  db: Database
  policy: DciPolicy
  batchSize: number
  // Epoch milliseconds; Date.now by default. Frequencies are read against it.
  now?: () => number
  // At most this many events in one notify; a frequency's gathering beyond it leaves as several.
  maxEventsPerNotify: number
}

interface PendingRow { code: string, event_id: string, partner_id: string, registry: DciRegistry, event_type: string, fire_at: string | Date, event: string }

const INSERT_NOTIFIES = `INSERT INTO dci_transactions (partner_id, registry, action, message_id, transaction_id, correlation_id, request)
  SELECT p, r, 'notify', m, m, c, q FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS v(p, r, m, c, q)
  ON CONFLICT (partner_id, message_id) DO NOTHING`

export function createEventFeed (options: EventFeedOptions) {
  const { db, policy } = options
  const now = options.now ?? Date.now
  // Service → the (registry, event type) pairs its approval is.
  const byService = new Map<string, Array<{ registry: DciRegistry, type: string, event: DciEvent }>>()
  for (const registry of ['social', 'crvs'] as const) {
    for (const [type, event] of Object.entries(policy.events[registry])) {
      for (const service of event.services) byService.set(service, [...(byService.get(service) ?? []), { registry, type, event }])
    }
  }
  const services = [...byService.keys()]

  async function notifyBatch (tx: Queryable, rows: EventRow[]): Promise<number> {
    const store = createSubscriptionStore(tx)
    const wanted = new Map<DciRegistry, Set<string>>()
    for (const r of rows) for (const e of byService.get(r.service) ?? []) wanted.set(e.registry, (wanted.get(e.registry) ?? new Set()).add(e.type))
    const subscriptions: Subscription[] = []
    for (const [registry, types] of wanted) subscriptions.push(...await store.active(registry, [...types]))
    if (subscriptions.length === 0) return 0
    const notifies: Array<{ partnerId: string, registry: DciRegistry, messageId: string, code: string, request: string }> = []
    const pending: Array<{ code: string, eventId: string, partnerId: string, registry: DciRegistry, eventType: string, fireAt: string, event: string }> = []
    // A frequency that does not parse (stored before it was checked) notifies at once.
    const schedules = new Map<string, Frequency | null>()
    const scheduleOf = (s: Subscription): Frequency | null => {
      if (!schedules.has(s.code)) {
        const expression = (s.criteria.frequency as { frequency?: unknown } | undefined)?.frequency
        const parsed = typeof expression === 'string' ? frequencyOf(expression) : null
        schedules.set(s.code, typeof parsed === 'string' ? null : parsed)
      }
      return schedules.get(s.code)!
    }
    for (const r of rows) {
      const data: EventData = {
        eventId: r.id,
        service: r.service,
        unit: r.unit,
        applicant: r.applicant,
        form: typeof r.form === 'string' ? JSON.parse(r.form) : r.form,
        result: typeof r.result === 'string' ? JSON.parse(r.result) : r.result,
        decidedAt: new Date(r.at).toISOString(),
      }
      for (const e of byService.get(r.service) ?? []) {
        const facts = factsOf(e.event, data)
        // No subject (a birth the registry gave no number): nothing to notify.
        if (facts.subject === undefined) continue
        for (const s of subscriptions) {
          if (s.registry !== e.registry || s.eventType !== e.type) continue
          // Only what happened while the subscription was on, and within its window.
          if (s.createdAt > data.decidedAt || (s.startsAt !== null && data.decidedAt < s.startsAt) || (s.endsAt !== null && data.decidedAt > s.endsAt)) continue
          if (!matches(s.conditions, facts)) continue
          const schedule = scheduleOf(s)
          if (schedule !== null) {
            // The next time the frequency names, from now (an event read late joins the next one).
            const fireAt = schedule.next(new Date(Math.max(now(), Date.parse(data.decidedAt))))
            // A frequency that names no time to come notifies nothing more.
            if (fireAt !== null) pending.push({ code: s.code, eventId: r.id, partnerId: s.partnerId, registry: s.registry, eventType: e.type, fireAt: fireAt.toISOString(), event: JSON.stringify(data) })
            continue
          }
          const request: NotifyRequest = { subscription: s.code, registry: s.registry, eventType: e.type, events: [data] }
          notifies.push({ partnerId: s.partnerId, registry: s.registry, messageId: notifyMessageId(r.id, s.code), code: s.code, request: JSON.stringify(request) })
        }
      }
    }
    if (pending.length > 0) {
      await tx.query(
        `INSERT INTO dci_notify_pending (code, event_id, partner_id, registry, event_type, fire_at, event)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[]) ON CONFLICT DO NOTHING`,
        [pending.map((p) => p.code), pending.map((p) => p.eventId), pending.map((p) => p.partnerId), pending.map((p) => p.registry), pending.map((p) => p.eventType), pending.map((p) => p.fireAt), pending.map((p) => p.event)])
    }
    return insertNotifies(tx, notifies)
  }

  async function insertNotifies (tx: Queryable, notifies: Array<{ partnerId: string, registry: DciRegistry, messageId: string, code: string, request: string }>): Promise<number> {
    if (notifies.length === 0) return 0
    const { rowCount } = await tx.query(INSERT_NOTIFIES,
      [notifies.map((n) => n.partnerId), notifies.map((n) => n.registry), notifies.map((n) => n.messageId), notifies.map((n) => n.code), notifies.map((n) => n.request)])
    return rowCount ?? 0
  }

  // The waiting events whose time has come, as one notify transaction per
  // subscription and time, stored as they leave the waiting list.
  async function flushDue (): Promise<number> {
    return db.transaction(async (tx) => {
      const { rows } = await tx.query<PendingRow>(
        'DELETE FROM dci_notify_pending WHERE fire_at <= $1::timestamptz RETURNING code, event_id, partner_id, registry, event_type, fire_at, event',
        [new Date(now()).toISOString()])
      if (rows.length === 0) return 0
      const groups = new Map<string, PendingRow[]>()
      for (const r of rows) {
        const key = `${r.code}\n${new Date(r.fire_at).toISOString()}`
        groups.set(key, [...(groups.get(key) ?? []), r])
      }
      const notifies = [...groups].flatMap(([key, group]) => {
        group.sort((a, b) => Number(a.event_id) - Number(b.event_id))
        const chunks: PendingRow[][] = []
        for (let i = 0; i < group.length; i += options.maxEventsPerNotify) chunks.push(group.slice(i, i + options.maxEventsPerNotify))
        return chunks.map((chunk) => {
          const first = chunk[0]!
          const request: NotifyRequest = { subscription: first.code, registry: first.registry, eventType: first.event_type, events: chunk.map((g) => JSON.parse(g.event) as EventData) }
          // Fixed by what it carries: never stored twice, and no two batches share an id.
          const messageId = notifyMessageId(`${key}\n${chunk.map((g) => g.event_id).join(',')}`, first.code)
          return { partnerId: first.partner_id, registry: first.registry, messageId, code: first.code, request: JSON.stringify(request) }
        })
      })
      return insertNotifies(tx, notifies)
    })
  }

  return {
    // One walk: every approval committed since the last walk, up to the
    // horizon; the notify transactions it stored. Another process walking
    // at the same time makes this one return 0.
    async feed (): Promise<number> {
      let stored = 0
      for (;;) {
        const more = await db.transaction(async (tx) => {
          const { rows: [cursor] } = await tx.query<{ event_xid: string, event_id: string }>('SELECT event_xid::text, event_id::text FROM dci_event_cursor FOR UPDATE SKIP LOCKED')
          if (cursor === undefined) return false
          const { rows: [h] } = await tx.query<{ horizon: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon')
          const horizon = h!.horizon
          const { rows } = await tx.query<EventRow>(
            `SELECT e.id::text, e.xid::text, e.at, a.service, a.unit, a.applicant_regnum AS applicant, a.form, a.result
             FROM application_events e JOIN applications a ON a.id = e.application_id
             WHERE (e.xid, e.id) > ($1::xid8, $2::bigint) AND e.xid < $3::xid8
               AND e.status = 'decided' AND a.decision = 'approved' AND a.service = ANY($4::text[])
             ORDER BY e.xid, e.id LIMIT $5`,
            [cursor.event_xid, cursor.event_id, horizon, services, options.batchSize])
          stored += await notifyBatch(tx, rows)
          const full = rows.length === options.batchSize
          // A short batch read everything below the horizon.
          const last = full ? rows[rows.length - 1]! : { xid: horizon, id: '0' }
          await tx.query('UPDATE dci_event_cursor SET event_xid = $1::xid8, event_id = $2::bigint, fed_at = now()', [last.xid, last.id])
          return full
        })
        if (!more) return stored + await flushDue()
      }
    },

    flushDue,
  }
}

export type EventFeed = ReturnType<typeof createEventFeed>
