import type { FastifyReply, FastifyRequest } from 'fastify'
import { CONSOLE_PATH, page, type Html, type PageContext } from '../../console/html.ts'
import type { Lang } from '../../console/messages.ts'
import { sameSecret, type ConsoleIdentity, type ConsoleSession } from '../../console/sessions.ts'
import { ProblemError } from '../../errors/problem-error.ts'
import { languageOf } from '../language.ts'

export const SESSION_COOKIE = 'oss_console'
export const LOGIN_COOKIE = 'oss_console_login'
export const LANG_COOKIE = 'oss_console_lang'

declare module 'fastify' {
  interface FastifyRequest {
    consoleSession: { id: string, session: ConsoleSession } | null
  }
  interface FastifyContextConfig {
    // Who may open a console route; 'anyone' for sign-in and assets.
    console?: { roles: ReadonlyArray<ConsoleIdentity['role']> | 'anyone' }
  }
}

export function readCookie (request: FastifyRequest, name: string): string | null {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=')
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim()
  }
  return null
}

// HttpOnly always; Secure exactly when the browser came over https
// (request.protocol honours TRUST_PROXY), since a browser drops a Secure
// cookie set over plain http.
export function cookie (request: FastifyRequest, name: string, value: string, options: { path: string, maxAgeSeconds: number, sameSite: 'Strict' | 'Lax' }): string {
  return `${name}=${value}; Path=${options.path}; Max-Age=${options.maxAgeSeconds}; HttpOnly;${request.protocol === 'https' ? ' Secure;' : ''} SameSite=${options.sameSite}`
}

export function consoleLanguage (request: FastifyRequest): Lang {
  const chosen = readCookie(request, LANG_COOKIE)
  return chosen === 'mn' || chosen === 'en' ? chosen : languageOf(request)
}

export function pageContext (request: FastifyRequest): PageContext {
  const s = request.consoleSession?.session
  return { lang: consoleLanguage(request), identity: s?.identity ?? null, csrf: s?.csrf ?? null, here: pageAddress(request) }
}

// The page the browser shows: the URL of a GET; after a form's POST, the
// page the form was on (a POST's own URL may not answer a GET).
function pageAddress (request: FastifyRequest): string {
  if (request.method === 'GET') return request.url
  const referer = request.headers.referer
  if (referer !== undefined && URL.canParse(referer)) {
    const from = new URL(referer)
    if (from.host === request.host) return safeReturn(`${from.pathname}${from.search}`)
  }
  return `${CONSOLE_PATH}/`
}

export function identityOf (request: FastifyRequest): ConsoleIdentity {
  const s = request.consoleSession
  if (s === null) throw new ProblemError('AUTH_REQUIRED', 'sign in to the console first')
  return s.session.identity
}

// Where the browser may be sent back to after signing in or switching the
// language: a path of this console, the queue dashboard or the development
// provider's sign-in page, never elsewhere.
export function safeReturn (value: unknown): string {
  if (typeof value !== 'string' || value.length > 2000) return `${CONSOLE_PATH}/`
  if (!/^\/(console|admin\/queues|dev-idp\/interaction)(\/|\?|$)/.test(value) || value.includes('//') || value.includes('\\')) return `${CONSOLE_PATH}/`
  return value
}

export function sendPage (request: FastifyRequest, reply: FastifyReply, title: string, body: Html, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page(pageContext(request), title, body))
}

// A change needs the session's CSRF token, from the form (`_csrf`) or the
// X-CSRF-Token header; a cross-site Origin is refused as well.
export function checkCsrf (request: FastifyRequest): void {
  const session = request.consoleSession?.session
  const origin = request.headers.origin
  if (origin !== undefined && origin !== `${request.protocol}://${request.host}`) {
    throw new ProblemError('CSRF_INVALID', 'the request came from another site')
  }
  const header = request.headers['x-csrf-token']
  const body = request.body as Record<string, unknown> | null | undefined
  const sent = typeof header === 'string' ? header : typeof body?._csrf === 'string' ? body._csrf : ''
  if (session === undefined || sent === '' || !sameSecret(sent, session.csrf)) {
    throw new ProblemError('CSRF_INVALID', 'reload the page and try again: the form\'s CSRF token is missing or is not this session\'s')
  }
}
