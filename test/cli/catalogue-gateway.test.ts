import type { AddressInfo } from 'node:net'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { buildTestApp } from '../helpers/app.ts'
import { cliWith, lockEmbeddedStore, NO_GATEWAY, ownDir } from '../helpers/catalogue-cli.ts'

// `npm run catalogue` beside a gateway on the embedded store: through its
// admin API, and what it says when the store is locked and nobody answers.
// Every command is a new process loading the gateway's modules: on a busy
// machine that alone takes seconds.

t.test('with the gateway running on the embedded store, the command goes through its admin API', async (tt) => {
  const { app, dataDir } = await buildTestApp(tt, { dataDir: ownDir(tt) })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as AddressInfo).port
  lockEmbeddedStore(dataDir)
  const dir = join(dataDir, 'out')
  mkdirSync(dir)
  // No DATABASE_URL: on its own the command would need the locked embedded store.
  const cli = cliWith({ DATA_DIR: dataDir, PORT: String(port) })

  const exported = await cli('export', join(dir, 'cat.yaml'))
  tt.equal(exported.code, 0, exported.stderr)
  tt.match(exported.stderr, /through the gateway at http:\/\/127\.0\.0\.1:/)
  const doc = parseYaml(readFileSync(join(dir, 'cat.yaml'), 'utf8'))
  tt.equal(doc.units.length, 2170)

  const bad = structuredClone(doc)
  bad.services[0].agency = 'NOPE'
  writeFileSync(join(dir, 'bad.yaml'), toYaml(bad))
  const refused = await cli('import', join(dir, 'bad.yaml'))
  tt.equal(refused.code, 65, refused.stderr)
  tt.match(refused.stderr, `/services/${doc.services[0].code}/agency: no agency NOPE`)

  doc.agencies[0].name.en = 'Renamed through the gateway'
  writeFileSync(join(dir, 'good.yaml'), toYaml(doc))
  const ok = await cli('import', join(dir, 'good.yaml'))
  tt.equal(ok.code, 0, ok.stderr)
  tt.equal((await app.catalogue.store.draft()).document.agencies[0]!.name.en, 'Renamed through the gateway')

  // A token the gateway does not accept: one line, not a stack trace.
  const forged = await cliWith({ DATA_DIR: dataDir, PORT: String(port), GATEWAY_TOKEN: 'not-a-token' })('export', '-')
  tt.equal(forged.code, 1)
  tt.match(forged.stderr, /answered 401 .*GATEWAY_TOKEN/)
  tt.equal(forged.stderr.trim().split('\n').length, 1, forged.stderr)

  // An explicit GATEWAY_URL that does not answer is said so, in one line.
  const away = await cliWith({ DATA_DIR: dataDir, GATEWAY_URL: 'http://127.0.0.1:9' })('export', '-')
  tt.equal(away.code, 1)
  tt.match(away.stderr, /^error: no gateway answers at http:\/\/127\.0\.0\.1:9/)
})

t.test('the embedded store locked and no gateway answering: one line, no stack trace', async (tt) => {
  const dataDir = ownDir(tt)
  lockEmbeddedStore(dataDir)
  const res = await cliWith({ ...NO_GATEWAY, DATA_DIR: dataDir })('export', '-')
  tt.equal(res.code, 1)
  tt.match(res.stderr, /^error: the embedded store in .* is in use by process \d+/)
  tt.equal(res.stderr.trim().split('\n').length, 1, res.stderr)
  tt.notMatch(res.stderr, /\n\s+at /)
})
