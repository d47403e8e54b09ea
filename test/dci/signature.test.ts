import { createHash, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto'
import t, { type Test } from 'tap'
import {
  DCI_SIGNATURE_ALGORITHMS,
  dciDigest,
  dciSigningString,
  parseDciSignature,
  signDciMessage,
  verifyDciMessage,
  type DciVerifyResult,
} from '../../src/dci/signature.ts'

const NOW_MS = 1_714_600_000_000
const NOW = NOW_MS / 1000
const now = () => NOW_MS
const sender = 'crvs.gov.mn'

function keyPair (type: 'ed25519' | 'p256', kid: string): { kid: string, privateKey: KeyObject, jwk: JsonWebKey } {
  const { privateKey, publicKey } = type === 'ed25519'
    ? generateKeyPairSync('ed25519')
    : generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid } }
}

const ed = keyPair('ed25519', 'ed-1')
const ec = keyPair('p256', 'ec-1')
const other = keyPair('ed25519', 'ed-1') // same kid, different key
const keys = [ed.jwk, ec.jwk]

function body (): { header: Record<string, any>, message: Record<string, any> } {
  return {
    header: { version: '1.0.0', message_id: 'm-1', message_ts: '2024-05-02T06:26:40Z', action: 'search', sender_id: sender, total_count: 1 },
    message: { transaction_id: 'txn-1', search_request: [{ reference_id: 'r-1', timestamp: '2024-05-02T06:26:40Z', search_criteria: { query_type: 'idtype-value', query: { type: 'UIN', value: 'ЖЮ90010112' } } }] },
  }
}

function signed (key: { kid: string, privateKey: KeyObject } = ed, extra: { ttlSeconds?: number, at?: number } = {}) {
  const b = body()
  const signature = signDciMessage({ ...b, senderId: sender, key, now: () => extra.at ?? NOW_MS, ...(extra.ttlSeconds === undefined ? {} : { ttlSeconds: extra.ttlSeconds }) })
  return { ...b, signature }
}

function check (s: { signature: string | undefined, header: unknown, message: unknown }, options: { keys?: JsonWebKey[], sender?: string, at?: number } = {}): DciVerifyResult {
  return verifyDciMessage({ ...s, keys: options.keys ?? keys, expectedSenderId: options.sender ?? sender, now: () => options.at ?? NOW_MS })
}

// Replaces one parameter of a signature value.
function withParam (signature: string, name: string, value: string): string {
  return signature.replace(new RegExp(`${name}="[^"]*"`), `${name}="${value}"`)
}

function invalid (tt: Test, result: DciVerifyResult, reason: RegExp, note?: string): void {
  tt.match(result, { ok: false, code: 'err.signature.invalid', reason }, note ?? String(reason))
}

t.test('the format is the spec\'s', async (tt) => {
  const s = signed()
  tt.match(s.signature, /^Signature: namespace="spdci", kidId="crvs\.gov\.mn\|ed-1\|ed25519", algorithm="ed25519", created="1714600000", expires="1714600300", headers="\(created\) \(expires\) digest", signature="[A-Za-z0-9+/]+={0,2}"$/)
  tt.same(DCI_SIGNATURE_ALGORITHMS, ['ed25519', 'ecdsa-p256-sha256'])
  const b = body()
  const expected = 'BLAKE-512=' + createHash('blake2b512').update(JSON.stringify(b.header) + JSON.stringify(b.message)).digest('base64')
  tt.equal(dciDigest(b.header, b.message), expected)
  tt.equal(dciSigningString(1, 2, 'BLAKE-512=x'), '(created): 1\n(expires): 2\ndigest: BLAKE-512=x')
  tt.match(signDciMessage({ ...b, senderId: sender, key: ec, now, ttlSeconds: 60 }), /kidId="crvs\.gov\.mn\|ec-1\|ecdsa-p256-sha256", algorithm="ecdsa-p256-sha256", created="1714600000", expires="1714600060"/)
})

t.test('round trip for both algorithms', async (tt) => {
  tt.same(check(signed(ed)), { ok: true, kid: 'ed-1', algorithm: 'ed25519' })
  tt.same(check(signed(ec)), { ok: true, kid: 'ec-1', algorithm: 'ecdsa-p256-sha256' })
  const ecSig = /signature="([^"]+)"/.exec(signed(ec).signature)?.[1] ?? ''
  tt.equal(Buffer.from(ecSig, 'base64').length, 64, 'ES256 is r||s')

  // What the receiver parses from the wire verifies as sent.
  const s = signed(ec)
  const wire = JSON.parse(JSON.stringify({ signature: s.signature, header: s.header, message: s.message }))
  tt.same(check(wire), { ok: true, kid: 'ec-1', algorithm: 'ecdsa-p256-sha256' })
  tt.ok(check({ signature: s.signature, header: s.header, message: s.message }, { keys: [JSON.parse(JSON.stringify(ec.jwk))] }).ok, 'a re-read JWKS')
  tt.ok(check(s, { at: NOW_MS + 300_000 }).ok, 'still good at expiry')
})

t.test('tampering', async (tt) => {
  const header = signed()
  header.header.total_count = 2
  invalid(tt, check(header), /does not verify/)

  const message = signed(ec)
  message.message.search_request[0].search_criteria.query.value = 'ЖЮ90010113'
  invalid(tt, check(message), /does not verify/)

  const reordered = signed()
  reordered.header = { message_id: 'm-1', ...reordered.header }
  invalid(tt, check(reordered), /does not verify/, 'key order is part of the digest')

  const times = signed()
  invalid(tt, check({ ...times, signature: withParam(times.signature, 'expires', String(NOW + 3600)) }), /does not verify/)
})

t.test('who signed', async (tt) => {
  const s = signed()
  invalid(tt, check(s, { sender: 'social.gov.mn' }), /signed by crvs\.gov\.mn, expected social\.gov\.mn/)
  invalid(tt, check(s, { keys: [ec.jwk] }), /key ed-1 is not among/)
  invalid(tt, check(signed(other)), /does not verify/, 'another key under the same kid')
  invalid(tt, check({ ...s, signature: withParam(s.signature, 'kidId', `${sender}|ec-1|ed25519`) }), /key ec-1 does not fit algorithm ed25519/)
  invalid(tt, check(s, { keys: [{ ...ed.jwk, alg: 'ES256' }] }), /key ed-1 is for ES256/)
  invalid(tt, check(s, { keys: [{ ...ed.jwk, use: 'enc' }] }), /not a signing key/)
  invalid(tt, check(s, { keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'not-a-key', kid: 'ed-1' }] }), /not a usable public key/)
  tt.ok(check(s, { keys: [{ ...ed.jwk, alg: 'EdDSA', use: 'sig' }] }).ok)
})

t.test('when', async (tt) => {
  const s = signed()
  invalid(tt, check(s, { at: NOW_MS + 331_000 }), /expired/)
  tt.ok(check(s, { at: NOW_MS + 329_000 }).ok, 'within the skew')
  invalid(tt, check(signed(ed, { at: NOW_MS + 31_000 })), /created is in the future/)
  tt.ok(check(signed(ed, { at: NOW_MS + 29_000 })).ok, 'within the skew')
  const backwards = withParam(withParam(s.signature, 'created', String(NOW)), 'expires', String(NOW - 1))
  invalid(tt, check({ ...s, signature: backwards }), /expires is before created/)
  tt.same(verifyDciMessage({ ...s, keys, expectedSenderId: sender, now: () => NOW_MS + 400_000, clockSkewSeconds: 120 }), { ok: true, kid: 'ed-1', algorithm: 'ed25519' })
})

t.test('what was signed and how', async (tt) => {
  const s = signed()
  invalid(tt, check({ ...s, signature: withParam(s.signature, 'headers', '(created) digest') }), /headers must be/)
  invalid(tt, check({ ...s, signature: withParam(s.signature, 'headers', '(created)  (expires) digest') }), /headers must be/)
  const rsa = withParam(withParam(s.signature, 'algorithm', 'rsa-sha256'), 'kidId', `${sender}|ed-1|rsa-sha256`)
  invalid(tt, check({ ...s, signature: rsa }), /algorithm rsa-sha256 is not accepted/)
  invalid(tt, check({ ...s, signature: withParam(s.signature, 'algorithm', 'ecdsa-p256-sha256') }), /kidId names algorithm ed25519/)
  invalid(tt, check({ ...s, signature: withParam(s.signature, 'namespace', 'beckn') }), /namespace/)
  const value = /signature="([^"]+)"/.exec(s.signature)?.[1] ?? ''
  invalid(tt, check({ ...s, signature: withParam(s.signature, 'signature', Buffer.from(value, 'base64').toString('base64url')) }), /not a base64 64-byte/)
  invalid(tt, check({ ...s, signature: withParam(s.signature, 'signature', 'AAAA') }), /not a base64 64-byte/)
})

t.test('missing and garbage', async (tt) => {
  const b = body()
  tt.match(check({ ...b, signature: undefined }), { ok: false, code: 'err.signature.missing', reason: /no signature/ })
  tt.match(check({ ...b, signature: '' }), { ok: false, code: 'err.signature.missing' })
  tt.match(check({ ...b, signature: '   ' }), { ok: false, code: 'err.signature.missing' })
  tt.match(check({ ...b, signature: null as never }), { ok: false, code: 'err.signature.missing' })
  invalid(tt, check({ ...b, signature: 42 as never }), /not a string/)
  invalid(tt, check({ ...b, signature: 'garbage' }), /not parseable/)
  invalid(tt, check({ ...b, signature: 'Signature:' }), /no parameters/)
  invalid(tt, check({ ...b, signature: 'Signature: kidId="a|b|ed25519", algorithm="ed25519"' }), /created is missing/)
  invalid(tt, check({ ...b, signature: 'Bearer eyJhbGciOi.x.y' }), /not parseable/)
  invalid(tt, check({ ...b, signature: 'x'.repeat(5000) }), /too long/)
  const s = signed()
  invalid(tt, check({ ...s, signature: s.signature.replace('kidId="', 'kidId="x|') }), /kidId is not/)
  invalid(tt, check({ ...s, signature: withParam(s.signature, 'created', 'yesterday') }), /created is not a unix time/)
  invalid(tt, check({ ...s, signature: `${s.signature}, created="${NOW}"` }), /created is repeated/)
  invalid(tt, check({ ...s, signature: s.signature.replace(', algorithm', ' algorithm') }), /not parseable/)
})

t.test('lenient layout', async (tt) => {
  const s = signed(ec)
  const params = s.signature.slice('Signature: '.length).split(', ')
  const reordered = `Signature:${params.reverse().join(' ,\t ')}`
  tt.ok(check({ ...s, signature: reordered }).ok, 'reordered, odd spacing, no space after the prefix')
  tt.ok(check({ ...s, signature: `Signature:     ${params.join(',')}` }).ok, 'extra spaces')
  tt.ok(check({ ...s, signature: params.join(', ') }).ok, 'no prefix')
  tt.ok(check({ ...s, signature: `  ${s.signature.replace('Signature: ', 'Signature:  ')}\n` }).ok, 'surrounding whitespace')
  tt.ok(check({ ...s, signature: s.signature.replace('namespace="spdci", ', '') }).ok, 'no namespace')
  const parsed = parseDciSignature(s.signature)
  tt.match(parsed, { namespace: 'spdci', senderId: sender, kid: 'ec-1', algorithm: 'ecdsa-p256-sha256', created: NOW, expires: NOW + 300, headers: '(created) (expires) digest' })
})

t.test('signing refuses bad input', async (tt) => {
  const b = body()
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  tt.throws(() => signDciMessage({ ...b, senderId: sender, key: { kid: 'r', privateKey: rsa.privateKey } }), /Ed25519 or EC P-256/)
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' })
  tt.throws(() => signDciMessage({ ...b, senderId: sender, key: { kid: 'r', privateKey: p384.privateKey } }), /Ed25519 or EC P-256/)
  const pub = generateKeyPairSync('ed25519').publicKey
  tt.throws(() => signDciMessage({ ...b, senderId: sender, key: { kid: 'r', privateKey: pub } }), /private key/)
  tt.throws(() => signDciMessage({ ...b, senderId: 'a|b', key: ed }), /senderId/)
  tt.throws(() => signDciMessage({ ...b, senderId: sender, key: { ...ed, kid: 'k"1' } }), /kid/)
  tt.throws(() => signDciMessage({ ...b, senderId: sender, key: ed, ttlSeconds: 0 }), /ttlSeconds/)
  tt.match(signDciMessage({ ...b, senderId: sender, key: ed }), /created="\d+"/, 'Date.now by default')
})
