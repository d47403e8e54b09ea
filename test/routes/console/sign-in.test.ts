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
