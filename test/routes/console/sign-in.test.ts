import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { browse, CookieJar, csrfOf, signIn } from '../../helpers/console.ts'

t.test('the console signs in through the development provider, with PKCE, and keeps a server-side session', async (t) => {
  const { app } = await buildTestApp(t)

  const jar = new CookieJar()
  const first = await app.inject({ method: 'GET', url: '/console/catalogue', headers: { accept: 'text/html' } })
  t.equal(first.statusCode, 303, 'a page without a session sends the browser to sign in')
  t.equal(first.headers.location, '/console/login?return=%2Fconsole%2Fcatalogue')

  const login = await app.inject({ method: 'GET', url: '/console/login?return=%2Fconsole%2Fcatalogue', headers: { host: '127.0.0.1:3000' } })
  t.equal(login.statusCode, 303)
  const authorize = new URL(String(login.headers.location))
  t.equal(authorize.pathname, '/dev-idp/auth')
  t.equal(authorize.searchParams.get('code_challenge_method'), 'S256', 'PKCE')
  t.ok(authorize.searchParams.get('state'), 'state')
  t.ok(authorize.searchParams.get('nonce'), 'nonce')
  t.match(String(login.headers['set-cookie']), /^oss_console_login=[^;]+; Path=\/console\/callback; Max-Age=600; HttpOnly; SameSite=Lax$/)

  const { jar: session, home } = await signIn(app, 'admin', '/console/catalogue')
  t.equal(home.res.statusCode, 200, home.res.body.slice(0, 300))
  t.match(home.res.body, /D\. Batbold|Д\. Батболд/, 'greets the signed-in person')
  t.match(home.res.body, /welfare\.child-money/, 'the page asked for')
  const sessionCookie = [...session.cookies.keys()]
  t.same(sessionCookie.filter((c) => c.startsWith('oss_console')), ['oss_console'], 'the sign-in cookie is gone, the session cookie is there')

  // Logout needs the session's CSRF token.
  const noToken = await browse(app, session, '/console/logout', { method: 'POST', form: {} })
  t.equal(noToken.res.statusCode, 403)
  t.match(noToken.res.body, /CSRF_INVALID/)
  const out = await browse(app, session, '/console/logout', { method: 'POST', form: { _csrf: csrfOf(home.res.body) } })
  t.match(out.url, /\/dev-idp\/session\/end|\/console\/signed-out/)
  const after = await app.inject({ method: 'GET', url: '/console/', headers: { cookie: `oss_console=${session.cookies.get('oss_console') ?? 'gone'}`, accept: 'text/html' } })
  t.equal(after.statusCode, 303, 'the ended session opens nothing')
  t.equal(jar.cookies.size, 0)
})

t.test('cookies are Secure exactly when the browser came over https', async (t) => {
  const { app } = await buildTestApp(t, { env: { TRUST_PROXY: 'true', OSS_DEVELOPMENT: 'true' } })
  const https = await app.inject({ method: 'GET', url: '/console/login', headers: { host: '127.0.0.1:3000', 'x-forwarded-proto': 'https' } })
  t.match(String(https.headers['set-cookie']), /; HttpOnly; Secure; SameSite=Lax$/)
  const http = await app.inject({ method: 'GET', url: '/console/login', headers: { host: '127.0.0.1:3000' } })
  t.notMatch(String(http.headers['set-cookie']), /Secure/)
})

t.test('a callback that this browser did not start, or with a wrong state, signs nobody in', async (t) => {
  const { app } = await buildTestApp(t)
  const stranger = await app.inject({ method: 'GET', url: '/console/callback?code=abc&state=xyz', headers: { accept: 'text/html' } })
  t.equal(stranger.statusCode, 401)
  t.match(stranger.body, /SIGN_IN_FAILED/)
  t.notMatch(String(stranger.headers['set-cookie'] ?? ''), /oss_console=/)

  // A real sign-in started, then the state changed on the way back.
  const jar = new CookieJar()
  const login = await browse(app, jar, '/console/login')
  const uid = /\/dev-idp\/interaction\/([^/?]+)/.exec(login.url)![1]
  const interaction = await app.inject({ method: 'POST', url: `/dev-idp/interaction/${uid}`, headers: { host: '127.0.0.1:3000', cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' }, payload: 'user=admin' })
  jar.take(interaction)
  const resumed = await app.inject({ method: 'GET', url: new URL(String(interaction.headers.location), 'http://127.0.0.1:3000').pathname, headers: { host: '127.0.0.1:3000', cookie: jar.header() } })
  const back = new URL(String(resumed.headers.location))
  t.equal(back.pathname, '/console/callback')
  back.searchParams.set('state', 'tampered')
  const tampered = await app.inject({ method: 'GET', url: `${back.pathname}${back.search}`, headers: { host: '127.0.0.1:3000', cookie: jar.header(), accept: 'text/html' } })
  t.equal(tampered.statusCode, 401, 'wrong state')
  t.match(tampered.body, /SIGN_IN_FAILED/)
  t.notMatch(String(tampered.headers['set-cookie'] ?? ''), /oss_console=/)
})

t.test('roles and CSRF on console routes', async (t) => {
  const { app } = await buildTestApp(t)
  const { jar, home } = await signIn(app, 'analyst')
  const catalogue = await browse(app, jar, '/console/catalogue')
  t.equal(catalogue.res.statusCode, 403, 'an analyst may not open the catalogue')
  t.match(catalogue.res.body, /ROLE_FORBIDDEN/)
  const crossSite = await browse(app, jar, '/console/logout', { method: 'POST', form: { _csrf: csrfOf(home.res.body) }, headers: { origin: 'https://evil.example' } })
  t.equal(crossSite.res.statusCode, 403, 'another site\'s Origin is refused even with the token')
  const wrong = await browse(app, jar, '/console/logout', { method: 'POST', form: { _csrf: 'x'.repeat(43) } })
  t.equal(wrong.res.statusCode, 403)
  const json = await app.inject({ method: 'POST', url: '/console/logout', headers: { cookie: jar.header(), accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' }, payload: '' })
  t.match(json.json(), { code: 'CSRF_INVALID', status: 403 }, 'problem+json for a client that asks for JSON')
})
