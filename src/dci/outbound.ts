import type { AuditEntry } from '../audit/record.ts'
import { isoTime, type Database, type Queryable } from '../db/database.ts'
import { parseRegnum } from '../domain/regnum.ts'
import { ProblemError } from '../errors/problem-error.ts'
import { searchOutcome, type DciClient, type SearchQuery } from './client.ts'
import { messageDigest } from './messages.ts'
import type { Partner } from './partners.ts'
import type { DciEnvelope } from './service.ts'
import type { DciRegistry } from './spec.ts'

// Look-ups the gateway makes in partners' registries for its officers: each
// bound to a purpose and a case, audited before the person's id leaves the
// gateway, and readable afterwards only by the one who asked (or an admin).
// The partner's async answers (on-search ...) arrive at the receiver, which
// takes each message once and only for a request the gateway made.

export type OutboundStatus = 'pending' | 'sent' | 'answered' | 'failed'
export type OutboundMode = 'sync' | 'async'

export interface OutboundRequest {
  id: number
  partnerId: string
  registry: DciRegistry
  action: string
  mode: OutboundMode
  messageId: string
  transactionId: string
  referenceId: string
  recordType: string
  actor: string
  actorIssuer: string
  actorUnit: string | null
  actorAgency: string | null
  purpose: string
  caseRef: string
  status: OutboundStatus
  ack: string | null
  answer: string | null
  error: string | null
  createdAt: string
  updatedAt: string
}

const COLUMNS = `id::int AS id, partner_id AS "partnerId", registry, action, mode, message_id AS "messageId", transaction_id AS "transactionId",
  reference_id AS "referenceId", record_type AS "recordType", actor, actor_issuer AS "actorIssuer", actor_unit AS "actorUnit", actor_agency AS "actorAgency",
  purpose, case_ref AS "caseRef", status, ack, answer, error, created_at AS "createdAt", updated_at AS "updatedAt"`

function toRequest (r: Record<string, unknown>): OutboundRequest {
  return { ...(r as unknown as OutboundRequest), createdAt: isoTime(r.createdAt), updatedAt: isoTime(r.updatedAt) }
}

export type NewOutbound = Pick<OutboundRequest, 'partnerId' | 'registry' | 'action' | 'mode' | 'messageId' | 'transactionId' | 'referenceId' | 'recordType' | 'actor' | 'actorIssuer' | 'actorUnit' | 'actorAgency' | 'purpose' | 'caseRef'>

// A message the receiver does not take, and why (the spec's err.request.bad).
export class ReceiveRefusal extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'ReceiveRefusal'
  }
}

// What each callback answers: on-search answers a search the gateway sent.
export const ANSWERS: Record<string, string> = { 'on-search': 'search', 'on-subscribe': 'subscribe', 'on-unsubscribe': 'unsubscribe', 'txn-on-status': 'txn-status' }

export function createOutboundStore (db: Pick<Database, 'query' | 'transaction'>) {
  return {
    async create (o: NewOutbound): Promise<OutboundRequest> {
      const { rows } = await db.query<Record<string, unknown>>(
        `INSERT INTO dci_outbound (partner_id, registry, action, mode, message_id, transaction_id, reference_id, record_type, actor, actor_issuer, actor_unit, actor_agency, purpose, case_ref)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING ${COLUMNS}`,
        [o.partnerId, o.registry, o.action, o.mode, o.messageId, o.transactionId, o.referenceId, o.recordType, o.actor, o.actorIssuer, o.actorUnit, o.actorAgency, o.purpose, o.caseRef])
      return toRequest(rows[0]!)
    },

    // Acknowledged; the answer may have come in already (it is not undone).
    async sent (id: number, ack: string): Promise<void> {
      await db.query(`UPDATE dci_outbound SET ack = $2, status = CASE WHEN status = 'pending' THEN 'sent' ELSE status END, updated_at = now() WHERE id = $1`, [id, ack])
    },

    async answered (id: number, answer: string): Promise<void> {
      await db.query(`UPDATE dci_outbound SET answer = $2, status = 'answered', updated_at = now() WHERE id = $1`, [id, answer])
    },

    async failed (id: number, error: string): Promise<void> {
      await db.query(`UPDATE dci_outbound SET error = $2, status = 'failed', updated_at = now() WHERE id = $1 AND status IN ('pending', 'sent')`, [id, error.slice(0, 1000)])
    },

    async byTransaction (partnerId: string, transactionId: string): Promise<OutboundRequest | null> {
      const { rows } = await db.query<Record<string, unknown>>(`SELECT ${COLUMNS} FROM dci_outbound WHERE partner_id = $1 AND transaction_id = $2`, [partnerId, transactionId])
      return rows[0] === undefined ? null : toRequest(rows[0])
    },

    // Look-ups and received message ids older than the retention period: the
    // answers hold personal data, kept no longer than the DCI face keeps its own.
    async expire (retentionDays: number): Promise<number> {
      const cut = "now() - ($1::int * interval '1 day')"
      const requests = await db.query(`DELETE FROM dci_outbound WHERE updated_at < ${cut}`, [retentionDays])
      const received = await db.query(`DELETE FROM dci_inbound WHERE received_at < ${cut}`, [retentionDays])
      return (requests.rowCount ?? 0) + (received.rowCount ?? 0)
    },

    // A partner's message, taken once: the same message again gets the same
    // answer; another under a used message_id is refused. An on-search is kept
    // with the request it answers, in the same transaction.
    async receive (partnerId: string, envelope: Pick<DciEnvelope, 'header' | 'message'>, answers: OutboundRequest | null, response: string): Promise<string> {
      const digest = messageDigest(envelope)
      return db.transaction(async (tx: Queryable) => {
        const { rows } = await tx.query(
          `INSERT INTO dci_inbound (partner_id, message_id, action, digest, transaction_id, response) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (partner_id, message_id) DO NOTHING RETURNING message_id`,
          [partnerId, envelope.header.message_id, envelope.header.action, digest, answers?.transactionId ?? null, response])
        if (rows.length === 0) {
          const { rows: seen } = await tx.query<{ digest: string, response: string }>('SELECT digest, response FROM dci_inbound WHERE partner_id = $1 AND message_id = $2', [partnerId, envelope.header.message_id])
          const before = seen[0]
          if (before !== undefined && before.digest === digest) return before.response
          throw new ReceiveRefusal(`/header/message_id: ${envelope.header.message_id} was used for another message`)
        }
        if (answers !== null && envelope.header.action === 'on-search') {
          const { rowCount } = await tx.query(`UPDATE dci_outbound SET answer = $2, status = 'answered', updated_at = now() WHERE id = $1 AND status <> 'answered'`, [answers.id, JSON.stringify(envelope)])
          if (rowCount === 0) throw new ReceiveRefusal(`/message/transaction_id: ${answers.transactionId} is answered already`)
        }
        return response
      })
    },
  }
}

export type OutboundStore = ReturnType<typeof createOutboundStore>

// The person asking, from their token.
export interface Asker { sub: string, issuer: string, role: string, unit: string | null, agency: string | null }

export interface OutboundSearchInput extends SearchQuery { case: string, mode: OutboundMode }

export interface OutboundView {
  transactionId: string
  partner: string
  registry: DciRegistry
  mode: OutboundMode
  status: OutboundStatus
  purpose: string
  case: string
  recordType: string
  createdAt: string
  updatedAt: string
  // Once answered: the partner's status for the person, its records, and why there are none.
  answerStatus?: string
  records?: unknown[]
  reason?: string | null
}

export interface OutboundSearchDeps {
  store: OutboundStore
  client: Pick<DciClient, 'searchEnvelope' | 'search' | 'syncSearch'>
  appendAudit: (entry: AuditEntry) => Promise<unknown>
  now?: () => number
}

const actorOf = (who: Asker) => who.role === 'officer' ? who.sub : `${who.role}:${who.sub}`

export function viewOf (row: OutboundRequest): OutboundView {
  const view: OutboundView = {
    transactionId: row.transactionId,
    partner: row.partnerId,
    registry: row.registry,
    mode: row.mode,
    status: row.status,
    purpose: row.purpose,
    case: row.caseRef,
    recordType: row.recordType,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  }
  if (row.status === 'failed') return { ...view, reason: row.error }
  if (row.answer === null) return view
  const outcome = searchOutcome((JSON.parse(row.answer) as DciEnvelope).message, row.referenceId)
  return { ...view, answerStatus: outcome.status, records: outcome.records, reason: outcome.reason }
}

export function createOutboundSearches (deps: OutboundSearchDeps) {
  const now = deps.now ?? Date.now
  return {
    // One person looked up in a partner's registry. Audited before the id
    // leaves (no audit record, nothing sent); sync answers at once, async
    // when the partner's on-search has come in.
    async search (partner: Partner, input: OutboundSearchInput, who: Asker, ctx: { requestId: string, clientIp: string | null }): Promise<OutboundView> {
      const signed = deps.client.searchEnvelope(partner.id, input)
      const row = await deps.store.create({
        partnerId: partner.id, registry: input.registry, action: 'search', mode: input.mode, messageId: signed.messageId, transactionId: signed.transactionId,
        referenceId: signed.referenceId, recordType: input.recordType, actor: actorOf(who), actorIssuer: who.issuer, actorUnit: who.unit, actorAgency: who.agency,
        purpose: input.purpose, caseRef: input.case,
      })
      const regnum = input.idType === 'UIN' ? parseRegnum(input.idValue) : null
      try {
        await deps.appendAudit({
          recordType: 'citizen_lookup',
          at: new Date(now()).toISOString(),
          requestId: ctx.requestId,
          actor: actorOf(who),
          actorUnit: who.unit,
          actorAgency: who.agency,
          purpose: input.purpose,
          caseRef: input.case,
          citizen: regnum?.ok === true ? regnum.value : input.idValue,
          sourcesAsked: [`dci:${partner.id}`],
          sourcesAnswered: [],
          result: 'sent',
          clientIp: ctx.clientIp,
          details: { channel: 'dci-outbound', registry: input.registry, partner: partner.id, partnerName: partner.name, mode: input.mode, recordType: input.recordType, idType: input.idType, messageId: signed.messageId, transactionId: signed.transactionId },
        })
      } catch (err) {
        await deps.store.failed(row.id, 'the look-up could not be recorded, so it was not sent').catch(() => {})
        throw new ProblemError('AUDIT_UNAVAILABLE', 'the look-up could not be recorded, so it was not sent; try again later', { cause: err })
      }
      try {
        if (input.mode === 'sync') {
          const answer = await deps.client.syncSearch(partner, input.registry, signed)
          await deps.store.answered(row.id, answer.text)
          return viewOf({ ...row, status: 'answered', answer: answer.text, updatedAt: new Date(now()).toISOString() })
        }
        const { ack } = await deps.client.search(partner, input.registry, signed)
        await deps.store.sent(row.id, ack)
        return viewOf({ ...row, status: 'sent', ack })
      } catch (err) {
        if (err instanceof ProblemError) await deps.store.failed(row.id, err.detail).catch(() => {})
        throw err
      }
    },

    // The request, for the one who asked it or an admin; anyone else learns nothing of it.
    async read (partnerId: string, transactionId: string, who: Asker): Promise<OutboundView> {
      const row = await deps.store.byTransaction(partnerId, transactionId)
      if (row === null || (who.role !== 'admin' && (row.actor !== actorOf(who) || row.actorIssuer !== who.issuer))) {
        throw new ProblemError('NOT_FOUND', `no look-up ${transactionId} of yours at partner ${partnerId}`)
      }
      return viewOf(row)
    },
  }
}

export type OutboundSearches = ReturnType<typeof createOutboundSearches>
