import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { mintDevToken } from '../../src/cli/token.ts'

const run = promisify(execFile)

async function token (args: string[], dataDir: string): Promise<{ code: number, stdout: string, stderr: string }> {
  try {
    const { stdout, stderr } = await run('npm', ['run', '--silent', 'token', '--', ...args], { env: { ...process.env, DATA_DIR: dataDir } })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number, stdout: string, stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

t.test('--help prints usage and exits 0; no arguments print usage and fail', async (tt) => {
  const dir = tt.testdir()
  for (const flag of ['--help', '-h']) {
    const help = await token([flag], dir)
    tt.equal(help.code, 0, flag)
    tt.match(help.stdout, /usage: npm run --silent token -- <citizen\|officer\|admin\|partner\|analyst>/, flag)
    tt.match(help.stdout, /--unit/)
    tt.match(help.stdout, /--jkt/)
    tt.notMatch(help.stdout + help.stderr, /at .*\.ts:\d+/, 'no stack trace')
  }
  const bare = await token([], dir)
  tt.not(bare.code, 0)
  tt.match(bare.stderr, /usage:/)
  const unknownFlag = await token(['admin', '--colour'], dir)
  tt.not(unknownFlag.code, 0)
  tt.match(unknownFlag.stderr, /--colour/)
  tt.notMatch(unknownFlag.stderr, /at .*\.ts:\d+/, 'no stack trace')
})

t.test('an officer for a unit or agency missing from the catalogue is not minted', async (tt) => {
  const dir = tt.testdir()
  const unit = await token(['officer', '--unit', '0101', '--agency', 'GASR'], dir)
  tt.not(unit.code, 0)
  tt.equal(unit.stdout, '', 'no token printed')
  tt.match(unit.stderr, /unit "0101" is not in the catalogue/)
  const agency = await token(['officer', '--unit', '1101', '--agency', 'NOPE'], dir)
  tt.not(agency.code, 0)
  tt.match(agency.stderr, /agency "NOPE" is not in the catalogue/)
  await tt.rejects(mintDevToken(dir, { role: 'officer', unit: '0101', agency: 'GASR', ttlSeconds: 60 }), /0101/)
})

t.test('an analyst token names its unit, which must be in the catalogue', async (tt) => {
  const dir = tt.testdir()
  await tt.rejects(mintDevToken(dir, { role: 'analyst', ttlSeconds: 60 }), /needs --unit/)
  await tt.rejects(mintDevToken(dir, { role: 'analyst', unit: '99', ttlSeconds: 60 }), /unit "99" is not in the catalogue/)
  const ctx = await buildTestApp(tt, { dataDir: dir })
  const printed = await mintDevToken(dir, { role: 'analyst', unit: '62', ttlSeconds: 60 })
  const me = await ctx.app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${printed}` } })
  tt.equal(me.statusCode, 200, me.body)
  tt.match(me.json(), { role: 'analyst' })
})

t.test('a printed token is reusable: it works twice', async (tt) => {
  const { app, dataDir } = await buildTestApp(tt)
  const printed = await token(['officer', '--unit', '8322', '--agency', 'GOSW'], dataDir)
  tt.equal(printed.code, 0, printed.stderr)
  const lines = printed.stdout.split('\n').filter((l) => l !== '')
  tt.equal(lines.length, 1, 'prints the token and nothing else')
  for (let i = 0; i < 2; i++) {
    const res = await app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${lines[0]}` } })
    tt.equal(res.statusCode, 200, `use ${i + 1}: ${res.body}`)
  }
})

t.test('--jkt binds the token to a DPoP key', async (tt) => {
  const dir = tt.testdir()
  const printed = await token(['admin', '--jkt', 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'], dir)
  tt.equal(printed.code, 0, printed.stderr)
  const payload = JSON.parse(Buffer.from(printed.stdout.trim().split('.')[1]!, 'base64url').toString())
  tt.same(payload.cnf, { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' })
  const bad = await token(['admin', '--jkt', 'not a thumbprint'], dir)
  tt.not(bad.code, 0)
})

t.test('dpop-key and dpop-proof: a shell can call a gateway that requires DPoP, one token, a proof per request', async (tt) => {
  const { app, dataDir } = await buildTestApp(tt, { issuer: { dpop: { required: ['officer'] } } })
  const keyFile = `${dataDir}/client.jwk`
  const jkt = (await token(['dpop-key', keyFile], dataDir)).stdout.trim()
  tt.match(jkt, /^[A-Za-z0-9_-]{43}$/)
  const printed = (await token(['officer', '--unit', '8322', '--agency', 'GOSW', '--jkt', jkt], dataDir)).stdout.trim()
  for (let i = 0; i < 2; i++) {
    const proof = (await token(['dpop-proof', keyFile, 'GET', 'http://localhost/v1/me', printed], dataDir)).stdout.trim()
    const res = await app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `DPoP ${printed}`, dpop: proof } })
    tt.equal(res.statusCode, 200, `request ${i + 1}: ${res.body}`)
  }
})
