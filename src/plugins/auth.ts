import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Role } from '../config.ts'
import type { Principal } from '../auth/principal.ts'
import { DPOP_ALGORITHMS, type Presentation, type TokenVerifier } from '../auth/token-verifier.ts'
import type { Snapshot } from '../catalogue/snapshot.ts'
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
  // The published catalogue, which officers' units and agencies must be in;
  // null where there is none to check against.
  catalogue?: () => Pick<Snapshot, 'unit' | 'agency'> | null
}

function challenge (realm: string, error?: string, description?: string, scheme: 'Bearer' | 'DPoP' = 'Bearer'): string {
  let value = `${scheme} realm="${realm}"`
  // RFC 9449 §7.1: a DPoP challenge names the proof algorithms accepted.
  if (scheme === 'DPoP') value += `, algs="${DPOP_ALGORITHMS.join(' ')}"`
  if (error !== undefined) value += `, error="${error}"`
  if (description !== undefined) value += `, error_description="${description.replaceAll('"', "'")}"`
  return value
}

// RFC 6750 "Bearer <token>" or RFC 9449 "DPoP <token>"; '' when the header
// is there but neither.
export function presentedToken (request: FastifyRequest): { scheme: Presentation['scheme'], token: string } | null | '' {
  const header = request.headers.authorization
  if (header === undefined) return null
  const match = /^(Bearer|DPoP) ([A-Za-z0-9._~+/=-]+)$/i.exec(header.trim())
  if (match === null) return ''
  return { scheme: (match[1] as string).toLowerCase() === 'dpop' ? 'dpop' : 'bearer', token: match[2] as string }
}

// What a DPoP proof must match: the method, and the URL as the client
// addressed it (request.protocol and request.host honour TRUST_PROXY).
export function presentationOf (request: FastifyRequest, scheme: Presentation['scheme']): Presentation {
  const q = request.url.search(/[?#]/)
  const path = q === -1 ? request.url : request.url.slice(0, q)
  const proof = request.headers.dpop
  return {
    scheme,
    ...(typeof proof === 'string' ? { proof } : {}),
    method: request.method,
    url: `${request.protocol}://${request.host}${path}`,
  }
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
// headers: it is refused on every route, and revoked on the way (if it is a
// valid token, its jti is refused until it expires), so that a copy found in
// such a log is worth nothing.
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
    // is refused; only a valid one has anything to revoke.
    await verifier.revoke(found[0]).catch((err: unknown) => request.log.warn({ err }, 'could not revoke a token sent in a URL'))
    throw new ProblemError('TOKEN_IN_URL', 'access tokens go in the "Authorization" header, never in a URL; a valid token sent this way is revoked and must be replaced')
  }
}

// Authenticates requests to routes that declare `config.auth`, then checks the
// caller's role against the route's list (RFC 6750 challenges on 401).
export function createAuthenticate ({ verifier, realm = 'oss-gateway', catalogue = () => null }: AuthPluginOptions) {
  return async function authenticate (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const auth = request.routeOptions.config.auth
    if (auth === undefined) return
    const presented = presentedToken(request)
    if (presented === null) {
      throw new ProblemError('AUTH_REQUIRED', 'send an access token as "Authorization: Bearer <token>" (or "DPoP <token>" with a DPoP proof)', {
        headers: { 'www-authenticate': challenge(realm) },
      })
    }
    if (presented === '') {
      throw new ProblemError('TOKEN_INVALID', 'the Authorization header is not a Bearer or DPoP token', {
        headers: { 'www-authenticate': challenge(realm, 'invalid_request', 'expected a Bearer or DPoP token') },
      })
    }
    let principal: Principal
    try {
      principal = await verifier.verify(presented.token, presentationOf(request, presented.scheme))
    } catch (err) {
      if (err instanceof ProblemError && err.status === 401) {
        const dpop = presented.scheme === 'dpop' || err.code.startsWith('DPOP_')
        const error = err.code === 'DPOP_PROOF_INVALID' || err.code === 'DPOP_PROOF_REPLAYED'
          ? 'invalid_dpop_proof'
          : err.code === 'DPOP_REQUIRED' && presented.scheme === 'dpop' ? 'invalid_request' : 'invalid_token'
        throw new ProblemError(err.code, err.detail, {
          cause: err.cause ?? err,
          headers: { 'www-authenticate': challenge(realm, error, err.detail, dpop ? 'DPoP' : 'Bearer') },
        })
      }
      throw err
    }
    request.principal = principal
    // Every later line of this request names the token (never the token itself).
    request.log = request.log.child({ jti: principal.tokenId, ...(principal.dpop === undefined ? {} : { dpopJti: principal.dpop.proofId }) })
    reply.log = request.log
    if (principal.role === 'analyst') {
      const snapshot = catalogue()
      if (snapshot !== null && snapshot.unit(principal.unit) === undefined) {
        throw new ProblemError('ANALYST_UNKNOWN_UNIT', `the token's unit "${principal.unit}" is not an administrative unit in the published catalogue`)
      }
    }
    if (principal.role === 'officer') {
      const snapshot = catalogue()
      if (snapshot !== null && snapshot.unit(principal.unit) === undefined) {
        throw new ProblemError('OFFICER_UNKNOWN_UNIT', `the token's unit "${principal.unit}" is not an administrative unit in the published catalogue`)
      }
      if (snapshot !== null && snapshot.agency(principal.agency) === undefined) {
        throw new ProblemError('OFFICER_UNKNOWN_AGENCY', `the token's agency "${principal.agency}" is not an agency in the published catalogue`)
      }
    }
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
  // Most URLs have no query at all: those pass without a promise made for them.
  const refuseTokenInUrl = createUrlTokenGuard(options)
  app.addHook('onRequest', (request, _reply, done) => {
    if (!request.url.includes('?')) {
      done()
      return
    }
    refuseTokenInUrl(request).then(() => done(), done)
  })
  // The catalogue plugin registers after this one; it is there by the first request.
  const catalogue = () => app.hasDecorator('catalogue') ? app.catalogue.current() : null
  app.addHook('onRequest', createAuthenticate({ catalogue, ...options }))
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
