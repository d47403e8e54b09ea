import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadAdapters, loadAdapterSchemas } from '../../src/adapters/load.ts'
import { createAdapterRuntime } from '../../src/adapters/runtime.ts'
import { createBusClients } from '../../src/bus/index.ts'
import { devMemberFiles, ensureDevMemberKeys, loadMemberKeys, loadSigningKeys } from '../../src/bus/member-keys.ts'
import { loadConfig } from '../../src/config.ts'
import { generatePopulation, startExchange } from '../../src/exchange/index.ts'

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
  const bus = createBusClients(config, exchange.url, keys)
  tt.teardown(() => Promise.all([bus.rest.close(), bus.xyp.close()]))
  const runtime = createAdapterRuntime({
    adapters: await loadAdapters(),
    schemas: loadAdapterSchemas(),
    ...bus,
    breaker: { failureThreshold: 5, coolDownMs: 1000 },
    retry: { retries: 0, baseMs: 1, maxMs: 1 },
  })
  const adult = generatePopulation({ citizens: 50 }).livingAdults()[0]!
  tt.match(await runtime.invoke('civil.getAddress', { regnum: adult.regnum }), { regnum: adult.regnum })
  tt.match(await runtime.invoke('khur.getCitizenAddress', { regnum: adult.regnum }), { regnum: adult.regnum })
})
