import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { spawnServer, type ServerProcess } from '../helpers/process.ts'
import { ownServices } from '../helpers/services.ts'

// Finding 7: development conveniences (the self-generated issuer, the bundled
// bus emulator with synthetic citizens, development member keys) must not be
// reachable from other machines unless someone says so.

const ROOT = join(import.meta.dirname, '..', '..')
const SERVER = join(ROOT, 'src', 'server.ts')
const WORKER = join(ROOT, 'src', 'worker.ts')

// PostgreSQL and Redis of the test's own, so nothing is shared with other tests.
function services (tt: Test): Record<string, string> {
  return {
    ...ownServices(tt, 'devmode'),
    PORT: '0',
    WORKER_PORT: '0',
    OSS_DEVELOPMENT: 'false',
    METRICS_TOKEN: '',
    TRUST_PROXY: 'false',
  }
}

// Whichever comes first: the process says it is up, or it exits.
async function outcome (proc: ServerProcess, up: RegExp): Promise<{ started: true } | { started: false, code: number | null }> {
  return Promise.race([
    proc.waitFor(up).then(() => ({ started: true as const })),
    proc.exit.then(({ code }) => ({ started: false as const, code })),
  ])
}

function spawn (tt: Test, script: string, env: Record<string, string>): ServerProcess {
  const proc = spawnServer(script, env)
  tt.teardown(() => { proc.child.kill('SIGKILL') })
  return proc
}

t.test('loopback helpers: 127.0.0.0/8, ::1 and localhost are loopback, nothing else', async (tt) => {
  const { isLoopbackHost } = await import('../../src/config.ts') as { isLoopbackHost?: (host: string) => boolean }
  tt.type(isLoopbackHost, 'function', 'config.ts exports isLoopbackHost')
  if (isLoopbackHost === undefined) return
  for (const host of ['127.0.0.1', '127.0.0.2', '127.255.255.254', '::1', '0:0:0:0:0:0:0:1', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) {
    tt.ok(isLoopbackHost(host), `${host} is loopback`)
  }
  for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.10', '128.0.0.1', 'gateway.example.mn', 'localhost.example.mn', '::ffff:10.0.0.1', '']) {
    tt.notOk(isLoopbackHost(host), `${JSON.stringify(host)} is not loopback`)
  }
})

t.test('HOST=0.0.0.0 with no issuers and no bus: the gateway refuses in one line naming what to set', async (tt) => {
  const server = spawn(tt, SERVER, { ...services(tt), HOST: '0.0.0.0' })
  const result = await outcome(server, /Server listening at/)
  tt.same(result, { started: false, code: 78 }, 'exits with EX_CONFIG instead of listening')
  const lines = server.stderr().trim().split('\n')
  tt.equal(lines.length, 1, 'one line')
  tt.match(lines[0], /^error: /)
  for (const name of ['AUTH_ISSUERS', 'EXCHANGE_URL', 'BUS_SIGNING_KEYS_FILE', 'BUS_XYP_PRIVATE_KEY_FILE', 'OSS_DEVELOPMENT', 'HOST']) {
    tt.match(lines[0], new RegExp(name), `names ${name}`)
  }
  tt.match(lines[0], /0\.0\.0\.0/, 'says which address')
})

t.test('real issuers and bus but development member keys on a public address: refused, naming the key files', async (tt) => {
  const server = spawn(tt, SERVER, {
    ...services(tt),
    HOST: '0.0.0.0',
    AUTH_ISSUERS: '[{"issuer":"https://portal.example.mn","audience":"oss-gateway","jwksUri":"https://portal.example.mn/jwks"}]',
    EXCHANGE_URL: 'http://127.0.0.1:9',
    BUS_XYP_ACCESS_TOKEN: 'a-token-from-khur',
  })
  tt.same(await outcome(server, /Server listening at/), { started: false, code: 78 })
  const line = server.stderr().trim()
  tt.match(line, /BUS_SIGNING_KEYS_FILE/)
  tt.match(line, /BUS_XYP_PRIVATE_KEY_FILE/)
  tt.notMatch(line, /AUTH_ISSUERS|EXCHANGE_URL/, 'names only what is missing')
})

t.test('HOST=0.0.0.0 with OSS_DEVELOPMENT=true starts, and warns loudly', async (tt) => {
  const server = spawn(tt, SERVER, { ...services(tt), HOST: '0.0.0.0', OSS_DEVELOPMENT: 'true' })
  const result = await outcome(server, /Server listening at/)
  tt.same(result, { started: true }, server.stderr())
  if (!result.started) return
  const warning = await server.waitFor(/DEVELOPMENT MODE/)
  tt.match(JSON.parse(warning), { level: 40 })
  // The message itself (the data directory's name holds the test's title).
  const exposed = server.lines.map((l) => JSON.parse(l) as { level: number, msg: string })
    .find((l) => l.level === 40 && /OSS_DEVELOPMENT/.test(l.msg) && /0\.0\.0\.0/.test(l.msg))
  tt.ok(exposed, 'a warning names OSS_DEVELOPMENT and the address')
  const port = new URL(await server.url).port
  const live = await request(`http://127.0.0.1:${port}/health/live`)
  tt.equal(live.statusCode, 200)
  await live.body.dump()
  server.child.kill('SIGTERM')
  tt.equal((await server.exit).code, 0)
})

t.test('loopback with no set-up still starts in development mode', async (tt) => {
  const env = services(tt)
  const server = spawn(tt, SERVER, { ...env, HOST: '127.0.0.1' })
  tt.same(await outcome(server, /Server listening at/), { started: true }, server.stderr())
  tt.ok(server.lines.some((l) => /DEVELOPMENT MODE/.test(l)))
  server.child.kill('SIGTERM')
  tt.equal((await server.exit).code, 0)
})

t.test('the worker applies the same rule', async (tt) => {
  const refused = spawn(tt, WORKER, { ...services(tt), HOST: '0.0.0.0' })
  tt.same(await outcome(refused, /delivery worker ready/), { started: false, code: 78 }, 'refuses on 0.0.0.0')
  const line = refused.stderr().trim()
  tt.equal(line.split('\n').length, 1)
  for (const name of ['AUTH_ISSUERS', 'EXCHANGE_URL', 'OSS_DEVELOPMENT']) tt.match(line, new RegExp(name), `names ${name}`)

  const loopback = spawn(tt, WORKER, { ...services(tt), HOST: '127.0.0.1' })
  tt.same(await outcome(loopback, /delivery worker ready/), { started: true }, loopback.stderr())
  loopback.child.kill('SIGTERM')
  tt.equal((await loopback.exit).code, 0)
})

t.test('the image binds 0.0.0.0 and does not opt into development mode', async (tt) => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
  const env = Object.fromEntries([...dockerfile.matchAll(/^\s*(?:ENV\s+)?([A-Z_]+)=(\S+?)\s*\\?$/gm)].map((m) => [m[1], m[2]]))
  tt.equal(env.HOST, '0.0.0.0')
  tt.not(env.OSS_DEVELOPMENT, 'true', 'development mode stays refused in the image')
  const { loadConfig, developmentRefusal } = await import('../../src/config.ts') as typeof import('../../src/config.ts') & {
    developmentRefusal?: (config: ReturnType<typeof loadConfig>) => string | null
  }
  tt.type(developmentRefusal, 'function', 'config.ts exports developmentRefusal')
  if (developmentRefusal === undefined) return
  tt.match(developmentRefusal(loadConfig(env)), /AUTH_ISSUERS/, 'the image with nothing else set refuses')
})
