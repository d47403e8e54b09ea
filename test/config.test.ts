import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { assertDevelopmentAllowed, developmentConveniences, developmentRefusal, exposure, loadConfig } from '../src/config.ts'

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
    CONSOLE_OIDC_ISSUER: 'https://login.example.mn',
    CONSOLE_OIDC_CLIENT_SECRET: 'a-secret-from-the-provider',
  }
  tt.equal(developmentRefusal(loadConfig({})), null, 'loopback: development mode is fine')
  tt.equal(developmentRefusal(loadConfig({ HOST: 'localhost' })), null)
  tt.equal(developmentRefusal(loadConfig({ HOST: '0.0.0.0', ...production })), null, 'nothing development-only: fine anywhere')
  tt.equal(developmentRefusal(loadConfig({ HOST: '0.0.0.0', OSS_DEVELOPMENT: 'true' })), null, 'said so explicitly')
  tt.same(developmentConveniences(loadConfig(production)), [])
  tt.same(developmentConveniences(loadConfig({})).flatMap((c) => c.variables),
    ['AUTH_ISSUERS', 'CONSOLE_OIDC_ISSUER', 'CONSOLE_OIDC_CLIENT_SECRET', 'EXCHANGE_URL', 'BUS_SIGNING_KEYS_FILE', 'BUS_XYP_PRIVATE_KEY_FILE', 'BUS_XYP_ACCESS_TOKEN'])

  const refused = developmentRefusal(loadConfig({ HOST: '0.0.0.0' }))
  tt.match(refused, /HOST=0\.0\.0\.0 is not a loopback address/)
  tt.match(refused, /Set AUTH_ISSUERS, CONSOLE_OIDC_ISSUER, CONSOLE_OIDC_CLIENT_SECRET, EXCHANGE_URL, BUS_SIGNING_KEYS_FILE, BUS_XYP_PRIVATE_KEY_FILE, BUS_XYP_ACCESS_TOKEN/)
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
