import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto'
import t from 'tap'
import { ed25519Sign, ed25519Verify } from '../../src/crypto/ed25519.ts'

const b64url = (hex: string) => Buffer.from(hex, 'hex').toString('base64url')

t.test('RFC 8032 test vectors 1 and 2: the same signatures, verified', async (tt) => {
  const vectors = [
    {
      seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
      x: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
      message: '',
      signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    },
    {
      seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
      x: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
      message: '72',
      signature: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
    },
  ]
  for (const v of vectors) {
    const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: b64url(v.seed), x: b64url(v.x) }, format: 'jwk' })
    const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(v.x) }, format: 'jwk' })
    const message = Buffer.from(v.message, 'hex')
    tt.equal(ed25519Sign(message, privateKey).toString('hex'), v.signature, `vector with a ${message.length}-byte message: the RFC's signature`)
    tt.ok(ed25519Verify(message, publicKey, Buffer.from(v.signature, 'hex')), 'verifies with the public key')
    tt.ok(ed25519Verify(message, privateKey, Buffer.from(v.signature, 'hex')), 'and with the private key object, whose public half it uses')
  }
})

t.test('node:crypto and this module sign the same bytes and accept each other\'s signatures', async (tt) => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  let same = 0
  let crossed = 0
  for (let i = 0; i < 200; i++) {
    const message = randomBytes(i * 7)
    const ours = ed25519Sign(message, privateKey)
    const theirs = sign(null, message, privateKey)
    if (ours.equals(theirs)) same++
    if (verify(null, message, publicKey, ours) && ed25519Verify(message, publicKey, theirs)) crossed++
  }
  tt.equal(same, 200, 'identical signatures')
  tt.equal(crossed, 200, 'each verifies the other\'s')
})

t.test('a changed message, signature or key does not verify; malformed input is false or a TypeError', async (tt) => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const message = Buffer.from('{"rqh":"abc","status":200}')
  const signature = ed25519Sign(message, privateKey)
  tt.ok(ed25519Verify(message, publicKey, signature))
  const changed = Buffer.from(message)
  changed[5]! ^= 1
  tt.notOk(ed25519Verify(changed, publicKey, signature), 'one bit of the message')
  for (const at of [0, 31, 32, 63]) {
    const bad = Buffer.from(signature)
    bad[at]! ^= 0x10
    tt.notOk(ed25519Verify(message, publicKey, bad), `one bit of the signature at byte ${at}`)
  }
  tt.notOk(ed25519Verify(message, generateKeyPairSync('ed25519').publicKey, signature), 'another key')
  tt.notOk(ed25519Verify(message, publicKey, signature.subarray(0, 63)), 'a 63-byte signature')
  tt.notOk(ed25519Verify(message, publicKey, Buffer.concat([signature, Buffer.alloc(1)])), 'a 65-byte signature')
  tt.notOk(ed25519Verify(message, publicKey, Buffer.alloc(64)), 'zeros')
  tt.throws(() => ed25519Sign(message, publicKey), TypeError, 'a public key cannot sign')
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  tt.throws(() => ed25519Sign(message, ec.privateKey), TypeError, 'nor an EC key')
  tt.throws(() => ed25519Verify(message, ec.publicKey, signature), TypeError, 'nor verify')
})
