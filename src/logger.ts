import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { stdSerializers, type LoggerOptions } from 'pino'
import { maskRegnum, maskRegnumsInText } from './domain/regnum.ts'
import { buildKeyKinds, keyOf, type KeyKind } from './personal-keys.ts'

// Personal data and credentials never reach a log line. Requests are logged by
// their route pattern (/v1/citizens/:regnum), never by their URL or query.
// Every logged object is then walked: keys that hold personal data (the
// agencies' record fields, see personal-keys.ts) or credentials are removed,
// registration numbers are masked (АА******33) so lines stay joinable by a
// support person, and every string loses tokens, URL query strings and
// registration numbers in any spelling.

const KEY_KINDS = buildKeyKinds()
const REDACTED = '[redacted]'
// Deeper than any line the gateway writes; what lies below is not written.
const MAX_DEPTH = 8
// Requests Fastify could not route: their path may be anything, personal too.
export const NO_ROUTE = '(no route)'

// A JWS or JWE in compact form: base64url JSON header ('{"' is 'eyJ') and dots.
const COMPACT_TOKEN = /eyJ[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*){1,4}/g
const BEARER = /\b(Bearer|Basic)\s+[^\s"',;]+/gi
// A URL or a path followed by a query string: the query is dropped whole.
const URL_QUERY = /((?:\b[a-z][a-z0-9+.-]*:\/\/|\/)[^\s?#"'<>]*)\?[^\s#"'<>]*/gi

// Cleans free text (a message, an error's message or stack, any string value).
export function sanitizeText (text: string): string {
  let out = text
  if (out.includes('?')) out = out.replace(URL_QUERY, '$1?[query]')
  if (out.includes('eyJ')) out = out.replace(COMPACT_TOKEN, '[token]')
  if (/bearer|basic/i.test(out)) out = out.replace(BEARER, `$1 ${REDACTED}`)
  return maskRegnumsInText(out)
}

function byKind (kind: KeyKind, value: unknown): unknown {
  if (kind === 'regnum' && typeof value === 'string') return maskRegnum(value)
  return REDACTED
}

// A copy of a logged value without personal data or credentials. Only what is
// logged is walked, once per line.
export function sanitize (value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return sanitizeText(value)
  if (value === null || typeof value !== 'object') return value
  if (depth >= MAX_DEPTH) return '[too deep]'
  if (seen.has(value)) return '[circular]'
  seen.add(value)
  if (value instanceof Error) return sanitize(stdSerializers.err(value), depth + 1, seen)
  if (value instanceof URL) return sanitizeText(value.origin + value.pathname)
  if (Array.isArray(value)) return value.map((v) => sanitize(v, depth + 1, seen))
  const toJSON = (value as { toJSON?: unknown }).toJSON
  if (typeof toJSON === 'function') return sanitize(toJSON.call(value), depth + 1, seen)
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) {
    const kind = KEY_KINDS.get(keyOf(key))
    out[key] = kind === undefined ? sanitize(v, depth + 1, seen) : byKind(kind, v)
  }
  return out
}

// The request, the reply and the error have serializers of their own (below):
// every other key of a line is walked.
const SERIALIZED = new Set(['req', 'res', 'err'])

function sanitizeLine (obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(obj)) {
    const kind = KEY_KINDS.get(keyOf(key))
    out[key] = SERIALIZED.has(key) ? v : kind === undefined ? sanitize(v, 1) : byKind(kind, v)
  }
  return out
}

interface LoggedRequest { method?: string, ip?: string, routeOptions?: { url?: string }, socket?: { remoteAddress?: string } }

function routeOf (request: LoggedRequest | undefined): string {
  return request?.routeOptions?.url ?? NO_ROUTE
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/

// Keeps a caller's well-formed X-Request-Id so one id follows a request
// across systems; anything else (or one that carries a number or a token,
// since the id is on every line) gets a fresh UUID.
export function genReqId (req: IncomingMessage): string {
  const incoming = req.headers['x-request-id']
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) && sanitizeText(incoming) === incoming ? incoming : randomUUID()
}

export function loggerOptions (level: string): LoggerOptions {
  return {
    level,
    formatters: {
      log: sanitizeLine,
      bindings: sanitizeLine,
    },
    hooks: {
      // Messages are free text too; an error logged without one would get its
      // message as is, so it is given the cleaned one.
      logMethod (args, method) {
        const cleaned = args.map((a: unknown) => typeof a === 'string' ? sanitizeText(a) : a) as typeof args
        const [first] = cleaned
        if (cleaned.length === 1 && first !== null && typeof first === 'object') {
          const err = first instanceof Error ? first : (first as { err?: unknown }).err
          if (err instanceof Error) cleaned.push(sanitizeText(err.message) as never)
        }
        return method.apply(this, cleaned as Parameters<typeof method>)
      },
    },
    serializers: {
      req (req: LoggedRequest) {
        return { method: req.method, route: routeOf(req), remoteAddress: req.ip ?? req.socket?.remoteAddress }
      },
      res (reply: { statusCode?: number, request?: LoggedRequest }) {
        return { statusCode: reply.statusCode, route: routeOf(reply.request) }
      },
      err: (err: unknown) => sanitize(err),
    },
  }
}
