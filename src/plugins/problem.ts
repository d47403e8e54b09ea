import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import fp from 'fastify-plugin'
import FindMyWay, { type HTTPMethod } from 'find-my-way'
import type { ConnectionError, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
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
    case 'FST_ERR_BAD_URL':
      return new ProblemError('MALFORMED_URL', 'the URL has a malformed percent-encoding; percent-encode it as UTF-8 (%XX)', { cause: error })
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new ProblemError('URI_TOO_LONG', 'a path parameter is longer than this gateway accepts', { cause: error })
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

// One line per refused or failed request, the same for every error handler.
export function logProblem (request: FastifyRequest, error: unknown, problem: ProblemError): void {
  const outage = storeOutageOf(error)
  if (outage !== undefined) {
    // Expected while the database is away, and readiness already says so:
    // one line, no stack, the route pattern rather than the URL.
    request.log.warn({ code: problem.code, method: request.method, route: request.routeOptions.url, reason: (outage.cause as Error)?.message },
      'the database is unavailable')
  } else if (problem.status >= 500) {
    request.log.error({ err: error }, 'request failed')
  } else {
    // The title, not the detail: details may repeat what the caller sent.
    request.log.info({ code: problem.code, status: problem.status }, problem.title)
  }
}

export function problemBody (problem: ProblemError, requestId: string): string {
  return JSON.stringify({
    type: problemType(problem.code),
    title: problem.title,
    status: problem.status,
    detail: problem.detail,
    instance: requestId,
    code: problem.code,
    ...problem.extensions,
  })
}

export function sendProblem (request: FastifyRequest, reply: FastifyReply, problem: ProblemError): FastifyReply {
  for (const [name, value] of Object.entries(problem.headers)) reply.header(name, value)
  // Set here too: errors raised before routing skip the onRequest hook that sets it.
  reply.header('x-request-id', request.id)
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problemBody(problem, request.id))
}

// Fastify's `frameworkErrors`: errors its router raises before a route is
// chosen (a malformed percent-encoding, a path parameter over maxParamLength).
export function frameworkError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const problem = toProblem(error)
  request.log.info({ code: problem.code, status: problem.status }, problem.title)
  sendProblem(request, reply, problem)
}

function clientProblem (err: ConnectionError): ProblemError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new ProblemError('HEADERS_TOO_LARGE', 'the request line and headers are larger than this gateway accepts', { cause: err })
    case 'HPE_INVALID_URL':
      // llhttp refuses raw non-ASCII bytes (e.g. Cyrillic as curl sends it) in
      // the URL; only Node's insecure parser would let them through.
      return new ProblemError('MALFORMED_URL', 'the URL has characters that must be percent-encoded; percent-encode non-ASCII text as UTF-8 (%D1%85...)', { cause: err })
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ProblemError('REQUEST_TIMEOUT', 'the request was not received in time', { cause: err })
    default:
      return new ProblemError('MALFORMED_REQUEST', 'the HTTP request could not be parsed', { cause: err })
  }
}

// Fastify's `clientErrorHandler`: Node's HTTP parser refused the bytes, so
// there is no request to reply to; the problem is written on the socket.
export function clientError (this: FastifyInstance, err: ConnectionError, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const problem = clientProblem(err)
  const id = randomUUID()
  // Scanners and broken clients send these all day: debug, not info.
  this.log.debug({ reqId: id, code: problem.code, reason: err.code }, problem.title)
  if (socket.writable) {
    const body = problemBody(problem, id)
    socket.write(`HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status]}\r\n` +
      `content-type: ${PROBLEM_CONTENT_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `x-request-id: ${id}\r\nconnection: close\r\n\r\n${body}`)
  }
  socket.destroy(err)
}

// ajv coerces a string such as "1e400" to Infinity and then skips minimum and
// maximum, which it checks on finite numbers only (ajv-validator/ajv#2212).
function nonFinite (part: string, values: unknown): FieldError[] {
  if (values === null || typeof values !== 'object') return []
  const errors: FieldError[] = []
  for (const [name, value] of Object.entries(values)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (typeof item === 'number' && !Number.isFinite(item)) errors.push({ in: part, pointer: '/' + escapePointer(name), detail: 'must be a finite number' })
    }
  }
  return errors
}

async function problemPlugin (app: FastifyInstance): Promise<void> {
  // After validation, before any handler sees the coerced values.
  app.addHook('preHandler', (request, _reply, done) => {
    const errors = [...nonFinite('querystring', request.query), ...nonFinite('params', request.params)]
    done(errors.length === 0 ? undefined : new ValidationProblem(errors))
  })

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
    logProblem(request, error, problem)
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
