import { generateKeyPairSync, randomBytes } from 'node:crypto'
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider'
import type { ConsoleIdentity } from './sessions.ts'
import { escapeHtml } from './html.ts'

// DEVELOPMENT ONLY. When no CONSOLE_OIDC_ISSUER is configured the gateway
// runs a real OpenID Connect provider in-process (oidc-provider), with the
// named users below, so that the console signs in through the same
// authorization-code-with-PKCE path as against a ministry's provider. It is a
// development convenience: refused on a non-loopback bind (see config.ts).

export const DEV_IDP_PATH = '/dev-idp'
export const DEV_CLIENT_ID = 'oss-console'

export interface DevUser {
  id: string
  name: { mn: string, en: string }
  role: ConsoleIdentity['role']
  unit?: string
  agency?: string
  what: { mn: string, en: string }
}

// Fictitious people, one per console role; README names them.
export const DEV_USERS: readonly DevUser[] = [
  { id: 'admin', name: { mn: 'Д. Батболд', en: 'D. Batbold' }, role: 'admin', what: { mn: 'Каталогийн администратор, оператор', en: 'Catalogue administrator and operator' } },
  { id: 'analyst', name: { mn: 'Ө. Сарантуяа', en: 'Ö. Sarantuya' }, role: 'analyst', unit: '62', what: { mn: 'Өвөрхангай аймгийн шинжээч (62)', en: 'Analyst of Övörkhangai aimag (62)' } },
  { id: 'officer', name: { mn: 'Б. Энхжаргал', en: 'B. Enkhjargal' }, role: 'officer', unit: '8322', agency: 'GOSW', what: { mn: 'ТҮЦ-ийн ажилтан, Нийгмийн халамж (8322)', en: 'OSS officer, social welfare (8322)' } },
]

// The claims the development users carry, under the names the console's
// role mapping reads by default (CONSOLE_ROLE_CLAIM and the others).
export const DEV_CLAIMS = { role: 'oss_role', unit: 'oss_unit', agency: 'oss_agency' } as const

export interface DevIdpOptions {
  issuer: string
  clientSecret: string
  // Where the console may send people back: its callback and signed-out page
  // on every loopback origin it answers at.
  redirectUris: string[]
  postLogoutRedirectUris: string[]
  // How the provider's own pages look (the sign-in form): the console's layout.
  page: (ctx: KoaContextWithOIDC, title: string, body: string) => void
}

export function createDevIdp (options: DevIdpOptions): Provider {
  // A fresh signing key each start: nothing signed by it outlives the process.
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const jwk = { ...privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig', kid: `dev-${randomBytes(6).toString('hex')}` }

  const configuration: Configuration = {
    clients: [{
      client_id: DEV_CLIENT_ID,
      client_secret: options.clientSecret,
      redirect_uris: options.redirectUris,
      post_logout_redirect_uris: options.postLogoutRedirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    }],
    jwks: { keys: [jwk as never] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'oss'],
    claims: { openid: ['sub'], profile: ['name'], oss: [DEV_CLAIMS.role, DEV_CLAIMS.unit, DEV_CLAIMS.agency] },
    // The role claims in the ID token itself, as many government providers put them.
    conformIdTokenClaims: false,
    async findAccount (_ctx, id) {
      const user = DEV_USERS.find((u) => u.id === id)
      if (user === undefined) return undefined
      return {
        accountId: id,
        async claims () {
          return {
            sub: id,
            name: user.name.en,
            [DEV_CLAIMS.role]: user.role,
            ...(user.unit === undefined ? {} : { [DEV_CLAIMS.unit]: user.unit }),
            ...(user.agency === undefined ? {} : { [DEV_CLAIMS.agency]: user.agency }),
          }
        },
      }
    },
    // The console is the provider's only, first-party client: no consent screen.
    async loadExistingGrant (ctx) {
      const client = ctx.oidc.client
      const session = ctx.oidc.session
      if (client === undefined || session === undefined) return undefined
      const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId)
      if (grantId !== undefined) return ctx.oidc.provider.Grant.find(grantId)
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId })
      grant.addOIDCScope('openid profile oss')
      await grant.save()
      return grant
    },
    interactions: { url: (_ctx, interaction) => `${DEV_IDP_PATH}/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        // The provider's own pages would load web fonts from the internet.
        async logoutSource (ctx, form) {
          options.page(ctx, 'Sign out / Гарах', `${form}<p>Sign out of the development identity provider too? / Хөгжүүлэлтийн нэвтрэлтийн үйлчилгээнээс мөн гарах уу?</p>
<p><button form="op.logoutForm" type="submit" name="logout" value="yes" autofocus>Sign out / Гарах</button> <button form="op.logoutForm" type="submit">Stay signed in here / Үлдэх</button></p>`)
        },
        async postLogoutSuccessSource (ctx) {
          options.page(ctx, 'Signed out / Гарлаа', '<p>Signed out. / Та системээс гарлаа.</p>')
        },
      },
    },
    async renderError (ctx, out) {
      ctx.status = ctx.status >= 400 ? ctx.status : 400
      options.page(ctx, 'Sign-in error / Нэвтрэх алдаа', `<p>${escapeHtml(String(out.error))}: ${escapeHtml(String(out.error_description ?? ''))}</p>`)
    },
    ttl: { Session: 8 * 3600, Interaction: 600, Grant: 8 * 3600, AccessToken: 300, IdToken: 300, AuthorizationCode: 60 },
  }
  return new Provider(options.issuer, configuration)
}
