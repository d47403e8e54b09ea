// Shared test helpers: real keys, real signatures, no mocks of our own code.
import { createHash, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto'
import { once } from 'node:events'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { compactVerify, createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JSONWebKeySet, type JWK } from 'jose'
import { buildExchange, type ExchangeOptions } from '../../src/exchange/app.ts'
import type { MemberDefinition } from '../../src/exchange/members.ts'
import { generatePopulation, type Population } from '../../src/exchange/population.ts'

export const GATEWAY = 'MN/GOV/OSS/gateway'
export const LIMITED = 'MN/GOV/OSS/limited'
export const CIVIL = 'MN/GOV/GASR/civil'

let shared: Population | undefined
// One small population per test process.
export function testPopulation (): Population {
  shared ??= generatePopulation({ seed: 'test-seed', citizens: 3000 })
  return shared
}

export function b64urlSha256 (data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('base64url')
}

export interface SigningKey {
  kid: string
  alg: 'EdDSA' | 'ES256'
  privateKey: CryptoKey
  publicJwk: JWK
}

export async function makeSigningKey (kid: string, alg: 'EdDSA' | 'ES256' = 'EdDSA'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const publicJwk = { ...await exportJWK(publicKey), kid, alg, use: 'sig' }
  return { kid, alg, privateKey, publicJwk }
}

export interface XypCredentials {
  accessToken: string
  privateKey: KeyObject
  publicKeyPem: string
}

export function makeXypCredentials (accessToken: string): XypCredentials {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { accessToken, privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }
}

export interface SignOptions {
  key: SigningKey
  client?: string
  method?: string
  url: string
  body?: string
  // Claim overrides, e.g. { jti: 'x' } or { aud: 'other' }; undefined removes.
  claims?: Record<string, unknown>
  nowSeconds?: number
  lifetimeSeconds?: number
}

// The request JWT and headers the gateway sends.
export async function signedHeaders (o: SignOptions): Promise<Record<string, string>> {
  const client = o.client ?? GATEWAY
  const method = o.method ?? 'POST'
  const path = o.url.split('?')[0] ?? ''
  const aud = path.replace(/^\/r1\//, '')
  const iat = o.nowSeconds ?? Math.floor(Date.now() / 1000)
  const claims: Record<string, unknown> = {
    iss: client,
    aud,
    iat,
    exp: iat + (o.lifetimeSeconds ?? 60),
    jti: randomUUID(),
    htm: method,
    htu: o.url,
    bdh: b64urlSha256(o.body ?? ''),
    ...o.claims,
  }
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k]
  const token = await new SignJWT(claims).setProtectedHeader({ alg: o.key.alg, kid: o.key.kid, typ: 'JWT' }).sign(o.key.privateKey)
  return {
    'x-road-client': client,
    'x-road-id': randomUUID(),
    'x-road-userid': 'officer-17',
    'x-road-issue': 'CASE-2025-001',
    authorization: `Bearer ${token}`,
    ...(o.body === undefined ? {} : { 'content-type': 'application/json' }),
  }
}

export function tokenOf (headers: Record<string, string>): string {
  return (headers.authorization ?? '').replace(/^Bearer /, '')
}

export interface Bus {
  app: FastifyInstance
  population: Population
  gatewayKey: SigningKey
  revokedKey: SigningKey
  limitedKey: SigningKey
  esKey: SigningKey
  xyp: XypCredentials
  limitedXyp: XypCredentials
  // A signed call as the gateway (or another member).
  call: (service: string, body: unknown, o?: Partial<SignOptions> & { headers?: Record<string, string> }) => Promise<LightMyRequestResponse>
}

let xypCache: { gateway: XypCredentials, limited: XypCredentials } | undefined

export async function createBus (options: ExchangeOptions = {}): Promise<Bus> {
  const population = options.population ?? testPopulation()
  const gatewayKey = await makeSigningKey('gw-2025')
  const revokedKey = await makeSigningKey('gw-2024')
  const esKey = await makeSigningKey('gw-es', 'ES256')
  const limitedKey = await makeSigningKey('limited-1')
  // RSA generation is slow; one pair per test process is enough.
  xypCache ??= { gateway: makeXypCredentials('gateway-token'), limited: makeXypCredentials('limited-token') }
  const members: MemberDefinition[] = [
    {
      id: GATEWAY,
      jwks: { keys: [revokedKey.publicJwk, gatewayKey.publicJwk, esKey.publicJwk] },
      revokedKids: [revokedKey.kid],
      xyp: { accessToken: xypCache.gateway.accessToken, publicKeyPem: xypCache.gateway.publicKeyPem },
      allowedServices: ['*'],
    },
    {
      id: LIMITED,
      jwks: { keys: [limitedKey.publicJwk] },
      xyp: { accessToken: xypCache.limited.accessToken, publicKeyPem: xypCache.limited.publicKeyPem },
      allowedServices: [`${CIVIL}/getIdCard`, `${CIVIL}/WS100125_checkCitizenRegnum`],
    },
  ]
  const app = buildExchange({ population, members, ...options })
  const bus: Bus = {
    app,
    population,
    gatewayKey,
    revokedKey,
    limitedKey,
    esKey,
    xyp: xypCache.gateway,
    limitedXyp: xypCache.limited,
    call: async (service, body, o = {}) => {
      const url = o.url ?? `/r1/${service}`
      const text = body === undefined ? undefined : JSON.stringify(body)
      const headers = await signedHeaders({ key: o.key ?? gatewayKey, url, ...o, ...(text === undefined ? {} : { body: text }) })
      return await app.inject({ method: (o.method ?? 'POST') as 'POST', url, headers: { ...headers, ...o.headers }, ...(text === undefined ? {} : { payload: text }) })
    },
  }
  return bus
}

// Verifies X-Road-Signature against the bus JWKS; returns its payload.
export async function verifyResponseSignature (jwks: JSONWebKeySet, signature: string): Promise<{ rqh: string | null, bdh: string, status: number, iat: number }> {
  const { payload, protectedHeader } = await compactVerify(signature, createLocalJWKSet(jwks), { algorithms: ['EdDSA'] })
  if (protectedHeader.typ !== 'xroad-resp+jwt') throw new Error(`unexpected typ ${String(protectedHeader.typ)}`)
  return JSON.parse(new TextDecoder().decode(payload)) as { rqh: string | null, bdh: string, status: number, iat: number }
}

// ---- XYP ----------------------------------------------------------------

export function xypHeaders (cred: XypCredentials, timestampSeconds: number = Math.floor(Date.now() / 1000)): Record<string, string> {
  const signature = sign('sha256', Buffer.from(`${cred.accessToken}.${timestampSeconds}`), cred.privateKey).toString('base64')
  return {
    'content-type': 'text/xml; charset=utf-8',
    soapaction: '""',
    accessToken: cred.accessToken,
    // KHUR's published PHP client spells it timeStamp; header names are case-insensitive.
    timeStamp: String(timestampSeconds),
    signature,
  }
}

export function soapRequest (op: string, fields: Record<string, string>, auth: { citizen?: string, operator?: string } = {}): string {
  const entity = (regnum: string | undefined) => regnum === undefined
    ? ''
    : `<regnum>${regnum}</regnum><otp>0</otp><civilId></civilId><fingerprint></fingerprint>`
  const body = Object.entries(fields).map(([k, v]) => `<${k}>${v}</${k}>`).join('')
  return '<?xml version="1.0" encoding="UTF-8"?>' +
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:cit="http://citizen.xyp.gov.mn/">' +
    '<soapenv:Header/><soapenv:Body>' +
    `<cit:${op}><request>` +
    `<auth><citizen>${entity(auth.citizen)}</citizen><operator>${entity(auth.operator)}</operator></auth>` +
    body +
    `</request></cit:${op}>` +
    '</soapenv:Body></soapenv:Envelope>'
}

// ---- waiting and real HTTP ---------------------------------------------------

// Polls `probe` until it returns something other than undefined. The deadline
// is generous: it only bounds a test that is failing anyway.
export async function until<T> (what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(20)
  }
}

export interface CutOffCall {
  // With holdBody: the bus has read the headers and begun the exchange
  // (its 100 Continue), while the body is still held back.
  continued: Promise<void>
  // The answer's status line and headers, should they arrive.
  response: Promise<IncomingMessage>
  // Whether any of the answer arrived.
  answered: () => boolean
  // Closes the socket, as a caller killed or timing out does.
  abort: () => void
}

// A real HTTP POST on its own connection, meant to be cut off by abort().
export function cutOffCall (origin: string, path: string, headers: Record<string, string>, body: string, o: { holdBody?: boolean } = {}): CutOffCall {
  const req = httpRequest(`${origin}${path}`, {
    method: 'POST',
    agent: false,
    headers: { ...headers, 'content-length': String(Buffer.byteLength(body)), ...(o.holdBody === true ? { expect: '100-continue' } : {}) },
  })
  // The socket hang-up that abort() causes.
  req.on('error', () => {})
  let answered = false
  const response = once(req, 'response').then(([res]) => {
    answered = true
    const message = res as IncomingMessage
    message.on('error', () => {})
    message.resume()
    return message
  })
  response.catch(() => {})
  const continued = o.holdBody === true ? once(req, 'continue').then(() => {}) : Promise.resolve()
  continued.catch(() => {})
  if (o.holdBody === true) req.flushHeaders()
  else req.end(body)
  return { continued, response, answered: () => answered, abort: () => { req.destroy() } }
}
