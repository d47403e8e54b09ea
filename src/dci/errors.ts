import type { ProblemError } from '../errors/problem-error.ts'
import type { DciErrorCode } from './spec.ts'

// The DCI face answers errors in the spec's words: a transport error code
// (components.schemas.Error) in {"errors": [{code, message}]} on sync paths
// (HttpErrorResponse). Problems from the rest of the gateway (its one error
// registry) are translated here, by status.

export class DciError extends Error {
  readonly code: DciErrorCode
  readonly status: number
  readonly headers: Record<string, string>
  constructor (code: DciErrorCode, status: number, message: string, options: { cause?: unknown, headers?: Record<string, string> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'DciError'
    this.code = code
    this.status = status
    this.headers = options.headers ?? {}
  }
}

export function dciCodeOf (problem: Pick<ProblemError, 'status'>): DciErrorCode {
  switch (problem.status) {
    case 401: return 'err.request.unauthorized'
    case 403: return 'err.request.forbidden'
    case 404: return 'err.request.not_found'
    case 408: return 'err.request.timeout'
    case 429: return 'err.request.too_many_requests'
  }
  return problem.status >= 500 ? 'err.service.unavailable' : 'err.request.bad'
}

export function httpErrorBody (code: DciErrorCode, message: string) {
  return { errors: [{ code, message }] }
}
