import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { createSecretBox } from '../../src/secrets/sealed.ts'

const key = (kid: string) => ({ kid, privateKey: generateKeyPairSync('ed25519').privateKey, created: new Date().toISOString() })

t.test('a sealed secret opens only for what it was sealed for, only unchanged, only with the key that sealed it', async (t) => {
  const k1 = key('k1')
  const box = createSecretBox(k1)
  const sealed = box.seal('s3cret-Ü', 'partner a')
  t.notOk(sealed.includes('s3cret'), 'the secret is not in the stored value')
  t.match(sealed, /^sealed\.v1\.k1\./)
  t.not(box.seal('s3cret-Ü', 'partner a'), sealed, 'a fresh nonce each time')
  t.equal(box.open(sealed, 'partner a'), 's3cret-Ü')
  t.equal(box.open(sealed, 'partner b'), null, 'moved to another partner, it does not open')
  const parts = sealed.split('.')
  parts[4] = Buffer.from('x' + Buffer.from(parts[4]!, 'base64url').toString('latin1').slice(1), 'latin1').toString('base64url')
  t.equal(box.open(parts.join('.'), 'partner a'), null, 'changed, it does not open')
  t.equal(createSecretBox(key('k1')).open(sealed, 'partner a'), null, 'another gateway\'s key of the same kid does not open it')
  t.equal(box.open('plain text', 'partner a'), null)
  t.notOk(box.stale(sealed))
  t.ok(box.stale('plain text'), 'a value stored before sealing is stale')
})

t.test('after a key rotation the old key still opens what it sealed, and what it sealed is stale', async (t) => {
  const old = key('old')
  const sealedBefore = createSecretBox(old).seal('s', 'ctx')
  const rotated = createSecretBox(key('new'), [old])
  t.equal(rotated.open(sealedBefore, 'ctx'), 's')
  t.ok(rotated.stale(sealedBefore))
  t.match(rotated.seal('s', 'ctx'), /^sealed\.v1\.new\./, 'the newest key seals')
  t.equal(createSecretBox(key('new')).open(sealedBefore, 'ctx'), null, 'once the old key is gone, it no longer opens')
})
