import { hash } from 'node:crypto'

export type RecordType = 'citizen_lookup' | 'catalogue_change' | 'partner_change' | 'consent_change'

export interface AuditEntry {
  recordType: RecordType
  at: string
  requestId: string
  actor: string
  actorUnit: string | null
  actorAgency: string | null
  purpose: string | null
  caseRef: string | null
  citizen: string | null
  sourcesAsked: string[]
  sourcesAnswered: string[]
  result: string
  clientIp: string | null
  details: Record<string, unknown> | null
}

export interface AuditRecord extends AuditEntry {
  seq: number
  prevHash: string
  hash: string
}

// A change an admin made (catalogue, partner registrations): no citizen, no
// look-up, only who did what to which thing.
export function changeRecord (recordType: Exclude<RecordType, 'citizen_lookup'>, f: { requestId: string, actor: string, result: string, details: Record<string, unknown> }): AuditEntry {
  return {
    recordType,
    at: new Date().toISOString(),
    requestId: f.requestId,
    actor: f.actor,
    actorUnit: null,
    actorAgency: null,
    purpose: null,
    caseRef: null,
    citizen: null,
    sourcesAsked: [],
    sourcesAnswered: [],
    result: f.result,
    clientIp: null,
    details: f.details,
  }
}

// hash = SHA-256(prevHash + "\n" + canonical JSON of the entry and its seq).
export function hashRecord (seq: number, prevHash: string, entry: AuditEntry): string {
  return hash('sha256', `${prevHash}\n${canonicalRecordJson({ seq, ...entry })}`, 'hex')
}

// canonicalJson (catalogue/document.ts), the same text, made faster for a
// record: a copy with every object's keys in order, then plain
// JSON.stringify, instead of a replacer called for every value.
export function canonicalRecordJson (value: unknown): string {
  return JSON.stringify(sortedCopy(value, ''))
}

function sortedCopy (v: unknown, key: string): unknown {
  if (v === null || typeof v !== 'object') return v
  // Dates and the like: what their toJSON gives, as JSON.stringify would take it.
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return sortedCopy((v as { toJSON (key: string): unknown }).toJSON(key), key)
  if (Array.isArray(v)) return v.some((x) => x !== null && typeof x === 'object') ? v.map((x, i) => sortedCopy(x, String(i))) : v
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(v).sort()) out[k] = sortedCopy((v as Record<string, unknown>)[k], k)
  return out
}
