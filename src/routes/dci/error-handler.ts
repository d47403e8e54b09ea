import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { storeOutageOf } from '../../db/database.ts'
import { DciError, dciCodeOf, httpErrorBody } from '../../dci/errors.ts'
import { toProblem } from '../../plugins/problem.ts'

// Errors on the DCI paths in the spec's HttpErrorResponse, whatever raised
// them (auth hook, body parser, store outage), logged as the problem handler
// logs them: one line, the route pattern, no stack.
export function dciErrorHandler (error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof DciError) {
    request.log.info({ code: error.code, status: error.status }, 'DCI request refused')
    return reply.code(error.status).headers(error.headers).type('application/json').send(httpErrorBody(error.code, error.message))
  }
  const problem = toProblem(error)
  const outage = storeOutageOf(error)
  if (outage !== undefined) request.log.warn({ code: problem.code, method: request.method, route: request.routeOptions.url, reason: (outage.cause as Error)?.message }, 'the database is unavailable')
  else if (problem.status >= 500) request.log.error({ err: error }, 'DCI request failed')
  else request.log.info({ code: problem.code, status: problem.status }, problem.title)
  return reply.code(problem.status).headers(problem.headers).type('application/json').send(httpErrorBody(dciCodeOf(problem), problem.detail))
}
