import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose'
import type { Redis } from 'ioredis'
import type { Queryable } from '../db/database.ts'
import { ROLES, type IssuerConfig, type Role } from '../config.ts'
import { parseRegnum } from '../domain/regnum.ts'
import { ProblemError } from '../errors/problem-error.ts'
import type { Principal } from './principal.ts'

// Remembers each token id until its expiry; `claim` is false for a replay.
export interface ReplayCache {
  claim(issuer: string, jti: string, expiresAtSeconds: number): Promise<boolean>
}

export function createRedisReplayCache (redis: Redis, keyPrefix: string): ReplayCache {
  return {
    async claim (issuer, jti, expiresAtSeconds) {
      const id = createHash('sha256').update(issuer).update('\n').update(jti).digest('base64url')
      // Kept one extra minute past exp so clock skew cannot reopen the window.
      const reply = await redis.set(`${keyPrefix}:jti:${id}`, '1', 'EXAT', expiresAtSeconds + 60, 'NX')
      return reply === 'OK'
    },
  }
}

// Redis first; while Redis is unreachable, the shared database. Token ids seen
// only by Redis before an outage are not in the database, so during an outage
// such a token could be replayed once; the alternative is refusing everyone.
export function createFallbackReplayCache (primary: ReplayCache, db: Queryable, onFallback: (err: unknown) => void = () => {}): ReplayCache {
  return {
    async claim (issuer, jti, expiresAtSeconds) {
      try {
        return await primary.claim(issuer, jti, expiresAtSeconds)
      } catch (err) {
        onFallback(err)
        const id = createHash('sha256').update(issuer).update('\n').update(jti).digest('base64url')
        if (Math.random() < 0.01) await db.query('DELETE FROM token_replay WHERE expires_at < now()')
        const res = await db.query('INSERT INTO token_replay (id, expires_at) VALUES ($1, to_timestamp($2)) ON CONFLICT (id) DO NOTHING', [id, expiresAtSeconds + 60])
        return res.rowCount === 1
      }
    },
  }
}

export interface TokenVerifierOptions {
  issuers: IssuerConfig[]
  replayCache: ReplayCache
  clockSkewSeconds: number
  maxTokenAgeSeconds: number
  now?: () => number
}

export interface TokenVerifier {
  verify(token: string): Promise<Principal>
}

const UNIT_CODE = /^\d{2}(\d{2}(\d{2})?)?$/
// Claims end up in replay keys, audit records and logs: bounded.
const MAX_CLAIM_LENGTH = 256

function keySetFor (issuer: IssuerConfig): JWTVerifyGetKey {
  if (issuer.jwksUri !== undefined) {
    return createRemoteJWKSet(new URL(issuer.jwksUri), { timeoutDuration: 3000, cooldownDuration: 30000 })
  }
  const jwks = JSON.parse(readFileSync(issuer.jwksFile as string, 'utf8'))
  return createLocalJWKSet(jwks)
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
// so that is as long as its jti needs remembering (and a far-future or
// fractional exp cannot break the replay cache).
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
  }
}

export function createTokenVerifier (options: TokenVerifierOptions): TokenVerifier {
  const issuers = new Map(options.issuers.map((i) => [i.issuer, { config: i, keys: keySetFor(i) }]))
  const now = options.now ?? Date.now

  return {
    async verify (token) {
      let unverified: JWTPayload
      try {
        unverified = decodeJwt(token)
      } catch (err) {
        throw invalid('the token is not a well-formed JWT', err)
      }
      const entry = typeof unverified.iss === 'string' ? issuers.get(unverified.iss) : undefined
      if (entry === undefined) throw invalid('the token\'s issuer is not trusted')
      const { config, keys } = entry

      let payload: JWTPayload
      try {
        ({ payload } = await jwtVerify(token, keys, {
          issuer: config.issuer,
          audience: config.audience,
          algorithms: config.algorithms,
          typ: config.typ,
          clockTolerance: options.clockSkewSeconds,
          maxTokenAge: options.maxTokenAgeSeconds,
          requiredClaims: ['exp', 'iat', 'jti', 'iss', 'aud'],
          currentDate: new Date(now()),
        }))
      } catch (err) {
        if (err instanceof joseErrors.JWTExpired) throw new ProblemError('TOKEN_EXPIRED', 'the token has expired', { cause: err })
        if (err instanceof joseErrors.JWTClaimValidationFailed) throw invalid(`the token's "${err.claim}" claim is not acceptable`, err)
        if (err instanceof joseErrors.JOSEAlgNotAllowed) throw invalid('the token\'s signing algorithm is not allowed', err)
        if (err instanceof joseErrors.JWKSNoMatchingKey) throw invalid('the token was signed with an unknown key', err)
        if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw invalid('the token\'s signature does not verify', err)
        if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid) {
          throw new ProblemError('DEPENDENCY_UNAVAILABLE', 'the token issuer\'s keys could not be loaded', { cause: err })
        }
        throw invalid('the token could not be verified', err)
      }

      const principal = toPrincipal(payload, config, options.maxTokenAgeSeconds)

      // Only a token that verified may burn its jti, so forgeries cannot lock out real ones.
      let fresh: boolean
      try {
        fresh = await options.replayCache.claim(config.issuer, principal.tokenId, principal.expiresAt)
      } catch (err) {
        throw new ProblemError('DEPENDENCY_UNAVAILABLE', 'the replay cache is unavailable', { cause: err })
      }
      if (!fresh) throw new ProblemError('TOKEN_REPLAYED', 'this token has been used before; request a new one')
      return principal
    },
  }
}
