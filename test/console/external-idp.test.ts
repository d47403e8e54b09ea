import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import Provider from 'oidc-provider'
import { buildTestApp } from '../helpers/app.ts'
import { launchBrowser } from '../helpers/browser.ts'

// The console against an identity provider of its own (as a ministry's would
// be): discovered over HTTP, roles from a `groups` claim that only the
// userinfo endpoint gives, mapped by CONSOLE_ROLE_MAP; an account whose
// groups map to no role is refused with the reason.

const ACCOUNTS: Record<string, Record<string, unknown>> = {
  'bold': { name: 'Bold', groups: ['staff', 'oss-admins'] },
  'saraa': { name: 'Saraa', groups: ['m-e'], aimag: '62' },
  'nobody': { name: 'Nobody', groups: ['staff'] },
}

t.test('sign-in at a configured provider, roles mapped from its claims', async (t) => {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end()
  const server = createServer((req, res) => handler(req, res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const ctx = await buildTestApp(t, {
    env: {
      CONSOLE_OIDC_ISSUER: issuer,
      CONSOLE_OIDC_CLIENT_ID: 'oss-gateway-console',
      CONSOLE_OIDC_CLIENT_SECRET: 'a-secret-the-ministry-issued',
      CONSOLE_OIDC_SCOPE: 'openid profile groups',
      CONSOLE_ROLE_CLAIM: 'groups',
      CONSOLE_UNIT_CLAIM: 'aimag',
      CONSOLE_ROLE_MAP: 'oss-admins=admin,m-e=analyst',
    },
  })
  const base = await ctx.app.listen({ host: '127.0.0.1', port: 0 })
  t.equal((await ctx.app.inject({ method: 'GET', url: '/dev-idp/.well-known/openid-configuration' })).statusCode, 404, 'no development provider when one is configured')

  const provider = new Provider(issuer, {
    clients: [{ client_id: 'oss-gateway-console', client_secret: 'a-secret-the-ministry-issued', redirect_uris: [`${base}/console/callback`], post_logout_redirect_uris: [`${base}/console/signed-out`] }],
    claims: { openid: ['sub'], profile: ['name'], groups: ['groups', 'aimag'] },
    pkce: { required: () => true },
    async findAccount (_ctx, id) {
      const claims = ACCOUNTS[id]
      return claims === undefined ? undefined : { accountId: id, claims: async () => ({ sub: id, ...claims }) }
    },
  })
  handler = provider.callback()

  const browser = await launchBrowser(t)
  for (const [account, expected] of [['bold', /Bold · administrator/], ['saraa', /Saraa · analyst · 62/]] as const) {
    const context = await browser.newContext({ locale: 'en-GB' })
    const page = await context.newPage()
    await page.goto(`${base}/console/`)
    t.ok(page.url().startsWith(`${issuer}/interaction/`), `${account}: off to the provider`)
    // The provider's own development pages: a login, then a consent.
    await page.locator('input[name=login]').fill(account)
    await page.locator('input[name=password]').fill('any')
    await page.locator('button[type=submit]').click()
    await page.locator('button[type=submit]', { hasText: /continue/i }).click()
    await page.waitForURL(`${base}/console/`)
    t.match(await page.locator('header').innerText(), expected, `${account}: signed in with the mapped role`)
    await context.close()
  }

  const context = await browser.newContext({ locale: 'en-GB' })
  const page = await context.newPage()
  await page.goto(`${base}/console/`)
  await page.locator('input[name=login]').fill('nobody')
  await page.locator('input[name=password]').fill('any')
  await page.locator('button[type=submit]').click()
  const refused = page.waitForResponse((r) => r.url().startsWith(`${base}/console/callback`))
  await page.locator('button[type=submit]', { hasText: /continue/i }).click()
  t.equal((await refused).status(), 401, 'no role: refused')
  t.match(await page.locator('main').innerText(), /SIGN_IN_FAILED[\s\S]*|no console role for this account: its "groups" claim/, 'with the reason')
  t.match(await page.locator('main').innerText(), /"groups" claim has no value that CONSOLE_ROLE_MAP maps/)
  await context.close()
})
