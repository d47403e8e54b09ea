import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'

// A token in a URL is refused on every route, and a valid one is revoked on the
// way: a copy left in a proxy's log or a browser's history is worth nothing.

t.test('a token in the query string is refused, and revoked, whatever the parameter, route or encoding', async (tt) => {
  const { app, token } = await buildTestApp(tt, { env: { LOG_LEVEL: 'silent' } })
  const cases: Array<[string, (tok: string) => string]> = [
    ['?jwt= on a protected route', (tok) => `/v1/me?jwt=${tok}`],
    ['?access_token= (RFC 6750 form) on a protected route', (tok) => `/v1/me?access_token=${tok}`],
    ['?token= on a public route', (tok) => `/v1/services?token=${tok}`],
    ['percent-encoded', (tok) => `/v1/me?x=${encodeURIComponent(tok).replaceAll('.', '%2E')}`],
    ['inside another value', (tok) => `/v1/services?q=${encodeURIComponent(`see ${tok} here`)}`],
    ['on a route that does not exist', (tok) => `/v1/nothing-here?jwt=${tok}`],
  ]
  for (const [what, url] of cases) {
    const admin = await token('admin')
    tt.equal((await app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${admin}` } })).statusCode, 200, `${what}: usable before`)
    const res = await app.inject({ method: 'GET', url: url(admin) })
    tt.equal(res.statusCode, 400, what)
    tt.match(res.headers['content-type'], /^application\/problem\+json/, what)
    tt.match(res.json(), { code: 'TOKEN_IN_URL', detail: /Authorization/ }, what)
    const replay = await app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${admin}` } })
    tt.match(replay.json(), { status: 401, code: 'TOKEN_REVOKED' }, `${what}: the token is revoked`)
  }
  const forged = (await token('admin')).replace(/\.[^.]+$/, '.AAAA')
  tt.match((await app.inject({ method: 'GET', url: `/v1/me?jwt=${forged}` })).json(), { code: 'TOKEN_IN_URL' }, 'a forged token is refused the same way')
  const fine = await app.inject({ method: 'GET', url: '/v1/services?q=eyJ' })
  tt.not(fine.json().code, 'TOKEN_IN_URL', 'text that merely starts like a token is not one')
})
