import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto'
import type { JSONWebKeySet, JWK } from 'jose'
import { signEd25519 } from '../auth/jwt.ts'

// The bus's own Ed25519 signing keys. The JWKS may hold two during a rotation;
// the newest (last) signs, and clients verify against the kid it names.

// The `typ` of response signatures, distinct from request JWTs so that one can
// never be passed off as the other.
export const RESPONSE_SIGNATURE_TYP = 'xroad-resp+jwt'

export interface BusSigningKeyInput {
  // A private Ed25519 key: a KeyObject, or a JWK with `d`.
  privateKey: KeyObject | JWK
  kid?: string
}

export interface BusKeys {
  jwks: JSONWebKeySet
  kid: string
  sign: (payload: Record<string, unknown>) => Promise<string>
}

export class BusKeyError extends Error {
  readonly code = 'EXCHANGE_BUS_KEY_INVALID'
  constructor (message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'BusKeyError'
  }
}

// RFC 7638 thumbprint of an OKP key.
function thumbprint (jwk: JsonWebKey): string {
  return createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x })).digest('base64url')
}

function readPrivateKey (input: BusSigningKeyInput): KeyObject {
  try {
    return 'asymmetricKeyType' in input.privateKey
      ? input.privateKey as KeyObject
      : createPrivateKey({ key: input.privateKey as JsonWebKey, format: 'jwk' })
  } catch (err) {
    throw new BusKeyError('a bus signing key could not be read', { cause: err })
  }
}

export function createBusKeys (inputs?: readonly BusSigningKeyInput[]): BusKeys {
  const given = inputs !== undefined && inputs.length > 0 ? inputs : [{ privateKey: generateKeyPairSync('ed25519').privateKey }]
  const keys = given.map((input) => {
    const privateKey = readPrivateKey(input)
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new BusKeyError('bus signing keys must be Ed25519')
    const exported = createPublicKey(privateKey).export({ format: 'jwk' })
    const kid = input.kid ?? thumbprint(exported)
    return { kid, privateKey, publicJwk: { kty: exported.kty, crv: exported.crv, x: exported.x, kid, alg: 'EdDSA', use: 'sig' } as JWK }
  })
  const newest = keys.at(-1)
  if (newest === undefined) throw new BusKeyError('no bus signing key')
  return {
    jwks: { keys: keys.map((k) => k.publicJwk) },
    kid: newest.kid,
    sign: async (payload) => signEd25519({ alg: 'EdDSA', kid: newest.kid, typ: RESPONSE_SIGNATURE_TYP }, payload, newest.privateKey),
  }
}
