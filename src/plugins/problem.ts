import fp from 'fastify-plugin'
import FindMyWay, { type HTTPMethod } from 'find-my-way'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ProblemError, ValidationProblem, type FieldError } from '../errors/problem-error.ts'
import { problemType } from '../errors/registry.ts'
import { storeOutageOf } from '../db/database.ts'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

interface AjvLikeError {
  instancePath?: string
  keyword?: string
  message?: string
  params?: Record<string, unknown>
}

function escapePointer (segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1')
}

// Turns ajv errors into one entry per failing field, pointing at the field itself
// (for `required`, the missing property rather than its parent).
export function fieldErrors (part: string, errors: AjvLikeError[]): FieldError[] {
  return errors.map((e) => {
    let pointer = e.instancePath ?? ''
    const params = e.params ?? {}
    if (e.keyword === 'required' && typeof params.missingProperty === 'string') {
      pointer += '/' + escapePointer(params.missingProperty)
    } else if (e.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
      pointer += '/' + escapePointer(params.additionalProperty)
    }
    let detail = e.message ?? 'is invalid'
    if (e.keyword === 'additionalProperties') detail = 'is not an allowed property'
    if (e.keyword === 'enum' && Array.isArray(params.allowedValues)) detail = `must be one of: ${params.allowedValues.join(', ')}`
    return { in: part, pointer, detail }
  })
}

// Maps anything thrown while handling a request to a ProblemError. Fastify's
// own errors for bad input become 4xx; a store outage is a 503 with
// Retry-After; everything unknown is a 500.
export function toProblem (error: unknown): ProblemError {
  if (error instanceof ProblemError) return error
  if (storeOutageOf(error) !== undefined) {
    return new ProblemError('STORE_UNAVAILABLE', 'the database cannot be reached; retry later', { cause: error })
  }
  const fe = (error ?? {}) as FastifyError
  if (Array.isArray(fe.validation)) {
    return new ValidationProblem(fieldErrors(fe.validationContext ?? 'body', fe.validation as AjvLikeError[]), { cause: error })
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ProblemError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json', { cause: error })
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ProblemError('PAYLOAD_TOO_LARGE', 'the request body is larger than this gateway accepts', { cause: error })
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ProblemError('MALFORMED_JSON', 'the body is empty but the content type says JSON', { cause: error })
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ProblemError('MALFORMED_JSON', 'the body is not valid JSON', { cause: error })
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ProblemError('BAD_REQUEST', 'the Content-Length header does not match the body', { cause: error })
    case 'FST_ERR_RATE_LIMIT_EXCEEDED':
      return new ProblemError('RATE_LIMITED', fe.message, { cause: error })
  }
  // JSON.parse errors from the body parser carry a 400 status.
  if (error instanceof SyntaxError && fe.statusCode === 400) {
    return new ProblemError('MALFORMED_JSON', 'the body is not valid JSON', { cause: error })
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new ProblemError(fe.statusCode === 429 ? 'RATE_LIMITED' : 'BAD_REQUEST', fe.message, { cause: error })
  }
  return new ProblemError('INTERNAL', 'an unexpected error occurred; quote the instance id when reporting it', { cause: error })
}

export function sendProblem (request: FastifyRequest, reply: FastifyReply, problem: ProblemError): FastifyReply {
  const body = {
    type: problemType(problem.code),
    title: problem.title,
    status: problem.status,
    detail: problem.detail,
    instance: request.id,
    code: problem.code,
    ...problem.extensions,
  }
  for (const [name, value] of Object.entries(problem.headers)) reply.header(name, value)
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body))
}

async function problemPlugin (app: FastifyInstance): Promise<void> {
  // A second router that only knows which methods each path takes, so an
  // unknown method on a known path answers 405 with Allow instead of 404.
  const methods = FindMyWay({ ignoreTrailingSlash: false })
  app.addHook('onRoute', (route) => {
    // Every operation can fail with a problem document; say so in OpenAPI.
    const schema = (route.schema ??= {}) as Record<string, unknown>
    if (schema.hide !== true) {
      const response = (schema.response ??= {}) as Record<string, unknown>
      if (!Object.keys(response).some((k) => k.startsWith('2'))) response['2xx'] = { description: 'Success' }
      response['4xx'] ??= { description: 'Client error', content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: 'Problem#' } } } }
      response['5xx'] ??= { description: 'Server error', content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: 'Problem#' } } } }
    }
    const list = Array.isArray(route.method) ? route.method : [route.method]
    for (const method of list) {
      if (method === 'HEAD' || methods.hasRoute(method as HTTPMethod, route.url)) continue
      methods.on(method as HTTPMethod, route.url, () => {})
    }
  })

  app.setErrorHandler((error, request, reply) => {
    const problem = toProblem(error)
    const outage = storeOutageOf(error)
    if (outage !== undefined) {
      // Expected while the database is away, and readiness already says so:
      // one line, no stack, the route pattern rather than the URL.
      request.log.warn({ code: problem.code, method: request.method, route: request.routeOptions.url, reason: (outage.cause as Error)?.message },
        'the database is unavailable')
    } else if (problem.status >= 500) {
      request.log.error({ err: error }, 'request failed')
    } else {
      request.log.info({ code: problem.code }, problem.detail)
    }
    return sendProblem(request, reply, problem)
  })

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] as string
    const allowed = (['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const)
      .filter((m) => m !== request.method && methods.find(m, path) !== null)
    if (allowed.length > 0) {
      if (allowed.includes('GET')) allowed.push('HEAD' as never)
      return sendProblem(request, reply, new ProblemError('METHOD_NOT_ALLOWED',
        `${request.method} is not allowed here; use ${allowed.join(', ')}`, { headers: { allow: allowed.join(', ') } }))
    }
    return sendProblem(request, reply, new ProblemError('ROUTE_NOT_FOUND', `no route ${request.method} ${path}`))
  })
}

export default fp(problemPlugin, { name: 'problem', fastify: '5.x' })
