import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { ExchangeContext } from './context.ts'
import { FAULT_SCHEMA, type FaultSettings } from './faults.ts'
import type { MessageQuery } from './message-log.ts'
import type { OtpMessage } from './otp.ts'
import { PROVIDERS, providerByName } from './providers.ts'

// Admin endpoints of the emulator: message log, counters, faults, members,
// citizens' one-time codes.
// Protected by a bearer token when one is configured, open otherwise (a
// development tool on 127.0.0.1).
//
//   GET /admin/message-log               { records, size, capacity }: records newest first,
//                                        shaped as MessageRecord (message-log.ts), one per
//                                        exchange, including those whose client disconnected;
//                                        ?client= &service= &userId= &citizenAuth= &limit=
//   GET /admin/providers[/:p/counters]   per provider: requestsReceived (requests delivered
//                                        to it, both transports), applicationsReceived,
//                                        submissions, idempotentReplays
//   GET|PUT|DELETE /admin/faults[/:p]    faults on demand (faults.ts)
//   PUT /admin/providers/:p/decisions    decisions on demand: {"outcome": "approved" |
//                                        "rejected" | null}; null restores the usual mix
//   GET /admin/members
//   GET /admin/otp-inbox[?regnum=]       { messages }: the one-time codes KHUR meta-1.5.0
//                                        "sent" (WS100008), newest first, of one citizen or
//                                        all; each { regnum, code, requestId, channels,
//                                        services, sentAt, expiresAt, verified, approvedUntil }
//                                        (ISO times; approvedUntil null until checked). Stands
//                                        in for the citizen's phone: tests read codes here

function sameSecret (a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())
}

function adminError (type: string, message: string) {
  return { type, message, detail: '' }
}

function otpView (m: OtpMessage) {
  const iso = (ms: number) => new Date(ms).toISOString()
  return {
    regnum: m.regnum,
    code: m.code,
    requestId: m.requestId,
    channels: m.channels,
    services: m.services,
    sentAt: iso(m.sentAt),
    expiresAt: iso(m.expiresAt),
    verified: m.verifiedAt !== null,
    approvedUntil: m.approvedUntil === null ? null : iso(m.approvedUntil),
  }
}

export function adminRoutes (ctx: ExchangeContext, adminToken: string | undefined) {
  return async function (admin: FastifyInstance): Promise<void> {
    if (adminToken !== undefined && adminToken !== '') {
      admin.addHook('onRequest', async (request, reply) => {
        const given = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1]
        if (given === undefined || !sameSecret(given, adminToken)) {
          return await reply.code(401).header('www-authenticate', 'Bearer').send(adminError('Admin.Unauthorized', 'A valid admin bearer token is required'))
        }
      })
    }

    const counters = (name: string) => ({ requestsReceived: ctx.deliveries.get(name) ?? 0, ...ctx.desks.get(name)?.counters() })

    const providerParam = {
      type: 'object',
      required: ['provider'],
      properties: { provider: { type: 'string', enum: PROVIDERS.map((p) => p.name) } },
    } as const

    admin.get('/admin/message-log', {
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            client: { type: 'string' },
            service: { type: 'string' },
            userId: { type: 'string' },
            citizenAuth: { type: 'string', enum: ['otp', 'signature', 'regnum'] },
            limit: { type: 'integer', minimum: 1, maximum: 100_000, default: 100 },
          },
        },
      },
    }, async (request) => {
      const q = request.query as MessageQuery
      return { records: ctx.log.query(q), size: ctx.log.size, capacity: ctx.log.capacity }
    })

    admin.get('/admin/providers', async () => ({
      providers: PROVIDERS.map((p) => ({
        name: p.name,
        id: p.id,
        title: p.title,
        services: [...p.services.keys()],
        xypOperations: p.xypOperations,
        counters: counters(p.name),
      })),
    }))

    admin.get('/admin/providers/:provider/counters', { schema: { params: providerParam } }, async (request) => {
      const name = (request.params as { provider: string }).provider
      const p = providerByName(name)
      return { provider: name, id: p?.id, ...counters(name) }
    })

    admin.put('/admin/providers/:provider/decisions', {
      schema: {
        params: providerParam,
        body: { type: 'object', required: ['outcome'], additionalProperties: false, properties: { outcome: { enum: ['approved', 'rejected', null] } } },
      },
    }, async (request) => {
      const name = (request.params as { provider: string }).provider
      const { outcome } = request.body as { outcome: 'approved' | 'rejected' | null }
      const desk = ctx.desks.get(name)
      if (desk !== undefined) desk.forcedOutcome = outcome
      return { provider: name, outcome }
    })

    admin.get('/admin/faults', async () => ({ faults: ctx.faults.all() }))

    admin.put('/admin/faults/:provider', { schema: { params: providerParam, body: FAULT_SCHEMA } }, async (request) => {
      const name = (request.params as { provider: string }).provider
      return { provider: name, faults: ctx.faults.set(name, request.body as Partial<FaultSettings>) }
    })

    admin.delete('/admin/faults/:provider', { schema: { params: providerParam } }, async (request, reply) => {
      ctx.faults.reset((request.params as { provider: string }).provider)
      return await reply.code(204).send()
    })

    admin.delete('/admin/faults', async (_request, reply) => {
      ctx.faults.reset()
      return await reply.code(204).send()
    })

    admin.get('/admin/members', async () => ({
      members: ctx.members.list().map((m) => ({
        id: m.id,
        name: m.name,
        kids: [...m.kids()],
        revokedKids: [...m.revokedKids],
        xyp: m.xyp !== undefined,
        allowedServices: m.allowedServices,
      })),
    }))

    admin.get('/admin/otp-inbox', {
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: { regnum: { type: 'string', minLength: 1 } } },
      },
    }, async (request) => {
      const { regnum } = request.query as { regnum?: string }
      return { messages: ctx.otp.list(regnum?.toUpperCase()).map(otpView) }
    })
  }
}
