import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import applicationSchema from '../../schemas/application.json' with { type: 'json' }
import { checkApplication, type ApplicationBody } from '../applications/intake.ts'
import { reasonTexts, statusLabels, type Lang } from '../applications/labels.ts'
import { languageOf } from './language.ts'
import { requestHash, type Application } from '../applications/store.ts'
import { withinScope } from '../catalogue/scope.ts'
import type { CitizenPrincipal, OfficerPrincipal, Principal } from '../auth/principal.ts'
import { ProblemError } from '../errors/problem-error.ts'
import { fieldErrors } from '../plugins/problem.ts'
import { Ajv } from 'ajv'

// Portals and OSS counters submit applications here. A 202 means the
// application is in the database with its outbox row; delivery to the agency
// happens from the queue, and nothing acknowledged is lost.

// Status and reason in the language asked for, and in both (statusLabels,
// reasons); `result` is what the agency gave on approval.
function localView (a: Application, lang: Lang) {
  const labels = statusLabels(a.status, a.decision)
  const reasons = reasonTexts(a)
  return {
    id: a.id,
    service: a.service,
    unit: a.unit,
    channel: a.channel,
    status: a.status,
    statusLabel: labels[lang],
    statusLabels: labels,
    decision: a.decision,
    agencyReference: a.agencyReference,
    reason: reasons === null ? null : reasons[lang],
    reasons,
    result: a.result,
    attempts: a.attempts,
    packageId: a.packageId,
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
  }
}

// Mongolian, where no language was asked for (lists, the 202 of intake).
const view = (a: Application) => localView(a, 'mn')

// ?lang, then Accept-Language, then Mongolian (language.ts).
const langParam = { type: 'string', enum: ['mn', 'en'] }
// Who may read an application: the citizen who applied, officers of its unit
// or of a unit above it (an OSS serves the units below it), admins. Anyone
// else learns nothing, not even that it exists.
function mayRead (p: Principal, a: Application): boolean {
  if (p.role === 'admin') return true
  if (p.role === 'citizen') return (p as CitizenPrincipal).regnum === a.applicantRegnum
  if (p.role === 'officer') return withinScope((p as OfficerPrincipal).unit, a.unit)
  return false
}

export async function applicationRoutes (app: FastifyInstance): Promise<void> {
  app.addSchema(applicationSchema)
  const store = app.applications.store

  const listQuery = {
    type: 'object',
    additionalProperties: false,
    properties: {
      status: { type: 'string', enum: ['received', 'queued', 'delivering', 'delivered', 'decided', 'failed'] },
      limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
    },
  }
  const applicationBody = {
    type: 'object',
    required: ['service', 'unit', 'channel', 'applicant', 'form'],
    additionalProperties: false,
    properties: {
      service: { type: 'string', pattern: '^[a-z][a-z0-9_.-]{1,63}$' },
      unit: { type: 'string', pattern: '^[0-9]{2}([0-9]{2}([0-9]{2})?)?$' },
      channel: { type: 'string', enum: ['oss_counter', 'mobile_oss', 'online'] },
      applicant: { type: 'object', required: ['regnum'], additionalProperties: false, properties: { regnum: { type: 'string', minLength: 1, maxLength: 40 } } },
      form: { type: 'object' },
    },
    examples: [{ service: 'welfare.child-money', unit: '832269', channel: 'online', applicant: { regnum: 'УБ99032712' }, form: { children: ['УБ15251234'], relationship: 'mother', bankAccount: 'MN123456789012345678' } }],
  }
  const idempotencyKey = { type: 'string', minLength: 8, maxLength: 200, pattern: '^[A-Za-z0-9._:-]+$', examples: ['2b7f0d1e-6c1a-4d2e-9f3a-5b8c7d6e4f10'] }
  const validateApplication = new Ajv({ allErrors: true }).compile(applicationBody)

  // Checks one application and stores it with its key; a repeat of a key
  // returns what was stored for it.
  async function accept (principal: Principal, key: string, body: ApplicationBody) {
    const caller = `${principal.issuer}:${principal.sub}`
    const snap = app.catalogue.current()
    const { service, regnum } = checkApplication(snap, principal, body, app.catalogue.today())
    const base = {
      unit: body.unit,
      channel: body.channel,
      applicantRegnum: regnum,
      submittedBy: caller,
      submittedRole: principal.role,
      portal: principal.role === 'citizen' ? (principal as CitizenPrincipal).portal : null,
      packageId: null,
    }
    // A package's parts: each agency gets its own application, with only the
    // fields the package gives it.
    const parts = (service.parts ?? []).map((part) => {
      const target = snap.service(part.service)!
      return { ...base, id: randomUUID(), service: target.code, adapter: target.adapter ?? '', form: Object.fromEntries(part.fields.filter((f) => f in body.form).map((f) => [f, body.form[f]])) }
    })
    const undeliverable = [...(service.adapter === undefined ? [] : [service.adapter]), ...parts.map((p) => p.adapter)].filter((a) => !app.adapters.has(a))
    if (undeliverable.length > 0) {
      throw new ProblemError('SERVICE_NOT_OFFERED', `${service.code} cannot be delivered to its agency through the gateway yet (no adapter ${undeliverable.join(', ')})`)
    }
    const result = await store.intake(caller, key, requestHash(body), {
      ...base,
      id: randomUUID(),
      service: service.code,
      adapter: service.adapter ?? null,
      form: body.form,
    }, (a) => ({ status: 202, body: view(a), headers: { location: `/v1/applications/${a.id}` } }), parts)
    if (!result.replay) app.applications.nudge()
    return result
  }

  app.post('/v1/applications', {
    config: { auth: { roles: ['citizen', 'officer'] } },
    schema: {
      tags: ['applications'],
      operationId: 'submitApplication',
      summary: 'Submit an application (Idempotency-Key required); 202 once it is stored',
      headers: { type: 'object', required: ['idempotency-key'], properties: { 'idempotency-key': idempotencyKey } },
      body: applicationBody,
      response: { 202: { $ref: 'Application#' } },
    },
    links: { 202: { get: { operationId: 'getApplication', parameters: { id: '$response.body#/id' } }, retry: { operationId: 'adminRetryApplication', parameters: { id: '$response.body#/id' } } } },
  }, async (request, reply) => {
    const { replay, response } = await accept(request.principal!, request.headers['idempotency-key'] as string, request.body as ApplicationBody)
    for (const [name, value] of Object.entries(response.headers)) reply.header(name, value)
    if (replay) reply.header('idempotent-replayed', 'true')
    return reply.code(response.status as 202).send(response.body)
  })

  // A mobile OSS van sends what it collected offline, as often as it takes:
  // each item is answered on its own, and a resent item is a duplicate, not a
  // second application.
  app.post('/v1/applications/batch', {
    config: { auth: { roles: ['officer'] } },
    bodyLimit: 8 * 1024 * 1024,
    schema: {
      tags: ['applications'],
      operationId: 'submitApplicationBatch',
      summary: 'Up to 500 applications collected offline, each with its own idempotency key; answered per item',
      body: {
        type: 'object',
        required: ['items'],
        additionalProperties: false,
        properties: {
          items: {
            type: 'array',
            minItems: 1,
            maxItems: 500,
            items: {
              type: 'object',
              required: ['idempotencyKey', 'application'],
              additionalProperties: false,
              properties: { idempotencyKey: idempotencyKey, application: { type: 'object' } },
            },
          },
        },
        examples: [{ items: [{ idempotencyKey: 'van-0101-2026-06-01-0001', application: { service: 'welfare.child-money', unit: '1101', channel: 'mobile_oss', applicant: { regnum: 'УБ99032712' }, form: { children: ['УБ15251234'], relationship: 'mother', bankAccount: 'MN123456789012345678' } } }] }],
      },
    },
  }, async (request) => {
    const { items } = request.body as { items: Array<{ idempotencyKey: string, application: ApplicationBody }> }
    const results: Array<{ index: number, idempotencyKey: string, result: 'accepted' | 'duplicate' | 'invalid', [more: string]: unknown }> = []
    for (const [index, item] of items.entries()) {
      if (!validateApplication(item.application)) {
        const errors = fieldErrors('body', validateApplication.errors ?? []).map((e) => ({ ...e, pointer: `/items/${index}/application${e.pointer}` }))
        results.push({ index, idempotencyKey: item.idempotencyKey, result: 'invalid', problem: { code: 'VALIDATION_FAILED', detail: errors[0]?.detail ?? 'invalid', errors } })
        continue
      }
      try {
        const { replay, response } = await accept(request.principal!, item.idempotencyKey, item.application)
        const id = (response.body as { id: string }).id
        results.push({ index, idempotencyKey: item.idempotencyKey, result: replay ? 'duplicate' : 'accepted', id, location: `/v1/applications/${id}` })
      } catch (err) {
        if (!(err instanceof ProblemError) || err.status >= 500) throw err
        const errors = (err.extensions.errors as Array<{ pointer: string }> | undefined)?.map((e) => ({ ...e, pointer: `/items/${index}/application${e.pointer}` }))
        results.push({ index, idempotencyKey: item.idempotencyKey, result: 'invalid', problem: { code: err.code, detail: err.detail, ...(errors === undefined ? {} : { errors }) } })
      }
    }
    const count = (r: string) => results.filter((x) => x.result === r).length
    return { accepted: count('accepted'), duplicates: count('duplicate'), invalid: count('invalid'), results }
  })

  app.get('/v1/admin/applications', {
    config: { auth: { roles: ['admin'] } },
    schema: { tags: ['applications'], operationId: 'adminListApplications', summary: 'Applications by status (e.g. failed), newest first', querystring: listQuery },
  }, async (request) => {
    const q = request.query as { status?: string, limit: number }
    return { applications: (await store.list({ limit: q.limit, ...(q.status === undefined ? {} : { status: q.status }) })).map(view) }
  })

  app.post('/v1/admin/applications/:id/retry', {
    config: { auth: { roles: ['admin'] } },
    schema: {
      tags: ['applications'],
      operationId: 'adminRetryApplication',
      summary: 'Send a failed application round again; for a package, only its failed parts',
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } },
      response: {
        202: { $ref: 'Application#' },
        404: { description: 'No such application', content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } },
        409: { description: 'The application has not failed', content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } },
      },
    },
  }, async (request, reply) => {
    const { id } = request.params as { id: string }
    if (!await store.retry(id, `admin:${request.principal!.sub}`)) {
      const found = await store.get(id)
      if (found === null) throw new ProblemError('NOT_FOUND', `no application ${id}`)
      throw new ProblemError('CONFLICT', `application ${id} is ${found.status}; only failed applications can be retried`)
    }
    app.applications.nudge()
    return reply.code(202).send(view((await store.get(id))!))
  })

  app.get('/v1/applications/:id', {
    config: { auth: { roles: ['citizen', 'officer', 'admin'] } },
    schema: {
      tags: ['applications'],
      operationId: 'getApplication',
      summary: 'An application, its status and its history',
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } },
      querystring: { type: 'object', additionalProperties: false, properties: { lang: langParam } },
      response: { 200: { $ref: 'Application#' } },
    },
  }, async (request, reply) => {
    const { id } = request.params as { id: string }
    const found = await store.get(id)
    if (found === null || !mayRead(request.principal!, found)) throw new ProblemError('NOT_FOUND', `no application ${id}`)
    const lang = languageOf(request, (request.query as { lang?: Lang } | undefined)?.lang)
    const parts = found.adapter === null ? { parts: (await store.parts(id)).map((p) => localView(p, lang)) } : {}
    const history = (await store.history(id)).map((h) => ({ ...h, statusLabels: statusLabels(h.status) }))
    reply.header('vary', 'Accept-Language').header('content-language', lang)
    return { ...localView(found, lang), ...parts, history, lang }
  })

  app.get('/v1/me/applications', {
    config: { auth: { roles: ['citizen'] } },
    schema: { tags: ['applications'], operationId: 'getMyApplications', summary: 'The citizen\'s own applications', querystring: { ...listQuery, properties: { ...listQuery.properties, lang: langParam } } },
  }, async (request: FastifyRequest, reply) => {
    const q = request.query as { status?: string, limit: number }
    const list = await store.list({ applicant: (request.principal as CitizenPrincipal).regnum, topLevel: true, limit: q.limit, ...(q.status === undefined ? {} : { status: q.status }) })
    const lang = languageOf(request, (request.query as { lang?: Lang } | undefined)?.lang)
    reply.header('vary', 'Accept-Language').header('content-language', lang)
    return { applications: list.map((a) => localView(a, lang)), lang }
  })

  app.get('/v1/units/:code/applications', {
    config: { auth: { roles: ['officer', 'admin'] } },
    schema: {
      tags: ['applications'],
      operationId: 'getUnitApplications',
      summary: 'Applications submitted at a unit and every unit beneath it, for the officers whose OSS serves it',
      description: 'An OSS serves the units below it: an officer may read the applications of their own unit and of every unit beneath it ' +
        '(soum → bags, district → khoroos, aimag → soums and bags); other units are refused with 403 `UNIT_FORBIDDEN`. ' +
        'By default (`scope=subtree`) the list holds the applications of the unit and of every unit beneath it; `scope=unit` keeps those of the unit alone. Newest first, at most `limit`.',
      params: { type: 'object', required: ['code'], properties: { code: { type: 'string', pattern: '^[0-9]{2}([0-9]{2}([0-9]{2})?)?$', examples: ['832269'] } } },
      querystring: { ...listQuery, properties: { ...listQuery.properties, scope: { type: 'string', enum: ['subtree', 'unit'], default: 'subtree' } } },
    },
  }, async (request) => {
    const { code } = request.params as { code: string }
    const p = request.principal!
    if (p.role === 'officer' && !withinScope((p as OfficerPrincipal).unit, code)) {
      throw new ProblemError('UNIT_FORBIDDEN', `officers of ${(p as OfficerPrincipal).unit} read the applications of their unit and the units beneath it, not of ${code}`)
    }
    const q = request.query as { status?: string, limit: number, scope: 'subtree' | 'unit' }
    const where = q.scope === 'unit' ? { unit: code } : { unitWithin: code }
    return { applications: (await store.list({ ...where, topLevel: true, limit: q.limit, ...(q.status === undefined ? {} : { status: q.status }) })).map(view) }
  })
}
