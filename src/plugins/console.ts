import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import type Provider from 'oidc-provider'
import type { KoaContextWithOIDC } from 'oidc-provider'
import type { Config } from '../config.ts'
import { createDevIdp, DEV_CLAIMS, DEV_CLIENT_ID, DEV_IDP_PATH } from '../console/dev-idp.ts'
import { Html, page } from '../console/html.ts'
import type { RoleMapping } from '../console/identity.ts'
import { createConsoleOidc, type ConsoleOidc } from '../console/oidc.ts'
import { createConsoleSessions, type ConsoleIdentity, type ConsoleSessions } from '../console/sessions.ts'
import type { ConsoleTokens } from '../console/tokens.ts'
import type { Lang } from '../console/messages.ts'

declare module 'fastify' {
  interface FastifyInstance {
    console: ConsoleService
  }
}

export interface ApiCall {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  url: string
  body?: unknown
  headers?: Record<string, string>
  lang: Lang
}

export interface ApiAnswer {
  status: number
  headers: Record<string, string | string[] | number | undefined>
  body: string
  json<T = unknown>(): T
}

export interface ConsoleService {
  settings: Config['console']
  sessions: ConsoleSessions
  mapping: RoleMapping
  // The in-process development provider, or null when one is configured.
  devIdp(): Provider | null
  oidc(): ConsoleOidc
  // The gateway's own API, called as the signed-in person.
  api(identity: ConsoleIdentity, call: ApiCall): Promise<ApiAnswer>
}

export interface ConsolePluginOptions {
  settings: Config['console']
  tokens: ConsoleTokens
  port: number
  now?: () => number
}

export function createConsoleService (app: FastifyInstance, options: ConsolePluginOptions): ConsoleService {
  const { settings } = options
  const sessions = createConsoleSessions({
    db: app.db,
    idleMs: settings.sessionIdleMs,
    maxMs: settings.sessionMaxMs,
    loginMs: settings.loginMs,
    ...(options.now === undefined ? {} : { now: options.now }),
  })
  const development = settings.oidc === undefined
  const mapping: RoleMapping = development
    ? { roleClaim: DEV_CLAIMS.role, unitClaim: DEV_CLAIMS.unit, agencyClaim: DEV_CLAIMS.agency, roles: settings.roleMap }
    : { roleClaim: settings.roleClaim, unitClaim: settings.unitClaim, agencyClaim: settings.agencyClaim, roles: settings.roleMap }

  // The development provider is made on first use, when the port the gateway
  // listens on is known (tests listen on port 0).
  let dev: { provider: Provider, oidc: ConsoleOidc } | null = null
  function development_ (): { provider: Provider, oidc: ConsoleOidc } {
    if (dev !== null) return dev
    const address = app.server.address() as AddressInfo | null
    const port = address?.port ?? options.port
    const issuer = `http://127.0.0.1:${port}${DEV_IDP_PATH}`
    const clientSecret = randomBytes(24).toString('base64url')
    const origins = [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`]
    const provider = createDevIdp({
      issuer,
      clientSecret,
      redirectUris: origins.map((o) => `${o}/console/callback`),
      postLogoutRedirectUris: origins.map((o) => `${o}/console/signed-out`),
      page: (ctx: KoaContextWithOIDC, title: string, body: string) => {
        ctx.type = 'html'
        ctx.set('content-security-policy', "default-src 'none'; style-src 'self'; form-action 'self' http://127.0.0.1:* http://localhost:*; frame-ancestors 'none'; base-uri 'none'")
        ctx.body = page({ lang: 'en', identity: null, csrf: null, here: '/console/' }, title, new Html(body))
      },
    })
    // Reached in-process: the provider is this process, not the network.
    const inProcess = async (url: string, init: { method: string, headers: Record<string, string>, body?: unknown }): Promise<Response> => {
      const target = new URL(url)
      const res = await app.inject({
        method: init.method as 'GET',
        url: `${target.pathname}${target.search}`,
        headers: { ...init.headers, host: target.host },
        ...(init.body === undefined || init.body === null ? {} : { payload: String(init.body) }),
      })
      const headers = new Headers()
      for (const [k, v] of Object.entries(res.headers)) {
        if (v === undefined) continue
        for (const one of Array.isArray(v) ? v : [v]) headers.append(k, String(one))
      }
      const empty = res.statusCode === 204 || res.statusCode === 304
      return new Response(empty ? null : res.rawPayload, { status: res.statusCode, headers })
    }
    const oidc = createConsoleOidc({
      issuer,
      clientId: DEV_CLIENT_ID,
      clientSecret,
      fetch: inProcess as never,
      allowHttp: true,
      scope: 'openid profile oss',
      roleClaim: DEV_CLAIMS.role,
    })
    dev = { provider, oidc }
    return dev
  }

  const configured = settings.oidc === undefined
    ? null
    : createConsoleOidc({
      issuer: settings.oidc.issuer,
      clientId: settings.oidc.clientId,
      clientSecret: settings.oidc.clientSecret,
      allowHttp: new URL(settings.oidc.issuer).protocol === 'http:',
      scope: settings.oidc.scope,
      roleClaim: settings.roleClaim,
    })

  return {
    settings,
    sessions,
    mapping,
    devIdp: () => (development ? development_().provider : null),
    oidc: () => configured ?? development_().oidc,
    async api (identity, call) {
      const token = await options.tokens.mint(identity)
      const res = await app.inject({
        method: call.method,
        url: call.url,
        headers: {
          ...call.headers,
          authorization: `Bearer ${token}`,
          'accept-language': call.lang,
          ...(call.body === undefined || typeof call.body === 'string' ? {} : { 'content-type': 'application/json' }),
        },
        ...(call.body === undefined ? {} : { payload: typeof call.body === 'string' ? call.body : JSON.stringify(call.body) }),
      })
      return {
        status: res.statusCode,
        headers: res.headers,
        body: res.body,
        json: <T>() => JSON.parse(res.body) as T,
      }
    },
  }
}

// The web console's sign-in, sessions and calls into the API.
async function consolePlugin (app: FastifyInstance, options: ConsolePluginOptions): Promise<void> {
  app.decorate('console', createConsoleService(app, options))
}

export default fp(consolePlugin, { name: 'console', dependencies: ['storage'] })
