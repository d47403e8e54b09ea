import type { FastifyInstance } from 'fastify'
import { publicKeysByKid } from '../../auth/jwt.ts'
import { checkCallbackUrl } from '../../callbacks/url-guard.ts'
import { auditedPartnerChange, hashSecret, newSecret, partnerChange, type Partner, type PartnerInput, type PartnerRegistryInput, type PartnerStore } from '../../dci/partners.ts'
import { allRecordTypes, bareRecordType } from '../../dci/policy.ts'
import { ProblemError } from '../../errors/problem-error.ts'

// Partner systems reaching the registries through the DCI face: an admin
// registers each with its public keys, its callback base URL and the purposes
// and record types it may ask for. The client secret is shown once.

const ID_PATTERN = '^[A-Za-z0-9._:-]{1,100}$'
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: ID_PATTERN, examples: ['spmis.example.org'] } } }
const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } })

const publicJwk = {
  type: 'object',
  required: ['kty', 'kid'],
  properties: {
    kty: { enum: ['OKP', 'EC'] },
    crv: { enum: ['Ed25519', 'P-256'] },
    kid: { type: 'string', minLength: 1, maxLength: 200 },
    x: { type: 'string' },
    y: { type: 'string' },
    use: { type: 'string' },
    alg: { type: 'string' },
    key_ops: { type: 'array', items: { type: 'string' } },
  },
  // Public members only: a private key ("d") has no business here.
  additionalProperties: false,
}

// An example partner (the key is a public one made for this document).
const EXAMPLE = {
  name: 'Example social-protection MIS',
  jwks: { keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'veM3fxFiTnb-ueZEM6MMZnc1bX68D81PwVtd7_58X0s', kid: 'spmis-2026-1' }] },
  purposes: ['social_protection.eligibility'],
  recordTypes: ['SRPerson', 'Person'],
}

const URL_FIELD = { type: 'string', minLength: 1, maxLength: 2048 }

// The partner's own DCI registry, queried by the gateway; the secret is write-only.
const registryInput = {
  type: ['object', 'null'],
  required: ['url', 'tokenUrl', 'clientId'],
  additionalProperties: false,
  description: 'The partner\'s own DCI registry, which officers query through the gateway (POST /v1/partners/{id}/searches); public https addresses only',
  properties: {
    url: { ...URL_FIELD, description: 'Base URL of the partner\'s DCI registry (…/registry/search and the like)', examples: ['https://mis.example.org/dci/social'] },
    tokenUrl: { ...URL_FIELD, description: 'The partner\'s OAuth 2.0 token endpoint (client credentials)', examples: ['https://mis.example.org/oauth2/client/token'] },
    clientId: { type: 'string', minLength: 1, maxLength: 200, description: 'The client id the partner issued to this gateway' },
    clientSecret: { type: 'string', minLength: 1, maxLength: 512, writeOnly: true, description: 'The client secret the partner issued to this gateway; stored, never shown again (hasClientSecret says whether one is set); left out on a change, the stored one is kept' },
  },
}

const registryView = {
  type: ['object', 'null'],
  required: ['url', 'tokenUrl', 'clientId', 'hasClientSecret'],
  properties: { url: { type: 'string' }, tokenUrl: { type: 'string' }, clientId: { type: 'string' }, hasClientSecret: { type: 'boolean' } },
}

function inputSchema (purposes: string[], recordTypes: string[]) {
  return {
    type: 'object',
    examples: [EXAMPLE],
    required: ['name', 'jwks', 'purposes', 'recordTypes'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 200, description: 'Shown to citizens in their data-access history' },
      jwks: { type: 'object', required: ['keys'], additionalProperties: false, properties: { keys: { type: 'array', minItems: 1, maxItems: 10, items: publicJwk } }, description: 'The public keys (Ed25519 or P-256) that sign the partner\'s DCI messages' },
      callbackUrl: { type: ['string', 'null'], minLength: 1, maxLength: 2048, description: 'Base URL of the partner\'s DCI endpoints (…/registry/on-search and the like); public https addresses only' },
      purposes: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: purposes } },
      recordTypes: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: recordTypes } },
      active: { type: 'boolean', default: true },
      registry: registryInput,
    },
  }
}

const partnerView = {
  type: 'object',
  required: ['id', 'name', 'jwks', 'callbackUrl', 'registry', 'purposes', 'recordTypes', 'active', 'createdBy', 'createdAt', 'updatedBy', 'updatedAt'],
  properties: {
    id: { type: 'string', description: 'The DCI sender_id and OAuth client_id' },
    name: { type: 'string' },
    jwks: { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: { type: 'object', additionalProperties: true } } } },
    callbackUrl: { type: ['string', 'null'] },
    registry: registryView,
    purposes: { type: 'array', items: { type: 'string' } },
    recordTypes: { type: 'array', items: { type: 'string' } },
    active: { type: 'boolean' },
    createdBy: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedBy: { type: 'string' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
}

export async function partnerRoutes (app: FastifyInstance): Promise<void> {
  const { partners, policy } = app.dci
  const body = inputSchema(Object.keys(policy.purposes), allRecordTypes(policy))
  // Each change with its audit record, in one transaction.
  const audited = <T>(change: (store: PartnerStore) => Promise<{ result: T, entry: ReturnType<typeof partnerChange> | null }>) =>
    auditedPartnerChange(app.db, app.dci.secrets, (tx, entries) => app.audit.appendWithin(tx, entries), change)

  // The guard's refusal, naming the field it is about.
  async function publicUrl (raw: string, pointer: string): Promise<string> {
    try {
      return (await checkCallbackUrl(raw, app.callbacks.policy)).href
    } catch (err) {
      if (!(err instanceof ProblemError) || err.code !== 'CALLBACK_URL_REFUSED') throw err
      throw new ProblemError('CALLBACK_URL_REFUSED', `${pointer.slice(1)}: ${err.detail.replace(/^the callback URL/, 'the URL')}`, { extensions: { errors: [{ in: 'body', pointer, detail: err.detail.replace(/^the callback URL/, 'the URL') }] } })
    }
  }

  // The registry's URLs pass the same SSRF rules as the callback URL.
  async function checkedRegistry (raw: PartnerRegistryInput | null | undefined): Promise<PartnerRegistryInput | null> {
    if (raw === undefined || raw === null) return null
    const url = await publicUrl(raw.url, '/registry/url')
    const tokenUrl = await publicUrl(raw.tokenUrl, '/registry/tokenUrl')
    return { url, tokenUrl, clientId: raw.clientId, ...(raw.clientSecret === undefined ? {} : { clientSecret: raw.clientSecret }) }
  }

  // What the schema cannot say: keys that import, a callback URL that passes the SSRF rules.
  async function checked (raw: Omit<PartnerInput, 'registry'> & { callbackUrl?: string | null, registry?: PartnerRegistryInput | null }): Promise<PartnerInput> {
    const usable = publicKeysByKid(raw.jwks as never)
    const kids = raw.jwks.keys.map((k) => k.kid as string)
    if (new Set(kids).size !== kids.length) {
      throw new ProblemError('VALIDATION_FAILED', 'each key needs its own kid', { extensions: { errors: [{ in: 'body', pointer: '/jwks/keys', detail: 'duplicate kid' }] } })
    }
    raw.jwks.keys.forEach((k, i) => {
      if (!usable.has(k.kid as string)) {
        throw new ProblemError('VALIDATION_FAILED', `key ${i} is not a usable Ed25519 or P-256 public key`, { extensions: { errors: [{ in: 'body', pointer: `/jwks/keys/${i}`, detail: 'not a usable Ed25519 or P-256 public key' }] } })
      }
    })
    const callbackUrl = raw.callbackUrl === undefined || raw.callbackUrl === null
      ? null
      : (await checkCallbackUrl(raw.callbackUrl, app.callbacks.policy)).href
    const registry = await checkedRegistry(raw.registry)
    return { ...raw, callbackUrl, registry, recordTypes: raw.recordTypes.map(bareRecordType), active: raw.active ?? true }
  }

  app.post('/v1/admin/partners', {
    config: { auth: { roles: ['admin'] } },
    schema: {
      tags: ['admin'],
      operationId: 'createPartner',
      summary: 'Register a partner system for the DCI face; its client secret is shown once, here',
      body: { ...body, examples: [{ id: 'spmis.example.org', ...EXAMPLE }], required: ['id', ...body.required], properties: { id: { type: 'string', pattern: ID_PATTERN, description: 'The partner\'s DCI sender_id, also its OAuth client_id' }, ...body.properties } },
      response: {
        201: { ...partnerView, required: [...partnerView.required, 'clientSecret'], properties: { ...partnerView.properties, clientSecret: { type: 'string', description: 'For POST /oauth2/client/token; not shown again' } } },
        409: problem('A partner with this id is registered'),
        422: problem('The callback or registry URL is not a public https address'),
      },
    },
  }, async (request, reply) => {
    const { id, ...raw } = request.body as PartnerInput & { id: string }
    const input = await checked(raw)
    const secret = newSecret()
    const actor = `admin:${request.principal!.sub}`
    const created = await audited(async (store) => {
      const row = await store.create(id, input, hashSecret(secret), actor)
      return { result: row, entry: row === null ? null : partnerChange(actor, 'create', id, null, row, request.id) }
    })
    if (created === null) throw new ProblemError('CONFLICT', `a partner ${id} is already registered`)
    reply.header('cache-control', 'no-store')
    return reply.code(201).send({ ...created, clientSecret: secret })
  })

  app.get('/v1/admin/partners', {
    config: { auth: { roles: ['admin'] } },
    schema: { tags: ['admin'], operationId: 'listPartners', summary: 'Registered partner systems', response: { 200: { type: 'object', required: ['partners'], properties: { partners: { type: 'array', items: partnerView } } } } },
  }, async () => ({ partners: await partners.list() }))

  app.get('/v1/admin/partners/:id', {
    config: { auth: { roles: ['admin'] } },
    schema: { tags: ['admin'], operationId: 'getPartner', summary: 'One registered partner system', params: idParams, response: { 200: partnerView, 404: problem('No such partner') } },
  }, async (request) => {
    const { id } = request.params as { id: string }
    const found = await partners.get(id)
    if (found === null) throw new ProblemError('NOT_FOUND', `no partner ${id}`)
    return found
  })

  app.put('/v1/admin/partners/:id', {
    config: { auth: { roles: ['admin'] } },
    schema: { tags: ['admin'], operationId: 'updatePartner', summary: 'Change a partner\'s keys, callback URL, grants or state (active: false refuses its tokens and messages)', params: idParams, body, response: { 200: partnerView, 404: problem('No such partner'), 422: problem('The callback or registry URL is not a public https address') } },
  }, async (request) => {
    const { id } = request.params as { id: string }
    const input = await checked(request.body as PartnerInput)
    const actor = `admin:${request.principal!.sub}`
    const updated = await audited(async (store) => {
      const before = await store.get(id)
      const row = before === null ? null : await store.update(id, input, actor)
      return { result: row, entry: row === null ? null : partnerChange(actor, 'update', id, before, row, request.id) }
    })
    if (updated === null) throw new ProblemError('NOT_FOUND', `no partner ${id}`)
    return updated
  })

  app.post('/v1/admin/partners/:id/secret', {
    config: { auth: { roles: ['admin'] } },
    schema: { tags: ['admin'], operationId: 'rotatePartnerSecret', summary: 'Give a partner a new client secret (the old one stops working at once); shown once', params: idParams, response: { 200: { type: 'object', required: ['clientSecret'], properties: { clientSecret: { type: 'string' } } }, 404: problem('No such partner') } },
  }, async (request, reply) => {
    const { id } = request.params as { id: string }
    const secret = newSecret()
    const actor = `admin:${request.principal!.sub}`
    const done = await audited(async (store) => {
      const set = await store.setSecret(id, hashSecret(secret), actor)
      return { result: set, entry: set ? partnerChange(actor, 'secret', id, null, null, request.id) : null }
    })
    if (!done) throw new ProblemError('NOT_FOUND', `no partner ${id}`)
    reply.header('cache-control', 'no-store')
    return { clientSecret: secret }
  })

  app.delete('/v1/admin/partners/:id', {
    config: { auth: { roles: ['admin'] } },
    schema: { tags: ['admin'], operationId: 'deletePartner', summary: 'Remove a partner system', params: idParams, response: { 204: { type: 'null', description: 'Removed' }, 404: problem('No such partner') } },
  }, async (request, reply) => {
    const { id } = request.params as { id: string }
    const actor = `admin:${request.principal!.sub}`
    const removed = await audited(async (store) => {
      const before: Partner | null = await store.get(id)
      const gone = before !== null && await store.remove(id)
      return { result: gone, entry: gone ? partnerChange(actor, 'delete', id, before, null, request.id) : null }
    })
    if (!removed) throw new ProblemError('NOT_FOUND', `no partner ${id}`)
    return reply.code(204).send()
  })
}
