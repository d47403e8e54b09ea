import type { FastifyInstance } from 'fastify'
import { errorRegistry, problemType, type ErrorCode } from '../errors/registry.ts'
import { ProblemError } from '../errors/problem-error.ts'

const byType = new Map(
  (Object.keys(errorRegistry) as ErrorCode[]).map((code) => [problemType(code).slice('/problems/'.length), code]),
)

// Problem `type` URIs resolve here, so a client or a person can look a code up.
export async function problemRoutes (app: FastifyInstance): Promise<void> {
  app.get('/problems', {
    schema: {
      tags: ['operations'],
      operationId: 'listProblemTypes',
      summary: 'Every error code this gateway returns',
      security: [],
      response: {
        200: {
          type: 'array',
          items: {
            type: 'object',
            required: ['type', 'code', 'status', 'title'],
            properties: { type: { type: 'string' }, code: { type: 'string' }, status: { type: 'integer' }, title: { type: 'string' } },
          },
        },
      },
    },
  }, async () => (Object.keys(errorRegistry) as ErrorCode[])
    .map((code) => ({ type: problemType(code), code, ...errorRegistry[code] })))

  app.get<{ Params: { type: string } }>('/problems/:type', {
    schema: {
      tags: ['operations'],
      operationId: 'getProblemType',
      summary: 'One error code',
      security: [],
      params: { type: 'object', required: ['type'], properties: { type: { type: 'string', pattern: '^[a-z0-9-]+$', maxLength: 64, examples: ['validation-failed'] } } },
      response: {
        200: {
          type: 'object',
          required: ['type', 'code', 'status', 'title'],
          properties: { type: { type: 'string' }, code: { type: 'string' }, status: { type: 'integer' }, title: { type: 'string' } },
        },
      },
    },
  }, async (request) => {
    const code = byType.get(request.params.type)
    if (code === undefined) throw new ProblemError('NOT_FOUND', `no problem type ${request.params.type}`)
    return { type: problemType(code), code, ...errorRegistry[code] }
  })
}
