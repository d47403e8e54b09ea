import type { FastifyInstance } from 'fastify'
import type { JsonWebKey } from 'node:crypto'
import { checkCallbackUrl } from '../../callbacks/url-guard.ts'
import { ProblemError } from '../../errors/problem-error.ts'

// Portals' status callbacks: an admin registers where a portal (the `azp` of
// its citizens' tokens) wants status changes POSTed. The URL is checked against
// the SSRF rules here, and again at every connection.

const portalParams = { type: 'object', required: ['portal'], properties: { portal: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,100}$', examples: ['portal.example'] } } }
const callbackView = {
  type: 'object',
  required: ['portal', 'url', 'updatedBy', 'updatedAt'],
  properties: { portal: { type: 'string' }, url: { type: 'string' }, updatedBy: { type: 'string' }, updatedAt: { type: 'string', format: 'date-time' } },
}

export async function portalRoutes (app: FastifyInstance, options: { jwks: { keys: JsonWebKey[] } }): Promise<void> {
  const { store, policy } = app.callbacks

  app.put('/v1/admin/portals/:portal/callback', {
    config: { auth: { roles: ['admin'] } },
    schema: {
      tags: ['admin'],
      operationId: 'setPortalCallback',
      summary: 'Register the URL a portal\'s status callbacks go to (public addresses only)',
      params: portalParams,
      body: { type: 'object', required: ['url'], additionalProperties: false, properties: { url: { type: 'string', minLength: 1, maxLength: 2048 } }, examples: [{ url: 'https://portal.example.mn/oss/callbacks' }] },
      response: { 200: callbackView, 422: { description: 'The URL is not a public https address (or does not resolve to one)', content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } } },
    },
  }, async (request) => {
    const { portal } = request.params as { portal: string }
    const url = await checkCallbackUrl((request.body as { url: string }).url, policy)
    return store.set(portal, url.href, `admin:${request.principal!.sub}`)
  })

  app.get('/v1/admin/portals/:portal/callback', {
    config: { auth: { roles: ['admin'] } },
    schema: { tags: ['admin'], operationId: 'getPortalCallback', summary: 'Where a portal\'s status callbacks go', params: portalParams, response: { 200: callbackView, 404: { description: 'No callback registered for that portal', content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } } } },
  }, async (request) => {
    const { portal } = request.params as { portal: string }
    const found = await store.get(portal)
    if (found === null) throw new ProblemError('NOT_FOUND', `no callback registered for portal ${portal}`)
    return found
  })

  app.delete('/v1/admin/portals/:portal/callback', {
    config: { auth: { roles: ['admin'] } },
    schema: { tags: ['admin'], operationId: 'deletePortalCallback', summary: 'Stop a portal\'s status callbacks', params: portalParams, response: { 204: { type: 'null', description: 'Stopped' }, 404: { description: 'No callback registered for that portal', content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } } } },
  }, async (request, reply) => {
    const { portal } = request.params as { portal: string }
    if (!await store.remove(portal)) throw new ProblemError('NOT_FOUND', `no callback registered for portal ${portal}`)
    return reply.code(204).send()
  })

  // The gateway's public keys, for portals verifying the callbacks' signatures.
  app.get('/.well-known/jwks.json', {
    schema: {
      tags: ['applications'],
      operationId: 'getGatewayJwks',
      summary: 'The public keys that sign status callbacks (detached JWS in X-JWS-Signature)',
      security: [],
      response: { 200: { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: { type: 'object', additionalProperties: true } } } } },
    },
  }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300')
    return options.jwks
  })
}
