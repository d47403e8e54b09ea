import { createHash, KeyObject, type webcrypto } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { calculateJwkThumbprint, createRemoteJWKSet, EmbeddedJWK, errors as joseErrors, jwtVerify, type JWK, type JWSHeaderParameters, type JWTPayload } from 'jose'
import type { Redis } from 'ioredis'
import type { Queryable } from '../db/database.ts'
import { ROLES, type IssuerConfig, type Role } from '../config.ts'
import { parseRegnum } from '../domain/regnum.ts'
import { ProblemError } from '../errors/problem-error.ts'
import { checkJwt, JwtCheckError, parseJwt, publicKeysByKid, type JwtAlgorithm, type ParsedJwt, type PublicKeyEntry } from './jwt.ts'
import type { Principal } from './principal.ts'

// The shared store behind single-use DPoP proofs and revoked access tokens.
export interface ReplayCache {
  // Records an id until its expiry; false when it was recorded before (a replay).
  claim(namespace: string, id: string, expiresAtSeconds: number): Promise<boolean>
  // Refuses an access token's jti until the token's expiry.
  revoke(issuer: string, jti: string, expiresAtSeconds: number): Promise<void>
  isRevoked(issuer: string, jti: string): Promise<boolean>
}

function idOf (namespace: string, id: string): string {
  return createHash('sha256').update(namespace).update('\n').update(id).digest('base64url')
}

export function createRedisReplayCache (redis: Redis, keyPrefix: string): ReplayCache {
  return {
    async claim (namespace, id, expiresAtSeconds) {
      // Kept one extra minute past expiry so clock skew cannot reopen the window.
      const reply = await redis.set(`${keyPrefix}:jti:${idOf(namespace, id)}`, '1', 'EXAT', expiresAtSeconds + 60, 'NX')
      return reply === 'OK'
    },
    async revoke (issuer, jti, expiresAtSeconds) {
      await redis.set(`${keyPrefix}:revoked:${idOf(issuer, jti)}`, '1', 'EXAT', expiresAtSeconds + 60)
    },
    async isRevoked (issuer, jti) {
      return (await redis.exists(`${keyPrefix}:revoked:${idOf(issuer, jti)}`)) === 1
    },
  }
}

// Redis first; while Redis is unreachable, the shared database. Proof ids seen
// only by Redis before an outage are not in the database, so during an outage
// such a proof could be replayed once; the alternative is refusing everyone.
// Revocations are rare and go to both, so an outage does not undo them.
export function createFallbackReplayCache (primary: ReplayCache, db: Queryable, onFallback: (err: unknown) => void = () => {}): ReplayCache {
  async function record (id: string, expiresAtSeconds: number): Promise<boolean> {
    if (Math.random() < 0.01) await db.query('DELETE FROM token_replay WHERE expires_at < now()')
    const res = await db.query('INSERT INTO token_replay (id, expires_at) VALUES ($1, to_timestamp($2)) ON CONFLICT (id) DO NOTHING', [id, expiresAtSeconds + 60])
    return res.rowCount === 1
  }
  return {
    async claim (namespace, id, expiresAtSeconds) {
      try {
        return await primary.claim(namespace, id, expiresAtSeconds)
      } catch (err) {
        onFallback(err)
        return record(idOf(namespace, id), expiresAtSeconds)
      }
    },
    async revoke (issuer, jti, expiresAtSeconds) {
      const [inRedis, inDb] = await Promise.allSettled([
        primary.revoke(issuer, jti, expiresAtSeconds),
        record(`revoked:${idOf(issuer, jti)}`, expiresAtSeconds),
      ])
      if (inRedis.status === 'rejected') onFallback(inRedis.reason)
      if (inRedis.status === 'rejected' && inDb.status === 'rejected') throw inDb.reason
    },
    async isRevoked (issuer, jti) {
      try {
        return await primary.isRevoked(issuer, jti)
      } catch (err) {
        onFallback(err)
        const { rows } = await db.query('SELECT 1 FROM token_replay WHERE id = $1 AND expires_at > now()', [`revoked:${idOf(issuer, jti)}`])
        return rows.length > 0
      }
    },
  }
}

export interface TokenVerifierOptions {
  issuers: IssuerConfig[]
  replayCache: ReplayCache
  clockSkewSeconds: number
  maxTokenAgeSeconds: number
  // How long after its iat a DPoP proof is accepted (once).
  dpopProofMaxAgeSeconds: number
  now?: () => number
}

// How the token came: its Authorization scheme, the DPoP header (RFC 9449),
// and the request it must match.
export interface Presentation {
  scheme: 'bearer' | 'dpop'
  proof?: string
  method: string
  // The absolute request URL; its query and fragment are ignored.
  url: string
}

export interface TokenVerifier {
  // Reusable until the token expires; a DPoP-bound token needs a fresh proof.
  verify(token: string, presentation?: Presentation): Promise<Principal>
  // Refuses a token from now until it expires. False when there was nothing
  // to revoke: a forgery, an unknown issuer, an expired token.
  revoke(token: string): Promise<boolean>
}

// Proofs are signed by the client's own key: asymmetric algorithms only.
export const DPOP_ALGORITHMS = ['EdDSA', 'ES256'] as const
const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/

// Tokens remembered as verified, per process (a few MB at most).
const VERIFIED_TOKENS_KEPT = 10_000

const UNIT_CODE = /^\d{2}(\d{2}(\d{2})?)?$/
// Claims end up in replay keys, audit records and logs: bounded.
const MAX_CLAIM_LENGTH = 256

// The key a token's header names, from the issuer's JWKS (a file, or fetched
// and cached by jose); undefined when none matches.
type KeyLookup = (header: Record<string, unknown>) => Promise<PublicKeyEntry | undefined>

function keysFor (issuer: IssuerConfig): KeyLookup {
  if (issuer.jwksUri !== undefined) {
    const remote = createRemoteJWKSet(new URL(issuer.jwksUri), { timeoutDuration: 3000, cooldownDuration: 30000 })
    const native = new WeakMap<webcrypto.CryptoKey, KeyObject>()
    return async (header) => {
      let cryptoKey: webcrypto.CryptoKey
      try {
        cryptoKey = await remote(header as unknown as JWSHeaderParameters)
      } catch (err) {
        if (err instanceof joseErrors.JWKSNoMatchingKey) return undefined
        if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid) {
          throw new ProblemError('DEPENDENCY_UNAVAILABLE', 'the token issuer\'s keys could not be loaded', { cause: err })
        }
        throw invalid('the token\'s key could not be chosen from the issuer\'s keys', err)
      }
      let key = native.get(cryptoKey)
      if (key === undefined) {
        key = KeyObject.from(cryptoKey)
        native.set(cryptoKey, key)
      }
      return { alg: header.alg as JwtAlgorithm, key }
    }
  }
  const keys = publicKeysByKid(issuer.jwks ?? JSON.parse(readFileSync(issuer.jwksFile as string, 'utf8')))
  return async (header) => {
    if (typeof header.kid === 'string') return keys.get(header.kid)
    // No kid: only a key set with one key of the algorithm can answer.
    const candidates = [...keys.values()].filter((k) => k.alg === header.alg)
    return candidates.length === 1 ? candidates[0] : undefined
  }
}

function invalid (detail: string, cause?: unknown): ProblemError {
  return new ProblemError('TOKEN_INVALID', detail, { cause })
}

function stringClaim (payload: JWTPayload, name: string): string {
  const value = payload[name]
  if (value === undefined) throw invalid(`the token has no "${name}" claim`)
  if (typeof value !== 'string' || value === '' || value.length > MAX_CLAIM_LENGTH) {
    throw invalid(`the token's "${name}" claim must be a non-empty string of at most ${MAX_CLAIM_LENGTH} characters`)
  }
  return value
}

// jose has checked that exp and iat are numbers and the token is current.
// A token is refused here once it is maxTokenAge old, whatever its exp says,
// so that is as long as a revocation needs remembering (and a far-future or
// fractional exp cannot break the store).
function toPrincipal (payload: JWTPayload, issuer: IssuerConfig, maxTokenAgeSeconds: number): Principal {
  const role = payload.role
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) {
    throw invalid('the token has no valid "role" claim')
  }
  if (!issuer.roles.includes(role as Role)) {
    throw invalid(`issuer ${issuer.issuer} may not grant the role "${role}"`)
  }
  const base = {
    sub: stringClaim(payload, 'sub'),
    issuer: issuer.issuer,
    tokenId: stringClaim(payload, 'jti'),
    expiresAt: Math.ceil(Math.min(payload.exp as number, (payload.iat as number) + maxTokenAgeSeconds)),
  }
  switch (role as Role) {
    case 'citizen': {
      const parsed = parseRegnum(base.sub)
      if (!parsed.ok) throw invalid('a citizen token\'s "sub" must be a registration number')
      return { ...base, role: 'citizen', regnum: parsed.value, portal: stringClaim(payload, 'azp') }
    }
    case 'officer': {
      const unit = stringClaim(payload, 'unit')
      if (!UNIT_CODE.test(unit)) throw invalid('an officer token\'s "unit" must be an administrative unit code')
      return { ...base, role: 'officer', unit, agency: stringClaim(payload, 'agency') }
    }
    case 'admin':
      return { ...base, role: 'admin' }
    case 'partner':
      return { ...base, role: 'partner' }
    case 'analyst': {
      const unit = stringClaim(payload, 'unit')
      if (!UNIT_CODE.test(unit)) throw invalid('an analyst token\'s "unit" must be an administrative unit code')
      return { ...base, role: 'analyst', unit }
    }
  }
}

function proofInvalid (detail: string, cause?: unknown): ProblemError {
  return new ProblemError('DPOP_PROOF_INVALID', detail, { cause })
}

// RFC 9449 §4.3: htu compares without query and fragment, after the URL
// parser's normalisation (scheme and host case, default port, percent-encoding).
function normalizedHtu (url: string): string | null {
  if (!URL.canParse(url)) return null
  const u = new URL(url)
  u.search = ''
  u.hash = ''
  return u.href
}

function thumbprintOf (payload: JWTPayload): string | undefined {
  const cnf = payload.cnf
  if (cnf === undefined) return undefined
  const jkt = (cnf as { jkt?: unknown } | null)?.jkt
  if (typeof jkt !== 'string' || !THUMBPRINT.test(jkt)) throw invalid('the token\'s "cnf" claim must carry a "jkt" key thumbprint (RFC 9449)')
  return jkt
}

export function createTokenVerifier (options: TokenVerifierOptions): TokenVerifier {
  const issuers = new Map(options.issuers.map((i) => [i.issuer, { config: i, keys: keysFor(i) }]))
  const now = options.now ?? Date.now
  const tolerance = options.clockSkewSeconds

  // Signature, issuer, audience, typ and times; nothing about its use.
  // On node:crypto, synchronously: this runs on every request.
  async function verifyJwt (token: string): Promise<{ payload: JWTPayload, config: IssuerConfig }> {
    let jwt: ParsedJwt
    try {
      jwt = parseJwt(token)
    } catch (err) {
      throw invalid('the token is not a well-formed JWT', err)
    }
    const entry = typeof jwt.claims.iss === 'string' ? issuers.get(jwt.claims.iss) : undefined
    if (entry === undefined) throw invalid('the token\'s issuer is not trusted')
    const { config, keys } = entry
    // Before any key is looked up (or fetched).
    if (!(config.algorithms as readonly unknown[]).includes(jwt.header.alg)) throw invalid('the token\'s signing algorithm is not allowed')
    let payload: JWTPayload
    try {
      payload = checkJwt(jwt, await keys(jwt.header), {
        typ: config.typ,
        algorithms: config.algorithms,
        nowMs: now(),
        clockToleranceSeconds: tolerance,
        requiredClaims: ['exp', 'iat', 'jti', 'iss', 'aud'],
      }) as JWTPayload
    } catch (err) {
      if (!(err instanceof JwtCheckError)) throw err
      if (err.reason === 'expired') throw new ProblemError('TOKEN_EXPIRED', 'the token has expired', { cause: err })
      if (err.reason === 'no_key') throw invalid('the token was signed with an unknown key', err)
      if (err.reason === 'signature') throw invalid('the token\'s signature does not verify', err)
      if (err.claim === 'alg') throw invalid('the token\'s signing algorithm is not allowed', err)
      throw invalid(err.claim === undefined ? 'the token could not be verified' : `the token's "${err.claim}" claim is not acceptable`, err)
    }
    const aud = payload.aud
    if (aud !== config.audience && !(Array.isArray(aud) && aud.includes(config.audience))) throw invalid('the token\'s "aud" claim is not acceptable')
    // Issued in the future, or too long ago whatever its exp says.
    const age = Math.floor(now() / 1000) - (payload.iat as number)
    if (age < -tolerance) throw invalid('the token\'s "iat" claim is not acceptable')
    if (age - tolerance > options.maxTokenAgeSeconds) throw new ProblemError('TOKEN_EXPIRED', `the token was issued more than ${options.maxTokenAgeSeconds} s ago`)
    return { payload, config }
  }

  // A client uses its token for many requests: a token that verified is not
  // verified again (signature, claims) until it expires or grows too old.
  // Revocation and DPoP are still checked on every request. The exact key is
  // the whole token; the oldest entry goes when the map is full.
  const verified = new Map<string, { payload: JWTPayload, config: IssuerConfig }>()
  async function verifiedOnce (token: string): Promise<{ payload: JWTPayload, config: IssuerConfig }> {
    const hit = verified.get(token)
    if (hit !== undefined) {
      // verifyJwt's time checks, as they would fall now.
      const nowS = Math.floor(now() / 1000)
      if ((hit.payload.exp as number) > nowS - tolerance && nowS - (hit.payload.iat as number) - tolerance <= options.maxTokenAgeSeconds) return hit
      verified.delete(token)
    }
    const result = await verifyJwt(token)
    if (verified.size >= VERIFIED_TOKENS_KEPT) verified.delete(verified.keys().next().value as string)
    verified.set(token, result)
    return result
  }

  // Checks a proof against the request, the token and its key; returns the
  // proof's jti and iat. Whether it was used before is checked last.
  async function checkProof (token: string, jkt: string, presentation: Presentation & { proof: string }): Promise<{ jti: string, iat: number }> {
    let payload: JWTPayload
    let header: { jwk?: unknown }
    try {
      ({ payload, protectedHeader: header } = await jwtVerify(presentation.proof, EmbeddedJWK, {
        typ: 'dpop+jwt',
        algorithms: [...DPOP_ALGORITHMS],
        clockTolerance: options.clockSkewSeconds,
        maxTokenAge: options.dpopProofMaxAgeSeconds,
        requiredClaims: ['iat', 'jti', 'htm', 'htu', 'ath'],
        currentDate: new Date(now()),
      }))
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw proofInvalid(`the DPoP proof is too old (more than ${options.dpopProofMaxAgeSeconds} s); make a fresh one for each request`, err)
      if (err instanceof joseErrors.JWTClaimValidationFailed) throw proofInvalid(`the DPoP proof's "${err.claim}" claim is not acceptable`, err)
      if (err instanceof joseErrors.JOSEAlgNotAllowed) throw proofInvalid(`the DPoP proof must be signed with ${DPOP_ALGORITHMS.join(' or ')}`, err)
      throw proofInvalid('the DPoP proof is not a JWT signed by the public key in its "jwk" header', err)
    }
    const jti = payload.jti
    if (typeof jti !== 'string' || jti === '' || jti.length > MAX_CLAIM_LENGTH) throw proofInvalid(`the DPoP proof's "jti" must be a non-empty string of at most ${MAX_CLAIM_LENGTH} characters`)
    if (payload.htm !== presentation.method) throw proofInvalid(`the DPoP proof's "htm" must be the request method ${presentation.method}`)
    const expected = normalizedHtu(presentation.url)
    if (typeof payload.htu !== 'string' || expected === null || normalizedHtu(payload.htu) !== expected) {
      throw proofInvalid(`the DPoP proof's "htu" must be the request URL without query: ${expected ?? '(unknown)'}`)
    }
    if (payload.ath !== createHash('sha256').update(token).digest('base64url')) {
      throw proofInvalid('the DPoP proof\'s "ath" must be the base64url SHA-256 of the access token')
    }
    if (await calculateJwkThumbprint(header.jwk as JWK) !== jkt) {
      throw proofInvalid('the DPoP proof is signed by another key than the one the token is bound to (cnf.jkt)')
    }
    return { jti, iat: payload.iat as number }
  }

  return {
    async verify (token, presentation) {
      const { payload, config } = await verifiedOnce(token)
      const principal = toPrincipal(payload, config, options.maxTokenAgeSeconds)
      const jkt = thumbprintOf(payload)
      const scheme = presentation?.scheme ?? 'bearer'
      if (jkt === undefined) {
        if (scheme === 'dpop') throw invalid('the token is not DPoP-bound (no "cnf.jkt"); send it as "Authorization: Bearer <token>"')
        if (config.dpop?.required.includes(principal.role) === true) {
          throw new ProblemError('DPOP_REQUIRED', `issuer ${config.issuer} requires DPoP-bound tokens (cnf.jkt) for the role ${principal.role}; send "Authorization: DPoP <token>" with a fresh "DPoP" proof header`)
        }
      } else if (scheme !== 'dpop') {
        // A bound token used as a bearer token would be worth as much as an unbound one to whoever copied it.
        throw new ProblemError('DPOP_REQUIRED', 'this token is bound to a key (cnf.jkt): send "Authorization: DPoP <token>" with a fresh "DPoP" proof header')
      } else if (presentation?.proof === undefined || presentation.proof === '') {
        throw new ProblemError('DPOP_REQUIRED', 'a DPoP-bound token needs a fresh proof in the "DPoP" header on every request')
      }

      let revoked: boolean
      try {
        revoked = await options.replayCache.isRevoked(config.issuer, principal.tokenId)
      } catch (err) {
        throw new ProblemError('DEPENDENCY_UNAVAILABLE', 'the token revocation store is unavailable', { cause: err })
      }
      if (revoked) throw new ProblemError('TOKEN_REVOKED', 'this token has been revoked (it was seen in a URL); request a new one')

      if (jkt === undefined) return principal
      const proof = await checkProof(token, jkt, presentation as Presentation & { proof: string })
      // Only a proof that verified may burn its jti, so forgeries cannot lock out real ones.
      let fresh: boolean
      try {
        fresh = await options.replayCache.claim(`dpop:${jkt}`, proof.jti, Math.ceil(proof.iat) + options.dpopProofMaxAgeSeconds + options.clockSkewSeconds)
      } catch (err) {
        throw new ProblemError('DEPENDENCY_UNAVAILABLE', 'the DPoP replay cache is unavailable', { cause: err })
      }
      if (!fresh) throw new ProblemError('DPOP_PROOF_REPLAYED', 'this DPoP proof has been used before; make a fresh one for each request')
      return { ...principal, dpop: { jkt, proofId: proof.jti } }
    },

    async revoke (token) {
      let verified: Awaited<ReturnType<typeof verifyJwt>>
      try {
        verified = await verifyJwt(token)
      } catch {
        return false
      }
      const { payload, config } = verified
      const jti = payload.jti
      if (typeof jti !== 'string' || jti === '' || jti.length > MAX_CLAIM_LENGTH) return false
      const expiresAt = Math.ceil(Math.min(payload.exp as number, (payload.iat as number) + options.maxTokenAgeSeconds))
      await options.replayCache.revoke(config.issuer, jti, expiresAt)
      return true
    },
  }
}
