import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Partner } from '../dci/partners.ts'
import type { Asker, OutboundSearchInput } from '../dci/outbound.ts'
import { allRecordTypes, bareRecordType } from '../dci/policy.ts'
import type { DciRegistry } from '../dci/spec.ts'
import { ProblemError } from '../errors/problem-error.ts'

// Officers looking a person up in a partner's DCI registry (a foreign
// social-protection MIS), for a purpose and a case: audited as a citizen
// look-up, answered at once (sync) or when the partner calls back (async).

const ID_PATTERN = '^[A-Za-z0-9._:-]{1,100}$'
const ID_RE = new RegExp(ID_PATTERN)
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

function askerOf (request: FastifyRequest): Asker {
  const p = request.principal!
  return { sub: p.sub, issuer: p.issuer, role: p.role, unit: p.role === 'officer' ? p.unit : null, agency: p.role === 'officer' ? p.agency : null }
}

export async function partnerRegistryRoutes (app: FastifyInstance): Promise<void> {
  const { partners, policy, searches } = app.dci
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
    const registry = input.registry as DciRegistry
    if (!policy.purposes[input.purpose]!.registries.includes(registry)) {
      throw new ProblemError('PURPOSE_FORBIDDEN', `purpose ${input.purpose} does not cover the ${registry} registry`, { extensions: { errors: [{ in: 'body', pointer: '/purpose', detail: `not a purpose for the ${registry} registry` }] } })
    }
    if (!policy.recordTypes[registry].includes(bareRecordType(input.recordType))) {
      throw new ProblemError('VALIDATION_FAILED', `the ${registry} registry has no record type ${input.recordType}`, { extensions: { errors: [{ in: 'body', pointer: '/recordType', detail: `one of ${policy.recordTypes[registry].join(', ')}` }] } })
    }
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
}
