import { randomUUID } from 'node:crypto'
import { Pool, request as undiciRequest } from 'undici'
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

  // Null once verified with the keys held; a promise when the keys must be
  // fetched (the first answer, or one signed with a key not held).
  function verifyAnswer (signature: string | undefined, requestHash: string, status: number, bytes: Buffer): Promise<void> | null {
    if (signature === undefined) throw new BusTransportError('BUS_BAD_SIGNATURE', 'the bus answer is not signed')
    if (keys === undefined) return verifyFetching(signature, requestHash, status, bytes)
    let payload: Record<string, unknown>
    try {
      payload = verifyEd25519(signature, keys, RESPONSE_SIGNATURE_TYP).payload
    } catch (err) {
      if ((err as Error).message !== 'the JWS was signed with an unknown key') {
        throw new BusTransportError('BUS_BAD_SIGNATURE', `the bus answer's signature is invalid: ${(err as Error).message}`, { cause: err })
      }
      return verifyFetching(signature, requestHash, status, bytes)
    }
    checkAnswer(payload, requestHash, status, bytes)
    return null
  }

  function checkAnswer (payload: Record<string, unknown>, requestHash: string, status: number, bytes: Buffer): void {
    if (payload.rqh !== requestHash) throw new BusTransportError('BUS_BAD_SIGNATURE', 'the bus answer is signed for another request')
    if (payload.status !== status) throw new BusTransportError('BUS_BAD_SIGNATURE', 'the bus answer\'s status does not match its signature')
    if (payload.bdh !== sha256b64url(bytes)) throw new BusTransportError('BUS_BAD_SIGNATURE', 'the bus answer\'s body does not match its signature')
  }

  async function verifyFetching (signature: string, requestHash: string, status: number, bytes: Buffer): Promise<void> {
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
    checkAnswer(payload, requestHash, status, bytes)
  }

  // One POST and its whole answer, on the pool's dispatch API: no stream,
  // no AbortSignal. Within `timeoutMs` overall (a TimeoutError after it,
  // the request aborted), and each of headers and body within it too.
  function exchange (path: string, headers: Record<string, string>, body: Buffer, timeoutMs: number): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, bytes: Buffer }> {
    return new Promise((resolve, reject) => {
      let controller: { abort(reason: Error): void } | null = null
      let late: Error | null = null
      let settled = false
      let status = 0
      let received: Record<string, string | string[] | undefined> = {}
      const chunks: Buffer[] = []
      const timer = setTimeout(() => {
        late = new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')
        settle(late)
        // Not started yet (waiting for a connection): aborted when it starts.
        controller?.abort(late)
      }, timeoutMs)
      timer.unref()
      function settle (err: unknown, answer?: { status: number, headers: Record<string, string | string[] | undefined>, bytes: Buffer }): void {
        if (settled) return
        settled = true
        clearTimeout(timer)
        if (answer === undefined) reject(err)
        else resolve(answer)
      }
      try {
        pool.dispatch({ method: 'POST', path, headers, body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }, {
          onRequestStart (c: { abort(reason: Error): void }) {
            if (late !== null) c.abort(late)
            else controller = c
          },
          onResponseStart (_c: unknown, statusCode: number, h: Record<string, string | string[] | undefined>) {
            // Informational answers (1xx) are not the answer.
            if (statusCode < 200) return
            status = statusCode
            received = h
          },
          onResponseData (_c: unknown, chunk: Buffer) {
            chunks.push(chunk)
          },
          onResponseEnd () {
            settle(null, { status, headers: received, bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) })
          },
          onResponseError (_c: unknown, err: Error) {
            settle(err)
          },
        } as unknown as Parameters<Pool['dispatch']>[1])
      } catch (err) {
        settle(err)
      }
    })
  }

  // The path of each service called, made once.
  const paths = new Map<string, string>()
  const pathOf = (service: string) => {
    let path = paths.get(service)
    if (path === undefined) {
      path = `${prefix}/r1/${service.split('/').map(encodeURIComponent).join('/')}`
      if (paths.size < 1000) paths.set(service, path)
    }
    return path
  }

  return {
    async call (request) {
      const path = pathOf(request.service)
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
      try {
        ({ status, headers: responseHeaders, bytes } = await exchange(path, headers, body, request.timeoutMs))
      } catch (err) {
        if (isAnswerTimeout(err)) throw new BusTransportError('BUS_TIMEOUT', `no answer from the bus within ${request.timeoutMs} ms`, { cause: err })
        throw new BusTransportError('BUS_NETWORK', `the bus could not be reached: ${(err as Error).message}`, { cause: err })
      }
      const one = (name: string) => {
        const v = responseHeaders[name]
        return Array.isArray(v) ? v[0] : v
      }
      const fetching = verifyAnswer(one('x-road-signature'), sha256b64url(token), status, bytes)
      if (fetching !== null) await fetching
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
