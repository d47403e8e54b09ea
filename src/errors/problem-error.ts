import { errorRegistry, type ErrorCode, type ErrorSpec } from './registry.ts'

export interface ProblemOptions {
  cause?: unknown
  // Extra RFC 9457 members, for example `errors` for validation failures.
  extensions?: Record<string, unknown>
  headers?: Record<string, string>
}

export class ProblemError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly title: string
  readonly detail: string
  readonly extensions: Record<string, unknown>
  readonly headers: Record<string, string>

  constructor (code: ErrorCode, detail?: string, options: ProblemOptions = {}) {
    const spec: ErrorSpec = errorRegistry[code]
    super(detail ?? spec.title, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ProblemError'
    this.code = code
    this.status = spec.status
    this.title = spec.title
    this.detail = detail ?? spec.title
    this.extensions = options.extensions ?? {}
    this.headers = {
      ...(spec.retryAfterSeconds === undefined ? {} : { 'retry-after': String(spec.retryAfterSeconds) }),
      ...options.headers,
    }
  }
}

export interface FieldError {
  // Where the field is: body, querystring, params or headers.
  in: string
  // RFC 6901 JSON pointer to the field inside that part.
  pointer: string
  detail: string
}

export class ValidationProblem extends ProblemError {
  readonly errors: FieldError[]

  constructor (errors: FieldError[], options: Omit<ProblemOptions, 'extensions'> = {}) {
    const first = errors[0]
    const summary = first === undefined
      ? 'The request is not valid'
      : `${first.in}${first.pointer || ''}: ${first.detail}` + (errors.length > 1 ? ` (and ${errors.length - 1} more)` : '')
    super('VALIDATION_FAILED', summary, { ...options, extensions: { errors } })
    this.name = 'ValidationProblem'
    this.errors = errors
  }
}
