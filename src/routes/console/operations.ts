import type { FastifyInstance, FastifyRequest } from 'fastify'
import { t, type Lang } from '../../console/messages.ts'
import {
  adaptersPage, AUDIT_TYPES, auditPage, callbacksPage, deliveriesPage, fill, OPERATIONS_PATH, PERIOD_HOURS, verifyPage,
  type AdapterInfo, type AuditRecord, type Breakers, type CallbackHealth, type CheckForm, type DeliveryHealth, type Notice, type PeriodHours, type Verification,
} from '../../console/operations-views.ts'
import { errorRegistry, type ErrorCode } from '../../errors/registry.ts'
import { ProblemError } from '../../errors/problem-error.ts'
import type { ApiAnswer } from '../../plugins/console.ts'
import { identityOf, pageContext, sendPage } from './shared.ts'

// Operations for admins, through the admin API as the signed-in person:
// delivery health with a retry for each failed application, adapters and
// their circuit breakers, the audit log and its verification, and portal
// callbacks. Pages only read; the one change is a retry (a POST form with
// the session's CSRF token).

const ADMIN = { console: { roles: ['admin'] as const } }
const DEFAULT_HOURS: PeriodHours = 24
const FAILED_LISTED = 50
const AUDIT_PAGE = 50

// An answer the page cannot show is the API's problem, passed on with its
// code and status.
function failed (answer: ApiAnswer): ProblemError {
  let p: { code?: string, detail?: string } = {}
  try {
    p = answer.json()
  } catch {
    // Not problem+json: the status says enough.
  }
  const code: ErrorCode = typeof p.code === 'string' && Object.hasOwn(errorRegistry, p.code) ? p.code as ErrorCode : answer.status >= 500 ? 'INTERNAL' : 'BAD_REQUEST'
  return new ProblemError(code, p.detail ?? `the API answered ${answer.status}`)
}

const periodQuery = { type: 'object', properties: { hours: { type: 'integer', enum: [...PERIOD_HOURS] } } }
const HASH = /^[0-9a-f]{64}$/
const SEQ = /^[1-9][0-9]{0,15}$/

export async function operationsConsoleRoutes (app: FastifyInstance): Promise<void> {
  async function get<T> (request: FastifyRequest, lang: Lang, url: string): Promise<T> {
    const answer = await app.console.api(identityOf(request), { method: 'GET', url, lang })
    if (answer.status !== 200) throw failed(answer)
    return answer.json<T>()
  }

  const deliveryHealth = (request: FastifyRequest, lang: Lang, hours: PeriodHours) =>
    get<DeliveryHealth>(request, lang, `/v1/admin/operations/deliveries?hours=${hours}&failed=${FAILED_LISTED}`)

  app.get(OPERATIONS_PATH, { config: ADMIN, schema: { querystring: periodQuery } }, async (request, reply) => {
    const { lang } = pageContext(request)
    const hours = (request.query as { hours?: PeriodHours }).hours ?? DEFAULT_HOURS
    return sendPage(request, reply, t(lang, 'ops.del.title'), deliveriesPage(pageContext(request), await deliveryHealth(request, lang, hours), hours, null))
  })

  // The retry's outcome is shown above the figures as they are after it.
  app.post(`${OPERATIONS_PATH}/deliveries/:id/retry`, {
    config: ADMIN,
    schema: {
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } },
      body: { type: 'object', properties: { hours: { type: 'integer', enum: [...PERIOD_HOURS] } } },
    },
  }, async (request, reply) => {
    const ctx = pageContext(request)
    const { lang } = ctx
    const { id } = request.params as { id: string }
    const hours = (request.body as { hours?: PeriodHours }).hours ?? DEFAULT_HOURS
    const answer = await app.console.api(identityOf(request), { method: 'POST', url: `/v1/admin/applications/${id}/retry`, lang })
    let notice: Notice
    let status = 200
    if (answer.status === 202) {
      const retried = answer.json<{ statusLabels: { mn: string, en: string } }>()
      notice = { ok: true, text: fill(t(lang, 'ops.del.retried'), { id, status: retried.statusLabels[lang] }) }
      request.log.info({ applicationId: id }, 'console: an admin retried a failed application')
    } else if (answer.status === 409) {
      notice = { ok: false, text: fill(t(lang, 'ops.del.notFailed'), { id }) }
      status = 409
    } else if (answer.status === 404) {
      notice = { ok: false, text: fill(t(lang, 'ops.del.notFound'), { id }) }
      status = 404
    } else {
      throw failed(answer)
    }
    return sendPage(request, reply, t(lang, 'ops.del.title'), deliveriesPage(ctx, await deliveryHealth(request, lang, hours), hours, notice), status)
  })

  app.get(`${OPERATIONS_PATH}/adapters`, { config: ADMIN }, async (request, reply) => {
    const ctx = pageContext(request)
    const [breakers, adapters] = await Promise.all([
      get<Breakers>(request, ctx.lang, '/v1/admin/operations/breakers'),
      get<{ adapters: AdapterInfo[] }>(request, ctx.lang, '/v1/admin/adapters'),
    ])
    return sendPage(request, reply, t(ctx.lang, 'ops.ad.title'), adaptersPage(ctx, breakers, adapters.adapters))
  })

  app.get(`${OPERATIONS_PATH}/audit`, {
    config: ADMIN,
    schema: {
      querystring: {
        type: 'object',
        properties: {
          type: { type: 'string', enum: ['', ...AUDIT_TYPES] },
          actor: { type: 'string', maxLength: 200 },
          before: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
        },
      },
    },
  }, async (request, reply) => {
    const ctx = pageContext(request)
    const q = request.query as { type?: string, actor?: string, before?: number }
    const filters = { type: q.type ?? '', actor: (q.actor ?? '').trim() }
    const params = new URLSearchParams({ limit: String(AUDIT_PAGE) })
    if (filters.type !== '') params.set('type', filters.type)
    if (filters.actor !== '') params.set('officer', filters.actor)
    if (q.before !== undefined) params.set('before', String(q.before))
    const page = await get<{ records: AuditRecord[], next: number | null }>(request, ctx.lang, `/v1/admin/audit?${params}`)
    // The newest record is the chain's head; on a filtered or older page, it is asked for.
    const unfiltered = q.before === undefined && filters.type === '' && filters.actor === ''
    const newest = unfiltered ? page.records[0] : (await get<{ records: AuditRecord[] }>(request, ctx.lang, '/v1/admin/audit?limit=1')).records[0]
    const head = newest === undefined ? null : { seq: newest.seq, hash: newest.hash }
    return sendPage(request, reply, t(ctx.lang, 'ops.au.title'), auditPage(ctx, page.records, page.next, filters, q.before, head))
  })

  app.get(`${OPERATIONS_PATH}/audit/verify`, {
    config: ADMIN,
    schema: { querystring: { type: 'object', properties: { seq: { type: 'string', maxLength: 40 }, hash: { type: 'string', maxLength: 200 } } } },
  }, async (request, reply) => {
    const ctx = pageContext(request)
    const { lang } = ctx
    const q = request.query as { seq?: string, hash?: string }
    const form: CheckForm = { seq: q.seq ?? '', hash: q.hash ?? '' }
    // What was written down may have been copied with the groups' spaces, or in capitals.
    const seq = form.seq.trim()
    const hash = form.hash.replace(/\s+/g, '').toLowerCase()
    const errors: Partial<Record<'seq' | 'hash', string>> = {}
    if (seq !== '' || hash !== '') {
      if (seq === '') errors.seq = t(lang, 'ops.ve.both')
      else if (!SEQ.test(seq) || !Number.isSafeInteger(Number(seq))) errors.seq = t(lang, 'ops.ve.badSeq')
      if (hash === '') errors.hash = t(lang, 'ops.ve.both')
      else if (!HASH.test(hash)) errors.hash = t(lang, 'ops.ve.badHash')
    }
    const checking = seq !== '' && hash !== '' && Object.keys(errors).length === 0
    const checkedAt = new Date().toISOString()
    const result = await get<Verification>(request, lang, `/v1/admin/audit/verify${checking ? `?seq=${seq}&hash=${hash}` : ''}`)
    const status = Object.keys(errors).length > 0 ? 400 : 200
    return sendPage(request, reply, t(lang, 'ops.ve.title'), verifyPage(ctx, result, checkedAt, form, errors), status)
  })

  app.get(`${OPERATIONS_PATH}/callbacks`, { config: ADMIN }, async (request, reply) => {
    const ctx = pageContext(request)
    const data = await get<CallbackHealth>(request, ctx.lang, '/v1/admin/operations/callbacks')
    return sendPage(request, reply, t(ctx.lang, 'ops.cb.title'), callbacksPage(ctx, data))
  })
}
