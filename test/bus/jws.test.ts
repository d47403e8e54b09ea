import { generateKeyPairSync } from 'node:crypto'
import t from 'tap'
import { compactVerify, exportJWK, importJWK } from 'jose'
import { createEd25519Signer, keySetFromJwks, verifyEd25519 } from '../../src/bus/jws.ts'

t.test('tokens signed here verify with jose, and back', async (tt) => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const signer = createEd25519Signer(privateKey, 'k1')
  const token = signer.sign({ iss: 'MN/GOV/OSS/gateway', n: 1 }, 'JWT')
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1' }
  const { payload, protectedHeader } = await compactVerify(token, await importJWK(jwk, 'EdDSA'))
  tt.same(protectedHeader, { alg: 'EdDSA', kid: 'k1', typ: 'JWT' })
  tt.same(JSON.parse(new TextDecoder().decode(payload)), { iss: 'MN/GOV/OSS/gateway', n: 1 })
  tt.same(verifyEd25519(token, keySetFromJwks({ keys: [jwk] }), 'JWT').payload, { iss: 'MN/GOV/OSS/gateway', n: 1 })
})

t.test('tampering, other keys, other algorithms and other types are refused', async (tt) => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const keys = keySetFromJwks({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] })
  const token = createEd25519Signer(privateKey, 'k1').sign({ status: 200 }, 'xroad-resp+jwt')
  const [h, , s] = token.split('.')
  const forged = `${h}.${Buffer.from(JSON.stringify({ status: 500 })).toString('base64url')}.${s}`
  tt.throws(() => verifyEd25519(forged, keys, 'xroad-resp+jwt'), { message: /does not verify/ })
  tt.throws(() => verifyEd25519(token, keys, 'JWT'), { message: /typ/ })
  const stranger = createEd25519Signer(generateKeyPairSync('ed25519').privateKey, 'k2').sign({ status: 200 }, 'xroad-resp+jwt')
  tt.throws(() => verifyEd25519(stranger, keys, 'xroad-resp+jwt'), { message: /unknown key/ })
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'k1', typ: 'xroad-resp+jwt' })).toString('base64url')}.${token.split('.')[1]}.`
  tt.throws(() => verifyEd25519(none, keys, 'xroad-resp+jwt'), { message: /not EdDSA/ })
  tt.throws(() => verifyEd25519('a.b', keys, 'JWT'), { message: /compact/ })
})
