import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { cliWith, NO_GATEWAY, ownDir } from '../helpers/catalogue-cli.ts'
import { dropSchema, TEST_DATABASE_URL, uniqueName } from '../helpers/services.ts'

// `npm run catalogue` on the database directly (beside a running gateway:
// catalogue-gateway.test.ts). Every command is a new process loading the
// gateway's modules: on a busy machine that alone takes seconds, so the cases
// are split over two files.

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
