import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { checkPartnerMessage } from '../../dci/client.ts'
import { DciError } from '../../dci/errors.ts'
import { ANSWERS, ReceiveRefusal, type OutboundRequest } from '../../dci/outbound.ts'
import type { DciEnvelope } from '../../dci/service.ts'
import { loadDciSpec, type DciRegistry } from '../../dci/spec.ts'
import { dciErrorHandler } from './error-handler.ts'

// The gateway's own DCI endpoints as a client (the partner's callbacks):
// answers to the gateway's requests (on-search ...) and notifications. No
// bearer token: the message's signature, by a key the partner registered,
// is what authenticates it. Each message is taken once, and only for what
// the gateway asked that partner (a request, or a subscription it holds).

// As partner ids are registered: anything else names no partner.
const SENDER_ID = /^[A-Za-z0-9._:-]{1,100}$/

const header = (action: string, messageId: string) => ({ version: '1.0.0', message_id: messageId, message_ts: '2026-12-01T09:00:05+08:00', action, status: 'succ', total_count: 1, completed_count: 1, sender_id: 'spmis.example.org', receiver_id: 'oss-gateway.mn', is_msg_encrypted: false })

// Spec-valid examples (a partner adds its own `signature`).
const EXAMPLES: Record<string, Record<string, unknown>> = {
  '/registry/on-search': {
    header: header('on-search', '6c1f0e2a-4b7d-4e9a-8c3b-2d5f7a9e1b04'),
    message: {
      transaction_id: 'e3b0c442-98fc-4c14-9afb-f4c8996fb924',
      correlation_id: 'C-2026-000987',
      search_response: [{
        reference_id: '4a7d1ed4-14e9-4b52-9a6b-0d1c5b7e2f31',
        timestamp: '2026-12-01T09:00:05+08:00',
        status: 'succ',
        data: { version: '1.0.0', reg_type: 'ns:org:RegistryType:Social', reg_record_type: 'SRPerson', reg_records: [{ identifier: [{ identifier_type: 'UIN', identifier_value: 'УБ99032712' }] }] },
        pagination: { page_size: 10, page_number: 1, total_count: 1 },
      }],
    },
  },
  '/registry/on-subscribe': {
    header: header('on-subscribe', '7d2a1f3b-5c8e-4fab-9d4c-3e6a8b0f2c15'),
    message: { transaction_id: 'T-2026-000125', correlation_id: 'C-2026-000988', subscribe_response: [{ reference_id: 'S-1', timestamp: '2026-12-01T09:10:05+08:00', status: 'rjct', status_reason_code: 'rjct.reference_id.invalid', status_reason_message: 'example' }] },
  },
  '/registry/on-unsubscribe': {
    header: header('on-unsubscribe', '8e3b2a4c-6d9f-4abc-8e5d-4f7b9c1a3d26'),
    message: { transaction_id: 'T-2026-000126', correlation_id: 'C-2026-000989', timestamp: '2026-12-01T09:20:05+08:00', status: 'succ', subscription_status: [{ code: '3f2b8c1d-6e4a-4b9f-a0d7-1c5e9b2f8a64', status: 'unsubscribe' }] },
  },
  '/registry/txn/on-status': {
    header: header('txn-on-status', '9f4c3b5d-7e0a-4bcd-9f6e-5a8c0d2b4e37'),
    message: { transaction_id: 'T-2026-000127', correlation_id: 'C-2026-000990', txnstatus_response: { txn_type: 'search', txn_status: { transaction_id: 'e3b0c442-98fc-4c14-9afb-f4c8996fb924', correlation_id: 'C-2026-000987', search_response: [] } } },
  },
  '/registry/notify': {
    header: header('notify', 'a05d4c6e-8f1b-4cde-8a7f-6b9d1e3c5f48'),
    message: { transaction_id: 'N-2026-000001', notify_event: [{ reference_id: 'S-1', timestamp: '2026-12-01T10:00:00+08:00', data: { version: '1.0.0', reg_type: 'ns:org:RegistryType:Social', reg_event_type: 'REGISTER', reg_record_type: 'Member', reg_records: {} } }] },
  },
}

const envelopeDoc = (what: string, path: string) => ({
  type: 'object',
  required: ['header', 'message'],
  description: `A DCI ${what} envelope ({signature, header, message}), signed by the partner; validated against the DCI specification's own schemas (specs/dci/)`,
  additionalProperties: true,
  properties: { signature: { type: 'string' }, header: { type: 'object', additionalProperties: true }, message: { type: 'object', additionalProperties: true } },
  examples: [EXAMPLES[path]],
})
const httpError = { description: 'HttpErrorResponse of the DCI specification', type: 'object', properties: { errors: { type: 'array', items: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } } } }
const ackDoc = { description: 'The acknowledgement (the spec\'s Response); a re-delivered message gets the same one', type: 'object', additionalProperties: true, properties: { message: { type: 'object', additionalProperties: true } } }

const ROUTES = [
  { path: '/registry/on-search', action: 'on-search', operationId: 'dciReceiverOnSearch', summary: 'a partner\'s answer to an async search the gateway sent', what: 'on-search' },
  { path: '/registry/on-subscribe', action: 'on-subscribe', operationId: 'dciReceiverOnSubscribe', summary: 'a partner\'s answer to a subscription the gateway asked for', what: 'on-subscribe' },
  { path: '/registry/on-unsubscribe', action: 'on-unsubscribe', operationId: 'dciReceiverOnUnsubscribe', summary: 'a partner\'s answer to an unsubscribe the gateway sent', what: 'on-unsubscribe' },
  { path: '/registry/txn/on-status', action: 'txn-on-status', operationId: 'dciReceiverTxnOnStatus', summary: 'a partner\'s answer to a transaction status request the gateway sent', what: 'txn-on-status' },
  { path: '/registry/notify', action: 'notify', operationId: 'dciReceiverNotify', summary: 'an event notified by a partner', what: 'notify' },
] as const

export async function dciReceiverRoutes (app: FastifyInstance): Promise<void> {
  const { partners, service, settings, outbound } = app.dci
  const social = loadDciSpec('social')
  const crvs = loadDciSpec('crvs')

  app.setErrorHandler(dciErrorHandler)

  const senderOf = (body: unknown): string | null => {
    const id = (body as { header?: { sender_id?: unknown } } | null)?.header?.sender_id
    return typeof id === 'string' && SENDER_ID.test(id) ? id : null
  }

  // Per claimed sender and address: a forger naming a partner cannot use up
  // that partner's own allowance. On Redis, so every process counts together.
  const perSender = app.createRateLimit({
    max: settings.messagesPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => `dci-receiver:${senderOf(request.body) ?? '-'}:${request.ip}`,
  })

  type Notified = Array<{ subscriptionId: number, items: unknown[] }>
  async function admit (request: FastifyRequest, path: string, action: string): Promise<{ envelope: DciEnvelope, partnerId: string, answers: OutboundRequest | null, notified: Notified, replay?: string }> {
    const limit = await perSender(request)
    if (!limit.isAllowed && limit.isExceeded) {
      throw new DciError('err.request.too_many_requests', 429, `more than ${settings.messagesPerMinute} messages a minute from this sender; retry in ${limit.ttlInSeconds} s`, { headers: { 'retry-after': String(Math.max(1, limit.ttlInSeconds)) } })
    }
    // The sender it names, read first: every message needs it, and without
    // the store nothing here can be answered (503 before any other refusal).
    const senderId = senderOf(request.body)
    const partner = senderId === null ? null : await partners.current(senderId)
    // Valid under either API first (a CRVS notify names vital events the
    // Social Registry's does not); then under the one it was asked under.
    const socialErrors = social.validateRequest(path, request.body)
    const errors = socialErrors.length === 0 || crvs.validateRequest(path, request.body).length === 0 ? [] : socialErrors
    if (errors.length > 0) throw new DciError('err.request.bad', 400, errors.map((e) => `${e.pointer || '/'}: ${e.message}`).join('; '))
    const envelope = request.body as DciEnvelope
    if (envelope.header.version !== undefined && envelope.header.version !== '1.0.0') throw new DciError('err.version.not_supported', 400, `/header/version: ${envelope.header.version} is not supported; use 1.0.0`)
    if (envelope.header.action !== action) throw new DciError('err.request.bad', 400, `/header/action: must be ${action} on this path`)
    if (envelope.header.is_msg_encrypted === true || 'ciphertext' in envelope.message) throw new DciError('err.encryption.invalid', 400, '/message: encrypted messages are not accepted here; the transport is TLS and the message is signed')
    if (typeof envelope.signature !== 'string' || envelope.signature.trim() === '') throw new DciError('err.signature.missing', 401, '/signature: the message has no signature')
    if (partner === null || !partner.active) throw new DciError('err.sender_id.invalid', 403, '/header/sender_id: not a registered, active partner')
    const checked = checkPartnerMessage(partner, envelope, settings.senderId)
    if (!checked.ok) throw new DciError(checked.code, checked.code === 'err.receiver_id.invalid' ? 400 : checked.code === 'err.sender_id.invalid' ? 403 : 401, checked.reason)

    if (action === 'notify') {
      // A notify taken before gets its acknowledgement again, even once its subscription has ended.
      const replay = await outbound.takenBefore(partner.id, envelope)
      if (replay !== null) return { envelope, partnerId: partner.id, answers: null, notified: [], replay }
      return { envelope, partnerId: partner.id, answers: null, notified: await subscribedTo(partner.id, path, envelope) }
    }
    const asked = ANSWERS[action]
    if (asked === undefined) return { envelope, partnerId: partner.id, answers: null, notified: [] }
    // An answer to something the gateway never asked this partner is refused:
    // err.request.bad, the spec's code for a message the receiver cannot take
    // as it stands (err.request.not_found names a path, not a transaction).
    const transactionId = String(envelope.message.transaction_id)
    const answers = await outbound.byTransaction(partner.id, transactionId)
    if (answers === null || answers.action !== asked || answers.mode !== 'async') {
      throw new DciError('err.request.bad', 400, `/message/transaction_id: the gateway sent no ${asked} ${transactionId} to ${partner.id} that waits for an answer`)
    }
    // Checked against the specification the request was made under.
    againUnder(answers.registry, path, request.body)
    return { envelope, partnerId: partner.id, answers, notified: [] }
  }

  function againUnder (registry: DciRegistry, path: string, body: unknown): void {
    const again = loadDciSpec(registry).validateRequest(path, body)
    if (again.length > 0) throw new DciError('err.request.bad', 400, again.map((e) => `${e.pointer || '/'}: ${e.message}`).join('; '))
  }

  // A notify is taken only for subscriptions the gateway holds at this
  // partner (taken with a succ, not ended): each item's reference_id is the
  // one the gateway's subscribe gave. Otherwise err.request.bad, as for
  // answers to nothing asked.
  async function subscribedTo (partnerId: string, path: string, envelope: DciEnvelope): Promise<Notified> {
    const items = envelope.message.notify_event as Array<{ reference_id: string }>
    const referenceIds = [...new Set(items.map((i) => i.reference_id))]
    const held = await outbound.activeSubscriptions(partnerId, referenceIds)
    const unknown = referenceIds.filter((r) => !held.some((s) => s.referenceId === r))
    if (unknown.length > 0 || held.length === 0) {
      throw new DciError('err.request.bad', 400, `/message/notify_event: the gateway holds no running subscription at ${partnerId}${unknown.length === 0 ? '' : ` with the reference_id ${unknown.join(', ')}`}`)
    }
    for (const registry of new Set(held.map((s) => s.registry))) againUnder(registry, path, envelope)
    return held.map((s) => ({ subscriptionId: s.id, items: items.filter((i) => i.reference_id === s.referenceId) }))
  }

  for (const r of ROUTES) {
    app.post(r.path, {
      schema: {
        tags: ['dci'],
        operationId: r.operationId,
        summary: `DCI receiver: ${r.summary}`,
        description: `POST /dci/receiver${r.path} of the DCI specification, where partners' registries answer this gateway (the callback URL to register with them is /dci/receiver). ` +
          'No bearer token: the message\'s signature, by a key in the partner\'s registered JWKS, authenticates it; sender_id must be a registered, active partner and receiver_id this gateway. ' +
          (r.action === 'notify'
            ? 'Taken only when every notify_event item\'s reference_id is that of a subscription this gateway holds at the partner (asked with POST /v1/partners/{id}/subscriptions, taken by the partner, not ended; otherwise 400 err.request.bad). ' +
              'The items are kept with the subscription (GET /v1/partners/{id}/subscriptions/{transactionId}) for the DCI retention period.'
            : `Taken only for a ${ANSWERS[r.action]} this gateway sent the partner and still waits on (otherwise 400 err.request.bad).`) +
          ' A re-delivered message gets the same acknowledgement; another message under a used message_id is refused.',
        body: envelopeDoc(r.what, r.path),
        security: [],
        // The body must be signed with the caller's own key: the document cannot do that for it.
        'x-oss-caller-signs': true,
        response: { 200: ackDoc, 400: httpError, 401: httpError, 403: httpError, 429: httpError, 503: httpError },
      },
    }, async (request, reply) => {
      const { envelope, partnerId, answers, notified, replay } = await admit(request, r.path, r.action)
      if (replay !== undefined) return reply.type('application/json').send(replay)
      const ack = service.ack('ACK', randomUUID())
      const problems = social.validateResponse(r.path, ack)
      if (problems.length > 0) throw new Error(`the acknowledgement does not match the DCI specification: ${problems.map((p) => `${p.pointer} ${p.message}`).join('; ')}`)
      try {
        const text = await outbound.receive(partnerId, envelope, answers, JSON.stringify(ack), notified)
        return reply.type('application/json').send(text)
      } catch (err) {
        if (err instanceof ReceiveRefusal) throw new DciError('err.request.bad', 400, err.message)
        throw err
      }
    })
  }
}
