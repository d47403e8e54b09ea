/**
 * The bus's REST transport, X-Road style. This comment is the wire contract
 * the gateway implements.
 *
 * PATH   /r1/{INSTANCE}/{CLASS}/{MEMBER}/{SUBSYSTEM}/{SERVICE}[/...]
 *        INSTANCE is `MN`; the service id is `MN/GOV/GASR/civil/getIdCard`.
 *        Reads and writes are POST with a JSON body; personal data never goes
 *        in the URL. Reads take `{"regnum": "АА00112233"}`.
 *
 * REQUEST HEADERS
 *   X-Road-Client: MN/GOV/OSS/gateway       required, the calling member
 *   X-Road-Id: <uuid>                       optional; generated when missing;
 *                                           echoed back; the idempotency key of writes
 *   X-Road-UserId: <officer id>             optional, logged (masked)
 *   X-Road-Issue: <case reference>          optional, logged
 *   Authorization: Bearer <JWT>             required
 *
 * THE REQUEST JWT (compact JWS)
 *   protected header  { alg: 'EdDSA' | 'ES256', kid, typ: 'JWT' }
 *   claims  iss  the client id; must equal X-Road-Client
 *           aud  the service id (`MN/GOV/GASR/civil/getIdCard`; for a
 *                metaservice `<provider id>/listMethods`…, or `MN/listClients`)
 *           iat, exp   seconds; exp - iat ≤ 300; 30 s clock skew allowed
 *           jti  unique; a second use is refused until the token expires
 *           htm  the HTTP method, upper case
 *           htu  the request target exactly as sent: path and query string
 *           bdh  base64url(SHA-256(raw body bytes)); of the empty string when
 *                there is no body
 *   Verified against the member's JWKS with pinned algorithms. Revoked kids
 *   are refused. Then access rights: deny unless allowed.
 *
 * RESPONSES (bus errors, provider answers and metaservices alike)
 *   X-Road-Id              the request's id
 *   X-Road-Request-Hash    base64url(SHA-256(the request JWS compact string)),
 *                          present whenever a bearer token was sent
 *   X-Road-Signature       compact JWS by the bus key: header { alg: 'EdDSA',
 *                          kid, typ: 'xroad-resp+jwt' }, payload { rqh, bdh,
 *                          status, iat } where rqh is the request hash (or
 *                          null), bdh = base64url(SHA-256(response body bytes)),
 *                          status the HTTP status. Verify against
 *                          GET /.well-known/jwks.json (the newest key signs).
 *
 * BUS ERRORS  status + body { type, message, detail } where detail is the
 * X-Road-Id, and header X-Road-Error: <type>:
 *   400 Client.InvalidRequest           bad path/instance, bad X-Road-Id, bad metaservice query
 *   400 Client.MissingClientHeader      no X-Road-Client
 *   400 Client.InvalidClientIdentifier  X-Road-Client is not MN/<class>/<code>/<subsystem>
 *   401 Client.MissingSignature         no bearer token
 *   401 Client.UnknownMember            X-Road-Client is not a registered member
 *   401 Client.UnknownKey               kid not in the member's JWKS
 *   401 Client.RevokedKey               kid revoked
 *   401 Client.InvalidSignature         malformed JWT, wrong typ/alg, bad signature, iss ≠ X-Road-Client
 *   401 Client.InvalidTimestamp         expired, not yet valid, or lifetime over 300 s
 *   401 Client.ReplayedMessage          jti already used
 *   401 Client.InvalidRequestTarget     aud, htm or htu do not match the request
 *   401 Client.InvalidBodyHash          bdh does not match the body (tampered body)
 *   403 Client.AccessDenied             no access right to the service
 *   404 Server.ServerProxy.UnknownService  no such provider or service
 *   500 Server.ServerProxy.ServiceFailed   the provider failed (fault errorRate)
 *   500 Server.ServerProxy.InternalError   the bus failed
 * A provider that is `down` gets its connections closed without an answer.
 *
 * A CLIENT THAT DISCONNECTS before the whole answer is written does not undo
 * the exchange: a write the provider took stays taken (repeat the call with the
 * same X-Road-Id to get its answer). A request cut short before it reached the
 * provider is not delivered. Either way the message log (GET /admin/message-log)
 * records the exchange once, with `delivered` and `clientDisconnected` saying so.
 *
 * PROVIDER ERRORS pass through with no X-Road-Error header, body
 * { type, message, detail }: 400 Provider.InvalidRequest (detail says what is
 * wrong with the body), 404 Provider.NotFound (unknown citizen or
 * application), 409 Provider.Conflict (an applicationId reused with other content).
 *
 * SERVICES  every provider serves, besides its reads:
 *   submitApplication     { applicationId, service, unit, channel, applicant: { regnum }, form }
 *                         → 200 { applicationId, agencyReference, status: 'received', receivedAt }
 *                         A repeated X-Road-Id (same client) returns the first answer unchanged;
 *                         a repeated applicationId never creates a second application.
 *   getApplicationStatus  { applicationId } → { applicationId, agencyReference,
 *                         status: received|approved|rejected, reason?, decidedAt? }
 *
 * METASERVICES (GET, signed like any request; always allowed)
 *   /r1/MN/listClients                          { member: [{ id: {…}, name, memberId }] }
 *   /r1/{provider id}/listMethods               { service: [{ …, service_code, service_type, serviceId }] }
 *   /r1/{provider id}/allowedMethods            the same, only what the caller may call
 *   /r1/{provider id}/getOpenAPI?serviceCode=X  an OpenAPI 3.1 document of one service
 */
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ApplicationDesk } from './applications.ts'
import { BUS_ERRORS, BusError, ProviderError } from './errors.ts'
import {
  deliver, describeAjvError, dripStream, dropConnection, planFaults, settle, sha256b64url, sleepAtLeast, track,
  type ExchangeContext, type Tracking,
} from './context.ts'
import { JwtCheckError, jwtHeader, verifyJwt } from '../auth/jwt.ts'
import { isAllowed, MEMBER_ID_PATTERN, type Member } from './members.ts'
import { PROVIDERS, type ProviderDef, type ServiceDef } from './providers.ts'

export const INSTANCE = 'MN'
export const ALGORITHMS = ['EdDSA', 'ES256'] as const
const X_ROAD_ID = /^[A-Za-z0-9._:-]{1,128}$/
const METASERVICES = new Set(['listMethods', 'allowedMethods', 'getOpenAPI'])

interface Target {
  // The service id that `aud` must name.
  audience: string
  provider?: ProviderDef
  service?: ServiceDef
  meta?: 'listClients' | 'listMethods' | 'allowedMethods' | 'getOpenAPI'
  serviceCode: string
}

interface RestState {
  tracking: Tracking
  xRoadId: string
  requestHash: string | null
}

const states = new WeakMap<FastifyRequest, RestState>()

function header (request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name]
  return Array.isArray(v) ? v[0] : v
}

function parseTarget (rawUrl: string): Target {
  const path = rawUrl.split('?')[0] ?? ''
  let segments: string[]
  try {
    segments = path.split('/').slice(2).map((s) => decodeURIComponent(s))
  } catch (err) {
    throw new BusError('Client.InvalidRequest', 'The request path is not valid', { cause: err })
  }
  if (segments[0] !== INSTANCE) {
    throw new BusError('Server.ServerProxy.UnknownService', `Unknown X-Road instance ${segments[0] ?? ''}; this bus serves ${INSTANCE}`)
  }
  if (segments.length === 2 && segments[1] === 'listClients') {
    return { audience: `${INSTANCE}/listClients`, meta: 'listClients', serviceCode: 'listClients' }
  }
  if (segments.length < 5) throw new BusError('Client.InvalidRequest', 'The path must be /r1/{INSTANCE}/{CLASS}/{MEMBER}/{SUBSYSTEM}/{SERVICE}')
  const providerId = segments.slice(0, 4).join('/')
  const serviceCode = segments[4] ?? ''
  const provider = PROVIDERS.find((p) => p.id === providerId)
  const audience = `${providerId}/${serviceCode}`
  if (METASERVICES.has(serviceCode) && segments.length === 5) {
    return { audience, ...(provider === undefined ? {} : { provider }), meta: serviceCode as Target['meta'], serviceCode }
  }
  const service = provider?.services.get(serviceCode)
  return { audience, ...(provider === undefined ? {} : { provider }), ...(service === undefined ? {} : { service }), serviceCode }
}

// Authenticates the caller: returns the member once every check has passed.
async function authenticate (ctx: ExchangeContext, request: FastifyRequest, state: RestState, target: Target, body: Buffer): Promise<Member> {
  const clientId = header(request, 'x-road-client')
  if (clientId === undefined || clientId === '') throw new BusError('Client.MissingClientHeader', 'The X-Road-Client header is required')
  if (!MEMBER_ID_PATTERN.test(clientId)) throw new BusError('Client.InvalidClientIdentifier', 'X-Road-Client must be MN/<class>/<code>/<subsystem>')
  state.tracking.record.client = clientId

  const authorization = header(request, 'authorization') ?? ''
  const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(authorization)
  if (authorization === '') throw new BusError('Client.MissingSignature', 'The request is not signed: send Authorization: Bearer <JWT>')
  const token = match?.[1]
  if (token === undefined) throw new BusError('Client.InvalidSignature', 'The Authorization header must carry a compact JWS')
  state.requestHash = sha256b64url(token)

  const member = ctx.members.get(clientId)
  if (member === undefined) throw new BusError('Client.UnknownMember', `${clientId} is not a member of this bus`)

  let kid: unknown
  try {
    kid = jwtHeader(token).kid
  } catch (err) {
    throw new BusError('Client.InvalidSignature', 'The JWT header cannot be read', { cause: err })
  }
  if (typeof kid !== 'string') throw new BusError('Client.InvalidSignature', 'The JWT header has no kid')
  if (member.revokedKids.has(kid)) throw new BusError('Client.RevokedKey', `Key ${kid} of ${clientId} has been revoked`)
  if (!member.kids().has(kid) && !(member.refresh() && member.kids().has(kid))) {
    throw new BusError('Client.UnknownKey', `Key ${kid} is not in the JWKS of ${clientId}`)
  }

  const skew = ctx.settings.jwtClockSkewSeconds
  let claims: Record<string, unknown>
  try {
    claims = verifyJwt(token, {
      algorithms: ALGORITHMS,
      typ: 'JWT',
      keys: member.keys(),
      clockToleranceSeconds: skew,
      nowMs: ctx.now(),
      requiredClaims: ['iss', 'aud', 'iat', 'exp', 'jti'],
    })
  } catch (err) {
    if (!(err instanceof JwtCheckError)) throw err
    if (err.reason === 'expired') throw new BusError('Client.InvalidTimestamp', 'The JWT has expired', { cause: err })
    if (err.reason === 'no_key') throw new BusError('Client.UnknownKey', `No key of ${clientId} matches the JWT`, { cause: err })
    if (err.reason === 'not_yet_valid') throw new BusError('Client.InvalidTimestamp', 'The JWT is not yet valid', { cause: err })
    throw new BusError('Client.InvalidSignature', `The JWT does not verify: ${err.message}`, { cause: err })
  }

  if (claims.iss !== clientId) throw new BusError('Client.InvalidSignature', 'The JWT iss does not match X-Road-Client')
  const nowS = ctx.now() / 1000
  // Both are numbers: verifyJwt requires them and checks their type.
  const iat = claims.iat as number
  const exp = claims.exp as number
  if (iat > nowS + skew) throw new BusError('Client.InvalidTimestamp', 'The JWT was issued in the future')
  if (exp <= iat || exp - iat > ctx.settings.jwtMaxLifetimeSeconds) {
    throw new BusError('Client.InvalidTimestamp', `The JWT must expire within ${ctx.settings.jwtMaxLifetimeSeconds} s of iat`)
  }
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud]
  if (!aud.includes(target.audience)) throw new BusError('Client.InvalidRequestTarget', `The JWT aud must be ${target.audience}`)
  if (claims.htm !== request.method) throw new BusError('Client.InvalidRequestTarget', 'The JWT htm does not match the HTTP method')
  if (claims.htu !== request.raw.url) throw new BusError('Client.InvalidRequestTarget', 'The JWT htu does not match the request path and query')
  if (typeof claims.bdh !== 'string' || claims.bdh !== sha256b64url(body)) {
    throw new BusError('Client.InvalidBodyHash', 'The body does not match the JWT bdh')
  }
  if (typeof claims.jti !== 'string' || claims.jti === '') throw new BusError('Client.InvalidSignature', 'The JWT jti must be a non-empty string')
  if (!ctx.replays.remember(`${clientId}\u0000${claims.jti}`, (exp + skew) * 1000)) {
    throw new BusError('Client.ReplayedMessage', 'This JWT (jti) has already been used')
  }
  return member
}

// ---- metaservices -------------------------------------------------------------

function splitId (id: string) {
  const [xroadInstance = '', memberClass = '', memberCode = '', subsystemCode = ''] = id.split('/')
  return { xroad_instance: xroadInstance, member_class: memberClass, member_code: memberCode, subsystem_code: subsystemCode }
}

function methods (provider: ProviderDef, filter: (serviceId: string) => boolean) {
  const rest = [...provider.services.keys()].map((code) => ({ code, type: 'REST' }))
  const wsdl = provider.xypOperations.map((code) => ({ code, type: 'WSDL' }))
  return {
    service: [...rest, ...wsdl]
      .filter((s) => filter(`${provider.id}/${s.code}`))
      .map((s) => ({ ...splitId(provider.id), object_type: 'SERVICE', service_code: s.code, service_type: s.type, serviceId: `${provider.id}/${s.code}` })),
  }
}

export function openApiFor (provider: ProviderDef, service: ServiceDef): Record<string, unknown> {
  const errorBody = { type: 'object', required: ['type', 'message', 'detail'], properties: { type: { type: 'string' }, message: { type: 'string' }, detail: { type: 'string' } } }
  return {
    openapi: '3.1.0',
    info: { title: `${provider.title}: ${service.code}`, version: '1.0.0', description: service.summary },
    servers: [{ url: '/' }],
    paths: {
      [`/r1/${provider.id}/${service.code}`]: {
        post: {
          operationId: service.code,
          summary: service.summary,
          parameters: [
            { name: 'X-Road-Client', in: 'header', required: true, schema: { type: 'string' } },
            { name: 'X-Road-Id', in: 'header', required: false, schema: { type: 'string' } },
            { name: 'X-Road-UserId', in: 'header', required: false, schema: { type: 'string' } },
            { name: 'X-Road-Issue', in: 'header', required: false, schema: { type: 'string' } },
          ],
          security: [{ memberJwt: [] }],
          requestBody: { required: true, content: { 'application/json': { schema: service.request } } },
          responses: {
            200: { description: 'The provider answer', content: { 'application/json': { schema: service.response } } },
            400: { description: 'Invalid request', content: { 'application/json': { schema: errorBody } } },
            404: { description: 'Not found', content: { 'application/json': { schema: errorBody } } },
          },
        },
      },
    },
    components: { securitySchemes: { memberJwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  }
}

function metaservice (ctx: ExchangeContext, request: FastifyRequest, target: Target, member: Member): unknown {
  if (request.method !== 'GET') throw new BusError('Client.InvalidRequest', `${target.serviceCode} is called with GET`)
  if (target.meta === 'listClients') {
    return {
      member: ctx.members.list().map((m) => ({ id: { ...splitId(m.id), object_type: 'SUBSYSTEM' }, name: m.name, memberId: m.id }))
        .concat(PROVIDERS.map((p) => ({ id: { ...splitId(p.id), object_type: 'SUBSYSTEM' }, name: p.title, memberId: p.id }))),
    }
  }
  const provider = target.provider
  if (provider === undefined) throw new BusError('Server.ServerProxy.UnknownService', `No provider ${target.audience.split('/').slice(0, 4).join('/')}`)
  if (target.meta === 'listMethods') return methods(provider, () => true)
  if (target.meta === 'allowedMethods') return methods(provider, (id) => isAllowed(member.allowedServices, id))
  const code = (request.query as Record<string, unknown>).serviceCode
  if (typeof code !== 'string' || code === '') throw new BusError('Client.InvalidRequest', 'getOpenAPI needs ?serviceCode=')
  const service = provider.services.get(code)
  if (service === undefined) throw new BusError('Server.ServerProxy.UnknownService', `${provider.id} has no REST service ${code}`)
  return openApiFor(provider, service)
}

// ---- the transport ---------------------------------------------------------------

async function callProvider (ctx: ExchangeContext, request: FastifyRequest, state: RestState, target: Target, member: Member, body: Buffer): Promise<unknown> {
  const { provider, service } = target
  if (provider === undefined || service === undefined) {
    throw new BusError('Server.ServerProxy.UnknownService', `No service ${target.audience}`)
  }
  if (request.method !== 'POST') throw new BusError('Client.InvalidRequest', `${target.serviceCode} is called with POST`)
  if (!isAllowed(member.allowedServices, target.audience)) {
    throw new BusError('Client.AccessDenied', `${member.id} has no access right to ${target.audience}`)
  }
  const t = state.tracking
  const plan = planFaults(ctx, ctx.faults.get(provider.name))
  t.dripMs = plan.dripMs
  if (plan.failed) {
    await sleepAtLeast(plan.delayMs, t.gone.signal)
    throw new BusError('Server.ServerProxy.ServiceFailed', `${provider.id} failed to answer (injected fault)`)
  }

  const desk = ctx.desks.get(provider.name)
  if (desk === undefined) throw new BusError('Server.ServerProxy.InternalError', 'No application desk for the provider')
  if (!deliver(ctx, t, provider.name)) {
    throw new BusError('Client.InvalidRequest', 'The client closed the connection before the request reached the provider')
  }
  try {
    return provide(ctx, state, service, desk, member, body)
  } finally {
    // The provider takes this long to answer. A write is kept before the
    // wait, so a caller that gives up during it has still delivered.
    await sleepAtLeast(plan.delayMs, t.gone.signal)
  }
}

// The provider's side of a call.
function provide (ctx: ExchangeContext, state: RestState, service: ServiceDef, desk: ApplicationDesk, member: Member, body: Buffer): unknown {
  if (service.code === 'submitApplication') {
    const first = desk.replay(member.id, state.xRoadId)
    if (first !== undefined) return first
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(body.toString('utf8'))
  } catch (err) {
    throw new ProviderError('Provider.InvalidRequest', 'The request body is not valid JSON', 'send a JSON object', { cause: err })
  }
  const validate = ctx.validator(service.request)
  if (!validate(parsed)) throw new ProviderError('Provider.InvalidRequest', 'The request body is not valid', describeAjvError(validate))
  return service.handle({ population: ctx.population, desk, clientId: member.id, xRoadId: state.xRoadId, body: parsed })
}

export function restTransport (ctx: ExchangeContext) {
  return async function (r1: FastifyInstance): Promise<void> {
    // Bodies stay raw: the JWT binds their exact bytes.
    r1.removeAllContentTypeParsers()
    r1.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => { done(null, body) })

    r1.setErrorHandler(async (err, request, reply) => {
      const state = states.get(request)
      const id = state?.xRoadId ?? ''
      if (err instanceof ProviderError) {
        return await reply.code(err.status).type('application/json').send({ type: err.type, message: err.message, detail: err.detail })
      }
      let busError: BusError
      if (err instanceof BusError) busError = err
      else {
        const status = (err as { statusCode?: number }).statusCode ?? 500
        busError = status < 500
          ? new BusError('Client.InvalidRequest', (err as Error).message, { cause: err })
          : new BusError('Server.ServerProxy.InternalError', 'The bus failed to handle the request', { cause: err })
        if (status >= 500) request.log.error({ err }, 'exchange request failed')
      }
      if (state !== undefined) state.tracking.record.error = busError.type
      return await reply.code(busError.status).header('X-Road-Error', busError.type).type('application/json')
        .send({ type: busError.type, message: busError.message, detail: id })
    })

    r1.addHook('onRequest', async (request, reply) => {
      const given = header(request, 'x-road-id')
      const xRoadId = given === undefined || given === '' ? randomUUID() : given
      const cutShort = { status: BUS_ERRORS['Client.InvalidRequest'], error: 'Client.InvalidRequest' }
      const state: RestState = { tracking: track(ctx, request, reply, 'rest', xRoadId, cutShort), xRoadId, requestHash: null }
      states.set(request, state)
      const record = state.tracking.record
      record.userId = header(request, 'x-road-userid') ?? null
      record.issue = header(request, 'x-road-issue') ?? null
      // Named from the headers and path already (checked later), so that a
      // request cut short before the handler runs is logged with them.
      const client = header(request, 'x-road-client')
      if (client !== undefined && MEMBER_ID_PATTERN.test(client)) record.client = client
      try {
        record.service = parseTarget(request.raw.url ?? '').audience
      } catch { /* the handler refuses the path */ }
      if (!X_ROAD_ID.test(xRoadId)) {
        state.xRoadId = randomUUID()
        state.tracking.record.id = state.xRoadId
        throw new BusError('Client.InvalidRequest', 'X-Road-Id must be 1-128 characters of A-Z a-z 0-9 . _ : -')
      }
    })

    r1.addHook('onSend', async (request, reply, payload) => {
      const state = states.get(request)
      if (state === undefined) return payload
      const bytes = typeof payload === 'string' ? Buffer.from(payload) : Buffer.isBuffer(payload) ? payload : Buffer.alloc(0)
      state.tracking.responseSize = bytes.length
      reply.header('X-Road-Id', state.xRoadId)
      if (state.requestHash !== null) reply.header('X-Road-Request-Hash', state.requestHash)
      reply.header('X-Road-Signature', await ctx.busKeys.sign({
        rqh: state.requestHash,
        bdh: sha256b64url(bytes),
        status: reply.statusCode,
        iat: Math.floor(ctx.now() / 1000),
      }))
      settle(ctx, state.tracking, reply.statusCode, reply.statusCode < 400)
      if (state.tracking.dripMs > 0 && bytes.length > 0) {
        reply.header('content-length', bytes.length)
        return dripStream(bytes, state.tracking.dripMs)
      }
      return payload
    })

    r1.route({
      method: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'],
      url: '/r1/*',
      handler: async (request, reply) => {
        const state = states.get(request)
        if (state === undefined) throw new BusError('Server.ServerProxy.InternalError', 'The request was not tracked')
        const target = parseTarget(request.raw.url ?? '')
        state.tracking.record.service = target.audience
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
        state.tracking.record.requestSize = body.length
        if (target.provider !== undefined && target.meta === undefined && ctx.faults.get(target.provider.name).down) {
          dropConnection(ctx, request, reply, state.tracking)
          return reply
        }
        const member = await authenticate(ctx, request, state, target, body)
        const answer = target.meta !== undefined
          ? metaservice(ctx, request, target, member)
          : await callProvider(ctx, request, state, target, member, body)
        return await reply.code(200).type('application/json').send(answer)
      },
    })
  }
}
