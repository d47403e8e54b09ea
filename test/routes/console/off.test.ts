import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'

t.test('where other machines reach the gateway and no provider is configured, the console is off and says why', async (t) => {
  const { app } = await buildTestApp(t, { env: { TRUST_PROXY: 'true' } })
  for (const url of ['/console', '/console/', '/console/login', '/console/catalogue']) {
    const res = await app.inject({ method: 'GET', url, headers: { accept: 'application/json' } })
    t.equal(res.statusCode, 404, url)
    t.match(res.json(), { code: 'CONSOLE_OFF', detail: /CONSOLE_OIDC_ISSUER is not set.*TRUST_PROXY=true.*set CONSOLE_OIDC_ISSUER and CONSOLE_OIDC_CLIENT_SECRET/ })
  }
  const idp = await app.inject({ method: 'GET', url: '/dev-idp/.well-known/openid-configuration' })
  t.equal(idp.statusCode, 404, 'no development provider')
})
