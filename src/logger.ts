import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { LoggerOptions } from 'pino'
import { maskRegnum, maskRegnumsInText } from './domain/regnum.ts'

// Personal data and credentials never reach a log line. Registration numbers
// are masked (АА******33) so lines stay joinable by a support person; names and
// tokens are removed.
const SECRET_KEYS = ['authorization', 'cookie', 'token', 'accessToken', 'signature', 'password', 'privateKey']
const PERSONAL_KEYS = ['regnum', 'givenName', 'familyName', 'fatherName', 'fullName', 'firstName', 'lastName', 'phone', 'email', 'address']

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-road-userid"]',
  'res.headers["set-cookie"]',
  ...[...SECRET_KEYS, ...PERSONAL_KEYS].flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
]

function censor (value: unknown, path: string[]): unknown {
  if (path[path.length - 1] === 'regnum' && typeof value === 'string') return maskRegnum(value)
  return '[redacted]'
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/

// Keeps a caller's well-formed X-Request-Id so one id follows a request
// across systems; anything else gets a fresh UUID.
export function genReqId (req: IncomingMessage): string {
  const incoming = req.headers['x-request-id']
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID()
}

export function loggerOptions (level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor },
    serializers: {
      req (req: { method: string, url: string, ip?: string, socket?: { remoteAddress?: string } }) {
        return { method: req.method, url: maskRegnumsInText(req.url), remoteAddress: req.ip ?? req.socket?.remoteAddress }
      },
    },
  }
}
