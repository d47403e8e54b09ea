import { createHash } from 'node:crypto'
import { canonicalJson } from '../catalogue/document.ts'

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
  return createHash('sha256').update(prevHash).update('\n').update(canonicalJson({ seq, ...entry })).digest('hex')
}
