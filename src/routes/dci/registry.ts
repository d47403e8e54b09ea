import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { DciError } from '../../dci/errors.ts'
import { priorClaim } from '../../dci/messages.ts'
import type { Partner, PriorMessage } from '../../dci/partners.ts'
import type { SearchItem } from '../../dci/search.ts'
import type { DciEnvelope } from '../../dci/service.ts'
import { verifyDciMessage } from '../../dci/signature.ts'
import { statusAnswer, statusMessage, type StatusAnswer, type TxnStatusRequest } from '../../dci/status.ts'
import { loadDciSpec, type DciRegistry } from '../../dci/spec.ts'
import { dciErrorHandler } from './error-handler.ts'

// A DCI registry (Social Registry or CRVS) in front of the bus adapters: the
// envelope, signatures and message ids as the spec says, the partner's grants,
// and every record written to the audit log before it leaves.

export interface DciRegistryRoutesOptions {
  registry: DciRegistry
}

// How far a message_ts may be from the gateway's clock.
const MESSAGE_TS_SKEW_MS = 5 * 60_000

type Envelope = DciEnvelope

const envelopeDoc = (what: string) => ({
  type: 'object',
  required: ['header', 'message'],
  description: `A DCI ${what} envelope ({signature, header, message}); validated against the DCI specification's own schemas (specs/dci/)`,
  additionalProperties: true,
  properties: { signature: { type: 'string' }, header: { type: 'object', additionalProperties: true }, message: { type: 'object', additionalProperties: true } },
})
// A spec-valid request, as documentation; the partner adds its own `signature`
// (Signature: namespace="spdci", kidId="<sender_id>|<kid>|ed25519", ...).
const exampleSearch = (registry: DciRegistry) => ({
  header: { version: '1.0.0', message_id: '8d3f6c0e-5b8a-4d7e-9a51-0c2b7e4f9a11', message_ts: '2026-12-01T09:00:00+08:00', action: 'search', sender_id: 'spmis.example.org', receiver_id: 'oss-gateway.mn', total_count: 1 },
  message: {
    transaction_id: 'T-2026-000123',
    search_request: [{
      reference_id: 'R-1',
      timestamp: '2026-12-01T09:00:00+08:00',
      search_criteria: { reg_record_type: registry === 'social' ? 'SRPerson' : 'Person', query_type: 'idtype-value', query: { type: 'UIN', value: 'УБ99032712' }, authorize: { purpose: { code: 'social_protection.eligibility' } } },
    }],
  },
})

const exampleStatus = {
  header: { version: '1.0.0', message_id: '2b7c1f4e-7d1a-4c55-8f0e-3a9d5e6b7c21', message_ts: '2026-12-01T09:05:00+08:00', action: 'txn-status', sender_id: 'spmis.example.org', receiver_id: 'oss-gateway.mn', total_count: 1 },
  message: { transaction_id: 'T-2026-000124', txnstatus_request: { reference_id: 'S-1', txn_type: 'search', attribute_type: 'transaction_id', attribute_value: 'T-2026-000123' } },
}

const exampleSubscribe = (registry: DciRegistry) => ({
  header: { version: '1.0.0', message_id: '5e0b9d3a-1c2f-4a8e-b7d6-9f3e2a1c0b45', message_ts: '2026-12-01T09:10:00+08:00', action: 'subscribe', sender_id: 'spmis.example.org', receiver_id: 'oss-gateway.mn', total_count: 1 },
  message: {
    transaction_id: 'T-2026-000125',
    subscribe_request: [{
      reference_id: 'S-1',
      timestamp: '2026-12-01T09:10:00+08:00',
      subscribe_criteria: registry === 'crvs'
        ? { reg_event_type: 'spdci-common:RegistryEventType:LiveBirth', filter_type: 'predicate', filter: [{ seq_num: 1, expression1: { attribute_name: 'admin_unit', operator: 'eq', attribute_value: '82' } }], notify_record_type: 'Person', authorize: { purpose: { code: 'vital_events.follow_up' } } }
        : { reg_event_type: 'REGISTER', filter_type: 'predicate', filter: [{ seq_num: 1, expression1: { attribute_name: 'admin_unit', operator: 'eq', attribute_value: '82' } }], notify_record_type: 'Member', authorize: { purpose: { code: 'social_protection.eligibility' } } },
    }],
  },
})

const exampleUnsubscribe = {
  header: { version: '1.0.0', message_id: '9a1e7c52-3b4d-4f60-8e2a-7c5d1b9f0e36', message_ts: '2026-12-01T09:20:00+08:00', action: 'unsubscribe', sender_id: 'spmis.example.org', receiver_id: 'oss-gateway.mn', total_count: 1 },
  message: { transaction_id: 'T-2026-000126', timestamp: '2026-12-01T09:20:00+08:00', subscription_codes: ['3f2b8c1d-6e4a-4b9f-a0d7-1c5e9b2f8a64'] },
}

// The documented example of a path's request.
export function dciExample (registry: DciRegistry, path: string): Record<string, unknown> {
  if (path.endsWith('/txn/status')) return exampleStatus
  if (path.endsWith('/unsubscribe')) return exampleUnsubscribe
  if (path.endsWith('/subscribe')) return exampleSubscribe(registry)
  return exampleSearch(registry)
}

const httpError = { description: 'HttpErrorResponse of the DCI specification', type: 'object', properties: { errors: { type: 'array', items: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } } } }

export async function dciRegistryRoutes (app: FastifyInstance, options: DciRegistryRoutesOptions): Promise<void> {
  const { registry } = options
  const spec = loadDciSpec(registry)
  const { partners, service, settings } = app.dci

  app.setErrorHandler(dciErrorHandler)

  // Per partner, on Redis so every gateway process counts together.
  const perPartner = app.createRateLimit({
    max: settings.messagesPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => `dci:${request.principal!.sub}`,
  })

  // Envelope, partner, signature: what every request of this registry must pass.
  async function admit (request: FastifyRequest, path: string, action: string): Promise<{ envelope: Envelope, partner: Partner, prior: PriorMessage | null }> {
    const limit = await perPartner(request)
    if (!limit.isAllowed && limit.isExceeded) {
      throw new DciError('err.request.too_many_requests', 429, `more than ${settings.messagesPerMinute} messages a minute from this partner; retry in ${limit.ttlInSeconds} s`, { headers: { 'retry-after': String(Math.max(1, limit.ttlInSeconds)) } })
    }
    const errors = spec.validateRequest(path, request.body)
    if (errors.length > 0) {
      throw new DciError('err.request.bad', 400, errors.map((e) => `${e.pointer || '/'}: ${e.message}`).join('; '))
    }
    const envelope = request.body as Envelope
    const { header } = envelope
    if (header.version !== undefined && header.version !== '1.0.0') throw new DciError('err.version.not_supported', 400, `/header/version: ${header.version} is not supported; use 1.0.0`)
    if (header.action !== action) throw new DciError('err.request.bad', 400, `/header/action: must be ${action} on this path`)
    if (header.is_msg_encrypted === true || 'ciphertext' in envelope.message) throw new DciError('err.encryption.invalid', 400, '/message: encrypted messages are not accepted here; the transport is TLS and the message is signed')
    // The partner the token was issued to; its keys check the signature
    // (whose kidId names the sender) before anything the header claims is used.
    const principal = request.principal!
    const { partner, prior } = await partners.admission(principal.sub, header.message_id)
    if (partner === null || !partner.active) throw new DciError('err.request.forbidden', 403, 'the partner is not registered or not active')
    const verified = verifyDciMessage({ signature: envelope.signature, header: envelope.header, message: envelope.message, keys: partner.jwks.keys, expectedSenderId: partner.id })
    if (!verified.ok) throw new DciError(verified.code, 401, `/signature: ${verified.reason}`)
    if (header.sender_id !== partner.id) throw new DciError('err.sender_id.invalid', 403, `/header/sender_id: ${header.sender_id} is not the partner this token was issued to`)
    if (header.receiver_id !== undefined && header.receiver_id !== settings.senderId) throw new DciError('err.receiver_id.invalid', 400, `/header/receiver_id: this registry is ${settings.senderId}`)
    return { envelope, partner, prior }
  }

  // What the header says that this registry will not take; null when nothing.
  function headerProblem (envelope: Envelope, items: number): { reason: string, message: string } | null {
    const { header } = envelope
    if (Math.abs(Date.parse(header.message_ts) - Date.now()) > MESSAGE_TS_SKEW_MS) return { reason: 'rjct.message_ts.invalid', message: 'message_ts is more than 5 minutes from the registry\'s clock' }
    if (items > settings.maxItemsPerMessage) return { reason: 'rjct.total_count.limit_exceeded', message: `at most ${settings.maxItemsPerMessage} requests per message` }
    if (header.total_count !== items) return { reason: 'rjct.total_count.invalid', message: `total_count is ${header.total_count} but the message has ${items} requests` }
    return null
  }

  // Our answer (or acknowledgement) breaking the spec is our bug, never the partner's.
  function checked<T> (path: string, body: T): T {
    const problems = spec.validateResponse(path, body)
    if (problems.length > 0) throw new Error(`the ${registry} ${path} answer does not match the DCI specification: ${problems.map((p) => `${p.pointer} ${p.message}`).join('; ')}`)
    return body
  }

  function send (reply: FastifyReply, path: string, body: Record<string, unknown>) {
    return reply.type('application/json').send(checked(path, body))
  }

  const path = '/registry/sync/search'
  app.post(path, {
    config: { auth: { roles: ['partner'] } },
    schema: {
      tags: ['dci'],
      operationId: `dci${registry === 'social' ? 'Social' : 'Crvs'}SyncSearch`,
      summary: `DCI ${registry === 'social' ? 'Social Registry' : 'CRVS'}: search by UIN (the registration number), answered at once`,
      description: `POST ${path} of the DCI ${registry === 'social' ? 'Social Registry API (social_api_v1.0.0-rev-subscribe)' : 'CRVS API (crvs_api_v1.0.0)'}. ` +
        'idtype-value (UIN), and predicate or expression queries that come down to "UIN eq X"; the registries behind the bus search by registration number only. ' +
        'The message must be signed by a key the partner registered. Each record is written to the audit log before it leaves and shows in the citizen\'s data-access history.',
      body: { ...envelopeDoc('search request'), examples: [exampleSearch(registry)] },
      security: [{ partnerToken: [] }],
      // The body must be signed with the caller's own key: the document cannot do that for it.
      'x-oss-caller-signs': true,
      response: { 200: { ...envelopeDoc('search response (on-search)'), description: 'The search response, signed by the gateway' }, 400: httpError, 401: httpError, 403: httpError, 429: httpError, 503: httpError },
    },
  }, async (request, reply) => {
    const { envelope, partner, prior } = await admit(request, path, 'search')
    const { header, message } = envelope
    const items = (message.search_request ?? []) as SearchItem[]
    const reject = (reason: string, reasonMessage: string) => send(reply, path, service.envelope(partner.id, 'on-search', { transaction_id: message.transaction_id, correlation_id: randomUUID(), search_response: [] }, { status: 'rjct', total: items.length, completed: 0, reason, reasonMessage }))
    const wrong = headerProblem(envelope, items.length)
    if (wrong !== null) return reject(wrong.reason, wrong.message)
    const before = priorClaim(prior, envelope)
    if ('duplicate' in before) return reject('rjct.message_id.duplicate', `message_id ${header.message_id} was used for another message`)
    if ('replay' in before) return reply.type('application/json').send(before.replay)
    const { responses, audit } = await service.answer(registry, partner, envelope, { requestId: request.id, clientIp: request.ip })
    const { body, text } = service.signed(partner.id, 'on-search', { transaction_id: message.transaction_id, correlation_id: randomUUID(), search_response: responses }, { status: 'succ', total: items.length, completed: items.length })
    checked(path, body)
    // The look-ups' audit records and the message_id with the answer, in one
    // write, before anything leaves: no audit record, no data. Two tries of
    // one message at once: the first stored answers both. Another message
    // under the same id at once: refused, its look-up audited though nothing left.
    let stored: Awaited<ReturnType<typeof app.dci.messages.recordAudited>>
    try {
      stored = await app.dci.messages.recordAudited(partner.id, envelope, text, audit)
    } catch (err) {
      throw service.unrecorded(err)
    }
    if ('duplicate' in stored) return reject('rjct.message_id.duplicate', `message_id ${header.message_id} was used for another message`)
    return reply.type('application/json').send('replay' in stored ? stored.replay : text)
  })

  const name = registry === 'social' ? 'Social Registry' : 'CRVS'
  const Name = registry === 'social' ? 'Social' : 'Crvs'
  const ackDoc = { description: 'The acknowledgement (ACK, or ERR with the reason)', type: 'object', additionalProperties: true, properties: { message: { type: 'object', additionalProperties: true } } }

  // An async request: stored, acknowledged, then answered by a job that
  // POSTs the signed answer to the partner's callback base URL + `callback`.
  function asyncRoute (r: { path: string, action: string, callback: string, operationId: string, summary: string, description: string, example: Record<string, unknown>, items: (message: Record<string, unknown>) => number }) {
    app.post(r.path, {
      config: { auth: { roles: ['partner'] } },
      schema: {
        tags: ['dci'],
        operationId: `dci${Name}${r.operationId}`,
        summary: `DCI ${name}: ${r.summary}`,
        description: `POST ${r.path}: ${r.description} Acknowledged once stored; the signed answer is POSTed to the partner's callback base URL + ${r.callback} ` +
          '(retried with full jitter; kept for txn/status whatever happens to the callback).',
        body: { ...envelopeDoc(`${r.action} request`), examples: [r.example] },
        security: [{ partnerToken: [] }],
        'x-oss-caller-signs': true,
        response: { 200: ackDoc, 400: httpError, 401: httpError, 403: httpError, 429: httpError, 503: httpError },
      },
    }, async (request, reply) => {
      const { envelope, partner } = await admit(request, r.path, r.action)
      const { header, message } = envelope
      const err = (text: string) => send(reply, r.path, service.ack('ERR', randomUUID(), { code: 'err.request.bad', message: text }))
      const wrong = headerProblem(envelope, r.items(message))
      if (wrong !== null) return err(`${wrong.reason}: ${wrong.message}`)
      const claim = await app.dci.messages.claim(partner.id, envelope)
      if ('duplicate' in claim) return err(`rjct.message_id.duplicate: message_id ${header.message_id} was used for another message`)
      if ('replay' in claim) return reply.type('application/json').send(claim.replay)
      // Stored before the ACK: an acknowledged request is answered, whatever fails after.
      const { transaction } = await app.dci.transactions.create({
        partnerId: partner.id, registry, action: r.action, messageId: header.message_id, transactionId: String(message.transaction_id), correlationId: randomUUID(), request: JSON.stringify(message),
      })
      const ack = JSON.stringify(checked(r.path, service.ack('ACK', transaction.correlationId)))
      await app.dci.messages.keep(partner.id, header.message_id, ack)
      // Queued now when Redis is there; otherwise the relay queues it.
      try {
        await app.dci.enqueue(transaction.id)
      } catch (cause) {
        request.log.warn({ err: cause }, 'DCI answer not queued at once; the relay will queue it')
      }
      return reply.type('application/json').send(ack)
    })
  }

  const listed = (key: string) => (message: Record<string, unknown>) => ((message[key] ?? []) as unknown[]).length
  asyncRoute({
    path: '/registry/search',
    action: 'search',
    callback: '/registry/on-search',
    operationId: 'Search',
    summary: 'search by UIN, acknowledged at once and answered at the partner\'s on-search',
    description: 'as the sync search, answered later.',
    example: exampleSearch(registry),
    items: listed('search_request'),
  })
  const events = Object.keys(app.dci.policy.events[registry])
  asyncRoute({
    path: '/registry/subscribe',
    action: 'subscribe',
    callback: '/registry/on-subscribe',
    operationId: 'Subscribe',
    summary: `subscribe to events (${events.join(', ')}), answered at the partner's on-subscribe`,
    description: `reg_event_type one of ${events.join(', ')} (a prefix such as spdci-common:RegistryEventType: is ignored), each an agency's approval answered through the bus; ` +
      'filter by UIN, admin_unit (an administrative unit code: the unit and every unit below) or event_date, as idtype-value, predicate (expressions joined with "and") or expression; ' +
      'frequency.start_time and end_time bound the events notified. Each event is POSTed, signed, to the callback base URL + /registry/notify as it happens, its record audited before it leaves.',
    example: exampleSubscribe(registry),
    items: listed('subscribe_request'),
  })
  asyncRoute({
    path: '/registry/unsubscribe',
    action: 'unsubscribe',
    callback: '/registry/on-unsubscribe',
    operationId: 'Unsubscribe',
    summary: 'end subscriptions by their codes, answered at the partner\'s on-unsubscribe',
    description: 'every code named must be one of the partner\'s subscriptions (rjct.subscription_code.invalid otherwise, and none is ended); notifications not yet sent for them are dropped.',
    example: exampleUnsubscribe,
    items: listed('subscription_codes'),
  })
  asyncRoute({
    path: '/registry/txn/status',
    action: 'txn-status',
    callback: '/registry/txn/on-status',
    operationId: 'TxnStatus',
    summary: 'the status of an async transaction, answered at the partner\'s txn/on-status',
    description: 'as the sync txn/status, answered later.',
    example: exampleStatus,
    items: () => 1,
  })

  const statusPath = '/registry/sync/txn/status'
  app.post(statusPath, {
    config: { auth: { roles: ['partner'] } },
    schema: {
      tags: ['dci'],
      operationId: `dci${Name}SyncTxnStatus`,
      summary: `DCI ${name}: the status of an async search or subscription, by transaction_id, correlation_id, reference ids${registry === 'crvs' ? ' or subscription codes' : ''}`,
      description: `POST ${statusPath}: the answer of an async transaction as it was (or would be) sent to the partner's callback, or its items as pdng while it is being answered; ` +
        'status_reason_message says whether the callback was delivered.',
      body: { ...envelopeDoc('transaction status request'), examples: [exampleStatus] },
      security: [{ partnerToken: [] }],
      'x-oss-caller-signs': true,
      response: { 200: { ...envelopeDoc('transaction status response (txn-on-status)'), description: 'The status, signed by the gateway' }, 400: httpError, 401: httpError, 403: httpError, 429: httpError, 503: httpError },
    },
  }, async (request, reply) => {
    const { envelope, partner, prior } = await admit(request, statusPath, 'txn-status')
    const { header, message } = envelope
    const asked = message.txnstatus_request as TxnStatusRequest
    const answerWith = (answer: StatusAnswer) => service.envelope(partner.id, 'txn-on-status', statusMessage(message.transaction_id, answer), {
      status: answer.status, total: 1, completed: answer.status === 'succ' ? 1 : 0, reasonMessage: answer.reasonMessage, ...(answer.reason === undefined ? {} : { reason: answer.reason }),
    })
    const reject = (reason: string, reasonMessage: string) => send(reply, statusPath, answerWith({ txnstatusResponse: { txn_type: asked.txn_type, txn_status: { transaction_id: '', correlation_id: '', search_response: [] } }, status: 'rjct', reason, reasonMessage }))
    const wrong = headerProblem(envelope, 1)
    if (wrong !== null) return reject(wrong.reason, wrong.message)
    const before = priorClaim(prior, envelope)
    if ('duplicate' in before) return reject('rjct.message_id.duplicate', `message_id ${header.message_id} was used for another message`)
    if ('replay' in before) return reply.type('application/json').send(before.replay)
    const answer = await statusAnswer({ transactions: app.dci.transactions, subscriptions: app.dci.subscriptions }, registry, partner.id, asked)
    const text = JSON.stringify(checked(statusPath, answerWith(answer)))
    const stored = await app.dci.messages.record(partner.id, envelope, text)
    if ('duplicate' in stored) return reject('rjct.message_id.duplicate', `message_id ${header.message_id} was used for another message`)
    return reply.type('application/json').send('replay' in stored ? stored.replay : text)
  })
}
