import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import applicationSchema from '../../schemas/application.json' with { type: 'json' }
import { checkApplication, type ApplicationBody } from '../applications/intake.ts'
import { requestHash, type Application } from '../applications/store.ts'
import type { CitizenPrincipal, OfficerPrincipal, Principal } from '../auth/principal.ts'
import { ProblemError } from '../errors/problem-error.ts'

// Portals and OSS counters submit applications here. A 202 means the
// application is in the database with its outbox row; delivery to the agency
// happens from the queue, and nothing acknowledged is lost.

function view (a: Application) {
  return {
    id: a.id,
    service: a.service,
    unit: a.unit,
    channel: a.channel,
    status: a.status,
    decision: a.decision,
    agencyReference: a.agencyReference,
    reason: a.reason,
    attempts: a.attempts,
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
  }
}

// Who may read an application: the citizen who applied, officers of its
// unit, admins. Anyone else learns nothing, not even that it exists.
function mayRead (p: Principal, a: Application): boolean {
  if (p.role === 'admin') return true
  if (p.role === 'citizen') return (p as CitizenPrincipal).regnum === a.applicantRegnum
  if (p.role === 'officer') return (p as OfficerPrincipal).unit === a.unit
  return false
}

export async function applicationRoutes (app: FastifyInstance): Promise<void> {
  app.addSchema(applicationSchema)
  const store = app.applications.store

  app.post('/v1/applications', {
    config: { auth: { roles: ['citizen', 'officer'] } },
    schema: {
      tags: ['applications'],
      operationId: 'submitApplication',
      summary: 'Submit an application (Idempotency-Key required); 202 once it is stored',
      headers: {
        type: 'object',
        required: ['idempotency-key'],
        properties: { 'idempotency-key': { type: 'string', minLength: 8, maxLength: 200, pattern: '^[A-Za-z0-9._:-]+$' } },
      },
      body: {
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
      },
      response: { 202: { $ref: 'Application#' } },
    },
  }, async (request, reply) => {
    const principal = request.principal!
    const body = request.body as ApplicationBody
    const key = request.headers['idempotency-key'] as string
    const caller = `${principal.issuer}:${principal.sub}`
    const hash = requestHash(body)
    const { service, regnum } = checkApplication(app.catalogue.current(), principal, body)
    if (!app.adapters.has(service.adapter)) {
      throw new ProblemError('SERVICE_NOT_OFFERED', `${service.code} cannot be delivered to its agency through the gateway yet`)
    }
    const { replay, response } = await store.intake(caller, key, hash, {
      id: randomUUID(),
      service: service.code,
      adapter: service.adapter,
      unit: body.unit,
      channel: body.channel,
      applicantRegnum: regnum,
      form: body.form,
      submittedBy: caller,
      submittedRole: principal.role,
      portal: principal.role === 'citizen' ? (principal as CitizenPrincipal).portal : null,
    }, (a) => ({ status: 202, body: view(a), headers: { location: `/v1/applications/${a.id}` } }))
    if (!replay) app.applications.nudge()
    for (const [name, value] of Object.entries(response.headers)) reply.header(name, value)
    if (replay) reply.header('idempotent-replayed', 'true')
    return reply.code(response.status as 202).send(response.body)
  })

  app.get('/v1/applications/:id', {
    config: { auth: { roles: ['citizen', 'officer', 'admin'] } },
    schema: {
      tags: ['applications'],
      operationId: 'getApplication',
      summary: 'An application, its status and its history',
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } },
      response: { 200: { $ref: 'Application#' } },
    },
  }, async (request) => {
    const { id } = request.params as { id: string }
    const found = await store.get(id)
    if (found === null || !mayRead(request.principal!, found)) throw new ProblemError('NOT_FOUND', `no application ${id}`)
    return { ...view(found), history: await store.history(id) }
  })

  const listQuery = {
    type: 'object',
    additionalProperties: false,
    properties: {
      status: { type: 'string', enum: ['received', 'queued', 'delivering', 'delivered', 'decided', 'failed'] },
      limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
    },
  }

  app.get('/v1/me/applications', {
    config: { auth: { roles: ['citizen'] } },
    schema: { tags: ['applications'], operationId: 'getMyApplications', summary: 'The citizen\'s own applications', querystring: listQuery },
  }, async (request: FastifyRequest) => {
    const q = request.query as { status?: string, limit: number }
    const list = await store.list({ applicant: (request.principal as CitizenPrincipal).regnum, limit: q.limit, ...(q.status === undefined ? {} : { status: q.status }) })
    return { applications: list.map(view) }
  })

  app.get('/v1/units/:code/applications', {
    config: { auth: { roles: ['officer', 'admin'] } },
    schema: {
      tags: ['applications'],
      operationId: 'getUnitApplications',
      summary: 'Applications submitted at a unit, for its officers',
      params: { type: 'object', required: ['code'], properties: { code: { type: 'string', pattern: '^[0-9]{2,6}$' } } },
      querystring: listQuery,
    },
  }, async (request) => {
    const { code } = request.params as { code: string }
    const p = request.principal!
    if (p.role === 'officer' && (p as OfficerPrincipal).unit !== code) {
      throw new ProblemError('APPLICANT_FORBIDDEN', `officers of ${(p as OfficerPrincipal).unit} see their own unit's applications`)
    }
    const q = request.query as { status?: string, limit: number }
    return { applications: (await store.list({ unit: code, limit: q.limit, ...(q.status === undefined ? {} : { status: q.status }) })).map(view) }
  })
}
