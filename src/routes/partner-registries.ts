import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Partner } from '../dci/partners.ts'
import { PARTNER_EVENTS_PER_PAGE, type Asker, type OutboundSearchInput, type OutboundSubscribeInput } from '../dci/outbound.ts'
import { allRecordTypes, bareRecordType } from '../dci/policy.ts'
import { loadDciSpec, type DciRegistry } from '../dci/spec.ts'
import { ProblemError } from '../errors/problem-error.ts'

// Officers looking a person up in a partner's DCI registry (a foreign
// social-protection MIS), for a purpose and a case: audited as a citizen
// look-up, answered at once (sync) or when the partner calls back (async).
// And admins subscribing the gateway to events in a partner's registry,
// whose notifies then come to the receiver and are kept with the subscription.

const ID_PATTERN = '^[A-Za-z0-9._:-]{1,100}$'
const ID_RE = new RegExp(ID_PATTERN)
// subscribe_criteria's properties, where both DCI APIs have them.
const CRITERIA_POINTER = '/components/schemas/SubscribeRequest/properties/subscribe_request/items/properties/subscribe_criteria/properties'
const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } })

declare module 'fastify' {
  interface FastifyRequest {
    registryPartner: Partner | null
  }
}

const viewSchema = {
  type: 'object',
  required: ['transactionId', 'partner', 'registry', 'mode', 'status', 'purpose', 'case', 'recordType', 'createdAt', 'updatedAt'],
  properties: {
    transactionId: { type: 'string', description: 'The DCI transaction_id; read the look-up again with it' },
    partner: { type: 'string' },
    registry: { type: 'string', enum: ['social', 'crvs'] },
    mode: { type: 'string', enum: ['sync', 'async'] },
    status: { type: 'string', enum: ['pending', 'sent', 'answered', 'failed'], description: 'sent: acknowledged by the partner, its answer not in yet' },
    purpose: { type: 'string' },
    case: { type: 'string' },
    recordType: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    answerStatus: { type: 'string', description: 'The partner\'s status for the person: succ, or rjct with the reason' },
    records: { type: 'array', items: { type: 'object', additionalProperties: true }, description: 'The partner\'s records (reg_records), as it sent them, signed' },
    reason: { type: ['string', 'null'] },
  },
}

const subscriptionSchema = {
  type: 'object',
  required: ['transactionId', 'partner', 'registry', 'status', 'purpose', 'case', 'regEventType', 'filterType', 'notifyRecordType', 'createdAt', 'updatedAt', 'subscriptions', 'events'],
  properties: {
    transactionId: { type: 'string', description: 'The DCI transaction_id of the subscribe; read the subscription again with it' },
    partner: { type: 'string' },
    registry: { type: 'string', enum: ['social', 'crvs'] },
    status: {
      type: 'string',
      enum: ['pending', 'sent', 'answered', 'failed', 'unsubscribed'],
      description: 'sent: acknowledged by the partner, its on-subscribe not in yet; answered: see answerStatus (succ: the partner holds it, and notifies); unsubscribed: ended at the partner',
    },
    purpose: { type: 'string' },
    case: { type: 'string' },
    regEventType: { type: 'string' },
    filterType: { type: 'string' },
    notifyRecordType: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    answerStatus: { type: 'string', description: 'The partner\'s status for the subscription (its on-subscribe): succ, or rjct with the reason' },
    reason: { type: ['string', 'null'] },
    subscriptions: {
      type: 'array',
      description: 'The partner\'s subscription codes (subscribe_response subscriptions[].code)',
      items: { type: 'object', required: ['code', 'status'], properties: { code: { type: 'string' }, status: { type: 'string', enum: ['subscribe', 'unsubscribe'] } } },
    },
    unsubscribe: {
      type: 'object',
      description: 'The latest unsubscribe sent, and the partner\'s answer to it (its on-unsubscribe)',
      required: ['transactionId', 'status', 'createdAt'],
      properties: {
        transactionId: { type: 'string' },
        status: { type: 'string', enum: ['pending', 'sent', 'answered', 'failed'] },
        answerStatus: { type: 'string' },
        reason: { type: ['string', 'null'] },
        createdAt: { type: 'string', format: 'date-time' },
      },
    },
    events: {
      type: 'array',
      description: `What the partner notified (each received notify: its notify_event items, as sent, signed), newest first, at most ${PARTNER_EVENTS_PER_PAGE}; kept for the DCI retention period`,
      items: {
        type: 'object',
        required: ['id', 'messageId', 'receivedAt', 'items'],
        properties: {
          id: { type: 'integer' },
          messageId: { type: 'string' },
          receivedAt: { type: 'string', format: 'date-time' },
          items: { type: 'array', items: { type: 'object', additionalProperties: true } },
        },
      },
    },
    nextBefore: { type: 'integer', description: 'More events are older: read them with ?before= this' },
  },
}

function askerOf (request: FastifyRequest): Asker {
  const p = request.principal!
  return { sub: p.sub, issuer: p.issuer, role: p.role, unit: p.role === 'officer' ? p.unit : null, agency: p.role === 'officer' ? p.agency : null }
}

export async function partnerRegistryRoutes (app: FastifyInstance): Promise<void> {
  const { partners, policy, searches, partnerSubscriptions: subscriptions } = app.dci
  const purposes = Object.keys(policy.purposes)
  const params = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: ID_PATTERN, description: 'The partner (its DCI sender_id)', examples: ['spmis.example.org'] } } }
  app.decorateRequest('registryPartner', null)

  // The partner, before the body is looked at: an unknown partner is the
  // first thing to say, and it needs the store.
  async function loadPartner (request: FastifyRequest): Promise<void> {
    const { id } = request.params as { id: string }
    // Left to validation to refuse (the store is not asked about it).
    if (!ID_RE.test(id)) return
    const partner = await partners.current(id)
    if (partner === null || !partner.active || partner.registry === null) throw new ProblemError('NOT_FOUND', `no active partner ${id} with a registry to query`)
    request.registryPartner = partner
  }

  // The purpose covers the registry, and the record type is one of the registry's.
  function checkGrant (registry: DciRegistry, purpose: string, recordType: string, recordTypePointer: string): void {
    if (!policy.purposes[purpose]!.registries.includes(registry)) {
      throw new ProblemError('PURPOSE_FORBIDDEN', `purpose ${purpose} does not cover the ${registry} registry`, { extensions: { errors: [{ in: 'body', pointer: '/purpose', detail: `not a purpose for the ${registry} registry` }] } })
    }
    if (!policy.recordTypes[registry].includes(bareRecordType(recordType))) {
      throw new ProblemError('VALIDATION_FAILED', `the ${registry} registry has no record type ${recordType}`, { extensions: { errors: [{ in: 'body', pointer: recordTypePointer, detail: `one of ${policy.recordTypes[registry].join(', ')}` }] } })
    }
  }

  const body = {
    type: 'object',
    required: ['idValue', 'recordType', 'purpose', 'case'],
    additionalProperties: false,
    examples: [{ registry: 'social', idType: 'UIN', idValue: 'УБ99032712', recordType: 'SRPerson', purpose: 'social_protection.portability', case: 'CASE-2026-17', mode: 'async' }],
    properties: {
      registry: { type: 'string', enum: ['social', 'crvs'], default: 'social', description: 'The DCI API the partner\'s registry speaks (Social Registry or CRVS)' },
      idType: { type: 'string', enum: ['UIN'], default: 'UIN', description: 'What idValue is (the partner\'s UIN)' },
      idValue: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[^\\u0000-\\u001f]+$', description: 'The person\'s identifier at the partner' },
      recordType: { type: 'string', enum: allRecordTypes(policy), description: 'The record type asked for (reg_record_type), one the registry answers with' },
      purpose: { type: 'string', enum: purposes, description: 'Why the officer asks (seed/dci.yaml purposes); sent to the partner as authorize.purpose', examples: ['social_protection.portability'] },
      case: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._/:-]+$', description: 'The application or case reference', examples: ['CASE-2026-17'] },
      mode: { type: 'string', enum: ['sync', 'async'], default: 'sync', description: 'sync: the partner answers at once (registry/sync/search); async: it acknowledges and calls back (registry/search)' },
    },
  }

  app.post('/v1/partners/:id/searches', {
    config: { auth: { roles: ['officer', 'admin'] } },
    preValidation: loadPartner,
    schema: {
      tags: ['dci'],
      operationId: 'searchPartnerRegistry',
      summary: 'Look a person up in a partner\'s DCI registry, for a stated purpose and case (audited)',
      description: 'The search is signed with the gateway\'s key and sent with a token from the partner\'s token endpoint; a sync answer is used only once its signature (by a key the partner registered) and its shape (the DCI specification) are checked. ' +
        'The look-up is written to the audit log before the person\'s identifier leaves the gateway. An async look-up is read with GET /v1/partners/{id}/searches/{transactionId} once the partner has called back (at /dci/receiver).',
      params,
      body,
      response: {
        200: { ...viewSchema, description: 'Answered at once (mode sync)' },
        202: { ...viewSchema, description: 'Sent and acknowledged (mode async); read it again by its transactionId' },
        403: problem('The purpose does not cover this registry'),
        404: problem('No such active partner with a registry'),
        502: problem('The partner refused the look-up, or its answer is not signed by it or not as the DCI specification says'),
        503: problem('The partner\'s registry could not be reached, or the look-up could not be audited'),
      },
    },
  }, async (request, reply) => {
    const partner = request.registryPartner!
    const input = request.body as OutboundSearchInput
    checkGrant(input.registry as DciRegistry, input.purpose, input.recordType, '/recordType')
    const view = await searches.search(partner, input, askerOf(request), { requestId: request.id, clientIp: request.ip })
    reply.header('cache-control', 'no-store')
    return reply.code(input.mode === 'async' ? 202 : 200).send(view)
  })

  app.get('/v1/partners/:id/searches/:transactionId', {
    config: { auth: { roles: ['officer', 'admin'] } },
    schema: {
      tags: ['dci'],
      operationId: 'getPartnerRegistrySearch',
      summary: 'A look-up in a partner\'s registry, with its records once the partner has answered (only for the one who asked, or an admin)',
      params: { ...params, required: ['id', 'transactionId'], properties: { ...params.properties, transactionId: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,99}$', examples: ['e3b0c442-98fc-4c14-9afb-f4c8996fb924'] } } },
      response: { 200: viewSchema, 404: problem('No such look-up of yours') },
    },
  }, async (request, reply) => {
    const { id, transactionId } = request.params as { id: string, transactionId: string }
    reply.header('cache-control', 'no-store')
    return searches.read(id, transactionId, askerOf(request))
  })

  // What an admin subscribes the gateway to: checked as a search is (the
  // purpose covers the registry, the record type is the registry's), and
  // the filter as the DCI specification has it.
  function checkSubscribe (input: OutboundSubscribeInput): void {
    const registry = input.registry
    const invalid = (pointer: string, detail: string, message: string) => new ProblemError('VALIDATION_FAILED', message, { extensions: { errors: [{ in: 'body', pointer, detail }] } })
    checkGrant(registry, input.purpose, input.notifyRecordType, '/notifyRecordType')
    if ((input.filterType === 'predicate') !== Array.isArray(input.filter)) {
      throw invalid('/filter', input.filterType === 'predicate' ? 'a predicate filter is a list of expressions' : `an ${input.filterType} filter is an object`, `the filter is not a ${input.filterType} filter`)
    }
    const spec = loadDciSpec(registry)
    for (const [field, value] of [['filter', input.filter], ['frequency', input.frequency]] as const) {
      if (value === undefined) continue
      const problems = spec.validateAt(`${CRITERIA_POINTER}/${field}`, value)
      if (problems.length > 0) {
        throw new ProblemError('VALIDATION_FAILED', `the ${field} is not one the DCI specification allows`, { extensions: { errors: problems.slice(0, 10).map((p) => ({ in: 'body', pointer: `/${field}${p.pointer}`, detail: p.message })) } })
      }
    }
    if (input.frequency !== undefined) {
      const start = Date.parse(input.frequency.start_time)
      const end = Date.parse(input.frequency.end_time)
      if (Number.isNaN(start)) throw invalid('/frequency/start_time', 'an ISO 8601 timestamp with its zone', 'frequency.start_time is not a timestamp')
      if (Number.isNaN(end) || end <= start) throw invalid('/frequency/end_time', 'an ISO 8601 timestamp after start_time', 'frequency.end_time is not a timestamp after start_time')
    }
  }

  const subscribeBody = {
    type: 'object',
    required: ['regEventType', 'filterType', 'filter', 'notifyRecordType', 'purpose', 'case'],
    additionalProperties: false,
    examples: [{ registry: 'crvs', regEventType: 'spdci-common:RegistryEventType:LiveBirth', filterType: 'predicate', filter: [{ seq_num: 1, expression1: { attribute_name: 'admin_unit', operator: 'eq', attribute_value: '11' } }], notifyRecordType: 'Person', purpose: 'social_protection.portability', case: 'CASE-2026-17' }],
    properties: {
      registry: { type: 'string', enum: ['social', 'crvs'], default: 'social', description: 'The DCI API the partner\'s registry speaks (Social Registry or CRVS)' },
      regEventType: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9._:-]+$', description: 'The event, as the partner names it (reg_event_type)', examples: ['spdci-common:RegistryEventType:LiveBirth', 'REGISTER'] },
      filterType: { type: 'string', enum: ['idtype-value', 'predicate', 'expression'], description: 'How filter is written (filter_type)' },
      filter: { anyOf: [{ type: 'object' }, { type: 'array' }], description: 'Which events (subscribe_criteria.filter of the DCI specification): {type, value} for idtype-value and expression, a list of expressions for predicate' },
      notifyRecordType: { type: 'string', enum: allRecordTypes(policy), description: 'The record type events are notified with (notify_record_type), one of the registry\'s' },
      purpose: { type: 'string', enum: purposes, description: 'Why the gateway subscribes (seed/dci.yaml purposes); sent to the partner as authorize.purpose', examples: ['social_protection.portability'] },
      case: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._/:-]+$', description: 'The case or programme reference', examples: ['CASE-2026-17'] },
      frequency: {
        type: 'object',
        required: ['start_time', 'end_time', 'frequency'],
        additionalProperties: false,
        description: 'When events are notified (the partner gathers them until the cron expression\'s times), between start_time and end_time',
        properties: {
          start_time: { type: 'string', minLength: 1, maxLength: 40 },
          end_time: { type: 'string', minLength: 1, maxLength: 40 },
          frequency: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^\\u0000-\\u001f]+$', examples: ['0 0 0 5,15 * ? *'] },
        },
      },
    },
  }
  const subscriptionParams = { ...params, required: ['id', 'transactionId'], properties: { ...params.properties, transactionId: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,99}$', examples: ['e3b0c442-98fc-4c14-9afb-f4c8996fb924'] } } }

  app.post('/v1/partners/:id/subscriptions', {
    config: { auth: { roles: ['admin'] } },
    preValidation: loadPartner,
    schema: {
      tags: ['dci'],
      operationId: 'subscribePartnerRegistry',
      summary: 'Subscribe the gateway to events in a partner\'s DCI registry, for a stated purpose and case (audited)',
      description: 'The subscribe is signed with the gateway\'s key and sent (registry/subscribe) with a token from the partner\'s token endpoint, after it is written to the audit log. ' +
        'The partner answers at /dci/receiver/registry/on-subscribe with its subscription codes, then notifies events at /dci/receiver/registry/notify; ' +
        'both are read with GET /v1/partners/{id}/subscriptions/{transactionId}.',
      params,
      body: subscribeBody,
      response: {
        202: { ...subscriptionSchema, description: 'Sent and acknowledged; read it again by its transactionId' },
        403: problem('The purpose does not cover this registry'),
        404: problem('No such active partner with a registry'),
        502: problem('The partner refused the subscribe, or its acknowledgement is not as the DCI specification says'),
        503: problem('The partner\'s registry could not be reached, or the subscription could not be audited'),
      },
    },
  }, async (request, reply) => {
    const partner = request.registryPartner!
    const input = request.body as OutboundSubscribeInput
    checkSubscribe(input)
    const view = await subscriptions.subscribe(partner, input, askerOf(request), { requestId: request.id, clientIp: request.ip })
    reply.header('cache-control', 'no-store')
    return reply.code(202).send(view)
  })

  app.get('/v1/partners/:id/subscriptions/:transactionId', {
    config: { auth: { roles: ['admin'] } },
    schema: {
      tags: ['dci'],
      operationId: 'getPartnerRegistrySubscription',
      summary: 'A subscription the gateway holds at a partner\'s registry: its status, the partner\'s codes, and the events notified',
      params: subscriptionParams,
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { before: { type: 'integer', minimum: 1, description: 'Events older than this one (nextBefore of the previous read)' } },
      },
      response: { 200: subscriptionSchema, 404: problem('No such subscription') },
    },
  }, async (request, reply) => {
    const { id, transactionId } = request.params as { id: string, transactionId: string }
    const { before } = request.query as { before?: number }
    reply.header('cache-control', 'no-store')
    return subscriptions.read(id, transactionId, before ?? null)
  })

  app.delete('/v1/partners/:id/subscriptions/:transactionId', {
    config: { auth: { roles: ['admin'] } },
    preValidation: loadPartner,
    schema: {
      tags: ['dci'],
      operationId: 'unsubscribePartnerRegistry',
      summary: 'End a subscription the gateway holds at a partner\'s registry',
      description: 'Sends registry/unsubscribe with the partner\'s subscription codes; the partner answers at /dci/receiver/registry/on-unsubscribe, after which the subscription reads as unsubscribed and no more notifies are taken for it.',
      params: subscriptionParams,
      response: {
        202: { ...subscriptionSchema, description: 'Sent and acknowledged; the subscription ends once the partner answers' },
        404: problem('No such subscription, or no such active partner with a registry'),
        409: problem('The subscription holds nothing at the partner (refused, not answered yet, or ended), or an unsubscribe waits for its answer'),
        502: problem('The partner refused the unsubscribe, or its acknowledgement is not as the DCI specification says'),
        503: problem('The partner\'s registry could not be reached'),
      },
    },
  }, async (request, reply) => {
    const { transactionId } = request.params as { transactionId: string }
    const view = await subscriptions.unsubscribe(request.registryPartner!, transactionId, askerOf(request))
    reply.header('cache-control', 'no-store')
    return reply.code(202).send(view)
  })
}
