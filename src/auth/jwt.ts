import { createPublicKey, sign as signBytes, verify as verifyBytes, type KeyObject } from 'node:crypto'

// Compact JWTs on node:crypto, verified synchronously in native code: the
// gateway's access tokens, and the emulated bus's messages as a real
// security server does them (WebCrypto's job queue costs about twice as much
// per signature, and an emulator slower than the bus makes comparisons lie).

export type JwtAlgorithm = 'EdDSA' | 'ES256'

export interface PublicKeyEntry {
  alg: JwtAlgorithm
  key: KeyObject
}

export class JwtCheckError extends Error {
  // expired / not_yet_valid: the time claims; no_key: no key has the kid;
  // signature: it does not verify; invalid: anything else.
  readonly reason: 'expired' | 'not_yet_valid' | 'no_key' | 'signature' | 'invalid'
  // The header parameter or claim at fault, when one is.
  readonly claim: string | undefined
  constructor (reason: JwtCheckError['reason'], message: string, claim?: string) {
    super(message)
    this.name = 'JwtCheckError'
    this.reason = reason
    this.claim = claim
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

export interface JwtCheckOptions {
  typ: string
  algorithms: readonly JwtAlgorithm[]
  nowMs: number
  clockToleranceSeconds: number
  requiredClaims: readonly string[]
}

export interface JwtVerifyOptions extends JwtCheckOptions {
  keys: ReadonlyMap<string, PublicKeyEntry>
}

export interface ParsedJwt {
  header: Record<string, unknown>
  // Not to be trusted before checkJwt.
  claims: Record<string, unknown>
  signingInput: string
  signature: string
}

export function parseJwt (token: string): ParsedJwt {
  const parts = token.split('.')
  if (parts.length !== 3) throw new JwtCheckError('invalid', 'a compact JWS has three parts')
  return { header: json(parts[0]!, 'header'), claims: json(parts[1]!, 'payload'), signingInput: `${parts[0]}.${parts[1]}`, signature: parts[2]! }
}

// The header's algorithm and type, the signature by `key` (the one its kid
// names, or none found), then the claims as RFC 7519 asks; returns the claims.
export function checkJwt (jwt: ParsedJwt, key: PublicKeyEntry | undefined, options: JwtCheckOptions): Record<string, unknown> {
  const { header, claims } = jwt
  const alg = header.alg
  if (typeof alg !== 'string' || !(options.algorithms as readonly string[]).includes(alg)) throw new JwtCheckError('invalid', `alg ${String(alg)} is not allowed`, 'alg')
  if (header.crit !== undefined) throw new JwtCheckError('invalid', 'no crit header parameter is understood', 'crit')
  if (typeof header.typ !== 'string' || header.typ.toLowerCase().replace(/^application\//, '') !== options.typ.toLowerCase()) {
    throw new JwtCheckError('invalid', `typ must be ${options.typ}`, 'typ')
  }
  if (key === undefined) throw new JwtCheckError('no_key', 'no key matches the JWT kid', 'kid')
  if (key.alg !== alg) throw new JwtCheckError('invalid', `key ${String(header.kid)} is not an ${alg} key`, 'alg')
  const data = Buffer.from(jwt.signingInput)
  const signature = Buffer.from(jwt.signature, 'base64url')
  const ok = alg === 'EdDSA'
    ? verifyBytes(null, data, key.key, signature)
    : verifyBytes('sha256', data, { key: key.key, dsaEncoding: 'ieee-p1363' }, signature)
  if (!ok) throw new JwtCheckError('signature', 'signature verification failed')
  for (const c of options.requiredClaims) {
    if (claims[c] === undefined) throw new JwtCheckError('invalid', `the JWT has no "${c}" claim`, c)
  }
  const now = Math.floor(options.nowMs / 1000)
  const tolerance = options.clockToleranceSeconds
  for (const c of ['iat', 'exp', 'nbf']) {
    if (claims[c] !== undefined && typeof claims[c] !== 'number') throw new JwtCheckError('invalid', `"${c}" must be a number`, c)
  }
  if (typeof claims.nbf === 'number' && claims.nbf > now + tolerance) throw new JwtCheckError('not_yet_valid', 'the JWT is not yet valid', 'nbf')
  if (typeof claims.exp === 'number' && claims.exp <= now - tolerance) throw new JwtCheckError('expired', 'the JWT has expired', 'exp')
  return claims
}

// The payload of a compact JWS signed by one of `keys`, checked as RFC 7519 asks.
export function verifyJwt (token: string, options: JwtVerifyOptions): Record<string, unknown> {
  const jwt = parseJwt(token)
  const kid = jwt.header.kid
  return checkJwt(jwt, typeof kid === 'string' ? options.keys.get(kid) : undefined, options)
}

// A compact JWS with an Ed25519 key.
export function signEd25519 (header: Record<string, unknown>, payload: Record<string, unknown>, privateKey: KeyObject): string {
  const data = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`
  return `${data}.${signBytes(null, Buffer.from(data), privateKey).toString('base64url')}`
}
