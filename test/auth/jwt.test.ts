import t from 'tap'
import { generateKeyPairSync, sign } from 'node:crypto'
import { JwtCheckError, publicKeysByKid, signEd25519, verifyJwt, type JwtVerifyOptions } from '../../src/auth/jwt.ts'

// The emulated bus's JWT checks on node:crypto: what passes and why the rest is refused.
const ed = generateKeyPairSync('ed25519')
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const jwks = { keys: [{ ...ed.publicKey.export({ format: 'jwk' }), kid: 'ed' }, { ...ec.publicKey.export({ format: 'jwk' }), kid: 'ec' }, { kty: 'RSA', kid: 'rsa', n: 'x', e: 'AQAB' }] }
const keys = publicKeysByKid(jwks as never)
const NOW = 1_800_000_000_000
const options: JwtVerifyOptions = { typ: 'JWT', algorithms: ['EdDSA', 'ES256'], keys, nowMs: NOW, clockToleranceSeconds: 30, requiredClaims: ['iss', 'exp', 'jti'] }
const s = NOW / 1000
const claims = { iss: 'MN/GOV/OSS/gateway', iat: s, exp: s + 60, jti: 'j1' }
const b64 = (x: unknown) => Buffer.from(JSON.stringify(x)).toString('base64url')
const es256 = (header: Record<string, unknown>, payload: Record<string, unknown>) => {
  const data = `${b64(header)}.${b64(payload)}`
  return `${data}.${sign('sha256', Buffer.from(data), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
}
const reason = (fn: () => unknown) => {
  try {
    fn()
    return 'accepted'
  } catch (err) {
    return err instanceof JwtCheckError ? err.reason : 'other'
  }
}

t.test('good tokens pass, with either algorithm', async (t) => {
  t.same(verifyJwt(signEd25519({ alg: 'EdDSA', kid: 'ed', typ: 'JWT' }, claims, ed.privateKey), options), claims)
  t.same(verifyJwt(es256({ alg: 'ES256', kid: 'ec', typ: 'JWT' }, claims), options), claims)
  t.same(verifyJwt(signEd25519({ alg: 'EdDSA', kid: 'ed', typ: 'application/jwt' }, claims, ed.privateKey), options), claims, 'typ as a media type')
  t.equal(keys.has('rsa'), false, 'an RSA key is no key here')
})

t.test('refusals', async (t) => {
  const ok = signEd25519({ alg: 'EdDSA', kid: 'ed', typ: 'JWT' }, claims, ed.privateKey)
  const [h, p, sig] = ok.split('.')
  t.equal(reason(() => verifyJwt(`${h}.${b64({ ...claims, jti: 'j2' })}.${sig}`, options)), 'signature', 'a changed payload')
  t.equal(reason(() => verifyJwt(`${h}.${p}`, options)), 'invalid', 'two parts')
  t.equal(reason(() => verifyJwt(`${b64({ alg: 'none', kid: 'ed', typ: 'JWT' })}.${p}.`, options)), 'invalid', 'alg none')
  t.equal(reason(() => verifyJwt(signEd25519({ alg: 'EdDSA', kid: 'ed', typ: 'xroad-resp+jwt' }, claims, ed.privateKey), options)), 'invalid', 'another typ')
  t.equal(reason(() => verifyJwt(signEd25519({ alg: 'EdDSA', kid: 'ed', typ: 'JWT', crit: ['x'] }, claims, ed.privateKey), options)), 'invalid', 'crit')
  t.equal(reason(() => verifyJwt(signEd25519({ alg: 'EdDSA', kid: 'other', typ: 'JWT' }, claims, ed.privateKey), options)), 'no_key', 'an unknown kid')
  t.equal(reason(() => verifyJwt(signEd25519({ alg: 'EdDSA', kid: 'ec', typ: 'JWT' }, claims, ed.privateKey), options)), 'invalid', 'an EdDSA token naming the EC key')
  t.equal(reason(() => verifyJwt(signEd25519({ alg: 'EdDSA', kid: 'ed', typ: 'JWT' }, { ...claims, jti: undefined }, ed.privateKey), options)), 'invalid', 'a required claim missing')
  t.equal(reason(() => verifyJwt(signEd25519({ alg: 'EdDSA', kid: 'ed', typ: 'JWT' }, { ...claims, exp: String(s + 60) }, ed.privateKey), options)), 'invalid', 'exp not a number')
  // Time: exp within the tolerance passes; at now - tolerance it has expired; nbf likewise.
  t.equal(reason(() => verifyJwt(signEd25519({ alg: 'EdDSA', kid: 'ed', typ: 'JWT' }, { ...claims, exp: s - 29 }, ed.privateKey), options)), 'accepted')
  t.equal(reason(() => verifyJwt(signEd25519({ alg: 'EdDSA', kid: 'ed', typ: 'JWT' }, { ...claims, exp: s - 30 }, ed.privateKey), options)), 'expired')
  t.equal(reason(() => verifyJwt(signEd25519({ alg: 'EdDSA', kid: 'ed', typ: 'JWT' }, { ...claims, nbf: s + 30 }, ed.privateKey), options)), 'accepted')
  t.equal(reason(() => verifyJwt(signEd25519({ alg: 'EdDSA', kid: 'ed', typ: 'JWT' }, { ...claims, nbf: s + 31 }, ed.privateKey), options)), 'not_yet_valid')
  t.equal(reason(() => verifyJwt(es256({ alg: 'ES256', kid: 'ec', typ: 'JWT' }, claims).slice(0, -4) + 'AAAA', options)), 'signature', 'a broken ES256 signature')
})
