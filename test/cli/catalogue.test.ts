import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { buildTestApp } from '../helpers/app.ts'
import { dropSchema, TEST_DATABASE_URL, uniqueName } from '../helpers/services.ts'

const run = promisify(execFile)
const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'catalogue.ts')

// Port 9 (discard): no gateway answers there, so the command opens the store.
const NO_GATEWAY = { PORT: '9' }

function cliWith (env: Record<string, string | undefined>) {
  return (...args: string[]) => run(process.execPath, [CLI, ...args], { maxBuffer: 64 * 1024 * 1024, env: { PATH: process.env.PATH, LOG_LEVEL: 'silent', ...env } }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number, stdout: string, stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }))
}

// A directory of this run's own: tap's testdir() is named after the test, so
// two runs at once (several people on one tree) would share and wipe it.
function ownDir (tt: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'oss-catalogue-cli-'))
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

// What a running gateway on the embedded store leaves in DATA_DIR: the lock,
// held by a live process (this one).
function lockEmbeddedStore (dataDir: string): void {
  mkdirSync(join(dataDir, 'db'), { recursive: true })
  writeFileSync(join(dataDir, 'db', 'pglite.lock'), String(process.pid))
}

t.test('npm run catalogue -- export|import, on the database directly', async (tt) => {
  const schema = uniqueName('cli')
  tt.teardown(() => dropSchema(schema))
  const dir = ownDir(tt)
  const cli = cliWith({ ...NO_GATEWAY, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, DATA_DIR: dir })

  const exported = await cli('export', join(dir, 'cat.yaml'))
  tt.equal(exported.code, 0, exported.stderr)
  const doc = parseYaml(readFileSync(join(dir, 'cat.yaml'), 'utf8'))
  tt.equal(doc.units.length, 2170)

  doc.services[0].agency = 'NOPE'
  doc.mobileRounds[0].bags = ['000000']
  writeFileSync(join(dir, 'bad.yaml'), toYaml(doc))
  const bad = await cli('import', join(dir, 'bad.yaml'))
  tt.equal(bad.code, 65)
  tt.match(bad.stderr, /2 problem\(s\); nothing was changed/)
  tt.match(bad.stderr, `/services/${doc.services[0].code}/agency`)
  tt.match(bad.stderr, `/mobileRounds/${doc.mobileRounds[0].id}/bags/0`)

  const good = parseYaml(readFileSync(join(dir, 'cat.yaml'), 'utf8'))
  good.agencies[0].name.en = 'Renamed from the command line'
  writeFileSync(join(dir, 'good.json'), JSON.stringify(good))
  const ok = await cli('import', join(dir, 'good.json'))
  tt.equal(ok.code, 0, ok.stderr)
  const again = await cli('export', '-')
  tt.equal(JSON.parse(again.stdout).agencies[0].name.en, 'Renamed from the command line')
  tt.equal((await cli('frobnicate', 'x')).code, 64)
  const missing = await cli('import', join(dir, 'nothing-here.yaml'))
  tt.equal(missing.code, 66)
  tt.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr)
})

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
