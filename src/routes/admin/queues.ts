import { createHash, randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Queue } from 'bullmq'
import { createBullBoard } from '@bull-board/api'
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter'
import { FastifyAdapter } from '@bull-board/fastify'
import type { Principal } from '../../auth/principal.ts'
import { ProblemError } from '../../errors/problem-error.ts'
import { bearerToken } from '../../plugins/auth.ts'
import { sendProblem, toProblem } from '../../plugins/problem.ts'

// The Bull Board dashboard at /admin/queues, for admins only. A browser cannot
// send a bearer token when it opens a page, and tokens are single-use, so an
// admin's token buys a session cookie (HttpOnly, SameSite=Strict, scoped to
// the dashboard) at POST /admin/queues/session. Tools may send a token instead.
// The dashboard only reads, and retries failed jobs; every other action is refused.

export const DASHBOARD_PATH = '/admin/queues'
const COOKIE = 'oss_queues_session'

// PUT …/:queue/:job/retry and PUT …/:queue/retry/failed are the only writes.
const RETRY = [
  new RegExp(`^${DASHBOARD_PATH}/api/queues/[^/]+/[^/]+/retry$`),
  new RegExp(`^${DASHBOARD_PATH}/api/queues/[^/]+/retry/failed$`),
]

function sessionCookie (request: FastifyRequest): string | null {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=')
    if (name === COOKIE) return value.join('=')
  }
  return null
}

export async function queueDashboardRoutes (app: FastifyInstance, options: { queues: Queue[], sessionTtlSeconds: number }): Promise<void> {
  const sessionKey = (id: string) => `${app.redisKeyPrefix}:dashboard-session:${createHash('sha256').update(id).digest('base64url')}`

  async function principalOf (request: FastifyRequest): Promise<Principal> {
    const token = bearerToken(request)
    if (token !== null && token !== '') return app.tokenVerifier.verify(token)
    const id = sessionCookie(request)
    if (id === null) throw new ProblemError('AUTH_REQUIRED', `open POST ${DASHBOARD_PATH}/session with an admin token first, or send "Authorization: Bearer <token>"`)
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
    reply.header('set-cookie', `${COOKIE}=${id}; Path=${DASHBOARD_PATH}; Max-Age=${options.sessionTtlSeconds}; HttpOnly; Secure; SameSite=Strict`)
    return reply.code(204).send()
  })

  app.delete(`${DASHBOARD_PATH}/session`, {
    schema: { tags: ['admin'], operationId: 'closeQueueDashboardSession', summary: 'End the dashboard session in the cookie', security: [{ dashboardSession: [] }], response: { 204: { type: 'null' } } },
  }, async (request, reply) => {
    const id = sessionCookie(request)
    if (id !== null) await app.redis.del(sessionKey(id))
    reply.header('set-cookie', `${COOKIE}=; Path=${DASHBOARD_PATH}; Max-Age=0; HttpOnly; Secure; SameSite=Strict`)
    return reply.code(204).send()
  })

  await app.register(async (board) => {
    // Bull Board's routes have their own error handler, so refusals are sent from here.
    board.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      try {
        const principal = await principalOf(request)
        if (principal.role !== 'admin') throw new ProblemError('ROLE_FORBIDDEN', `the queue dashboard is for admins; your role is ${principal.role}`)
        request.principal = principal
        const path = request.url.split('?')[0]!
        if (request.method !== 'GET' && request.method !== 'HEAD' && !RETRY.some((r) => r.test(path))) {
          throw new ProblemError('READ_ONLY_DASHBOARD', `${request.method} ${path} changes the queues; the dashboard only reads and retries failed jobs`)
        }
      } catch (err) {
        return sendProblem(request, reply, toProblem(err))
      }
    })
    board.addHook('onResponse', async (request) => {
      if (request.method !== 'GET' && request.method !== 'HEAD') request.log.info({ admin: request.principal?.sub, url: request.url }, 'queue dashboard retry')
    })
    const serverAdapter = new FastifyAdapter()
    serverAdapter.setBasePath(DASHBOARD_PATH)
    createBullBoard({
      queues: options.queues.map((q) => new BullMQAdapter(q, { allowRetries: true })),
      serverAdapter,
      options: { uiConfig: { boardTitle: 'OSS gateway queues' } },
    })
    await board.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PATH })
  })
}
