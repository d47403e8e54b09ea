import type { AuditEntry } from '../audit/record.ts'
import { isoTime, type Database, type Queryable } from '../db/database.ts'
import { parseRegnum } from '../domain/regnum.ts'
import { ProblemError } from '../errors/problem-error.ts'
import { searchOutcome, type DciClient, type SearchQuery, type SubscribeQuery } from './client.ts'
import { messageDigest } from './messages.ts'
import type { Partner } from './partners.ts'
import type { DciEnvelope } from './service.ts'
import type { DciRegistry } from './spec.ts'

// Look-ups the gateway makes in partners' registries for its officers: each
// bound to a purpose and a case, audited before the person's id leaves the
// gateway, and readable afterwards only by the one who asked (or an admin).
// The partner's async answers (on-search ...) arrive at the receiver, which
// takes each message once and only for a request the gateway made.
// Subscriptions the gateway holds at partners' registries are rows here too
// (action subscribe, and unsubscribe naming it); what the partner notifies
// for them is kept, as personal data, for the retention period.

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
  // A subscribe: what was asked, the partner's codes for it, and when it ended.
  criteria: SubscribeCriteria | null
  subscriptionCodes: string[]
  endedAt: string | null
  // An unsubscribe: the subscribe it ends.
  subscriptionRef: number | null
}

export interface SubscribeCriteria {
  regEventType: string
  filterType: SubscribeQuery['filterType']
  filter: unknown
  frequency?: SubscribeQuery['frequency']
}

const COLUMNS = `id::int AS id, partner_id AS "partnerId", registry, action, mode, message_id AS "messageId", transaction_id AS "transactionId",
  reference_id AS "referenceId", record_type AS "recordType", actor, actor_issuer AS "actorIssuer", actor_unit AS "actorUnit", actor_agency AS "actorAgency",
  purpose, case_ref AS "caseRef", status, ack, answer, error, created_at AS "createdAt", updated_at AS "updatedAt",
  criteria, subscription_codes AS "subscriptionCodes", ended_at AS "endedAt", subscription_ref::int AS "subscriptionRef"`

function toRequest (r: Record<string, unknown>): OutboundRequest {
  const criteria = typeof r.criteria === 'string' ? JSON.parse(r.criteria) as SubscribeCriteria : r.criteria as SubscribeCriteria | null
  return { ...(r as unknown as OutboundRequest), criteria, createdAt: isoTime(r.createdAt), updatedAt: isoTime(r.updatedAt), endedAt: r.endedAt === null ? null : isoTime(r.endedAt) }
}

export type NewOutbound = Pick<OutboundRequest, 'partnerId' | 'registry' | 'action' | 'mode' | 'messageId' | 'transactionId' | 'referenceId' | 'recordType' | 'actor' | 'actorIssuer' | 'actorUnit' | 'actorAgency' | 'purpose' | 'caseRef'> &
  Partial<Pick<OutboundRequest, 'criteria' | 'subscriptionRef'>>

// What a partner notified for one of the gateway's subscriptions: the notify_event items of one notify.
export interface ReceivedEvents {
  id: number
  messageId: string
  receivedAt: string
  items: unknown[]
}

// The partner's answer to the gateway's one subscribe_request item: its status, and the codes of a succ.
export function subscribeOutcome (message: Record<string, unknown>, referenceId: string): { status: string, codes: string[], reason: string | null } {
  const items = (message.subscribe_response ?? []) as Array<Record<string, unknown>>
  const item = items.find((i) => i.reference_id === referenceId)
  if (item === undefined) return { status: 'rjct', codes: [], reason: `no answer for reference_id ${referenceId}` }
  const subscriptions = (item.subscriptions ?? []) as Array<{ code?: unknown }>
  const codes = item.status === 'succ' ? subscriptions.map((s) => s.code).filter((c): c is string => typeof c === 'string') : []
  return { status: String(item.status), codes, reason: reasonOf(item) }
}

// An on-unsubscribe: whether the subscription is over at the partner (ended now, or before).
export function unsubscribeOutcome (message: Record<string, unknown>): { status: string, ended: boolean, reason: string | null } {
  const status = String(message.status)
  return { status, ended: status === 'succ' || message.status_reason_code === 'rjct.event.already_unsubscribed', reason: reasonOf(message) }
}

const reasonOf = (item: Record<string, unknown>) => typeof item.status_reason_code === 'string' ? `${item.status_reason_code}${typeof item.status_reason_message === 'string' ? `: ${item.status_reason_message}` : ''}` : null

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
        `INSERT INTO dci_outbound (partner_id, registry, action, mode, message_id, transaction_id, reference_id, record_type, actor, actor_issuer, actor_unit, actor_agency, purpose, case_ref, criteria, subscription_ref)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING ${COLUMNS}`,
        [o.partnerId, o.registry, o.action, o.mode, o.messageId, o.transactionId, o.referenceId, o.recordType, o.actor, o.actorIssuer, o.actorUnit, o.actorAgency, o.purpose, o.caseRef,
          o.criteria === undefined || o.criteria === null ? null : JSON.stringify(o.criteria), o.subscriptionRef ?? null])
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

    // The gateway's subscriptions at a partner under these reference_ids that
    // the partner took (a succ with codes) and that have not ended.
    // The acknowledgement given to this very message if it was taken before; null otherwise.
    async takenBefore (partnerId: string, envelope: Pick<DciEnvelope, 'header' | 'message'>): Promise<string | null> {
      const { rows } = await db.query<{ digest: string, response: string }>('SELECT digest, response FROM dci_inbound WHERE partner_id = $1 AND message_id = $2', [partnerId, envelope.header.message_id])
      return rows[0] !== undefined && rows[0].digest === messageDigest(envelope) ? rows[0].response : null
    },

    async activeSubscriptions (partnerId: string, referenceIds: string[]): Promise<OutboundRequest[]> {
      const { rows } = await db.query<Record<string, unknown>>(
        `SELECT ${COLUMNS} FROM dci_outbound WHERE partner_id = $1 AND action = 'subscribe' AND reference_id = ANY($2::text[])
           AND status = 'answered' AND cardinality(subscription_codes) > 0 AND ended_at IS NULL`,
        [partnerId, referenceIds])
      return rows.map(toRequest)
    },

    // The latest unsubscribe sent for a subscription, if any.
    async lastUnsubscribe (subscriptionId: number): Promise<OutboundRequest | null> {
      const { rows } = await db.query<Record<string, unknown>>(`SELECT ${COLUMNS} FROM dci_outbound WHERE subscription_ref = $1 AND action = 'unsubscribe' ORDER BY id DESC LIMIT 1`, [subscriptionId])
      return rows[0] === undefined ? null : toRequest(rows[0])
    },

    // What was notified for a subscription, newest first; `before` an id of a page before.
    async events (subscriptionId: number, limit: number, before: number | null): Promise<ReceivedEvents[]> {
      const { rows } = await db.query<Record<string, unknown>>(
        `SELECT id::int AS id, message_id AS "messageId", received_at AS "receivedAt", events FROM dci_outbound_events
         WHERE outbound_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
        [subscriptionId, before, limit])
      return rows.map((r) => ({ id: r.id as number, messageId: r.messageId as string, receivedAt: isoTime(r.receivedAt), items: (typeof r.events === 'string' ? JSON.parse(r.events) : r.events) as unknown[] }))
    },

    // Look-ups, notified events and received message ids older than the
    // retention period: they hold personal data, kept no longer than the DCI
    // face keeps its own. A subscription still running is kept (it is what
    // the events come for); one ended, refused or never answered goes.
    async expire (retentionDays: number): Promise<number> {
      const cut = "now() - ($1::int * interval '1 day')"
      const events = await db.query(`DELETE FROM dci_outbound_events WHERE received_at < ${cut}`, [retentionDays])
      const requests = await db.query(
        `DELETE FROM dci_outbound WHERE updated_at < ${cut}
           AND NOT (action = 'subscribe' AND status = 'answered' AND cardinality(subscription_codes) > 0 AND ended_at IS NULL)`,
        [retentionDays])
      const received = await db.query(`DELETE FROM dci_inbound WHERE received_at < ${cut}`, [retentionDays])
      return (events.rowCount ?? 0) + (requests.rowCount ?? 0) + (received.rowCount ?? 0)
    },

    // A partner's message, taken once: the same message again gets the same
    // answer; another under a used message_id is refused. An answer (on-search,
    // on-subscribe, on-unsubscribe) is kept with the request it answers, and a
    // notify's items with the subscriptions they are for, in the same transaction.
    async receive (partnerId: string, envelope: Pick<DciEnvelope, 'header' | 'message'>, answers: OutboundRequest | null, response: string,
      notified: Array<{ subscriptionId: number, items: unknown[] }> = []): Promise<string> {
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
        if (answers !== null) {
          const codes = answers.action === 'subscribe' ? subscribeOutcome(envelope.message, answers.referenceId).codes : []
          const { rowCount } = await tx.query(`UPDATE dci_outbound SET answer = $2, status = 'answered', subscription_codes = $3, updated_at = now() WHERE id = $1 AND status <> 'answered'`, [answers.id, JSON.stringify(envelope), codes])
          if (rowCount === 0) throw new ReceiveRefusal(`/message/transaction_id: ${answers.transactionId} is answered already`)
          if (answers.action === 'unsubscribe' && answers.subscriptionRef !== null && unsubscribeOutcome(envelope.message).ended) {
            await tx.query('UPDATE dci_outbound SET ended_at = now(), updated_at = now() WHERE id = $1 AND ended_at IS NULL', [answers.subscriptionRef])
          }
        }
        for (const n of notified) {
          await tx.query('INSERT INTO dci_outbound_events (partner_id, outbound_id, message_id, events) VALUES ($1, $2, $3, $4)', [partnerId, n.subscriptionId, envelope.header.message_id, JSON.stringify(n.items)])
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

// A request to a partner's registry, written to the audit log before anything
// leaves: no audit record, nothing sent (the stored request is marked failed).
async function auditOutbound (
  deps: Pick<OutboundSearchDeps, 'store' | 'appendAudit' | 'now'>, rowId: number, what: string, who: Asker, ctx: { requestId: string, clientIp: string | null },
  r: { purpose: string, caseRef: string, citizen: string | null, partner: Partner, details: Record<string, unknown> },
): Promise<void> {
  try {
    await deps.appendAudit({
      recordType: 'citizen_lookup',
      at: new Date((deps.now ?? Date.now)()).toISOString(),
      requestId: ctx.requestId,
      actor: actorOf(who),
      actorUnit: who.unit,
      actorAgency: who.agency,
      purpose: r.purpose,
      caseRef: r.caseRef,
      citizen: r.citizen,
      sourcesAsked: [`dci:${r.partner.id}`],
      sourcesAnswered: [],
      result: 'sent',
      clientIp: ctx.clientIp,
      details: { channel: 'dci-outbound', partner: r.partner.id, partnerName: r.partner.name, ...r.details },
    })
  } catch (err) {
    await deps.store.failed(rowId, `the ${what} could not be recorded, so it was not sent`).catch(() => {})
    throw new ProblemError('AUDIT_UNAVAILABLE', `the ${what} could not be recorded, so it was not sent; try again later`, { cause: err })
  }
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
      await auditOutbound(deps, row.id, 'look-up', who, ctx, {
        purpose: input.purpose, caseRef: input.case, citizen: regnum?.ok === true ? regnum.value : input.idValue, partner,
        details: { registry: input.registry, mode: input.mode, recordType: input.recordType, idType: input.idType, messageId: signed.messageId, transactionId: signed.transactionId },
      })
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
      if (row === null || row.action !== 'search' || (who.role !== 'admin' && (row.actor !== actorOf(who) || row.actorIssuer !== who.issuer))) {
        throw new ProblemError('NOT_FOUND', `no look-up ${transactionId} of yours at partner ${partnerId}`)
      }
      return viewOf(row)
    },
  }
}

export type OutboundSearches = ReturnType<typeof createOutboundSearches>

// Subscriptions the gateway holds at partners' registries, asked by an admin.

export interface OutboundSubscribeInput extends SubscribeQuery { case: string }

export interface SubscriptionView {
  transactionId: string
  partner: string
  registry: DciRegistry
  status: OutboundStatus | 'unsubscribed'
  purpose: string
  case: string
  regEventType: string
  filterType: string
  notifyRecordType: string
  createdAt: string
  updatedAt: string
  // Once answered: the partner's status for the subscription, and why it refused it.
  answerStatus?: string
  reason?: string | null
  subscriptions: Array<{ code: string, status: 'subscribe' | 'unsubscribe' }>
  // The latest unsubscribe sent, and the partner's answer to it.
  unsubscribe?: { transactionId: string, status: OutboundStatus, answerStatus?: string, reason?: string | null, createdAt: string }
  // What the partner notified, newest first; `nextBefore` reads the page before.
  events: ReceivedEvents[]
  nextBefore?: number
}

export interface OutboundSubscriptionDeps {
  store: OutboundStore
  client: Pick<DciClient, 'subscribeEnvelope' | 'subscribe' | 'unsubscribeEnvelope' | 'unsubscribe'>
  appendAudit: (entry: AuditEntry) => Promise<unknown>
  // Events shown per read.
  eventsPerPage: number
  now?: () => number
}

function subscriptionViewOf (row: OutboundRequest, last: OutboundRequest | null, events: ReceivedEvents[], eventsPerPage: number): SubscriptionView {
  const ended = row.endedAt !== null
  const view: SubscriptionView = {
    transactionId: row.transactionId,
    partner: row.partnerId,
    registry: row.registry,
    status: ended ? 'unsubscribed' : row.status,
    purpose: row.purpose,
    case: row.caseRef,
    regEventType: row.criteria?.regEventType ?? '',
    filterType: row.criteria?.filterType ?? '',
    notifyRecordType: row.recordType,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    subscriptions: row.subscriptionCodes.map((code) => ({ code, status: ended ? 'unsubscribe' : 'subscribe' })),
    events,
    ...(events.length === eventsPerPage ? { nextBefore: events.at(-1)!.id } : {}),
  }
  if (row.status === 'failed') view.reason = row.error
  if (row.answer !== null) {
    const outcome = subscribeOutcome((JSON.parse(row.answer) as DciEnvelope).message, row.referenceId)
    view.answerStatus = outcome.status
    view.reason = outcome.reason
  }
  if (last !== null) {
    const answer = last.answer === null ? null : unsubscribeOutcome((JSON.parse(last.answer) as DciEnvelope).message)
    view.unsubscribe = {
      transactionId: last.transactionId,
      status: last.status,
      createdAt: last.createdAt,
      ...(answer === null ? (last.status === 'failed' ? { reason: last.error } : {}) : { answerStatus: answer.status, reason: answer.reason }),
    }
  }
  return view
}

// Notifies shown per read of a subscription (older ones with ?before=).
export const PARTNER_EVENTS_PER_PAGE = 100

export function createOutboundSubscriptions (deps: OutboundSubscriptionDeps) {
  async function row (partnerId: string, transactionId: string): Promise<OutboundRequest> {
    const found = await deps.store.byTransaction(partnerId, transactionId)
    if (found === null || found.action !== 'subscribe') throw new ProblemError('NOT_FOUND', `no subscription ${transactionId} at partner ${partnerId}`)
    return found
  }

  return {
    // A subscription asked of a partner's registry: audited before it leaves
    // (no audit record, nothing sent), acknowledged by the partner, answered
    // at the receiver (on-subscribe), its events then notified there.
    async subscribe (partner: Partner, input: OutboundSubscribeInput, who: Asker, ctx: { requestId: string, clientIp: string | null }): Promise<SubscriptionView> {
      const signed = deps.client.subscribeEnvelope(partner.id, input)
      const criteria: SubscribeCriteria = { regEventType: input.regEventType, filterType: input.filterType, filter: input.filter, ...(input.frequency === undefined ? {} : { frequency: input.frequency }) }
      const created = await deps.store.create({
        partnerId: partner.id, registry: input.registry, action: 'subscribe', mode: 'async', messageId: signed.messageId, transactionId: signed.transactionId,
        referenceId: signed.referenceId, recordType: input.notifyRecordType, actor: actorOf(who), actorIssuer: who.issuer, actorUnit: who.unit, actorAgency: who.agency,
        purpose: input.purpose, caseRef: input.case, criteria,
      })
      // A subscription to one person's events is about that person: it shows in their history.
      const filter = input.filter as { type?: unknown, value?: unknown }
      const uin = input.filterType === 'idtype-value' && filter.type === 'UIN' && typeof filter.value === 'string' ? filter.value : null
      const regnum = uin === null ? null : parseRegnum(uin)
      await auditOutbound(deps, created.id, 'subscription', who, ctx, {
        purpose: input.purpose, caseRef: input.case, citizen: regnum?.ok === true ? regnum.value : uin, partner,
        details: {
          action: 'subscribe', registry: input.registry, regEventType: input.regEventType, filterType: input.filterType, filter: input.filter,
          notifyRecordType: input.notifyRecordType, messageId: signed.messageId, transactionId: signed.transactionId,
        },
      })
      try {
        const { ack } = await deps.client.subscribe(partner, input.registry, signed)
        await deps.store.sent(created.id, ack)
        return subscriptionViewOf({ ...created, status: 'sent', ack }, null, [], deps.eventsPerPage)
      } catch (err) {
        if (err instanceof ProblemError) await deps.store.failed(created.id, err.detail).catch(() => {})
        throw err
      }
    },

    // Ends a subscription the partner took: an unsubscribe with its codes,
    // answered at the receiver (on-unsubscribe).
    async unsubscribe (partner: Partner, transactionId: string, who: Asker): Promise<SubscriptionView> {
      const subscription = await row(partner.id, transactionId)
      if (subscription.endedAt !== null) throw new ProblemError('CONFLICT', `the subscription ${transactionId} has ended already`)
      if (subscription.subscriptionCodes.length === 0) {
        throw new ProblemError('CONFLICT', `the subscription ${transactionId} holds no subscription at partner ${partner.id} (${subscription.status === 'answered' ? 'the partner refused it' : `it is ${subscription.status}`}); nothing to end`)
      }
      const last = await deps.store.lastUnsubscribe(subscription.id)
      if (last !== null && (last.status === 'pending' || last.status === 'sent')) throw new ProblemError('CONFLICT', `an unsubscribe (${last.transactionId}) is waiting for the partner's answer`)
      const signed = deps.client.unsubscribeEnvelope(partner.id, subscription.registry, subscription.subscriptionCodes)
      const created = await deps.store.create({
        partnerId: partner.id, registry: subscription.registry, action: 'unsubscribe', mode: 'async', messageId: signed.messageId, transactionId: signed.transactionId,
        referenceId: signed.referenceId, recordType: subscription.recordType, actor: actorOf(who), actorIssuer: who.issuer, actorUnit: who.unit, actorAgency: who.agency,
        purpose: subscription.purpose, caseRef: subscription.caseRef, subscriptionRef: subscription.id,
      })
      let sent: OutboundRequest
      try {
        const { ack } = await deps.client.unsubscribe(partner, subscription.registry, signed)
        await deps.store.sent(created.id, ack)
        sent = { ...created, status: 'sent', ack }
      } catch (err) {
        if (err instanceof ProblemError) await deps.store.failed(created.id, err.detail).catch(() => {})
        throw err
      }
      return subscriptionViewOf(subscription, sent, await deps.store.events(subscription.id, deps.eventsPerPage, null), deps.eventsPerPage)
    },

    async read (partnerId: string, transactionId: string, before: number | null): Promise<SubscriptionView> {
      const subscription = await row(partnerId, transactionId)
      const [last, events] = await Promise.all([deps.store.lastUnsubscribe(subscription.id), deps.store.events(subscription.id, deps.eventsPerPage, before)])
      return subscriptionViewOf(subscription, last, events, deps.eventsPerPage)
    },
  }
}

export type OutboundSubscriptions = ReturnType<typeof createOutboundSubscriptions>
