import type { FastifyInstance } from 'fastify'
import adapterInfoSchema from '../../../schemas/adapter-info.json' with { type: 'json' }

export async function adminAdapterRoutes (app: FastifyInstance): Promise<void> {
  app.addSchema(adapterInfoSchema)
  app.get('/v1/admin/adapters', {
    config: { auth: { roles: ['admin'] } },
    schema: {
      tags: ['admin'],
      operationId: 'listAdapters',
      summary: 'Every adapter to the exchange bus, with its breaker state and recent latency',
      response: {
        200: {
          type: 'object',
          required: ['adapters'],
          properties: { adapters: { type: 'array', items: { $ref: 'AdapterInfo#' } } },
        },
      },
    },
  }, async () => ({ adapters: app.adapters.describe() }))
}
