import { randomUUID, type JsonWebKey } from 'node:crypto'
import { SignJWT } from 'jose'
import type { MemberKey } from '../bus/member-keys.ts'
import type { Config, IssuerConfig } from '../config.ts'

// Bearer tokens for registered partner systems (OAuth 2.0 client credentials,
// RFC 6749 section 4.4), signed with the gateway's own key. The gateway trusts
// them like any issuer's, for the `partner` role only.

export const PARTNER_TOKEN_TYPE = 'at+jwt'

export function partnerIssuer (dci: Config['dci'], jwks: { keys: JsonWebKey[] }): IssuerConfig {
  return {
    issuer: dci.tokenIssuer,
    audience: dci.tokenAudience,
    algorithms: ['EdDSA'],
    jwks: jwks as { keys: Array<Record<string, unknown>> },
    typ: PARTNER_TOKEN_TYPE,
    roles: ['partner'],
  }
}

export interface IssuedToken {
  accessToken: string
  expiresInSeconds: number
}

export async function issuePartnerToken (options: { partnerId: string, key: MemberKey, dci: Config['dci'], now?: () => number }): Promise<IssuedToken> {
  const nowS = Math.floor((options.now ?? Date.now)() / 1000)
  const ttl = options.dci.tokenTtlSeconds
  const accessToken = await new SignJWT({ role: 'partner', client_id: options.partnerId })
    .setProtectedHeader({ alg: 'EdDSA', kid: options.key.kid, typ: PARTNER_TOKEN_TYPE })
    .setIssuer(options.dci.tokenIssuer)
    .setAudience(options.dci.tokenAudience)
    .setSubject(options.partnerId)
    .setIssuedAt(nowS)
    .setExpirationTime(nowS + ttl)
    .setJti(randomUUID())
    .sign(options.key.privateKey)
  return { accessToken, expiresInSeconds: ttl }
}
