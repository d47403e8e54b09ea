import { randomUUID } from 'node:crypto'
import type { AuditEntry } from '../audit/record.ts'
import type { MemberKey } from '../bus/member-keys.ts'
import type { Config } from '../config.ts'
import { parseRegnum } from '../domain/regnum.ts'
import { ProblemError } from '../errors/problem-error.ts'
import { DciError } from './errors.ts'
import type { Partner } from './partners.ts'
import type { DciPolicy } from './policy.ts'
import { hasEvent, operationsFor, planSearch, readRecord, SearchRefusal, uinOf, type PlannedSearch, type SearchItem } from './search.ts'
import { eventsOf, factsOf, notifyRecord, type NotifyRequest } from './events.ts'
import { signDciContent } from './signature.ts'
import { planSubscription, SubscribeRefusal, subscriptionInfo, type PlannedSubscription, type SubscribeItem, type SubscribeReason, type SubscriptionStore } from './subscriptions.ts'
import type { DciRegistry } from './spec.ts'

// What answering a DCI search takes, wherever it runs: in the request (sync)
// or in the worker (async). Records are read from the bus, each look-up is
// written to the audit log before any record is handed back, and answers are
// signed with the gateway's key.

export const REG_TYPE: Record<DciRegistry, string> = { social: 'ns:org:RegistryType:Social', crvs: 'ns:org:RegistryType:Civil' }
const BUS_DEADLINE_MS = 3000

export interface DciEnvelope {
  signature?: string
  header: Record<string, unknown> & { message_id: string, message_ts: string, action: string, sender_id: string, receiver_id?: string, total_count: number, version?: string, is_msg_encrypted?: boolean }
  message: Record<string, unknown>
}

export interface DciServiceDeps {
  appendAudit: (entry: AuditEntry) => Promise<unknown>
  invoke: (operation: string, body: unknown, ctx: { xRoadId?: string, userId?: string, issue?: string, deadline?: number }) => Promise<unknown>
  policy: DciPolicy
  settings: Config['dci']
  signingKey: MemberKey
  subscriptions: SubscriptionStore
  // The citizen's standing consent for a purpose that needs one (read from
  // the database each time); { none } for a purpose that needs none.
  consent: (input: { citizen: string, purpose: string, partner: string, requestId: string, clientIp: string | null }) => Promise<{ consent: { id: string, givenAt: string } } | { needs: 'portal' } | { none: true }>
  now?: () => number
}

// The status a gateway message's header carries.
export interface EnvelopeStatus { status: 'rcvd' | 'pdng' | 'succ' | 'rjct', total: number, completed: number, reason?: string, reasonMessage?: string }

// Who asked, for the audit record: the request that carried the search, or
// the job that answers it later.
export interface SearchContext { requestId: string, clientIp: string | null }

export type SearchResponseItem = Record<string, unknown> & { reference_id: string, status: string }

const CONSENT_CONTEXT = 'https://schema.spdci.org/common/v1/api-schemas/Consent.jsonld'

export function createDciService (deps: DciServiceDeps) {
  const now = deps.now ?? Date.now
  // The time as ISO 8601; the text made once per millisecond (a search asks
  // for it several times).
  let isoAt = Number.NaN
  let iso = ''
  const isoNow = (): string => {
    const t = now()
    if (t !== isoAt) {
      iso = new Date(t).toISOString()
      isoAt = t
    }
    return iso
  }

  function auditEntry (ctx: SearchContext, registry: DciRegistry, partner: Partner, envelope: Pick<DciEnvelope, 'header' | 'message'>, item: { reference_id: string }, fields: Pick<AuditEntry, 'citizen' | 'purpose' | 'sourcesAsked' | 'sourcesAnswered' | 'result'> & { reason?: string, recordType?: string, more?: Record<string, unknown> }): AuditEntry {
    return {
      recordType: 'citizen_lookup',
      at: isoNow(),
      requestId: ctx.requestId,
      actor: `partner:${partner.id}`,
      actorUnit: null,
      actorAgency: null,
      purpose: fields.purpose,
      caseRef: String(envelope.message.transaction_id),
      citizen: fields.citizen,
      sourcesAsked: fields.sourcesAsked,
      sourcesAnswered: fields.sourcesAnswered,
      result: fields.result,
      clientIp: ctx.clientIp,
      details: {
        channel: 'dci',
        registry,
        partner: partner.id,
        partnerName: partner.name,
        messageId: envelope.header.message_id,
        referenceId: item.reference_id,
        ...(fields.recordType === undefined ? {} : { recordType: fields.recordType }),
        ...(fields.reason === undefined ? {} : { reason: fields.reason }),
        ...fields.more,
      },
    }
  }

  const unrecorded = (err: unknown) => new DciError('err.service.unavailable', 503, 'the look-up could not be recorded, so no data is returned; retry later', { cause: err, headers: { 'retry-after': '5' } })

  async function writeAudit (entries: AuditEntry[]): Promise<void> {
    try {
      await Promise.all(entries.map((e) => deps.appendAudit(e)))
    } catch (err) {
      throw unrecorded(err)
    }
  }

  // The registration number a refused item was about, when it names a valid one.
  function citizenOf (item: SearchItem): string | null {
    try {
      const parsed = parseRegnum(uinOf(item.search_criteria.query_type, item.search_criteria.query))
      return parsed.ok ? parsed.value : null
    } catch {
      return null
    }
  }

  const service = {
    // Every item of a search message, answered, with the audit records of
    // its look-ups, not yet written: the caller writes them before anything
    // leaves (see search, and messages.recordAudited). A bus failure fails the
    // whole message (retry later); refusals are answered per item.
    async answer (registry: DciRegistry, partner: Partner, envelope: DciEnvelope, ctx: SearchContext): Promise<{ responses: SearchResponseItem[], audit: AuditEntry[] }> {
      const items = (envelope.message.search_request ?? []) as SearchItem[]
      const call = (op: string, regnum: string) => deps.invoke(op, { regnum }, {
        xRoadId: ctx.requestId,
        userId: `partner:${partner.id}`,
        issue: String(envelope.message.transaction_id),
        deadline: now() + BUS_DEADLINE_MS,
      }) as Promise<Record<string, unknown>>
      type Consented = { id: string, givenAt: string } | null
      const outcomes = await Promise.all(items.map(async (item): Promise<{ item: SearchItem, refusal: SearchRefusal, more?: Record<string, unknown> } | { item: SearchItem, plan: PlannedSearch, record: Record<string, unknown> | null, consent: Consented }> => {
        let plan: PlannedSearch
        try {
          plan = planSearch(item, registry, partner, deps.policy)
        } catch (err) {
          if (!(err instanceof SearchRefusal)) throw err
          return { item, refusal: err }
        }
        // The citizen's own consent, where the purpose needs it: nothing is read without it.
        let consent: Consented = null
        try {
          const found = await deps.consent({ citizen: plan.regnum, purpose: plan.purpose, partner: partner.id, ...ctx })
          if ('needs' in found) {
            return {
              item,
              refusal: new SearchRefusal('rjct.search_criteria.invalid', `the purpose ${plan.purpose} needs the person's own consent, and none is active for this partner: the person gives it from a portal of the Mongolian government`, true),
              more: { consentNeeded: found.needs },
            }
          }
          if ('consent' in found) consent = found.consent
        } catch (err) {
          throw new DciError('err.service.unavailable', 503, 'the person\'s consent could not be checked; retry later', { cause: err, headers: { 'retry-after': '5' } })
        }
        try {
          // A person without the event asked for is no match.
          const record = await readRecord(plan, call)
          return { item, plan, record: record !== null && hasEvent(plan.event, record) ? record : null, consent }
        } catch (err) {
          if (err instanceof SearchRefusal) return { item, refusal: err }
          if (err instanceof ProblemError && err.status >= 500) {
            throw new DciError('err.service.unavailable', 503, 'a registry behind the bus did not answer; retry later', { cause: err, headers: { 'retry-after': '5' } })
          }
          throw err
        }
      }))
      // Written before anything leaves: no audit record, no data.
      const audit = outcomes.flatMap((o): AuditEntry[] => {
        if ('refusal' in o) {
          if (!o.refusal.denied) return []
          const purpose = o.item.search_criteria.authorize?.purpose?.code ?? o.item.search_criteria.consent?.purpose?.code ?? null
          return [auditEntry(ctx, registry, partner, envelope, o.item, { citizen: citizenOf(o.item), purpose, sourcesAsked: [], sourcesAnswered: [], result: 'denied', reason: o.refusal.message, ...(o.more === undefined ? {} : { more: o.more }) })]
        }
        const ops = operationsFor(o.plan.recordType)
        return [auditEntry(ctx, registry, partner, envelope, o.item, {
          citizen: o.plan.regnum, purpose: o.plan.purpose, sourcesAsked: ops, sourcesAnswered: o.record === null ? [] : ops, result: o.record === null ? 'not_found' : 'ok', recordType: o.plan.recordType,
          ...(o.consent === null ? {} : { more: { consent: o.consent.id, consentMethod: 'portal' } }),
        })]
      })
      const at = isoNow()
      const responses = outcomes.map((o): SearchResponseItem => {
        if ('refusal' in o) {
          return { reference_id: o.item.reference_id, timestamp: at, status: 'rjct', status_reason_code: o.refusal.reason, status_reason_message: o.refusal.message.slice(0, 999) }
        }
        const { plan } = o
        const all = o.record === null ? [] : [o.record]
        const page = all.slice((plan.pageNumber - 1) * plan.pageSize, plan.pageNumber * plan.pageSize)
        return {
          reference_id: o.item.reference_id,
          timestamp: at,
          status: 'succ',
          data: { version: '1.0.0', reg_type: REG_TYPE[registry], reg_record_type: plan.recordType, reg_records: page },
          pagination: { page_size: plan.pageSize, page_number: plan.pageNumber, total_count: all.length },
          ...(o.item.locale === undefined ? {} : { locale: o.item.locale }),
          // The consent it was answered under, in the shape of the request's own consent object.
          ...(o.consent === null ? {} : { consent: { '@context': CONSENT_CONTEXT, '@type': 'Consent', ts: o.consent.givenAt, purpose: { code: plan.purpose, text: deps.policy.purposes[plan.purpose]?.name.en ?? plan.purpose } } }),
        }
      })
      return { responses, audit }
    },

    // Every item of a search message, answered, its look-ups audited. A bus or
    // audit failure fails the whole message (retry later).
    async search (registry: DciRegistry, partner: Partner, envelope: DciEnvelope, ctx: SearchContext): Promise<SearchResponseItem[]> {
      const { responses, audit } = await service.answer(registry, partner, envelope, ctx)
      await writeAudit(audit)
      return responses
    },

    // What an answer's audit records failing to be written means to the partner.
    unrecorded,

    // Each subscribe_request item, as a subscription or its refusal. Refusals
    // of what the partner may ask are audited, as search refusals are.
    async subscribe (registry: DciRegistry, partner: Partner, envelope: Pick<DciEnvelope, 'header' | 'message'>, transactionRef: number, ctx: SearchContext): Promise<Array<Record<string, unknown>>> {
      const items = (envelope.message.subscribe_request ?? []) as SubscribeItem[]
      const seen = new Set<string>()
      const answers: Array<Record<string, unknown>> = []
      const denied: AuditEntry[] = []
      for (const item of items) {
        const at = isoNow()
        const refuse = (reason: SubscribeReason, message: string) => answers.push({ reference_id: item.reference_id, timestamp: at, status: 'rjct', status_reason_code: reason, status_reason_message: message.slice(0, 999) })
        if (seen.has(item.reference_id)) {
          refuse('rjct.reference_id.duplicate', `reference_id ${item.reference_id} is used twice in this message`)
          continue
        }
        seen.add(item.reference_id)
        let plan: PlannedSubscription
        try {
          plan = planSubscription(item, registry, REG_TYPE[registry], partner, deps.policy)
        } catch (err) {
          if (!(err instanceof SubscribeRefusal)) throw err
          if (err.denied) {
            const purpose = item.subscribe_criteria.authorize?.purpose?.code ?? null
            denied.push(auditEntry(ctx, registry, partner, envelope, item, { citizen: null, purpose, sourcesAsked: [], sourcesAnswered: [], result: 'denied', reason: err.message, more: { action: 'subscribe' } }))
          }
          refuse(err.reason, err.message)
          continue
        }
        const c = item.subscribe_criteria
        const criteria = {
          reg_type: REG_TYPE[registry],
          reg_event_type: c.reg_event_type,
          ...(c.frequency === undefined ? {} : { frequency: c.frequency }),
          ...(c.filter_type === undefined ? {} : { filter_type: c.filter_type }),
          filter: c.filter,
          notify_record_type: c.notify_record_type,
          ...(item.locale === undefined ? {} : { locale: item.locale }),
        }
        const wanted = { partnerId: partner.id, registry, transactionRef, referenceId: item.reference_id, regEventType: c.reg_event_type, eventType: plan.eventType, recordType: plan.recordType, purpose: plan.purpose, criteria, conditions: plan.conditions, startsAt: plan.startsAt, endsAt: plan.endsAt }
        const same = await deps.subscriptions.same(wanted)
        if (same !== null) {
          refuse('rjct.event.already_subscribed', `the subscription ${same.code} asks for the same events`)
          continue
        }
        const subscription = await deps.subscriptions.create(wanted)
        answers.push({ reference_id: item.reference_id, timestamp: at, status: 'succ', subscriptions: [subscriptionInfo(subscription)], ...(item.locale === undefined ? {} : { locale: item.locale }) })
      }
      await writeAudit(denied)
      return answers
    },

    // The partner's subscriptions under the codes, ended together or not at all.
    async unsubscribe (partner: Partner, codes: string[]): Promise<Record<string, unknown>> {
      const at = isoNow()
      const found = await deps.subscriptions.byCodes(partner.id, codes)
      const unknown = codes.filter((c) => !found.some((s) => s.code === c))
      if (unknown.length > 0) return { timestamp: at, status: 'rjct', status_reason_code: 'rjct.subscription_code.invalid', status_reason_message: `no subscription of this partner has the code ${unknown.join(', ')}`.slice(0, 999) }
      if (found.every((s) => s.status === 'unsubscribe')) return { timestamp: at, status: 'rjct', status_reason_code: 'rjct.event.already_unsubscribed', status_reason_message: 'every subscription named was already ended' }
      await deps.subscriptions.unsubscribe(partner.id, codes)
      return { timestamp: at, status: 'succ', subscription_status: codes.map((code) => ({ code, status: 'unsubscribe' })) }
    },

    // The notify_event items of one notify transaction (one event, or those
    // a frequency gathered), each record audited before it is handed back;
    // nothing when the subscription has ended or the partner lost the grant.
    async notify (partner: Partner, request: NotifyRequest, messageId: string): Promise<{ items: Array<Record<string, unknown>> } | { skipped: string }> {
      const s = await deps.subscriptions.get(request.subscription)
      if (s === null || s.status !== 'subscribe') return { skipped: 'the subscription has ended' }
      if (!partner.purposes.includes(s.purpose) || !partner.recordTypes.includes(s.recordType)) return { skipped: `the partner is no longer granted ${s.purpose} and ${s.recordType}` }
      const event = deps.policy.events[s.registry][s.eventType]
      if (event === undefined) return { skipped: `the ${s.registry} registry no longer notifies ${s.eventType}` }
      const happened = eventsOf(request)
      const envelope = { header: { message_id: messageId, action: 'notify' }, message: { transaction_id: messageId } } as unknown as DciEnvelope
      await writeAudit(happened.map((e) => auditEntry({ requestId: messageId, clientIp: null }, s.registry, partner, envelope, { reference_id: s.referenceId }, {
        citizen: factsOf(event, e).subject ?? null, purpose: s.purpose, sourcesAsked: [], sourcesAnswered: [], result: 'ok', recordType: s.recordType,
        more: { action: 'notify', subscription: s.code, event: s.regEventType, service: e.service },
      })))
      const at = isoNow()
      return {
        items: happened.map((e) => ({
          reference_id: s.referenceId,
          timestamp: at,
          data: { version: '1.0.0', reg_type: REG_TYPE[s.registry], reg_event_type: s.regEventType, reg_record_type: s.recordType, reg_records: notifyRecord(event, s.recordType, e) },
          ...(typeof s.criteria.locale === 'string' ? { locale: s.criteria.locale } : {}),
        })),
      }
    },

    // A message from the gateway to a partner: its header, signed with the gateway's key.
    envelope (partnerId: string, action: string, message: Record<string, unknown>, status: EnvelopeStatus) {
      return service.signed(partnerId, action, message, status).body
    },

    // The same, with its JSON text: JSON.stringify(body), made of the very
    // texts the signature covers.
    signed (partnerId: string, action: string, message: Record<string, unknown>, status: EnvelopeStatus) {
      const header = {
        version: '1.0.0',
        message_id: randomUUID(),
        message_ts: isoNow(),
        action,
        status: status.status,
        ...(status.reason === undefined ? {} : { status_reason_code: status.reason }),
        ...(status.reasonMessage === undefined ? {} : { status_reason_message: status.reasonMessage.slice(0, 999) }),
        total_count: status.total,
        completed_count: status.completed,
        sender_id: deps.settings.senderId,
        receiver_id: partnerId,
        is_msg_encrypted: false,
      }
      const headerJson = JSON.stringify(header)
      const messageJson = JSON.stringify(message)
      const signature = signDciContent(headerJson + messageJson, { senderId: deps.settings.senderId, key: deps.signingKey, now })
      return { body: { signature, header, message }, text: `{"signature":${JSON.stringify(signature)},"header":${headerJson},"message":${messageJson}}` }
    },

    // The acknowledgement of an async request (components.responses.Response).
    ack (status: 'ACK' | 'NACK' | 'ERR', correlationId: string, error?: { code: string, message: string }) {
      return { message: { ack_status: status, timestamp: isoNow(), correlation_id: correlationId, ...(error === undefined ? {} : { error }) } }
    },
  }
  return service
}

export type DciService = ReturnType<typeof createDciService>
