import { createPublicKey, sign as signBytes, verify as verifyBytes, type KeyObject } from 'node:crypto'

// Compact JWTs for the emulated bus on node:crypto, as a real security
// server does them in native code: an emulator that spends more per message
// than the bus it stands for makes every comparison against it lie.

export type JwtAlgorithm = 'EdDSA' | 'ES256'

export interface PublicKeyEntry {
  alg: JwtAlgorithm
  key: KeyObject
}

export class JwtCheckError extends Error {
  // expired / not_yet_valid: the time claims; no_key: no key has the kid; invalid: anything else.
  readonly reason: 'expired' | 'not_yet_valid' | 'no_key' | 'invalid'
  constructor (reason: JwtCheckError['reason'], message: string) {
    super(message)
    this.name = 'JwtCheckError'
    this.reason = reason
  }
}

// The verifying keys of a JWKS by kid; keys of another type or curve are left out.
export function publicKeysByKid (jwks: { keys: ReadonlyArray<Record<string, unknown>> }): Map<string, PublicKeyEntry> {
  const out = new Map<string, PublicKeyEntry>()
  for (const jwk of jwks.keys) {
    if (typeof jwk.kid !== 'string') continue
    const alg: JwtAlgorithm | null = jwk.kty === 'OKP' && jwk.crv === 'Ed25519' ? 'EdDSA' : jwk.kty === 'EC' && jwk.crv === 'P-256' ? 'ES256' : null
    if (alg === null) continue
    try {
      out.set(jwk.kid, { alg, key: createPublicKey({ key: jwk as never, format: 'jwk' }) })
    } catch {
      // An unreadable key verifies nothing.
    }
  }
  return out
}

function json (part: string, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>
  } catch {}
  throw new JwtCheckError('invalid', `the JWT ${what} is not a JSON object`)
}

export function jwtHeader (token: string): Record<string, unknown> {
  return json(token.split('.')[0] ?? '', 'header')
}

export interface JwtVerifyOptions {
  typ: string
  algorithms: readonly JwtAlgorithm[]
  keys: ReadonlyMap<string, PublicKeyEntry>
  nowMs: number
  clockToleranceSeconds: number
  requiredClaims: readonly string[]
}

// The payload of a compact JWS signed by one of `keys`, checked as RFC 7519 asks.
export function verifyJwt (token: string, options: JwtVerifyOptions): Record<string, unknown> {
  const parts = token.split('.')
  if (parts.length !== 3) throw new JwtCheckError('invalid', 'a compact JWS has three parts')
  const header = json(parts[0]!, 'header')
  const alg = header.alg
  if (typeof alg !== 'string' || !(options.algorithms as readonly string[]).includes(alg)) throw new JwtCheckError('invalid', `alg ${String(alg)} is not allowed`)
  if (header.crit !== undefined) throw new JwtCheckError('invalid', 'no crit header parameter is understood')
  if (typeof header.typ !== 'string' || header.typ.toLowerCase().replace(/^application\//, '') !== options.typ.toLowerCase()) {
    throw new JwtCheckError('invalid', `typ must be ${options.typ}`)
  }
  const kid = header.kid
  const entry = typeof kid === 'string' ? options.keys.get(kid) : undefined
  if (entry === undefined) throw new JwtCheckError('no_key', 'no key matches the JWT kid')
  if (entry.alg !== alg) throw new JwtCheckError('invalid', `key ${String(kid)} is not an ${alg} key`)
  const data = Buffer.from(`${parts[0]}.${parts[1]}`)
  const signature = Buffer.from(parts[2]!, 'base64url')
  const ok = alg === 'EdDSA'
    ? verifyBytes(null, data, entry.key, signature)
    : verifyBytes('sha256', data, { key: entry.key, dsaEncoding: 'ieee-p1363' }, signature)
  if (!ok) throw new JwtCheckError('invalid', 'signature verification failed')
  const claims = json(parts[1]!, 'payload')
  for (const c of options.requiredClaims) {
    if (claims[c] === undefined) throw new JwtCheckError('invalid', `the JWT has no "${c}" claim`)
  }
  const now = Math.floor(options.nowMs / 1000)
  const tolerance = options.clockToleranceSeconds
  for (const c of ['iat', 'exp', 'nbf']) {
    if (claims[c] !== undefined && typeof claims[c] !== 'number') throw new JwtCheckError('invalid', `"${c}" must be a number`)
  }
  if (typeof claims.nbf === 'number' && claims.nbf > now + tolerance) throw new JwtCheckError('not_yet_valid', 'the JWT is not yet valid')
  if (typeof claims.exp === 'number' && claims.exp <= now - tolerance) throw new JwtCheckError('expired', 'the JWT has expired')
  return claims
}

// A compact JWS with an Ed25519 key.
export function signEd25519 (header: Record<string, unknown>, payload: Record<string, unknown>, privateKey: KeyObject): string {
  const data = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`
  return `${data}.${signBytes(null, Buffer.from(data), privateKey).toString('base64url')}`
}
