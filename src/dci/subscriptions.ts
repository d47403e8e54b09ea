import { randomUUID } from 'node:crypto'
import type { Queryable } from '../db/database.ts'
import { frequencyOf } from './frequency.ts'
import { bareRecordType, type DciPolicy } from './policy.ts'
import type { PartnerGrant } from './search.ts'
import type { DciRegistry } from './spec.ts'

// Subscriptions (registry/subscribe): what a partner asks to be notified of,
// checked against its grants and seed/dci.yaml's events, and the filter the
// event feed applies. Refusals carry the spec's SubscribeStatusReasonCode.

export type SubscribeReason = 'rjct.reference_id.invalid' | 'rjct.reference_id.duplicate' | 'rjct.timestamp.invalid' | 'rjct.notify_types.invalid' | 'rjct.notify_details.invalid' | 'rjct.person_id.invalid' | 'rjct.event.already_subscribed'

export interface SubscribeItem {
  reference_id: string
  timestamp: string
  subscribe_criteria: {
    version?: string
    reg_type?: string
    reg_event_type: string
    frequency?: { start_time: string, end_time: string, frequency: string }
    filter_type?: string
    filter: unknown
    notify_record_type: string
    authorize?: { purpose?: { code?: string } }
  }
  locale?: string
}

export class SubscribeRefusal extends Error {
  readonly reason: SubscribeReason
  // The refusal concerns what the partner may ask (audited as denied).
  readonly denied: boolean
  constructor (reason: SubscribeReason, message: string, denied = false) {
    super(message)
    this.name = 'SubscribeRefusal'
    this.reason = reason
    this.denied = denied
  }
}

// One condition on an event; a filter holds when all of its conditions do.
export interface Condition {
  on: 'uin' | 'unit' | 'date'
  op: 'eq' | 'in' | 'gt' | 'ge' | 'lt' | 'le'
  values: string[]
}

// What an event offers a filter: the persons it is about, where, and when.
export interface EventFacts {
  uins: string[]
  // The administrative unit (bag or khoroo code, or coarser).
  unit: string
  // The event's date (YYYY-MM-DD).
  date: string
}

export interface PlannedSubscription {
  eventType: string
  recordType: string
  purpose: string
  conditions: Condition[]
  startsAt: string | null
  endsAt: string | null
}

const UIN_NAMES = new Set(['uin', 'nationalid', 'national_id', 'regnum'])
// A place is an administrative unit code: aimag or capital (2 digits), soum
// or district (4), bag or khoroo (6); a filter on one covers everything below.
const UNIT_NAMES = new Set(['admin_unit', 'area-code', 'area_code', 'place', 'unit', 'birth_place', 'death_place'])
const DATE_NAMES = new Set(['event_date', 'reg_date', 'birth_date', 'death_date', 'date'])
const OPERATORS = new Set(['eq', 'in', 'gt', 'ge', 'lt', 'le'])
const MONGO_OPERATORS: Record<string, Condition['op']> = { $eq: 'eq', $in: 'in', $gt: 'gt', $gte: 'ge', $lt: 'lt', $lte: 'le' }
const DATE = /^\d{4}-\d{2}-\d{2}$/
const UNIT = /^(\d{2}|\d{4}|\d{6})$/

const bare = (name: unknown) => typeof name === 'string' ? name.slice(name.lastIndexOf(':') + 1).toLowerCase() : ''

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function condition (attribute: unknown, op: string, value: unknown): Condition {
  const invalid = (why: string): never => { throw new SubscribeRefusal('rjct.notify_details.invalid', why) }
  const name = bare(attribute)
  const on: Condition['on'] | undefined = UIN_NAMES.has(name) ? 'uin' : UNIT_NAMES.has(name) ? 'unit' : DATE_NAMES.has(name) ? 'date' : undefined
  if (on === undefined) return invalid(`events can be filtered by UIN, admin_unit (an administrative unit code) or event_date, not ${String(attribute)}`)
  if (!OPERATORS.has(op)) return invalid(`operator ${op} is not one of eq, in, gt, ge, lt, le`)
  const values = (op === 'in' ? value : [value]) as unknown[]
  if (!Array.isArray(values) || values.length === 0 || values.some((v) => typeof v !== 'string')) return invalid(`${String(attribute)} ${op} needs ${op === 'in' ? 'a list of strings' : 'a string'}`)
  const strings = values as string[]
  if (on === 'date') {
    if (op === 'in') return invalid('event_date is compared with eq, gt, ge, lt or le')
    if (!DATE.test(strings[0]!)) return invalid('event_date values are dates (YYYY-MM-DD)')
  } else {
    if (op !== 'eq' && op !== 'in') return invalid(`${String(attribute)} is compared with eq or in`)
    if (on === 'unit' && strings.some((s) => !UNIT.test(s))) return invalid('admin_unit values are administrative unit codes of 2, 4 or 6 digits')
  }
  return { on, op: op as Condition['op'], values: strings }
}

// The conditions of a subscribe filter, by filter_type as the spec defines them.
export function filterOf (filterType: string | undefined, filter: unknown): Condition[] {
  const invalid = (why: string): never => { throw new SubscribeRefusal('rjct.notify_details.invalid', why) }
  const type = filterType ?? (Array.isArray(filter) ? 'predicate' : 'idtype-value')
  if (type === 'idtype-value') {
    if (!isObject(filter)) return invalid('an idtype-value filter is { "type": "UIN" or "admin_unit", "value": ... }')
    return [condition(filter.type, 'eq', filter.value)]
  }
  if (type === 'predicate') {
    // Every expression must hold (an empty list: every event of the type).
    if (!Array.isArray(filter)) return invalid('a predicate filter is a list of expressions')
    return filter.flatMap((p: unknown) => {
      if (!isObject(p) || !isObject(p.expression1)) return invalid('each predicate has an expression1')
      if (p.expression2 !== undefined && p.condition !== 'and') return invalid('two expressions of a predicate are joined with "and" only')
      return [p.expression1, ...(isObject(p.expression2) ? [p.expression2] : [])].map((e) => condition(e.attribute_name, String(e.operator), e.attribute_value))
    })
  }
  if (type === 'expression') {
    // { type, value: { expression: { query: { <attribute>: <value> | { $eq | $in | $gt | $gte | $lt | $lte: ... } } } } }
    const value = isObject(filter) && isObject(filter.value) ? filter.value : undefined
    const expression = value !== undefined && isObject(value.expression) ? value.expression : undefined
    const query = expression !== undefined && isObject(expression.query) ? expression.query : undefined
    if (query === undefined) return invalid('an expression filter is { "value": { "expression": { "query": { ... } } } }')
    return Object.entries(query).flatMap(([attribute, cond]) => {
      if (!isObject(cond)) return [condition(attribute, 'eq', cond)]
      return Object.entries(cond).map(([op, v]) => {
        const mapped = MONGO_OPERATORS[op]
        return mapped === undefined ? invalid(`operator ${op} is not one of ${Object.keys(MONGO_OPERATORS).join(', ')}`) : condition(attribute, mapped, v)
      })
    })
  }
  return invalid(`filter_type ${type} is not supported; use idtype-value, predicate or expression`)
}

export function matches (conditions: Condition[], facts: EventFacts): boolean {
  return conditions.every((c) => {
    switch (c.on) {
      case 'uin': return c.values.some((v) => facts.uins.includes(v))
      case 'unit': return c.values.some((v) => facts.unit.startsWith(v))
      case 'date': {
        const v = c.values[0]!
        return c.op === 'eq' ? facts.date === v : c.op === 'gt' ? facts.date > v : c.op === 'ge' ? facts.date >= v : c.op === 'lt' ? facts.date < v : facts.date <= v
      }
    }
    return false
  })
}

export function planSubscription (item: SubscribeItem, registry: DciRegistry, regType: string, partner: PartnerGrant, policy: DciPolicy): PlannedSubscription {
  const c = item.subscribe_criteria
  if (c.reg_type !== undefined && c.reg_type !== regType) throw new SubscribeRefusal('rjct.notify_types.invalid', `this registry's reg_type is ${regType}`)
  const stated = c.authorize?.purpose?.code
  const purpose = stated ?? (partner.purposes.length === 1 ? partner.purposes[0] : undefined)
  if (purpose === undefined) throw new SubscribeRefusal('rjct.notify_types.invalid', 'name the purpose in subscribe_criteria.authorize.purpose.code', true)
  if (!partner.purposes.includes(purpose)) throw new SubscribeRefusal('rjct.notify_types.invalid', `the purpose ${purpose} is not granted to this partner`, true)
  if (!(policy.purposes[purpose]?.registries ?? []).includes(registry)) throw new SubscribeRefusal('rjct.notify_types.invalid', `the purpose ${purpose} does not cover the ${registry} registry`, true)
  // A notify carries people the partner never named: none of them consented.
  if (policy.purposes[purpose]?.consent.needs !== 'none') throw new SubscribeRefusal('rjct.notify_types.invalid', `the purpose ${purpose} needs each person's own consent, which a subscription cannot carry; search for each person instead`, true)

  const events = policy.events[registry]
  const eventType = bareRecordType(c.reg_event_type)
  const event = events[eventType]
  if (event === undefined) throw new SubscribeRefusal('rjct.notify_types.invalid', `the ${registry} registry notifies the events ${Object.keys(events).join(', ')}`)
  const recordType = bareRecordType(c.notify_record_type)
  if (!event.recordTypes.includes(recordType)) throw new SubscribeRefusal('rjct.notify_types.invalid', `${eventType} is notified with the record types ${event.recordTypes.join(', ')}`)
  if (!partner.recordTypes.includes(recordType)) throw new SubscribeRefusal('rjct.notify_types.invalid', `the record type ${recordType} is not granted to this partner`, true)

  const conditions = filterOf(c.filter_type, c.filter)
  let startsAt: string | null = null
  let endsAt: string | null = null
  if (c.frequency !== undefined) {
    const start = Date.parse(c.frequency.start_time)
    const end = Date.parse(c.frequency.end_time)
    if (Number.isNaN(start) || Number.isNaN(end) || end <= start) throw new SubscribeRefusal('rjct.notify_details.invalid', 'frequency.start_time and end_time must be timestamps, the end after the start')
    const schedule = frequencyOf(c.frequency.frequency)
    if (typeof schedule === 'string') throw new SubscribeRefusal('rjct.notify_details.invalid', schedule)
    startsAt = new Date(start).toISOString()
    endsAt = new Date(end).toISOString()
  }
  return { eventType, recordType, purpose, conditions, startsAt, endsAt }
}

export interface Subscription {
  code: string
  partnerId: string
  registry: DciRegistry
  transactionRef: number
  referenceId: string
  regEventType: string
  eventType: string
  recordType: string
  purpose: string
  // The subscription as asked (reg_type, reg_event_type, frequency, filter_type, filter, notify_record_type, locale).
  criteria: Record<string, unknown>
  conditions: Condition[]
  startsAt: string | null
  endsAt: string | null
  status: 'subscribe' | 'unsubscribe'
  createdAt: string
}

const COLUMNS = `code, partner_id AS "partnerId", registry, transaction_ref::int AS "transactionRef", reference_id AS "referenceId",
  reg_event_type AS "regEventType", event_type AS "eventType", record_type AS "recordType", purpose, criteria, filter,
  starts_at AS "startsAt", ends_at AS "endsAt", status, created_at AS "createdAt"`

function toSubscription (r: Record<string, unknown>): Subscription {
  const iso = (v: unknown) => v === null ? null : new Date(v as string).toISOString()
  const { filter, criteria, ...rest } = r
  return {
    ...(rest as unknown as Subscription),
    criteria: JSON.parse(criteria as string),
    conditions: JSON.parse(filter as string),
    startsAt: iso(r.startsAt),
    endsAt: iso(r.endsAt),
    createdAt: iso(r.createdAt)!,
  }
}

export type NewSubscription = Omit<Subscription, 'code' | 'status' | 'createdAt'>

export function createSubscriptionStore (db: Queryable) {
  return {
    // The subscription of this request item: created now, or the one an
    // earlier run of the same job created.
    async create (s: NewSubscription): Promise<Subscription> {
      const { rows } = await db.query<Record<string, unknown>>(
        `INSERT INTO dci_subscriptions (code, partner_id, registry, transaction_ref, reference_id, reg_event_type, event_type, record_type, purpose, criteria, filter, starts_at, ends_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (transaction_ref, reference_id) DO NOTHING RETURNING ${COLUMNS}`,
        [randomUUID(), s.partnerId, s.registry, s.transactionRef, s.referenceId, s.regEventType, s.eventType, s.recordType, s.purpose, JSON.stringify(s.criteria), JSON.stringify(s.conditions), s.startsAt, s.endsAt])
      if (rows[0] !== undefined) return toSubscription(rows[0])
      const { rows: seen } = await db.query<Record<string, unknown>>(`SELECT ${COLUMNS} FROM dci_subscriptions WHERE transaction_ref = $1 AND reference_id = $2`, [s.transactionRef, s.referenceId])
      return toSubscription(seen[0]!)
    },

    // The partner's active subscription asking the same thing, if any.
    async same (s: NewSubscription): Promise<Subscription | null> {
      const { rows } = await db.query<Record<string, unknown>>(
        `SELECT ${COLUMNS} FROM dci_subscriptions WHERE partner_id = $1 AND registry = $2 AND event_type = $3 AND record_type = $4 AND filter = $5
           AND purpose = $6 AND status = 'subscribe' AND starts_at IS NOT DISTINCT FROM $7 AND ends_at IS NOT DISTINCT FROM $8 AND transaction_ref <> $9 LIMIT 1`,
        [s.partnerId, s.registry, s.eventType, s.recordType, JSON.stringify(s.conditions), s.purpose, s.startsAt, s.endsAt, s.transactionRef])
      return rows[0] === undefined ? null : toSubscription(rows[0])
    },

    async get (code: string): Promise<Subscription | null> {
      const { rows } = await db.query<Record<string, unknown>>(`SELECT ${COLUMNS} FROM dci_subscriptions WHERE code = $1`, [code])
      return rows[0] === undefined ? null : toSubscription(rows[0])
    },

    async byCodes (partnerId: string, codes: string[]): Promise<Subscription[]> {
      const { rows } = await db.query<Record<string, unknown>>(`SELECT ${COLUMNS} FROM dci_subscriptions WHERE partner_id = $1 AND code = ANY($2::text[])`, [partnerId, codes])
      return rows.map(toSubscription)
    },

    // Ends the partner's subscriptions under these codes, with the events
    // still waiting for their frequency; the codes ended now.
    async unsubscribe (partnerId: string, codes: string[]): Promise<string[]> {
      const { rows } = await db.query<{ code: string }>(
        `WITH ended AS (
           UPDATE dci_subscriptions SET status = 'unsubscribe', updated_at = now() WHERE partner_id = $1 AND code = ANY($2::text[]) AND status = 'subscribe' RETURNING code),
         dropped AS (DELETE FROM dci_notify_pending WHERE code IN (SELECT code FROM ended))
         SELECT code FROM ended`,
        [partnerId, codes])
      return rows.map((r) => r.code)
    },

    // Active subscriptions to these events that existed when `at` happened.
    async active (registry: DciRegistry, eventTypes: string[]): Promise<Subscription[]> {
      const { rows } = await db.query<Record<string, unknown>>(
        `SELECT ${COLUMNS} FROM dci_subscriptions WHERE status = 'subscribe' AND registry = $1 AND event_type = ANY($2::text[]) ORDER BY created_at`,
        [registry, eventTypes])
      return rows.map(toSubscription)
    },
  }
}

export type SubscriptionStore = ReturnType<typeof createSubscriptionStore>

// SubscriptionInfo of the spec, for on-subscribe and txn/status answers.
export function subscriptionInfo (s: Subscription): Record<string, unknown> {
  return { version: '1.0.0', code: s.code, status: s.status, timestamp: s.createdAt, ...s.criteria }
}
