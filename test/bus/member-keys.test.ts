import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { devMemberFiles, ensureDevMemberKeys, loadMemberKeys, loadSigningKeys } from '../../src/bus/member-keys.ts'
import { loadConfig } from '../../src/config.ts'
import { generatePopulation, startExchange } from '../../src/exchange/index.ts'
import { createTestRuntime } from '../helpers/bus.ts'

t.test('during a rotation the newest key signs, and the bus accepts it', async (tt) => {
  const dir = tt.testdir()
  const jwk = (created: string, kid: string) => ({ ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), kid, created })
  const file = join(dir, 'member.private.jwks.json')
  writeFileSync(file, JSON.stringify({ keys: [jwk('2026-11-01T00:00:00Z', 'new'), jwk('2026-01-01T00:00:00Z', 'old')] }))
  const { signing, publicJwks } = loadSigningKeys(file)
  tt.equal(signing.kid, 'new', 'the newest by `created`, wherever it is listed')
  tt.equal(publicJwks.keys.length, 2)
  tt.notOk(publicJwks.keys.some((k) => 'd' in k), 'public keys only')

  ensureDevMemberKeys(dir)
  const xyp = devMemberFiles(dir).xypPrivatePem
  const keys = loadMemberKeys(file, xyp)
  const config = loadConfig({})
  const exchange = await startExchange({
    port: 0,
    citizens: 50,
    members: [{ id: config.bus.memberId, jwks: keys.publicJwks as never, xyp: { accessToken: config.bus.xypAccessToken, publicKeyPem: keys.xypPublicKeyPem }, allowedServices: ['*'] }],
  })
  tt.teardown(() => exchange.close())
  const runtime = await createTestRuntime(tt, config, exchange.url, keys)
  const adult = generatePopulation({ citizens: 50 }).livingAdults()[0]!
  tt.match(await runtime.invoke('civil.getAddress', { regnum: adult.regnum }), { regnum: adult.regnum })
  tt.match(await runtime.invoke('khur.getCitizenAddress', { regnum: adult.regnum }), { regnum: adult.regnum })
})
