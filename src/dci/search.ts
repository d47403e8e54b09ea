import { parseRegnum } from '../domain/regnum.ts'
import { ProblemError } from '../errors/problem-error.ts'
import { bareRecordType, type DciPolicy } from './policy.ts'
import type { DciRegistry } from './spec.ts'

// One search_request item of a DCI search, answered from the bus. The bus
// answers by registration number (the UIN) only: a query that does not come
// down to "UIN equals X" is refused with the spec's reason code, never
// answered with an invented or partial record set.

export type SearchStatus = 'succ' | 'rjct'
export type SearchReason = 'rjct.reference_id.invalid' | 'rjct.search_criteria.invalid' | 'rjct.filter.invalid' | 'rjct.sort.invalid' | 'rjct.pagination.invalid'

export interface SearchItem {
  reference_id: string
  timestamp: string
  search_criteria: {
    version?: string
    reg_type?: string
    reg_event_type?: string
    reg_record_type?: string
    query_type: string
    query: unknown
    sort?: Array<{ attribute_name?: string, sort_order?: string }>
    pagination?: { page_size: number, page_number?: number }
    consent?: { purpose?: { code?: string } }
    authorize?: { purpose?: { code?: string } }
  }
  locale?: string
}

export interface PartnerGrant {
  id: string
  purposes: string[]
  recordTypes: string[]
}

// What an item asks, once checked: whom, for what, as which record type.
export interface PlannedSearch {
  regnum: string
  purpose: string
  recordType: string
  pageSize: number
  pageNumber: number
  // reg_event_type: only a person who has had the event is a match.
  event: SearchEvent | null
}

// The events a search can ask about, per registry, and how a record shows
// it: every registered person was born; a death is in the civil registry; a
// welfare enrolment registers the person with the Social Registry.
export type SearchEvent = 'LiveBirth' | 'Death' | 'REGISTER'
const SEARCH_EVENTS: Record<DciRegistry, SearchEvent[]> = { crvs: ['LiveBirth', 'Death'], social: ['REGISTER'] }

export function hasEvent (event: SearchEvent | null, record: Record<string, unknown>): boolean {
  if (event === 'Death') return record.death_date !== undefined
  if (event === 'REGISTER') {
    const attributes = (record.additional_attributes ?? []) as Array<{ name: string, value: unknown[] }>
    return attributes.some((a) => a.name === 'welfare_enrolments' && a.value.length > 0)
  }
  return true
}

export class SearchRefusal extends Error {
  readonly reason: SearchReason
  // The refusal concerns what the partner may ask (audited as denied).
  readonly denied: boolean
  constructor (reason: SearchReason, message: string, denied = false) {
    super(message)
    this.name = 'SearchRefusal'
    this.reason = reason
    this.denied = denied
  }
}

const UIN_TYPES = new Set(['uin', 'nationalid', 'national_id', 'regnum'])
const SORTABLE = new Set(['uin', 'regnum'])

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// "ns:org:IdType:UIN" and "UIN" name the same identifier type.
function isUin (type: unknown): boolean {
  return typeof type === 'string' && UIN_TYPES.has(type.slice(type.lastIndexOf(':') + 1).toLowerCase())
}

// The identifier the query asks for, or a refusal saying why the bus cannot answer it.
export function uinOf (queryType: string, query: unknown): string {
  const refuse = (why: string): never => { throw new SearchRefusal('rjct.search_criteria.invalid', why) }
  if (queryType === 'idtype-value') {
    if (!isObject(query) || !isUin(query.type)) refuse('idtype-value queries are answered for the identifier type UIN (the registration number) only')
    const value = (query as Record<string, unknown>).value
    if (typeof value !== 'string') refuse('the UIN must be a string')
    return value as string
  }
  if (queryType === 'predicate') {
    // One expression "UIN eq X"; anything else is a search the bus cannot run.
    const list = Array.isArray(query) ? query : undefined
    const only = list?.length === 1 && isObject(list[0]) ? list[0] : undefined
    const e = only !== undefined && isObject(only.expression1) ? only.expression1 : undefined
    if (e === undefined || only?.expression2 !== undefined || !isUin(e.attribute_name) || e.operator !== 'eq' || typeof e.attribute_value !== 'string') {
      refuse('predicate queries are answered for one expression "UIN eq <registration number>" only: the registries behind the bus search by registration number')
    }
    return (e as Record<string, unknown>).attribute_value as string
  }
  if (queryType === 'expression') {
    // { type, value: { expression: { query: { UIN: { $eq: X } } } } } or { UIN: X }.
    const value = isObject(query) && isObject(query.value) ? query.value : undefined
    const expression = value !== undefined && isObject(value.expression) ? value.expression : undefined
    const q = expression !== undefined && isObject(expression.query) ? expression.query : undefined
    const keys = q === undefined ? [] : Object.keys(q)
    const key = keys.length === 1 && isUin(keys[0]) ? keys[0]! : undefined
    const cond = key === undefined ? undefined : q![key]
    const uin = typeof cond === 'string' ? cond : isObject(cond) && Object.keys(cond).length === 1 && typeof cond.$eq === 'string' ? cond.$eq : undefined
    if (uin === undefined) refuse('expression queries are answered for { "UIN": { "$eq": <registration number> } } only: the registries behind the bus search by registration number')
    return uin as string
  }
  return refuse(`query_type ${queryType} is not supported`)
}

export function planSearch (item: SearchItem, registry: DciRegistry, partner: PartnerGrant, policy: DciPolicy): PlannedSearch {
  const c = item.search_criteria
  // The purpose the partner states, or its only one.
  const stated = c.authorize?.purpose?.code ?? c.consent?.purpose?.code
  const purpose = stated ?? (partner.purposes.length === 1 ? partner.purposes[0] : undefined)
  if (purpose === undefined) throw new SearchRefusal('rjct.search_criteria.invalid', 'name the purpose in search_criteria.authorize.purpose.code', true)
  if (!partner.purposes.includes(purpose)) throw new SearchRefusal('rjct.search_criteria.invalid', `the purpose ${purpose} is not granted to this partner`, true)
  if (!(policy.purposes[purpose]?.registries ?? []).includes(registry)) throw new SearchRefusal('rjct.search_criteria.invalid', `the purpose ${purpose} does not cover the ${registry} registry`, true)

  const offered = policy.recordTypes[registry]
  const granted = offered.filter((t) => partner.recordTypes.includes(t))
  const asked = c.reg_record_type === undefined ? granted[0] : bareRecordType(c.reg_record_type)
  if (asked === undefined || !offered.includes(asked)) {
    throw new SearchRefusal('rjct.search_criteria.invalid', `the ${registry} registry answers with the record types ${offered.join(', ')}`)
  }
  if (!granted.includes(asked)) throw new SearchRefusal('rjct.search_criteria.invalid', `the record type ${asked} is not granted to this partner`, true)
  if (asked === 'Group') throw new SearchRefusal('rjct.search_criteria.invalid', 'households (Group) are not kept by any registry behind the bus; ask for SRPerson or Member')

  for (const s of c.sort ?? []) {
    if (s.attribute_name !== undefined && !SORTABLE.has(s.attribute_name.toLowerCase())) throw new SearchRefusal('rjct.sort.invalid', `records can be sorted by UIN only, not ${s.attribute_name}`)
  }
  const pageSize = c.pagination?.page_size ?? 10
  const pageNumber = c.pagination?.page_number ?? 1
  if (!Number.isInteger(pageSize) || pageSize < 1 || !Number.isInteger(pageNumber) || pageNumber < 1) {
    throw new SearchRefusal('rjct.pagination.invalid', 'page_size and page_number are whole numbers from 1')
  }

  let event: SearchEvent | null = null
  if (c.reg_event_type !== undefined) {
    const named = bareRecordType(c.reg_event_type)
    event = SEARCH_EVENTS[registry].find((e) => e === named) ?? null
    if (event === null) throw new SearchRefusal('rjct.search_criteria.invalid', `the ${registry} registry searches by reg_event_type ${SEARCH_EVENTS[registry].join(' or ')} only`)
  }

  const parsed = parseRegnum(uinOf(c.query_type, c.query))
  if (!parsed.ok) throw new SearchRefusal('rjct.search_criteria.invalid', `the UIN is not a valid registration number: ${parsed.message}`)
  return { regnum: parsed.value, purpose, recordType: asked, pageSize, pageNumber, event }
}

// How a record type is read from the bus: which operations, and how their
// answers become the record. Each operation is one signed bus call.
export type BusCall = (operation: string, regnum: string) => Promise<Record<string, unknown>>

function identifier (regnum: string) {
  return [{ '@type': 'Identifier', identifier_type: 'UIN', identifier_value: regnum }]
}

function name (card: Record<string, unknown>) {
  // Mongolian names: the patronymic is what a surname is elsewhere; the clan name goes alongside.
  return { '@type': 'Name', surname: card.patronymic, given_name: card.givenName, clan_name: card.clanName }
}

interface Reader { operations: string[], build (regnum: string, answers: Record<string, Record<string, unknown>>): Record<string, unknown> }

const READERS: Record<string, Reader> = {
  SRPerson: {
    operations: ['civil.getIdCard', 'welfare.getEnrolments'],
    build: (regnum, a) => ({
      '@type': 'SRPerson',
      identifier: identifier(regnum),
      name: name(a['civil.getIdCard']!),
      sex: a['civil.getIdCard']!.sex,
      birth_date: a['civil.getIdCard']!.birthDate,
      additional_attributes: [{ name: 'welfare_enrolments', value: enrolments(a['welfare.getEnrolments']) }],
    }),
  },
  Member: {
    operations: ['civil.getIdCard', 'welfare.getEnrolments'],
    build: (regnum, a) => ({
      '@type': 'Member',
      member_identifier: identifier(regnum),
      demographic_info: { '@type': 'SRPerson', identifier: identifier(regnum), name: name(a['civil.getIdCard']!), sex: a['civil.getIdCard']!.sex, birth_date: a['civil.getIdCard']!.birthDate },
      additional_attributes: [{ name: 'welfare_enrolments', value: enrolments(a['welfare.getEnrolments']) }],
    }),
  },
  Person: {
    operations: ['civil.getIdCard', 'civil.getDeath'],
    build: (regnum, a) => {
      const death = a['civil.getDeath']
      return {
        '@type': 'Person',
        identifier: identifier(regnum),
        name: name(a['civil.getIdCard']!),
        sex: a['civil.getIdCard']!.sex,
        birth_date: a['civil.getIdCard']!.birthDate,
        ...(death?.deceased === true ? { death_date: death.deathDate, death_certificate_number: death.certificateNumber } : {}),
      }
    },
  },
}

function enrolments (answer: Record<string, unknown> | undefined) {
  const list = (answer?.enrolments ?? []) as Array<Record<string, unknown>>
  return list.map((e) => ({ programme_code: e.programmeCode, programme_name: e.programmeName, status: e.status, enrolled_on: e.enrolledOn }))
}

export function operationsFor (recordType: string): string[] {
  return READERS[recordType]?.operations ?? []
}

// The record, or null when the registry has nobody under that number. A bus
// failure is thrown: the caller answers it as a failure, not as "not found".
export async function readRecord (plan: PlannedSearch, call: BusCall): Promise<Record<string, unknown> | null> {
  const reader = READERS[plan.recordType]
  if (reader === undefined) throw new SearchRefusal('rjct.search_criteria.invalid', `no registry answers the record type ${plan.recordType}`)
  const answers: Record<string, Record<string, unknown>> = {}
  const settled = await Promise.allSettled(reader.operations.map(async (op) => { answers[op] = await call(op, plan.regnum) }))
  const failure = settled.find((s) => s.status === 'rejected')
  if (failure !== undefined) {
    const err = failure.reason
    // Nobody under that number in the first (identity) registry: no record.
    if (err instanceof ProblemError && err.code === 'UPSTREAM_NOT_FOUND' && answers[reader.operations[0]!] === undefined) return null
    if (!(err instanceof ProblemError && err.code === 'UPSTREAM_NOT_FOUND')) throw err
  }
  return reader.build(plan.regnum, answers)
}
