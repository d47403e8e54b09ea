import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { dropSchema, TEST_DATABASE_URL, uniqueName } from '../helpers/services.ts'

const run = promisify(execFile)
const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'catalogue.ts')

t.test('npm run catalogue -- export|import', async (tt) => {
  const schema = uniqueName('cli')
  tt.teardown(() => dropSchema(schema))
  const dir = tt.testdir()
  const env = { ...process.env, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, LOG_LEVEL: 'silent' }
  const cli = (...args: string[]) => run(process.execPath, [CLI, ...args], { env }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number, stdout: string, stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }))

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
  tt.match(bad.stderr, /\/services\/0\/agency/)
  tt.match(bad.stderr, /\/mobileRounds\/0\/bags\/0/)

  const good = parseYaml(readFileSync(join(dir, 'cat.yaml'), 'utf8'))
  good.agencies[0].name.en = 'Renamed from the command line'
  writeFileSync(join(dir, 'good.json'), JSON.stringify(good))
  const ok = await cli('import', join(dir, 'good.json'))
  tt.equal(ok.code, 0, ok.stderr)
  const again = await cli('export', '-')
  tt.equal(JSON.parse(again.stdout).agencies[0].name.en, 'Renamed from the command line')
  tt.equal((await cli('frobnicate', 'x')).code, 64)
})
