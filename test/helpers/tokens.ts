import { createHash, randomUUID } from 'node:crypto'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose'
import { DEV_AUDIENCE, DEV_ISSUER, DEV_TYP, loadDevSigningKey } from '../../src/auth/dev-issuer.ts'

export interface TokenOverrides {
  claims?: Record<string, unknown>
  // Claims to leave out entirely, e.g. ['exp'].
  omit?: Array<keyof JWTPayload | string>
  header?: Record<string, unknown>
  iat?: number
  ttlSeconds?: number
}

const ROLE_CLAIMS: Record<string, Record<string, unknown>> = {
  citizen: { sub: 'УБ99032712', azp: 'test-portal' },
  officer: { sub: 'officer-1', unit: '1101', agency: 'GASR' },
  admin: { sub: 'admin-1' },
  partner: { sub: 'partner-1' },
}

// Signs a token with the throwaway development key that the test made in its
// own DATA_DIR; overrides build the malformed tokens the tests refuse.
export async function signTestToken (dataDir: string, role: string, overrides: TokenOverrides = {}): Promise<string> {
  const { key, kid } = await loadDevSigningKey(dataDir)
  const iat = overrides.iat ?? Math.floor(Date.now() / 1000)
  const payload: Record<string, unknown> = {
    iss: DEV_ISSUER,
    aud: DEV_AUDIENCE,
    iat,
    exp: iat + (overrides.ttlSeconds ?? 300),
    jti: randomUUID(),
    role,
    ...ROLE_CLAIMS[role],
    ...overrides.claims,
  }
  for (const name of overrides.omit ?? []) delete payload[name as string]
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'EdDSA', typ: DEV_TYP, kid, ...overrides.header } as { alg: string })
    .sign(key)
}

export interface DpopKey {
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey']
  publicJwk: JWK
  // RFC 7638 thumbprint, the token's cnf.jkt.
  jkt: string
  alg: 'ES256' | 'EdDSA'
}

export async function makeDpopKey (alg: 'ES256' | 'EdDSA' = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const publicJwk = await exportJWK(publicKey)
  return { privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk), alg }
}

export interface ProofOverrides {
  claims?: Record<string, unknown>
  omit?: string[]
  header?: Record<string, unknown>
  iat?: number
}

export function accessTokenHash (token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

// An RFC 9449 proof for one request: htm, htu and ath as a client makes them.
export async function dpopProof (key: DpopKey, request: { method: string, url: string, token?: string }, overrides: ProofOverrides = {}): Promise<string> {
  const payload: Record<string, unknown> = {
    htm: request.method,
    htu: request.url,
    iat: overrides.iat ?? Math.floor(Date.now() / 1000),
    jti: randomUUID(),
    ...(request.token === undefined ? {} : { ath: accessTokenHash(request.token) }),
    ...overrides.claims,
  }
  for (const name of overrides.omit ?? []) delete payload[name]
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.publicJwk, ...overrides.header } as { alg: string })
    .sign(key.privateKey)
}
