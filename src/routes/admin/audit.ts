import type { FastifyInstance } from 'fastify'
import { ValidationProblem } from '../../errors/problem-error.ts'

export async function adminAuditRoutes (app: FastifyInstance): Promise<void> {
  const auth = { auth: { roles: ['admin'] as const } }

  app.get('/v1/admin/audit', {
    config: auth,
    schema: {
      tags: ['admin'],
      operationId: 'listAuditRecords',
      summary: 'Audit records, newest first; page with `before` (the last seq seen)',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          citizen: { type: 'string', maxLength: 20 },
          officer: { type: 'string', maxLength: 200 },
          unit: { type: 'string', pattern: '^[0-9]{2,6}$' },
          type: { type: 'string', enum: ['citizen_lookup', 'catalogue_change', 'partner_change', 'consent_change'] },
          from: { type: 'string', format: 'date-time' },
          to: { type: 'string', format: 'date-time' },
          // audit_log.seq is bigint; JS numbers are exact only up to 2^53 - 1
          before: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
          limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
        },
      },
    },
  }, async (request) => {
    const q = request.query as { citizen?: string, officer?: string, unit?: string, type?: string, from?: string, to?: string, before?: number, limit: number }
    const records = await app.audit.query({
      limit: q.limit,
      ...(q.citizen === undefined ? {} : { citizen: q.citizen }),
      ...(q.officer === undefined ? {} : { actor: q.officer }),
      ...(q.unit === undefined ? {} : { unit: q.unit }),
      ...(q.type === undefined ? {} : { recordType: q.type }),
      ...(q.from === undefined ? {} : { from: q.from }),
      ...(q.to === undefined ? {} : { to: q.to }),
      ...(q.before === undefined ? {} : { beforeSeq: q.before }),
    })
    return { records, next: records.length === q.limit ? records.at(-1)!.seq : null }
  })

  const point = { type: 'object', required: ['seq', 'hash'], properties: { seq: { type: 'integer' }, hash: { type: 'string' } } }
  app.get('/v1/admin/audit/verify', {
    config: auth,
    schema: {
      tags: ['admin'],
      operationId: 'verifyAuditChain',
      summary: 'Recompute the hash chain: ok, or the first broken record; the last record\'s seq and hash to write down, and check later with ?seq=&hash=',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          // audit_log.seq is bigint; JS numbers are exact only up to 2^53 - 1
          seq: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'With hash: a record written down earlier (last.seq)', examples: [1] },
          hash: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'With seq: the hash written down for it (last.hash); ok only if that record still has it', examples: ['0'.repeat(64)] },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['ok', 'records', 'last'],
          properties: {
            ok: { type: 'boolean' },
            records: { type: 'integer' },
            last: { anyOf: [point, { type: 'null' }], description: 'The last record that verified' },
            brokenAt: { type: 'integer' },
            reason: { type: 'string' },
            checkpoint: { type: 'object', properties: { ...point.properties, matches: { type: 'boolean' } } },
          },
        },
        400: { description: 'seq without hash, or hash without seq', content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } },
      },
    },
  }, async (request) => {
    const q = request.query as { seq?: number, hash?: string }
    if ((q.seq === undefined) !== (q.hash === undefined)) {
      const missing = q.seq === undefined ? 'seq' : 'hash'
      throw new ValidationProblem([{ in: 'querystring', pointer: `/${missing}`, detail: 'seq and hash go together' }])
    }
    return app.audit.verify(q.seq === undefined ? undefined : { seq: q.seq, hash: q.hash! })
  })

  app.get('/v1/admin/policies', {
    config: auth,
    schema: { tags: ['admin'], operationId: 'getPolicies', summary: 'The purposes table: which agency may see which sources and fields, for what' },
  }, async () => app.policies)
}
