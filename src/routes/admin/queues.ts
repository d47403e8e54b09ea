import { createHash, randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Queue } from 'bullmq'
import { createBullBoard } from '@bull-board/api'
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter'
import { FastifyAdapter } from '@bull-board/fastify'
import type { Principal } from '../../auth/principal.ts'
import { ProblemError } from '../../errors/problem-error.ts'
import { bearerToken } from '../../plugins/auth.ts'
import { PROBLEM_CONTENT_TYPE, problemBody, sendProblem, toProblem } from '../../plugins/problem.ts'
import { readCookie, SESSION_COOKIE } from '../console/shared.ts'

// The Bull Board dashboard at /admin/queues, for admins only. People reach it
// signed in to the console (its session cookie). A browser cannot
// send an Authorization header when it follows a link or opens a page, so an
// admin's token also buys a session cookie (HttpOnly, SameSite=Strict, scoped to
// the dashboard, Secure when the request came over https) at
// POST /admin/queues/session. Tools may send a token instead.
// The dashboard only reads: Bull Board runs in its read-only mode, so it shows
// no button that would fail, and every write is refused. Failed applications
// are retried through POST /v1/admin/applications/{id}/retry, which starts a
// new round with its own attempt budget.

export const DASHBOARD_PATH = '/admin/queues'
const COOKIE = 'oss_queues_session'

// What the dashboard may do is decided on the route the router matched (its
// pattern, method and params), never on the raw URL: a `#`, a percent-escape
// or a `;` makes the raw URL and the matched route disagree. Deny by default,
// so a route a Bull Board upgrade adds is refused until it is listed here.
const READS = new Set([
  '/', '/metrics-history', '/job-schedulers', '/queue/:queueName', '/queue/:queueName/:jobId', '/static/*',
  '/api/redis/stats', '/api/queues', '/api/job-schedulers',
  '/api/queues/:queueName/metrics', '/api/queues/:queueName/default-job-options', '/api/queues/:queueName/workers',
  '/api/queues/:queueName/rate-limit', '/api/queues/:queueName/job-data-schema',
  '/api/queues/:queueName/:jobId', '/api/queues/:queueName/:jobId/logs', '/api/queues/:queueName/:jobId/flow',
])
const ADAPTER_OPTIONS = { readOnlyMode: true }

// The dashboard's pages and read API in the OpenAPI document (Bull Board
// hides its routes); its writes are refused with 403 and left out.
const DOCUMENTED: Record<string, { id: string, summary: string, html?: true }> = {
  '/': { id: 'queueDashboard', summary: 'The queue dashboard\'s page (Bull Board, read-only)', html: true },
  '/queue/:queueName': { id: 'queueDashboardQueuePage', summary: 'The dashboard\'s page of one queue', html: true },
  '/queue/:queueName/:jobId': { id: 'queueDashboardJobPage', summary: 'The dashboard\'s page of one job', html: true },
  '/api/redis/stats': { id: 'queueDashboardRedisStats', summary: 'Redis memory, clients and version, as the dashboard shows them' },
  '/api/queues': { id: 'queueDashboardQueues', summary: 'Every queue with its job counts and a page of jobs (query: activeQueue, status, page, jobsPerPage)' },
  '/api/job-schedulers': { id: 'queueDashboardJobSchedulers', summary: 'Job schedulers of every queue' },
  '/api/queues/:queueName/metrics': { id: 'queueDashboardQueueMetrics', summary: 'Completed and failed counts over time for one queue' },
  '/api/queues/:queueName/default-job-options': { id: 'queueDashboardDefaultJobOptions', summary: 'A queue\'s default job options' },
  '/api/queues/:queueName/workers': { id: 'queueDashboardWorkers', summary: 'The workers connected to a queue' },
  '/api/queues/:queueName/rate-limit': { id: 'queueDashboardRateLimit', summary: 'A queue\'s global rate limit' },
  '/api/queues/:queueName/job-data-schema': { id: 'queueDashboardJobDataSchema', summary: 'The schema of a queue\'s job data, if it has one' },
  '/api/queues/:queueName/:jobId': { id: 'queueDashboardJob', summary: 'One job' },
  '/api/queues/:queueName/:jobId/logs': { id: 'queueDashboardJobLogs', summary: 'One job\'s log lines' },
  '/api/queues/:queueName/:jobId/flow': { id: 'queueDashboardJobFlow', summary: 'The flow (parent and children) one job belongs to' },
}

// The UI's page asks Google for web fonts; it falls back to the system's, and
// the policy keeps the browser on the gateway whatever a script asks for.
const PAGE_POLICY = "default-src 'self' 'unsafe-inline' data: blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
const EXTERNAL_LINK = /<link\b[^>]*\bhref\s*=\s*["']?(?:[a-z][a-z0-9+.-]*:)?\/\/[^>]*>\s*/gi
const EXTERNAL_SCRIPT = /<script\b[^>]*\bsrc\s*=\s*["']?(?:[a-z][a-z0-9+.-]*:)?\/\/[^>]*>\s*<\/script>\s*/gi

function withoutExternalLoads (html: string): string {
  return html.replace(EXTERNAL_LINK, '').replace(EXTERNAL_SCRIPT, '')
}

function sessionCookie (request: FastifyRequest): string | null {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=')
    if (name === COOKIE) return value.join('=')
  }
  return null
}

export async function queueDashboardRoutes (app: FastifyInstance, options: { queues: Queue[], sessionTtlSeconds: number }): Promise<void> {
  const sessionKey = (id: string) => `${app.redisKeyPrefix}:dashboard-session:${createHash('sha256').update(id).digest('base64url')}`

  // Secure only over https (request.protocol honours TRUST_PROXY): a browser
  // drops a Secure cookie set over plain http, which broke the dashboard in development.
  const setCookie = (request: FastifyRequest, value: string, maxAge: number) =>
    `${COOKIE}=${value}; Path=${DASHBOARD_PATH}; Max-Age=${maxAge}; HttpOnly;${request.protocol === 'https' ? ' Secure;' : ''} SameSite=Strict`

  // Why the matched route is refused, or null when it reads.
  function refusal (request: FastifyRequest): string | null {
    const route = request.routeOptions.url
    const pattern = route?.startsWith(DASHBOARD_PATH) === true ? route.slice(DASHBOARD_PATH.length) || '/' : null
    const what = `${request.method} ${DASHBOARD_PATH}${pattern ?? ''}`
    if (pattern === null) return `${what} is not part of the dashboard`
    if ((request.method === 'GET' || request.method === 'HEAD') && READS.has(pattern)) return null
    return `${what} changes the queues; the dashboard only reads (retry a failed application with POST /v1/admin/applications/{id}/retry)`
  }

  async function principalOf (request: FastifyRequest): Promise<Principal> {
    const token = bearerToken(request)
    if (token !== null && token !== '') return app.tokenVerifier.verify(token)
    // The console's session, for people: sign in to the console and follow its link.
    const consoleId = readCookie(request, SESSION_COOKIE)
    if (consoleId !== null && consoleId !== '') {
      const found = await app.console.sessions.find(consoleId)
      if (found !== null) {
        const { identity } = found
        return { role: identity.role, sub: identity.sub, issuer: identity.issuer, tokenId: 'console-session', expiresAt: found.createdMs + app.console.settings.sessionMaxMs } as Principal
      }
    }
    const id = sessionCookie(request)
    if (id === null) throw new ProblemError('AUTH_REQUIRED', `sign in to the console at /console/login?return=${DASHBOARD_PATH}, or open POST ${DASHBOARD_PATH}/session with an admin token, or send "Authorization: Bearer <token>"`)
    const stored = await app.redis.get(sessionKey(id))
    if (stored === null) throw new ProblemError('TOKEN_EXPIRED', `the dashboard session has ended; open POST ${DASHBOARD_PATH}/session again`)
    return JSON.parse(stored) as Principal
  }

  app.post(`${DASHBOARD_PATH}/session`, {
    config: { auth: { roles: ['admin'] } },
    schema: {
      tags: ['admin'],
      operationId: 'openQueueDashboardSession',
      summary: 'Trade an admin token for a dashboard session cookie; then open /admin/queues',
      response: { 204: { type: 'null', description: 'Set-Cookie carries the session' } },
    },
  }, async (request, reply) => {
    const id = randomBytes(32).toString('base64url')
    const p = request.principal!
    await app.redis.set(sessionKey(id), JSON.stringify({ role: p.role, sub: p.sub, issuer: p.issuer }), 'EX', options.sessionTtlSeconds)
    reply.header('set-cookie', setCookie(request, id, options.sessionTtlSeconds))
    return reply.code(204).send()
  })

  app.delete(`${DASHBOARD_PATH}/session`, {
    schema: { tags: ['admin'], operationId: 'closeQueueDashboardSession', summary: 'End the dashboard session in the cookie', security: [{ dashboardSession: [] }], response: { 204: { type: 'null' } } },
  }, async (request, reply) => {
    const id = sessionCookie(request)
    if (id !== null) await app.redis.del(sessionKey(id))
    reply.header('set-cookie', setCookie(request, '', 0))
    return reply.code(204).send()
  })

  const queueNames = options.queues.map((q) => q.name)
  const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } })
  await app.register(async (board) => {
    board.addHook('onRoute', (route) => {
      const pattern = route.url.startsWith(DASHBOARD_PATH) ? route.url.slice(DASHBOARD_PATH.length) || '/' : null
      const methods = Array.isArray(route.method) ? route.method : [route.method]
      const doc = pattern === null || !methods.includes('GET') ? undefined : DOCUMENTED[pattern]
      if (doc === undefined) return
      // The page answers at /admin/queues/ too, under the same options; the
      // document names it once, without the slash.
      if (pattern === '/') route.config = { ...route.config, swaggerTransform: ({ schema }) => ({ schema, url: DASHBOARD_PATH }) }
      const names = [...route.url.matchAll(/:(\w+)/g)].map((m) => m[1]!)
      const examples: Record<string, unknown[]> = { queueName: queueNames, jobId: ['00000000-0000-4000-8000-000000000000'] }
      // Documentation only: hide stays off, nothing here is validated.
      route.schema = {
        tags: ['admin'],
        operationId: doc.id,
        summary: doc.summary,
        description: 'Roles: admin. With the session cookie from POST /admin/queues/session, or an admin token. Read-only: every write of the dashboard is refused with 403 READ_ONLY_DASHBOARD.',
        security: [{ dashboardSession: [] }, { bearer: [] }],
        ...(names.length === 0 ? {} : { params: { type: 'object', required: names, properties: Object.fromEntries(names.map((n) => [n, { type: 'string', ...(examples[n] === undefined ? {} : { examples: examples[n] }) }])) } }),
        response: {
          200: doc.html === true
            ? { description: 'The page', content: { 'text/html': { schema: { type: 'string' } } } }
            // Any JSON: Bull Board's own shapes, passed through as they are.
            : { description: 'Bull Board\'s answer', content: { 'application/json': { schema: { description: 'JSON as Bull Board answers it' } } } },
          ...(names.includes('queueName') ? { 404: problem('No such queue or job; Bull Board\'s own error is kept as `error`') } : {}),
          401: problem('No dashboard session and no admin token'),
          403: problem('Not an admin'),
        },
      }
    })
    // Bull Board's routes have their own error handler, so refusals are sent from here.
    board.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      try {
        const principal = await principalOf(request)
        if (principal.role !== 'admin') throw new ProblemError('ROLE_FORBIDDEN', `the queue dashboard is for admins; your role is ${principal.role}`)
        request.principal = principal
        const refused = refusal(request)
        if (refused !== null) throw new ProblemError('READ_ONLY_DASHBOARD', refused)
      } catch (err) {
        return sendProblem(request, reply, toProblem(err))
      }
    })
    board.addHook('onSend', async (request, reply, payload) => {
      // Bull Board's own refusals ({"error": …}) become problem documents, as
      // every 4xx of the gateway is; its error stays, as an extension.
      if ((reply.statusCode === 404 || reply.statusCode === 400) && typeof payload === 'string' && String(reply.getHeader('content-type')).startsWith('application/json')) {
        let error: unknown
        try {
          error = (JSON.parse(payload) as { error?: unknown }).error
        } catch {}
        const key = (error as { key?: unknown } | undefined)?.key
        const problem = new ProblemError(reply.statusCode === 404 ? 'NOT_FOUND' : 'BAD_REQUEST',
          `the dashboard refused this${typeof key === 'string' ? ` (${key})` : ''}`, { extensions: error === undefined ? {} : { error } })
        reply.type(PROBLEM_CONTENT_TYPE)
        return problemBody(problem, request.id)
      }
      if (typeof payload !== 'string' || !String(reply.getHeader('content-type')).startsWith('text/html')) return payload
      reply.header('content-security-policy', PAGE_POLICY)
      return withoutExternalLoads(payload)
    })
    const serverAdapter = new FastifyAdapter()
    serverAdapter.setBasePath(DASHBOARD_PATH)
    createBullBoard({
      queues: options.queues.map((q) => new BullMQAdapter(q, ADAPTER_OPTIONS)),
      serverAdapter,
      options: { uiConfig: { boardTitle: 'OSS gateway queues', hideDocsLink: true } },
    })
    await board.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PATH })
  })
}
