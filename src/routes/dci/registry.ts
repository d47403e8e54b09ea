import { createHash, randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AuditEntry } from '../../audit/record.ts'
import { storeOutageOf } from '../../db/database.ts'
import { DciError, dciCodeOf, httpErrorBody } from '../../dci/errors.ts'
import type { Partner } from '../../dci/partners.ts'
import { operationsFor, planSearch, readRecord, SearchRefusal, uinOf, type PlannedSearch, type SearchItem } from '../../dci/search.ts'
import { signDciMessage, verifyDciMessage } from '../../dci/signature.ts'
import { loadDciSpec, type DciRegistry } from '../../dci/spec.ts'
import { parseRegnum } from '../../domain/regnum.ts'
import { ProblemError } from '../../errors/problem-error.ts'
import { toProblem } from '../../plugins/problem.ts'

// A DCI registry (Social Registry or CRVS) in front of the bus adapters: the
// envelope, signatures and message ids as the spec says, the partner's grants,
// and every record written to the audit log before it leaves.

export interface DciRegistryRoutesOptions {
  registry: DciRegistry
}

const REG_TYPE: Record<DciRegistry, string> = { social: 'ns:org:RegistryType:Social', crvs: 'ns:org:RegistryType:Civil' }
// How far a message_ts may be from the gateway's clock.
const MESSAGE_TS_SKEW_MS = 5 * 60_000
const BUS_DEADLINE_MS = 3000

interface Envelope {
  signature?: string
  header: Record<string, unknown> & { message_id: string, message_ts: string, action: string, sender_id: string, receiver_id?: string, total_count: number, version?: string, is_msg_encrypted?: boolean }
  message: Record<string, unknown>
}

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

const httpError = { description: 'HttpErrorResponse of the DCI specification', type: 'object', properties: { errors: { type: 'array', items: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } } } }

export async function dciRegistryRoutes (app: FastifyInstance, options: DciRegistryRoutesOptions): Promise<void> {
  const { registry } = options
  const spec = loadDciSpec(registry)
  const { partners, policy, signingKey, settings } = app.dci

  // Errors in the spec's HttpErrorResponse, whatever raised them (auth hook,
  // body parser, store outage).
  app.setErrorHandler((error, request, reply) => {
    if (error instanceof DciError) {
      request.log.info({ code: error.code, status: error.status }, 'DCI request refused')
      return reply.code(error.status).headers(error.headers).type('application/json').send(httpErrorBody(error.code, error.message))
    }
    const problem = toProblem(error)
    if (problem.status >= 500 && storeOutageOf(error) === undefined) request.log.error({ err: error }, 'DCI request failed')
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
    const partner = await partners.get(principal.sub)
    if (partner === null || !partner.active) throw new DciError('err.request.forbidden', 403, 'the partner is not registered or not active')
    const verified = verifyDciMessage({ signature: envelope.signature, header: envelope.header, message: envelope.message, keys: partner.jwks.keys, expectedSenderId: partner.id })
    if (!verified.ok) throw new DciError(verified.code, 401, `/signature: ${verified.reason}`)
    if (header.sender_id !== partner.id) throw new DciError('err.sender_id.invalid', 403, `/header/sender_id: ${header.sender_id} is not the partner this token was issued to`)
    if (header.receiver_id !== undefined && header.receiver_id !== settings.senderId) throw new DciError('err.receiver_id.invalid', 400, `/header/receiver_id: this registry is ${settings.senderId}`)
    return { envelope, partner }
  }

  // The header of an answer: signed by the gateway, addressed to the partner.
  function answer (partner: Partner, action: string, message: Record<string, unknown>, status: { status: 'succ' | 'rjct', total: number, completed: number, reason?: string, reasonMessage?: string }) {
    const header = {
      version: '1.0.0',
      message_id: randomUUID(),
      message_ts: new Date().toISOString(),
      action,
      status: status.status,
      ...(status.reason === undefined ? {} : { status_reason_code: status.reason, status_reason_message: status.reasonMessage }),
      total_count: status.total,
      completed_count: status.completed,
      sender_id: settings.senderId,
      receiver_id: partner.id,
      is_msg_encrypted: false,
    }
    return { signature: signDciMessage({ header, message, senderId: settings.senderId, key: signingKey }), header, message }
  }

  // A message_id is used once per sender: the same message again gets the same
  // answer; another message under it is refused.
  async function claimMessage (partner: Partner, envelope: Envelope): Promise<{ replay: string } | { duplicate: true } | { fresh: true }> {
    const digest = createHash('sha256').update(envelope.header.action).update('\n').update(JSON.stringify(envelope.message)).digest('base64url')
    const inserted = await app.db.query('INSERT INTO dci_messages (sender_id, message_id, digest) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [partner.id, envelope.header.message_id, digest])
    if ((inserted.rowCount ?? 0) === 1) return { fresh: true }
    const { rows } = await app.db.query<{ digest: string, response: string | null }>('SELECT digest, response FROM dci_messages WHERE sender_id = $1 AND message_id = $2', [partner.id, envelope.header.message_id])
    const seen = rows[0]
    if (seen === undefined || seen.digest !== digest) return { duplicate: true }
    // Same message, answer not kept yet (in progress, or the first try failed): answer it again.
    return seen.response === null ? { fresh: true } : { replay: seen.response }
  }

  async function keepAnswer (partner: Partner, messageId: string, text: string): Promise<void> {
    await app.db.query('UPDATE dci_messages SET response = $3 WHERE sender_id = $1 AND message_id = $2', [partner.id, messageId, text])
  }

  function auditEntry (request: FastifyRequest, partner: Partner, envelope: Envelope, item: SearchItem, fields: Pick<AuditEntry, 'citizen' | 'purpose' | 'sourcesAsked' | 'sourcesAnswered' | 'result'> & { reason?: string, recordType?: string }): AuditEntry {
    return {
      recordType: 'citizen_lookup',
      at: new Date().toISOString(),
      requestId: request.id,
      actor: `partner:${partner.id}`,
      actorUnit: null,
      actorAgency: null,
      purpose: fields.purpose,
      caseRef: String(envelope.message.transaction_id),
      citizen: fields.citizen,
      sourcesAsked: fields.sourcesAsked,
      sourcesAnswered: fields.sourcesAnswered,
      result: fields.result,
      clientIp: request.ip,
      details: {
        channel: 'dci',
        registry,
        partner: partner.id,
        partnerName: partner.name,
        messageId: envelope.header.message_id,
        referenceId: item.reference_id,
        ...(fields.recordType === undefined ? {} : { recordType: fields.recordType }),
        ...(fields.reason === undefined ? {} : { reason: fields.reason }),
      },
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

  async function searchItems (request: FastifyRequest, partner: Partner, envelope: Envelope) {
    const items = (envelope.message.search_request ?? []) as SearchItem[]
    const call = (op: string, regnum: string) => request.callAdapter<Record<string, unknown>>(op, { regnum }, {
      userId: `partner:${partner.id}`,
      issue: String(envelope.message.transaction_id),
      deadline: Date.now() + BUS_DEADLINE_MS,
    })
    const outcomes = await Promise.all(items.map(async (item) => {
      let plan: PlannedSearch
      try {
        plan = planSearch(item, registry, partner, policy)
      } catch (err) {
        if (!(err instanceof SearchRefusal)) throw err
        return { item, refusal: err }
      }
      try {
        return { item, plan, record: await readRecord(plan, call) }
      } catch (err) {
        if (err instanceof SearchRefusal) return { item, refusal: err }
        if (err instanceof ProblemError && err.status >= 500) {
          throw new DciError('err.service.unavailable', 503, 'a registry behind the bus did not answer; retry later', { cause: err, headers: { 'retry-after': '5' } })
        }
        throw err
      }
    }))
    // Written before anything leaves: no audit record, no data.
    const entries = outcomes.flatMap((o): AuditEntry[] => {
      if ('refusal' in o) {
        if (!o.refusal!.denied) return []
        const purpose = o.item.search_criteria.authorize?.purpose?.code ?? o.item.search_criteria.consent?.purpose?.code ?? null
        return [auditEntry(request, partner, envelope, o.item, { citizen: citizenOf(o.item), purpose, sourcesAsked: [], sourcesAnswered: [], result: 'denied', reason: o.refusal!.message })]
      }
      const ops = operationsFor(o.plan!.recordType)
      return [auditEntry(request, partner, envelope, o.item, { citizen: o.plan!.regnum, purpose: o.plan!.purpose, sourcesAsked: ops, sourcesAnswered: o.record === null ? [] : ops, result: o.record === null ? 'not_found' : 'ok', recordType: o.plan!.recordType })]
    })
    try {
      await Promise.all(entries.map((e) => app.audit.append(e)))
    } catch (err) {
      throw new DciError('err.service.unavailable', 503, 'the look-up could not be recorded, so no data is returned; retry later', { cause: err, headers: { 'retry-after': '5' } })
    }
    const now = new Date().toISOString()
    return outcomes.map((o) => {
      if ('refusal' in o) {
        return { reference_id: o.item.reference_id, timestamp: now, status: 'rjct', status_reason_code: o.refusal!.reason, status_reason_message: o.refusal!.message.slice(0, 999) }
      }
      const plan = o.plan!
      const all = o.record === null ? [] : [o.record]
      const page = all.slice((plan.pageNumber - 1) * plan.pageSize, plan.pageNumber * plan.pageSize)
      return {
        reference_id: o.item.reference_id,
        timestamp: now,
        status: 'succ',
        data: { version: '1.0.0', reg_type: REG_TYPE[registry], reg_record_type: plan.recordType, reg_records: page },
        pagination: { page_size: plan.pageSize, page_number: plan.pageNumber, total_count: all.length },
        ...(o.item.locale === undefined ? {} : { locale: o.item.locale }),
      }
    })
  }

  // Our answer breaking the spec is our bug, never the partner's.
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
    const reject = (reason: string, reasonMessage: string) => send(reply, path, answer(partner, 'on-search', { transaction_id: message.transaction_id, correlation_id: randomUUID(), search_response: [] }, { status: 'rjct', total: items.length, completed: 0, reason, reasonMessage }))
    if (Math.abs(Date.parse(header.message_ts) - Date.now()) > MESSAGE_TS_SKEW_MS) return reject('rjct.message_ts.invalid', 'message_ts is more than 5 minutes from the registry\'s clock')
    if (items.length > settings.maxItemsPerMessage) return reject('rjct.total_count.limit_exceeded', `at most ${settings.maxItemsPerMessage} search requests per message`)
    if (header.total_count !== items.length) return reject('rjct.total_count.invalid', `total_count is ${header.total_count} but the message has ${items.length} search requests`)
    const claim = await claimMessage(partner, envelope)
    if ('duplicate' in claim) return reject('rjct.message_id.duplicate', `message_id ${header.message_id} was used for another message`)
    if ('replay' in claim) return reply.type('application/json').send(claim.replay)
    const responses = await searchItems(request, partner, envelope)
    const body = answer(partner, 'on-search', { transaction_id: message.transaction_id, correlation_id: randomUUID(), search_response: responses }, { status: 'succ', total: items.length, completed: items.length })
    const text = JSON.stringify(checked(path, body))
    await keepAnswer(partner, header.message_id, text)
    return reply.type('application/json').send(text)
  })
}
