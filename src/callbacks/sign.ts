import { CompactSign } from 'jose'
import type { MemberKey } from '../bus/member-keys.ts'

// A detached JWS over the exact bytes of a callback body (RFC 7515, appendix
// F): `header..signature`. The portal puts the base64url of the body it got in
// the middle and verifies it with the gateway's keys at /.well-known/jwks.json.
export const CALLBACK_JWS_TYPE = 'oss-callback+jws'

export async function signDetached (body: Uint8Array, key: MemberKey, now: () => number = Date.now): Promise<string> {
  const jws = await new CompactSign(body)
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: CALLBACK_JWS_TYPE, iat: Math.floor(now() / 1000) })
    .sign(key.privateKey)
  const [header, , signature] = jws.split('.')
  return `${header}..${signature}`
}
