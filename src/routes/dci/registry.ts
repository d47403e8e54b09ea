import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { storeOutageOf } from '../../db/database.ts'
import { DciError, dciCodeOf, httpErrorBody } from '../../dci/errors.ts'
import type { Partner } from '../../dci/partners.ts'
import type { SearchItem } from '../../dci/search.ts'
import type { DciEnvelope } from '../../dci/service.ts'
import { verifyDciMessage } from '../../dci/signature.ts'
import { loadDciSpec, type DciRegistry } from '../../dci/spec.ts'
import { toProblem } from '../../plugins/problem.ts'

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

// The CRVS spec types reg_records as one object (a Person) in TxnStatusResponse,
// where its SearchResponse has an array: a search by UIN has at most one record.
function crvsStatusShape (message: Record<string, unknown>): Record<string, unknown> {
  const items = (message.search_response ?? []) as Array<Record<string, unknown> & { data?: { reg_records?: unknown[] } }>
  return {
    ...message,
    search_response: items.map((i) => i.data === undefined ? i : { ...i, data: { ...i.data, reg_records: i.data.reg_records?.[0] ?? {} } }),
  }
}

// The documented example of a path's request.
export function dciExample (registry: DciRegistry, path: string): Record<string, unknown> {
  return path.endsWith('/txn/status') ? exampleStatus : exampleSearch(registry)
}

const httpError = { description: 'HttpErrorResponse of the DCI specification', type: 'object', properties: { errors: { type: 'array', items: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } } } }

export async function dciRegistryRoutes (app: FastifyInstance, options: DciRegistryRoutesOptions): Promise<void> {
  const { registry } = options
  const spec = loadDciSpec(registry)
  const { partners, service, settings } = app.dci

  // Errors in the spec's HttpErrorResponse, whatever raised them (auth hook,
  // body parser, store outage).
  app.setErrorHandler((error, request, reply) => {
    if (error instanceof DciError) {
      request.log.info({ code: error.code, status: error.status }, 'DCI request refused')
      return reply.code(error.status).headers(error.headers).type('application/json').send(httpErrorBody(error.code, error.message))
    }
    const problem = toProblem(error)
    const outage = storeOutageOf(error)
    // As the problem handler logs them: one line, the route pattern, no stack.
    if (outage !== undefined) request.log.warn({ code: problem.code, method: request.method, route: request.routeOptions.url, reason: (outage.cause as Error)?.message }, 'the database is unavailable')
    else if (problem.status >= 500) request.log.error({ err: error }, 'DCI request failed')
    else request.log.info({ code: problem.code, status: problem.status }, problem.title)
    return reply.code(problem.status).headers(problem.headers).type('application/json').send(httpErrorBody(dciCodeOf(problem), problem.detail))
  })

  // Per partner, on Redis so every gateway process counts together.
  const perPartner = app.createRateLimit({
    max: settings.messagesPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => `dci:${request.principal!.sub}`,
  })

  // Envelope, partner, signature: what every request of this registry must pass.
  async function admit (request: FastifyRequest, path: string, action: string): Promise<{ envelope: Envelope, partner: Partner }> {
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
    const partner = await partners.current(principal.sub)
    if (partner === null || !partner.active) throw new DciError('err.request.forbidden', 403, 'the partner is not registered or not active')
    const verified = verifyDciMessage({ signature: envelope.signature, header: envelope.header, message: envelope.message, keys: partner.jwks.keys, expectedSenderId: partner.id })
    if (!verified.ok) throw new DciError(verified.code, 401, `/signature: ${verified.reason}`)
    if (header.sender_id !== partner.id) throw new DciError('err.sender_id.invalid', 403, `/header/sender_id: ${header.sender_id} is not the partner this token was issued to`)
    if (header.receiver_id !== undefined && header.receiver_id !== settings.senderId) throw new DciError('err.receiver_id.invalid', 400, `/header/receiver_id: this registry is ${settings.senderId}`)
    return { envelope, partner }
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
    const { envelope, partner } = await admit(request, path, 'search')
    const { header, message } = envelope
    const items = (message.search_request ?? []) as SearchItem[]
    const reject = (reason: string, reasonMessage: string) => send(reply, path, service.envelope(partner.id, 'on-search', { transaction_id: message.transaction_id, correlation_id: randomUUID(), search_response: [] }, { status: 'rjct', total: items.length, completed: 0, reason, reasonMessage }))
    const wrong = headerProblem(envelope, items.length)
    if (wrong !== null) return reject(wrong.reason, wrong.message)
    const claim = await app.dci.messages.claim(partner.id, envelope)
    if ('duplicate' in claim) return reject('rjct.message_id.duplicate', `message_id ${header.message_id} was used for another message`)
    if ('replay' in claim) return reply.type('application/json').send(claim.replay)
    const responses = await service.search(registry, partner, envelope, { requestId: request.id, clientIp: request.ip })
    const body = service.envelope(partner.id, 'on-search', { transaction_id: message.transaction_id, correlation_id: randomUUID(), search_response: responses }, { status: 'succ', total: items.length, completed: items.length })
    const text = JSON.stringify(checked(path, body))
    await app.dci.messages.keep(partner.id, header.message_id, text)
    return reply.type('application/json').send(text)
  })

  const asyncPath = '/registry/search'
  app.post(asyncPath, {
    config: { auth: { roles: ['partner'] } },
    schema: {
      tags: ['dci'],
      operationId: `dci${registry === 'social' ? 'Social' : 'Crvs'}Search`,
      summary: `DCI ${registry === 'social' ? 'Social Registry' : 'CRVS'}: search by UIN, acknowledged at once and answered at the partner's on-search`,
      description: `POST ${asyncPath}: as the sync search, but answered with an ACK once the request is stored; the signed answer is POSTed to the partner's callback base URL + /registry/on-search ` +
        '(retried with full jitter; kept for txn/status whatever happens to the callback).',
      body: { ...envelopeDoc('search request'), examples: [exampleSearch(registry)] },
      security: [{ partnerToken: [] }],
      'x-oss-caller-signs': true,
      response: { 200: { description: 'The acknowledgement (ACK, or ERR with the reason)', type: 'object', additionalProperties: true, properties: { message: { type: 'object', additionalProperties: true } } }, 400: httpError, 401: httpError, 403: httpError, 429: httpError, 503: httpError },
    },
  }, async (request, reply) => {
    const { envelope, partner } = await admit(request, asyncPath, 'search')
    const { header, message } = envelope
    const items = (message.search_request ?? []) as SearchItem[]
    const err = (text: string) => send(reply, asyncPath, service.ack('ERR', randomUUID(), { code: 'err.request.bad', message: text }))
    const wrong = headerProblem(envelope, items.length)
    if (wrong !== null) return err(`${wrong.reason}: ${wrong.message}`)
    const claim = await app.dci.messages.claim(partner.id, envelope)
    if ('duplicate' in claim) return err(`rjct.message_id.duplicate: message_id ${header.message_id} was used for another message`)
    if ('replay' in claim) return reply.type('application/json').send(claim.replay)
    // Stored before the ACK: an acknowledged request is answered, whatever fails after.
    const { transaction } = await app.dci.transactions.create({
      partnerId: partner.id, registry, action: 'search', messageId: header.message_id, transactionId: String(message.transaction_id), correlationId: randomUUID(), request: JSON.stringify(message),
    })
    const ack = JSON.stringify(checked(asyncPath, service.ack('ACK', transaction.correlationId)))
    await app.dci.messages.keep(partner.id, header.message_id, ack)
    // Queued now when Redis is there; otherwise the relay queues it.
    try {
      await app.dci.enqueue(transaction.id)
    } catch (cause) {
      request.log.warn({ err: cause }, 'DCI answer not queued at once; the relay will queue it')
    }
    return reply.type('application/json').send(ack)
  })

  const statusPath = '/registry/sync/txn/status'
  app.post(statusPath, {
    config: { auth: { roles: ['partner'] } },
    schema: {
      tags: ['dci'],
      operationId: `dci${registry === 'social' ? 'Social' : 'Crvs'}SyncTxnStatus`,
      summary: `DCI ${registry === 'social' ? 'Social Registry' : 'CRVS'}: the status of an async search, by transaction_id, correlation_id or reference ids`,
      description: `POST ${statusPath}: the answer of an async search as it was (or would be) sent to the partner's callback, or its items as pdng while it is being answered; ` +
        'status_reason_message says whether the callback was delivered.',
      body: { ...envelopeDoc('transaction status request'), examples: [exampleStatus] },
      security: [{ partnerToken: [] }],
      'x-oss-caller-signs': true,
      response: { 200: { ...envelopeDoc('transaction status response (txn-on-status)'), description: 'The status, signed by the gateway' }, 400: httpError, 401: httpError, 403: httpError, 429: httpError, 503: httpError },
    },
  }, async (request, reply) => {
    const { envelope, partner } = await admit(request, statusPath, 'txn-status')
    const { message } = envelope
    const asked = message.txnstatus_request as { txn_type: string, attribute_type: 'transaction_id' | 'correlation_id' | 'reference_id_list', attribute_value: string | string[] }
    // txnstatus_response is required even when nothing is found: then it lists nothing.
    const nothing = { transaction_id: asked.attribute_type === 'transaction_id' ? String(asked.attribute_value) : '', correlation_id: asked.attribute_type === 'correlation_id' ? String(asked.attribute_value) : '', search_response: [] }
    const answerWith = (txnStatus: Record<string, unknown> | null, status: 'succ' | 'rjct', reasonMessage: string, reason?: string) => send(reply, statusPath, service.envelope(partner.id, 'txn-on-status', {
      transaction_id: message.transaction_id,
      correlation_id: randomUUID(),
      txnstatus_response: { txn_type: asked.txn_type, txn_status: txnStatus ?? nothing },
    }, { status, total: 1, completed: status === 'succ' ? 1 : 0, reasonMessage, ...(reason === undefined ? {} : { reason }) }))
    const wrong = headerProblem(envelope, 1)
    if (wrong !== null) return answerWith(null, 'rjct', wrong.message, wrong.reason)
    if (asked.txn_type !== 'search') return answerWith(null, 'rjct', `${asked.txn_type} transactions are not kept by this registry`, 'rjct.action.not_supported')
    const listed = asked.attribute_type === 'reference_id_list'
    if (listed !== Array.isArray(asked.attribute_value)) return answerWith(null, 'rjct', 'attribute_value must be a list exactly when attribute_type is reference_id_list')
    const found = (await app.dci.transactions.find(partner.id, asked.attribute_type, asked.attribute_value)).filter((t) => t.registry === registry && t.action === 'search')
    const tx = found[0]
    if (tx === undefined) return answerWith(null, 'rjct', 'no search of this partner matches')
    const stored = tx.answer === null ? null : JSON.parse(tx.answer) as { message: Record<string, unknown> }
    const pending = { transaction_id: tx.transactionId, correlation_id: tx.correlationId, search_response: ((JSON.parse(tx.request) as { search_request?: SearchItem[] }).search_request ?? []).map((i) => ({ reference_id: i.reference_id, timestamp: new Date().toISOString(), status: 'pdng' })) }
    const delivery = tx.callbackState === 'sent' ? 'the answer was delivered to the partner\'s callback' : tx.callbackState === 'failed' ? `the answer could not be delivered: ${tx.callbackError ?? 'unknown'}` : tx.answer === null ? 'the search is being answered' : 'the answer is being delivered'
    return answerWith(registry === 'crvs' && stored !== null ? crvsStatusShape(stored.message) : stored?.message ?? pending, 'succ', delivery)
  })
}
