import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { launchBrowser } from './helpers/browser.ts'
import { eventually } from './helpers/eventually.ts'
import { freePort } from './helpers/redis-server.ts'
import { TEST_REDIS_URL, uniqueName } from './helpers/services.ts'

// The README's proof: its walk-through, run as written against `npm start`
// from a fresh DATA_DIR, and stopped the way the README says. Every shell
// block of the "Walk-through" section runs in one bash, in order; each
// command's output must show the lines the README prints under it
// (`# …`, where `...` stands for anything; text after three spaces is a
// remark). Only `localhost:3000` is changed, to a port of the test's own.

const ROOT = join(import.meta.dirname, '..')

interface Step { commands: string[], expected: string[] }

export function walkThrough (readme: string, title = 'Walk-through'): Step[] {
  const section = readme.split(/^## /m).find((s) => s.startsWith(title))
  if (section === undefined) throw new Error(`the README has no "${title}" section`)
  const steps: Step[] = []
  for (const [, block] of section.matchAll(/^```sh\n([\s\S]*?)^```/gm)) {
    let step: Step | null = null
    for (const line of block!.split('\n')) {
      if (line.trim() === '') {
        step = null
        continue
      }
      if (line.startsWith('#')) {
        // A comment before any command is prose, not output.
        if (step !== null && step.commands.length > 0) step.expected.push(line.replace(/^# ?/, '').split(/ {3,}/)[0]!)
        continue
      }
      if (step === null || step.expected.length > 0) {
        step = { commands: [], expected: [] }
        steps.push(step)
      }
      step.commands.push(line)
    }
  }
  return steps
}

function pattern (expected: string): RegExp {
  const parts = expected.split(/\.\.\.|…/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  return new RegExp(`^${parts.join('.*')}$`)
}

// Each expected line, in order, among the output's lines.
function shows (output: string, expected: string[]): string | null {
  const lines = output.replace(/\r/g, '').split('\n').map((l) => l.trim())
  let at = 0
  for (const want of expected) {
    const re = pattern(want.trim())
    const found = lines.findIndex((l, i) => i >= at && re.test(l))
    if (found === -1) return want
    at = found + 1
  }
  return null
}

t.test('the README walk-through runs as written against `npm start`, which stops when npm is stopped', async (tt) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  // The walk-through, then a citizen's consent at the counter, then a
  // partner system trying the DCI face.
  const consent = walkThrough(readme, 'Citizens\' consent')
  tt.ok(consent.length >= 6, `${consent.length} steps of the consent section`)
  const partner = walkThrough(readme, 'Partner systems through the DCI standard')
  tt.ok(partner.length >= 5, `${partner.length} steps of the DCI section`)
  const steps = [...walkThrough(readme), ...consent, ...partner]
  tt.ok(steps.length >= 5, `${steps.length} steps`)
  tt.ok(steps.some((s) => s.expected.length > 0), 'the walk-through shows what to expect')

  const port = await freePort()
  const dataDir = tt.testdir()
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(DATABASE_|REDIS_|AUTH_|BUS_|EXCHANGE_|PORT$|HOST$|DATA_DIR$|SHUTDOWN_|DECISION_|OSS_)/.test(k)) env[k] = v
  }
  Object.assign(env, { PORT: String(port), EXCHANGE_PORT: String(await freePort()), DATA_DIR: dataDir, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: `test:${uniqueName('readme')}` })

  const npm = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let serverOut = ''
  npm.stdout.on('data', (d) => { serverOut += String(d) })
  npm.stderr.on('data', (d) => { serverOut += String(d) })
  const npmExit = once(npm, 'exit')
  tt.teardown(() => { if (npm.exitCode === null) npm.kill('SIGKILL') })
  const base = `http://127.0.0.1:${port}`
  await eventually(async () => {
    if (npm.exitCode !== null) throw new Error(`npm start exited: ${serverOut.slice(-2000)}`)
    const res = await request(`${base}/health/ready`).catch(() => null)
    if (res === null) return undefined
    await res.body.dump()
    return res.statusCode === 200 || undefined
  }, 180000, 250)

  // The walk-through starts in a browser: the console, signed in as written.
  const consoleText = readme.split(/^### /m).find((x) => x.startsWith('The console')) ?? ''
  const consoleUrl = /open (http:\/\/localhost:3000\/console) in a browser/.exec(consoleText)?.[1]
  const user = /choose \*\*(\w+)\*\*/.exec(consoleText)?.[1]
  tt.ok(consoleUrl !== undefined && user !== undefined, 'the README says where the console is and whom to sign in as')
  const browser = await launchBrowser(tt)
  const page = await (await browser.newContext({ locale: 'en-GB' })).newPage()
  await page.goto(consoleUrl!.replace('localhost:3000', `localhost:${port}`))
  await page.locator(`input[name=user][value=${user!}]`).check()
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL(/\/console\/$/)
  const home = await page.locator('body').innerText()
  for (const part of ['Service catalogue', 'Monitoring', 'Operations', 'Queue dashboard', 'administrator']) {
    tt.match(home, part, `the console's home page offers ${part}, as the README says`)
  }

  const marker = (i: number) => `@@step ${i}@@`
  const script = ['set -euo pipefail', ...steps.flatMap((s, i) => [...s.commands, `printf '\\n%s\\n' '${marker(i)}'`])]
    .join('\n').replaceAll('localhost:3000', `localhost:${port}`)
  // In the test's own directory (inside the project, so npm finds its scripts):
  // whatever the walk-through writes stays there.
  const bash = spawn('bash', ['-c', script], { cwd: dataDir, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  bash.stdout.on('data', (d) => { out += String(d) })
  bash.stderr.on('data', (d) => { err += String(d) })
  const [code] = await once(bash, 'exit')
  tt.equal(code, 0, `the walk-through ran to its end; stderr: ${err.slice(-2000)}`)
  let from = 0
  steps.forEach((step, i) => {
    const end = out.indexOf(marker(i), from)
    const output = end === -1 ? out.slice(from) : out.slice(from, end)
    from = end === -1 ? out.length : end + marker(i).length
    if (step.expected.length === 0) return
    const missing = shows(output, step.expected)
    tt.equal(missing, null, `${step.commands.join(' ⏎ ').slice(0, 160)}\n  printed: ${output.trim().slice(0, 1500)}`)
  })

  // Stopped as the README says: stopping npm stops the gateway, in order.
  npm.kill('SIGTERM')
  await npmExit
  await eventually(async () => (await request(`${base}/health/live`).then(async (r) => { await r.body.dump(); return false }, () => true)) || undefined, 60000)
  tt.match(serverOut, /"signal":"SIGTERM".*shutting down/, 'the gateway itself got the signal and shut down')
})
