import { randomUUID } from 'node:crypto'
import { Pool, request as undiciRequest } from 'undici'
import { deadline } from './deadline.ts'
import { createEd25519Signer, keySetFromJwks, sha256b64url, verifyEd25519, type Ed25519KeySet, type Ed25519Signer } from './jws.ts'
import type { MemberKey } from './member-keys.ts'

// The REST transport to the bus, X-Road style (the contract is in
// src/exchange/rest-transport.ts). Each call is signed once with the member
// key, and each answer's signature is checked against the bus's keys before
// the body is used.

export const REQUEST_TOKEN_TYP = 'JWT'
export const RESPONSE_SIGNATURE_TYP = 'xroad-resp+jwt'
const TOKEN_LIFETIME_SECONDS = 60

export interface RestCall {
  // The service id: MN/GOV/GASR/civil/getIdCard
  service: string
  body: unknown
  xRoadId?: string
  userId?: string
  issue?: string
  timeoutMs: number
}

export interface RestAnswer {
  status: number
  body: unknown
  xRoadId: string
  // Present only when the bus itself failed.
  xRoadError?: string
}

export class BusTransportError extends Error {
  readonly code: 'BUS_NETWORK' | 'BUS_TIMEOUT' | 'BUS_BAD_SIGNATURE' | 'BUS_BAD_BODY'
  constructor (code: BusTransportError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'BusTransportError'
    this.code = code
  }
}

export interface RestClientOptions {
  baseUrl: string
  memberId: string
  signingKey: MemberKey
  connections?: number
  connectTimeoutMs?: number
  keepAliveTimeoutMs?: number
  // Where the bus publishes its response-signing keys.
  jwksUrl?: string
  now?: () => number
}

export interface RestClient {
  call(request: RestCall): Promise<RestAnswer>
  close(): Promise<void>
}

// A bus that took the request and did not answer in time. A connection that
// could not even be made in time is the bus's absence instead (BUS_NETWORK):
// a delivery waits for the bus without spending an attempt on it.
export function isAnswerTimeout (err: unknown): boolean {
  const e = err as { code?: string, name?: string }
  return e?.name === 'TimeoutError' || e?.name === 'AbortError' ||
    e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT'
}

export function createRestClient (options: RestClientOptions): RestClient {
  const base = new URL(options.baseUrl)
  const prefix = base.pathname.replace(/\/$/, '')
  // One pool per bus origin, kept alive; redirects are never followed.
  const pool = new Pool(base.origin, {
    connections: options.connections ?? 32,
    connectTimeout: options.connectTimeoutMs ?? 2000,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 30000,
  })
  const signer: Ed25519Signer = createEd25519Signer(options.signingKey.privateKey, options.signingKey.kid)
  const now = options.now ?? Date.now
  const jwksPath = options.jwksUrl ?? `${prefix}/.well-known/jwks.json`

  let keys: Ed25519KeySet | undefined
  let keysFetchedAt = 0
  async function busKeys (refresh: boolean): Promise<Ed25519KeySet> {
    // An unknown kid may mean the bus rotated its key; refetch at most every 10 s.
    if (keys !== undefined && (!refresh || now() - keysFetchedAt < 10000)) return keys
    const url = jwksPath.startsWith('http') ? new URL(jwksPath) : new URL(jwksPath, base.origin)
    const res = url.origin === base.origin
      ? await pool.request({ method: 'GET', path: url.pathname + url.search, headersTimeout: 3000, bodyTimeout: 3000 })
      : await undiciRequest(url, { headersTimeout: 3000, bodyTimeout: 3000, maxRedirections: 0 } as Parameters<typeof undiciRequest>[1])
    if (res.statusCode !== 200) {
      await res.body.dump()
      throw new BusTransportError('BUS_BAD_SIGNATURE', `the bus keys could not be fetched (HTTP ${res.statusCode})`)
    }
    keys = keySetFromJwks(await res.body.json() as { keys: Array<Record<string, unknown>> })
    keysFetchedAt = now()
    return keys
  }

  async function verifyAnswer (signature: string | undefined, requestHash: string, status: number, bytes: Buffer): Promise<void> {
    if (signature === undefined) throw new BusTransportError('BUS_BAD_SIGNATURE', 'the bus answer is not signed')
    let payload: Record<string, unknown>
    try {
      payload = verifyEd25519(signature, await busKeys(false), RESPONSE_SIGNATURE_TYP).payload
    } catch (err) {
      if ((err as Error).message !== 'the JWS was signed with an unknown key') {
        throw new BusTransportError('BUS_BAD_SIGNATURE', `the bus answer's signature is invalid: ${(err as Error).message}`, { cause: err })
      }
      try {
        payload = verifyEd25519(signature, await busKeys(true), RESPONSE_SIGNATURE_TYP).payload
      } catch (again) {
        throw new BusTransportError('BUS_BAD_SIGNATURE', `the bus answer's signature is invalid: ${(again as Error).message}`, { cause: again })
      }
    }
    if (payload.rqh !== requestHash) throw new BusTransportError('BUS_BAD_SIGNATURE', 'the bus answer is signed for another request')
    if (payload.status !== status) throw new BusTransportError('BUS_BAD_SIGNATURE', 'the bus answer\'s status does not match its signature')
    if (payload.bdh !== sha256b64url(bytes)) throw new BusTransportError('BUS_BAD_SIGNATURE', 'the bus answer\'s body does not match its signature')
  }

  return {
    async call (request) {
      const path = `${prefix}/r1/${request.service.split('/').map(encodeURIComponent).join('/')}`
      const body = Buffer.from(JSON.stringify(request.body ?? {}))
      const xRoadId = request.xRoadId ?? randomUUID()
      const iat = Math.floor(now() / 1000)
      const token = signer.sign({
        iss: options.memberId,
        aud: request.service,
        iat,
        exp: iat + TOKEN_LIFETIME_SECONDS,
        jti: randomUUID(),
        htm: 'POST',
        htu: path,
        bdh: sha256b64url(body),
      }, REQUEST_TOKEN_TYP)
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
        'x-road-client': options.memberId,
        'x-road-id': xRoadId,
      }
      if (request.userId !== undefined) headers['x-road-userid'] = request.userId
      if (request.issue !== undefined) headers['x-road-issue'] = request.issue

      let status: number
      let responseHeaders: Record<string, string | string[] | undefined>
      let bytes: Buffer
      const limit = deadline(request.timeoutMs)
      try {
        const res = await pool.request({
          method: 'POST',
          path,
          headers,
          body,
          signal: limit.signal,
          headersTimeout: request.timeoutMs,
          bodyTimeout: request.timeoutMs,
        })
        status = res.statusCode
        responseHeaders = res.headers
        bytes = Buffer.from(await res.body.arrayBuffer())
      } catch (err) {
        if (isAnswerTimeout(err)) throw new BusTransportError('BUS_TIMEOUT', `no answer from the bus within ${request.timeoutMs} ms`, { cause: err })
        throw new BusTransportError('BUS_NETWORK', `the bus could not be reached: ${(err as Error).message}`, { cause: err })
      } finally {
        limit.clear()
      }
      const one = (name: string) => {
        const v = responseHeaders[name]
        return Array.isArray(v) ? v[0] : v
      }
      await verifyAnswer(one('x-road-signature'), sha256b64url(token), status, bytes)
      let parsed: unknown
      try {
        parsed = bytes.length === 0 ? null : JSON.parse(bytes.toString('utf8'))
      } catch (err) {
        throw new BusTransportError('BUS_BAD_BODY', 'the bus answer is not JSON', { cause: err })
      }
      const xRoadError = one('x-road-error')
      return { status, body: parsed, xRoadId, ...(xRoadError === undefined ? {} : { xRoadError }) }
    },
    async close () {
      await pool.close()
    },
  }
}
