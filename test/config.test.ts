import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { assertDevelopmentAllowed, consoleOff, developmentConveniences, developmentRefusal, exposure, loadConfig } from '../src/config.ts'

t.test('defaults give a working development gateway', async (tt) => {
  const config = loadConfig({})
  tt.match(config, {
    host: '127.0.0.1',
    port: 3000,
    database: { url: undefined, schema: 'public' },
    redis: { url: 'redis://127.0.0.1:6379' },
    http: { bodyLimitBytes: 1048576 },
    auth: { issuers: [], clockSkewSeconds: 30 },
  })
  // The socket inactivity timeout also runs while an answer is being made:
  // on, it cut a slow catalogue import's connection while the import went on.
  tt.match(config.http, { connectionTimeoutMs: 0, requestTimeoutMs: 30000, keepAliveTimeoutMs: 72000 })
})

t.test('a bad value names its variable', async (tt) => {
  tt.throws(() => loadConfig({ PORT: 'eighty' }), { code: 'CONFIG_INVALID', message: /PORT must be integer/ })
  tt.throws(() => loadConfig({ REDIS_URL: 'localhost:6379' }), { message: /REDIS_URL/ })
  tt.throws(() => loadConfig({ DATABASE_URL: 'mysql://x' }), { message: /DATABASE_URL/ })
  tt.throws(() => loadConfig({ AUTH_CLOCK_SKEW_SECONDS: '300' }), { message: /AUTH_CLOCK_SKEW_SECONDS must be <= 30/ })
  tt.throws(() => loadConfig({ AUTH_ISSUERS: 'not json' }), { message: /AUTH_ISSUERS must be a JSON array/ })
  tt.throws(() => loadConfig({ AUTH_ISSUERS: '[{"issuer":"i","audience":"a","jwksFile":"f","algorithms":["HS256"]}]' }), { message: /AUTH_ISSUERS\/0\/algorithms\/0/ })
  tt.throws(() => loadConfig({ AUTH_ISSUERS: '[{"issuer":"i","audience":"a","jwksUri":"http://plain"}]' }), { message: /AUTH_ISSUERS/ })
})

t.test('issuers get safe defaults', async (tt) => {
  const config = loadConfig({ AUTH_ISSUERS: '[{"issuer":"https://dan.example.mn","audience":"oss-gateway","jwksUri":"https://dan.example.mn/jwks"}]' })
  tt.same(config.auth.issuers, [{
    issuer: 'https://dan.example.mn',
    audience: 'oss-gateway',
    jwksUri: 'https://dan.example.mn/jwks',
    algorithms: ['EdDSA', 'ES256'],
    typ: 'at+jwt',
    roles: ['citizen', 'officer', 'admin', 'partner', 'analyst'],
  }])
})

t.test('development mode, metrics and worker settings', async (tt) => {
  tt.match(loadConfig({}), { development: false, metrics: {}, workerPort: 0 })
  tt.match(loadConfig({ OSS_DEVELOPMENT: 'true', METRICS_TOKEN: 'a-long-enough-token', WORKER_PORT: '9464' }),
    { development: true, metrics: { token: 'a-long-enough-token' }, workerPort: 9464 })
  tt.throws(() => loadConfig({ METRICS_TOKEN: 'short' }), { code: 'CONFIG_INVALID', message: /METRICS_TOKEN/ })
  tt.throws(() => loadConfig({ METRICS_TOKEN: 'has a space in it, sadly' }), { message: /METRICS_TOKEN/ })
  tt.throws(() => loadConfig({ OSS_DEVELOPMENT: 'maybe' }), { message: /OSS_DEVELOPMENT/ })
  tt.throws(() => loadConfig({ WORKER_PORT: '70000' }), { message: /WORKER_PORT/ })
})

t.test('the development-mode rule', async (tt) => {
  const production = {
    AUTH_ISSUERS: '[{"issuer":"https://portal.example.mn","audience":"oss-gateway","jwksUri":"https://portal.example.mn/jwks"}]',
    EXCHANGE_URL: 'https://khur.example.mn',
    BUS_SIGNING_KEYS_FILE: '/run/secrets/member.jwks.json',
    BUS_XYP_PRIVATE_KEY_FILE: '/run/secrets/xyp.pem',
    BUS_XYP_ACCESS_TOKEN: 'issued-by-khur',
  }
  tt.equal(developmentRefusal(loadConfig({})), null, 'loopback: development mode is fine')
  tt.equal(developmentRefusal(loadConfig({ HOST: 'localhost' })), null)
  tt.equal(developmentRefusal(loadConfig({ HOST: '0.0.0.0', ...production })), null, 'nothing development-only: fine anywhere')
  tt.equal(developmentRefusal(loadConfig({ HOST: '0.0.0.0', OSS_DEVELOPMENT: 'true' })), null, 'said so explicitly')
  tt.same(developmentConveniences(loadConfig(production)), [])
  tt.same(developmentConveniences(loadConfig({})).flatMap((c) => c.variables),
    ['AUTH_ISSUERS', 'EXCHANGE_URL', 'BUS_SIGNING_KEYS_FILE', 'BUS_XYP_PRIVATE_KEY_FILE', 'BUS_XYP_ACCESS_TOKEN'])

  const refused = developmentRefusal(loadConfig({ HOST: '0.0.0.0' }))
  tt.match(refused, /HOST=0\.0\.0\.0 is not a loopback address/)
  tt.match(refused, /Set AUTH_ISSUERS, EXCHANGE_URL, BUS_SIGNING_KEYS_FILE, BUS_XYP_PRIVATE_KEY_FILE, BUS_XYP_ACCESS_TOKEN/)
  tt.match(refused, /OSS_DEVELOPMENT=true/)
  tt.notMatch(refused, /\n/, 'one line')
  tt.match(developmentRefusal(loadConfig({ ...production, EXCHANGE_URL: undefined, HOST: '::' })), /Set EXCHANGE_URL;/)
  tt.match(developmentRefusal(loadConfig({ TRUST_PROXY: 'true' })), /TRUST_PROXY=true/, 'a proxy in front exposes a loopback bind')
  tt.throws(() => assertDevelopmentAllowed(loadConfig({ HOST: '10.0.0.4' })), { name: 'ConfigError', code: 'CONFIG_INVALID' })

  tt.equal(exposure(loadConfig({ HOST: '127.0.0.9' })), null)
  tt.equal(exposure(loadConfig({ HOST: '::1' })), null)
  tt.match(exposure(loadConfig({ HOST: '192.168.1.5' })), /not a loopback address/)
})

t.test('.env.example names every setting with its default', async (tt) => {
  const example = readFileSync(join(import.meta.dirname, '..', '.env.example'), 'utf8')
  const listed = new Map([...example.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]))
  const defaults = loadConfig({})
  // Every variable the schema knows is documented, and a line without '#' is
  // the default itself: loading the file's values changes nothing.
  const active = Object.fromEntries([...example.matchAll(/^([A-Z][A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]))
  tt.same(loadConfig(active), defaults)
  for (const name of ['OSS_DEVELOPMENT', 'METRICS_TOKEN', 'WORKER_PORT', 'AUTH_ISSUERS', 'EXCHANGE_URL', 'HOST', 'PORT']) {
    tt.ok(listed.has(name), `${name} is in .env.example`)
  }
})

t.test('the console\'s identity provider settings', async (tt) => {
  const console = loadConfig({ CONSOLE_OIDC_ISSUER: 'https://login.example.mn', CONSOLE_OIDC_CLIENT_SECRET: 's3cret', CONSOLE_ROLE_MAP: 'oss-admins=admin' }).console
  tt.match(console, { oidc: { issuer: 'https://login.example.mn', clientId: 'oss-console', clientSecret: 's3cret', scope: 'openid profile' }, roleClaim: 'oss_role', sessionIdleMs: 1800000, sessionMaxMs: 43200000 })
  tt.same([...console.roleMap], [['oss-admins', 'admin']])
  tt.equal(loadConfig({}).console.oidc, undefined, 'none: the development provider')
  tt.throws(() => loadConfig({ CONSOLE_OIDC_ISSUER: 'http://login.example.mn', CONSOLE_OIDC_CLIENT_SECRET: 's' }), { code: 'CONFIG_INVALID', message: /CONSOLE_OIDC_ISSUER must be https/ })
  tt.ok(loadConfig({ CONSOLE_OIDC_ISSUER: 'http://127.0.0.1:8080/realms/oss', CONSOLE_OIDC_CLIENT_SECRET: 's' }).console.oidc, 'plain http on this machine')
  tt.throws(() => loadConfig({ CONSOLE_OIDC_ISSUER: 'https://login.example.mn' }), { message: /CONSOLE_OIDC_CLIENT_SECRET is required/ })
  tt.throws(() => loadConfig({ CONSOLE_ROLE_MAP: 'admins=root' }), { message: /CONSOLE_ROLE_MAP: "admins=root"/ })
  tt.throws(() => loadConfig({ CONSOLE_SESSION_IDLE_MS: '5' }), { message: /CONSOLE_SESSION_IDLE_MS/ })

  // The development provider only where nobody else reaches the gateway.
  tt.equal(consoleOff(loadConfig({})), null)
  tt.match(consoleOff(loadConfig({ HOST: '0.0.0.0' })), /the console is off: CONSOLE_OIDC_ISSUER is not set.*HOST=0\.0\.0\.0/)
  tt.match(consoleOff(loadConfig({ TRUST_PROXY: 'true' })), /TRUST_PROXY/)
  tt.equal(consoleOff(loadConfig({ HOST: '0.0.0.0', OSS_DEVELOPMENT: 'true' })), null, 'said so explicitly')
  tt.equal(consoleOff(loadConfig({ HOST: '0.0.0.0', CONSOLE_OIDC_ISSUER: 'https://login.example.mn', CONSOLE_OIDC_CLIENT_SECRET: 's' })), null)
})
