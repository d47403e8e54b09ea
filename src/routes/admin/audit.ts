import type { FastifyInstance } from 'fastify'

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
          type: { type: 'string', enum: ['citizen_lookup', 'catalogue_change'] },
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

  app.get('/v1/admin/audit/verify', {
    config: auth,
    schema: { tags: ['admin'], operationId: 'verifyAuditChain', summary: 'Recompute the hash chain: ok, or the first broken record' },
  }, async () => app.audit.verify())

  app.get('/v1/admin/policies', {
    config: auth,
    schema: { tags: ['admin'], operationId: 'getPolicies', summary: 'The purposes table: which agency may see which sources and fields, for what' },
  }, async () => app.policies)
}
