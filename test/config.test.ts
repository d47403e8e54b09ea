import t from 'tap'
import { loadConfig } from '../src/config.ts'

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
    roles: ['citizen', 'officer', 'admin', 'partner'],
  }])
})
