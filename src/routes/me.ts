import type { FastifyInstance } from 'fastify'
import principalSchema from '../../schemas/principal.json' with { type: 'json' }
import { ROLES } from '../config.ts'

// Lets a portal or an officer's tool check what its token grants.
export async function meRoutes (app: FastifyInstance): Promise<void> {
  app.addSchema(principalSchema)
  app.get('/v1/me', {
    config: { auth: { roles: ROLES } },
    schema: {
      tags: ['session'],
      operationId: 'getMe',
      summary: 'The caller, as its access token describes it',
      response: { 200: { $ref: 'Principal#' } },
    },
  }, async (request) => {
    const p = request.principal!
    const { tokenId: _tokenId, expiresAt, ...rest } = p
    return { ...rest, expiresAt: new Date(expiresAt * 1000).toISOString() }
  })
}
