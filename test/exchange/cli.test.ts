import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { parseRegnum } from '../../src/domain/regnum.ts'
import { generatePopulation } from '../../src/exchange/population.ts'
import { startExchange } from '../../src/exchange/index.ts'

const run = promisify(execFile)
const root = join(import.meta.dirname, '..', '..')
const node = join(root, 'node_modules', '.bin', 'node')

t.test('sample N prints exactly N valid registration numbers and nothing else', async (t) => {
  const { stdout, stderr } = await run(node, ['src/exchange/main.ts', 'sample', '5'], { cwd: root, env: { ...process.env, EXCHANGE_SEED: '', EXCHANGE_CITIZENS: '' } })
  t.equal(stderr, '')
  const lines = stdout.split('\n')
  t.equal(lines.pop(), '', 'ends with a newline')
  t.equal(lines.length, 5)
  for (const line of lines) t.ok(parseRegnum(line).ok, line)
  const population = generatePopulation()
  for (const line of lines) t.ok(population.byRegnum(line), `${line} is registered in the default population`)
  t.equal(new Set(lines).size, 5)
})

t.test('sample honours --seed', async (t) => {
  const a = await run(node, ['src/exchange/main.ts', 'sample', '3', '--seed', 'other'], { cwd: root })
  const b = await run(node, ['src/exchange/main.ts', 'sample', '3'], { cwd: root, env: { ...process.env, EXCHANGE_SEED: '' } })
  t.not(a.stdout, b.stdout)
  const population = generatePopulation({ seed: 'other' })
  for (const line of a.stdout.trim().split('\n')) t.ok(population.byRegnum(line))
})

t.test('startExchange listens and closes', async (t) => {
  const running = await startExchange({ port: 0, citizens: 50, seed: 'cli' })
  t.match(running.url, /^http:\/\/127\.0\.0\.1:[0-9]+$/)
  const res = await fetch(`${running.url}/health`)
  t.same(await res.json(), { status: 'ok', seed: 'cli', citizens: 50 })
  await running.close()
  await t.rejects(fetch(`${running.url}/health`))
})
