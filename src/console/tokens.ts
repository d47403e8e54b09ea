import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { SignJWT } from 'jose'
import type { IssuerConfig } from '../config.ts'
import type { ConsoleIdentity } from './sessions.ts'

// The console calls the gateway's own API as the signed-in person, so every
// check (role, unit subtree, purpose, limits, audit) is the API's, unchanged.
// Each call carries an access token this process signs with a key that lives
// only in its memory and expires within a minute; the gateway trusts that
// key as one more issuer, for the console's roles only.
export const CONSOLE_TOKEN_ISSUER = 'urn:oss-gateway:console'
const TYP = 'at+jwt'

export interface ConsoleTokens {
  issuer: IssuerConfig
  mint(identity: ConsoleIdentity): Promise<string>
}

export function createConsoleTokens (options: { audience: string, ttlSeconds: number, now?: () => number }): ConsoleTokens {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const kid = randomUUID()
  const now = options.now ?? Date.now
  return {
    issuer: {
      issuer: CONSOLE_TOKEN_ISSUER,
      audience: options.audience,
      algorithms: ['EdDSA'],
      jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'EdDSA', use: 'sig' }] },
      typ: TYP,
      roles: ['admin', 'analyst', 'officer'],
    },
    async mint (identity) {
      const nowS = Math.floor(now() / 1000)
      return new SignJWT({
        role: identity.role,
        ...(identity.unit === undefined ? {} : { unit: identity.unit }),
        ...(identity.agency === undefined ? {} : { agency: identity.agency }),
      })
        .setProtectedHeader({ alg: 'EdDSA', kid, typ: TYP })
        .setIssuer(CONSOLE_TOKEN_ISSUER)
        .setAudience(options.audience)
        .setSubject(identity.sub)
        .setIssuedAt(nowS)
        .setExpirationTime(nowS + options.ttlSeconds)
        .setJti(randomUUID())
        .sign(privateKey)
    },
  }
}
