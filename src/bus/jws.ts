import { createPublicKey, hash, type KeyObject } from 'node:crypto'
import { ed25519Sign, ed25519Verify } from '../crypto/ed25519.ts'

// Compact JWS with Ed25519 straight on libsodium (crypto/ed25519.ts): the bus
// path signs one request and verifies one response per call, and jose's
// generic path costs about three times as much per signature as node:crypto.

function b64url (data: Buffer | string): string {
  return Buffer.from(data).toString('base64url')
}

export function sha256b64url (data: Buffer | string): string {
  return hash('sha256', data, 'base64url')
}

export interface Ed25519Signer {
  readonly kid: string
  sign(payload: Record<string, unknown>, typ: string): string
}

export function createEd25519Signer (privateKey: KeyObject, kid: string): Ed25519Signer {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new TypeError('the bus signing key must be Ed25519')
  // The protected header of each typ, encoded once.
  const headers = new Map<string, string>()
  return {
    kid,
    sign (payload, typ) {
      let header = headers.get(typ)
      if (header === undefined) headers.set(typ, header = b64url(JSON.stringify({ alg: 'EdDSA', kid, typ })))
      const input = `${header}.${b64url(JSON.stringify(payload))}`
      return `${input}.${b64url(ed25519Sign(Buffer.from(input), privateKey))}`
    },
  }
}

export class JwsError extends Error {
  readonly code = 'JWS_INVALID'
  constructor (message: string) {
    super(message)
    this.name = 'JwsError'
  }
}

export interface Ed25519KeySet {
  // Null when the kid is unknown; the caller may refresh and ask again.
  get(kid: string): KeyObject | null
}

export function keySetFromJwks (jwks: { keys: Array<Record<string, unknown>> }): Ed25519KeySet {
  const keys = new Map<string, KeyObject>()
  for (const jwk of jwks.keys) {
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.kid !== 'string' || typeof jwk.x !== 'string') continue
    keys.set(jwk.kid, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' }))
  }
  return { get: (kid) => keys.get(kid) ?? null }
}

// Protected headers that passed the checks below, by typ and encoded header:
// a signer sends the same few again and again. Bounded; emptied when full.
const checkedHeaders = new Map<string, string>()
const MAX_CHECKED_HEADERS = 256

// The kid of an encoded protected header that pins EdDSA and names `typ`.
function headerKid (h: string, typ: string): string {
  const cacheKey = `${typ}\n${h}`
  const known = checkedHeaders.get(cacheKey)
  if (known !== undefined) return known
  let header: Record<string, unknown>
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'))
  } catch {
    throw new JwsError('the JWS header or payload is not JSON')
  }
  if (typeof header !== 'object' || header === null) throw new JwsError('the JWS algorithm is not EdDSA')
  if (header.alg !== 'EdDSA') throw new JwsError('the JWS algorithm is not EdDSA')
  if (header.typ !== typ) throw new JwsError(`the JWS typ is not ${typ}`)
  if (typeof header.kid !== 'string') throw new JwsError('the JWS has no kid')
  if (header.crit !== undefined) throw new JwsError('the JWS has critical extensions')
  if (checkedHeaders.size >= MAX_CHECKED_HEADERS) checkedHeaders.clear()
  checkedHeaders.set(cacheKey, header.kid)
  return header.kid
}

// Verifies a compact JWS whose algorithm is pinned to EdDSA and whose `typ`
// must match, and returns its JSON payload.
export function verifyEd25519 (token: string, keys: Ed25519KeySet, typ: string): { kid: string, payload: Record<string, unknown> } {
  const first = token.indexOf('.')
  const second = first === -1 ? -1 : token.indexOf('.', first + 1)
  if (second === -1 || token.indexOf('.', second + 1) !== -1) throw new JwsError('not a compact JWS')
  const h = token.slice(0, first)
  const p = token.slice(first + 1, second)
  let payload: Record<string, unknown>
  const kid = headerKid(h, typ)
  try {
    payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'))
  } catch {
    throw new JwsError('the JWS header or payload is not JSON')
  }
  const key = keys.get(kid)
  if (key === null) throw new JwsError('the JWS was signed with an unknown key')
  if (!ed25519Verify(Buffer.from(token.slice(0, second)), key, Buffer.from(token.slice(second + 1), 'base64url'))) {
    throw new JwsError('the JWS signature does not verify')
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new JwsError('the JWS payload is not an object')
  return { kid, payload }
}
