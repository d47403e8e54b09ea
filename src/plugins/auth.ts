import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Role } from '../config.ts'
import type { Principal } from '../auth/principal.ts'
import type { TokenVerifier } from '../auth/token-verifier.ts'
import { ProblemError } from '../errors/problem-error.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    // Roles a route allows; a route without it is public.
    auth?: { roles: readonly Role[] }
  }
  interface FastifyRequest {
    principal: Principal | null
  }
  interface FastifyInstance {
    // For routes that authenticate on their own terms (the queue dashboard).
    tokenVerifier: TokenVerifier
  }
}

export interface AuthPluginOptions {
  verifier: TokenVerifier
  realm?: string
}

function challenge (realm: string, error?: string, description?: string): string {
  let value = `Bearer realm="${realm}"`
  if (error !== undefined) value += `, error="${error}"`
  if (description !== undefined) value += `, error_description="${description.replaceAll('"', "'")}"`
  return value
}

export function bearerToken (request: FastifyRequest): string | null {
  const header = request.headers.authorization
  if (header === undefined) return null
  const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header.trim())
  return match === null ? '' : (match[1] as string)
}

// A compact JWS in the query string, in any parameter, raw or percent-encoded.
const TOKEN_IN_QUERY = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+/

// A token in a URL ends up in proxies' logs, browser history and Referer
// headers: it is refused on every route, and spent on the way (its jti
// recorded as used, if it is a valid token), so that a copy found in such a
// log is worth nothing.
export function createUrlTokenGuard ({ verifier }: Pick<AuthPluginOptions, 'verifier'>) {
  return async function refuseTokenInUrl (request: FastifyRequest): Promise<void> {
    const q = request.url.indexOf('?')
    if (q === -1) return
    let query = request.url.slice(q + 1)
    try {
      query = decodeURIComponent(query)
    } catch {}
    const found = TOKEN_IN_QUERY.exec(query)
    if (found === null) return
    // Whatever the token is (forged, expired, someone else's), the request
    // is refused; only a valid one has anything to spend.
    await verifier.verify(found[0]).catch(() => undefined)
    throw new ProblemError('TOKEN_IN_URL', 'access tokens go in the "Authorization: Bearer <token>" header, never in a URL; a valid token sent this way is spent and must be replaced')
  }
}

// Authenticates requests to routes that declare `config.auth`, then checks the
// caller's role against the route's list (RFC 6750 challenges on 401).
export function createAuthenticate ({ verifier, realm = 'oss-gateway' }: AuthPluginOptions) {
  return async function authenticate (request: FastifyRequest): Promise<void> {
    const auth = request.routeOptions.config.auth
    if (auth === undefined) return
    const token = bearerToken(request)
    if (token === null) {
      throw new ProblemError('AUTH_REQUIRED', 'send an access token as "Authorization: Bearer <token>"', {
        headers: { 'www-authenticate': challenge(realm) },
      })
    }
    if (token === '') {
      throw new ProblemError('TOKEN_INVALID', 'the Authorization header is not a Bearer token', {
        headers: { 'www-authenticate': challenge(realm, 'invalid_request', 'expected a Bearer token') },
      })
    }
    let principal: Principal
    try {
      principal = await verifier.verify(token)
    } catch (err) {
      if (err instanceof ProblemError && err.status === 401) {
        throw new ProblemError(err.code, err.detail, {
          cause: err.cause ?? err,
          headers: { 'www-authenticate': challenge(realm, 'invalid_token', err.detail) },
        })
      }
      throw err
    }
    request.principal = principal
    if (!auth.roles.includes(principal.role)) {
      throw new ProblemError('ROLE_FORBIDDEN', `this route is for: ${auth.roles.join(', ')}; your role is ${principal.role}`, {
        headers: { 'www-authenticate': challenge(realm, 'insufficient_scope') },
      })
    }
  }
}

async function authPlugin (app: FastifyInstance, options: AuthPluginOptions): Promise<void> {
  app.decorateRequest('principal', null)
  app.decorate('tokenVerifier', options.verifier)
  app.addHook('onRequest', createUrlTokenGuard(options))
  app.addHook('onRequest', createAuthenticate(options))
  // Protected routes say so in the OpenAPI document.
  app.addHook('onRoute', (route) => {
    const auth = route.config?.auth
    if (auth === undefined) return
    const schema = (route.schema ??= {}) as Record<string, unknown>
    schema.security ??= [{ bearer: [] }]
    const roles = `Roles: ${auth.roles.join(', ')}.`
    schema.description = typeof schema.description === 'string' ? `${schema.description}\n\n${roles}` : roles
    const response = (schema.response ??= {}) as Record<string, unknown>
    const problem = { content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } }
    response[401] ??= { description: 'Missing or invalid access token', ...problem }
    response[403] ??= { description: 'Role not allowed', ...problem }
  })
}

export default fp(authPlugin, { name: 'auth', fastify: '5.x', dependencies: ['problem'] })
