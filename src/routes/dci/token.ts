import type { FastifyInstance, FastifyReply } from 'fastify'
import { checkSecret } from '../../dci/partners.ts'
import { issuePartnerToken } from '../../dci/tokens.ts'

// OAuth 2.0 client credentials (RFC 6749 section 4.4) for registered partner
// systems: client_secret_basic or client_secret_post, form-encoded as the RFC
// says (JSON accepted too, as several DCI clients send it). Errors are in the
// RFC's own shape, since OAuth clients read `error`, not problem details.

type OAuthError = 'invalid_request' | 'invalid_client' | 'unsupported_grant_type' | 'invalid_scope'

function oauthError (reply: FastifyReply, status: number, error: OAuthError, description: string, basic = false) {
  reply.header('cache-control', 'no-store')
  // RFC 6749 section 5.2: a failed Basic authentication gets its challenge back.
  if (basic) reply.header('www-authenticate', 'Basic realm="oss-gateway", charset="UTF-8"')
  return reply.code(status).type('application/json').send({ error, error_description: description })
}

// RFC 6749 section 2.3.1: id and secret form-urlencoded, then base64 with a colon.
function basicCredentials (header: string | undefined): { id: string, secret: string } | null | undefined {
  if (header === undefined) return undefined
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header.trim())
  if (match === null) return undefined
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return null
  try {
    return { id: decodeURIComponent(decoded.slice(0, colon).replaceAll('+', ' ')), secret: decodeURIComponent(decoded.slice(colon + 1).replaceAll('+', ' ')) }
  } catch {
    return null
  }
}

const FIELD = { type: 'string', maxLength: 512 }

export async function tokenRoutes (app: FastifyInstance): Promise<void> {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 8192 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)))
  })

  app.post('/oauth2/client/token', {
    schema: {
      tags: ['dci'],
      operationId: 'issuePartnerToken',
      summary: 'A bearer token for a registered partner system (OAuth 2.0 client credentials)',
      description: 'Authenticate with HTTP Basic (client_secret_basic) or with client_id and client_secret in the body (client_secret_post). The token is for the DCI face (/dci/...) and lasts DCI_TOKEN_TTL_SECONDS.',
      security: [{ partnerClient: [] }],
      // Checked here rather than by the schema, so every refusal is in the RFC's shape.
      consumes: ['application/json', 'application/x-www-form-urlencoded'],
      body: { type: 'object', properties: { grant_type: FIELD, client_id: FIELD, client_secret: FIELD, scope: FIELD }, examples: [{ grant_type: 'client_credentials' }] },
      response: {
        200: { type: 'object', required: ['access_token', 'token_type', 'expires_in'], properties: { access_token: { type: 'string' }, token_type: { type: 'string', enum: ['Bearer'] }, expires_in: { type: 'integer' } } },
        400: { description: 'RFC 6749 error', type: 'object', required: ['error'], properties: { error: { type: 'string' }, error_description: { type: 'string' } } },
        401: { description: 'RFC 6749 error: unknown client, wrong secret or inactive partner', type: 'object', required: ['error'], properties: { error: { type: 'string' }, error_description: { type: 'string' } } },
      },
    },
    attachValidation: true,
  }, async (request, reply) => {
    if (request.validationError !== undefined) return oauthError(reply, 400, 'invalid_request', 'the token request must be form fields of at most 512 characters each')
    const form = (request.body ?? {}) as { grant_type?: string, client_id?: string, client_secret?: string }
    const basic = basicCredentials(request.headers.authorization)
    if (basic === null) return oauthError(reply, 401, 'invalid_client', 'the Basic credentials are not client_id:client_secret', true)
    if (basic !== undefined && form.client_secret !== undefined) return oauthError(reply, 400, 'invalid_request', 'use one way to authenticate the client: Basic or client_secret in the body')
    if (form.grant_type === undefined) return oauthError(reply, 400, 'invalid_request', 'grant_type is required')
    if (form.grant_type !== 'client_credentials') return oauthError(reply, 400, 'unsupported_grant_type', 'only client_credentials is supported')
    const id = basic?.id ?? form.client_id
    const secret = basic?.secret ?? form.client_secret
    if (id === undefined || secret === undefined) return oauthError(reply, 401, 'invalid_client', 'client authentication is required', true)
    if (basic !== undefined && form.client_id !== undefined && form.client_id !== basic.id) return oauthError(reply, 400, 'invalid_request', 'client_id does not match the Basic credentials')
    const stored = await app.dci.partners.secretHashOf(id)
    // One answer for an unknown client, a wrong secret and an inactive partner.
    if (stored === null || !checkSecret(secret, stored.hash) || !stored.active) {
      return oauthError(reply, 401, 'invalid_client', 'unknown client, wrong secret, or the partner is not active', basic !== undefined)
    }
    const issued = await issuePartnerToken({ partnerId: id, key: app.dci.signingKey, dci: app.dci.settings })
    reply.header('cache-control', 'no-store')
    reply.header('pragma', 'no-cache')
    return { access_token: issued.accessToken, token_type: 'Bearer' as const, expires_in: issued.expiresInSeconds }
  })
}
