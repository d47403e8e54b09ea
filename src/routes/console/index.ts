import type { FastifyInstance, FastifyRequest } from 'fastify'
import formbody from '@fastify/formbody'
import { CONSOLE_PATH, html, NAV, STYLESHEET_PATH } from '../../console/html.ts'
import { identityFromClaims, SignInRefusedError } from '../../console/identity.ts'
import { t, type MessageKey } from '../../console/messages.ts'
import { IdentityProviderUnavailableError, SignInFailedError } from '../../console/oidc.ts'
import { CONSOLE_CSS } from '../../console/style.ts'
import { ProblemError } from '../../errors/problem-error.ts'
import { logProblem, sendProblem, toProblem } from '../../plugins/problem.ts'
import { catalogueConsoleRoutes } from './catalogue.ts'
import { deskConsoleRoutes } from './desk.ts'
import { operationsConsoleRoutes } from './operations.ts'
import { statsConsoleRoutes } from './stats.ts'
import { checkCsrf, cookie, LANG_COOKIE, LOGIN_COOKIE, pageContext, readCookie, safeReturn, sendPage, SESSION_COOKIE } from './shared.ts'

// The web console: server-rendered pages for administrators, analysts and
// officers, signed in through OpenID Connect, calling the gateway's own API
// as the signed-in person. Hidden from the OpenAPI document: it is a user
// interface, not an API.

const STYLESHEET_MAX_AGE_SECONDS = 3600

function wantsHtml (request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? ''
  return accept.includes('text/html') || accept === '' || accept === '*/*'
}

function policy (formTargets: string): string {
  return `default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; connect-src 'self'; form-action 'self' ${formTargets}; frame-ancestors 'none'; base-uri 'none'`
}

export async function consoleRoutes (app: FastifyInstance, options: { off: string | null }): Promise<void> {
  if (options.off !== null) {
    // No way to sign in here: every console page says why.
    const reason = options.off
    app.route({
      method: ['GET', 'POST'],
      url: `${CONSOLE_PATH}*`,
      schema: { hide: true },
      handler: async () => { throw new ProblemError('CONSOLE_OFF', `${reason}; set CONSOLE_OIDC_ISSUER and CONSOLE_OIDC_CLIENT_SECRET`) },
    })
    return
  }
  await app.register(formbody, { bodyLimit: 1_048_576 })
  app.decorateRequest('consoleSession', null)

  // The identity provider's origin, where the sign-out form may lead.
  const idpOrigin = () => new URL(app.console.oidc().issuer).origin

  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, hide: true }
  })

  app.addHook('onRequest', async (request, reply) => {
    reply.header('content-security-policy', policy(idpOrigin()))
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'same-origin')
    reply.header('cache-control', 'no-store')
    const id = readCookie(request, SESSION_COOKIE)
    if (id !== null && id !== '') {
      const session = await app.console.sessions.find(id)
      if (session !== null) request.consoleSession = { id, session }
    }
  })

  app.addHook('preHandler', async (request, reply) => {
    const rule = request.routeOptions.config.console
    if (rule === undefined || rule.roles === 'anyone') return
    const session = request.consoleSession
    if (session === null) {
      // A page: off to sign in and back. Anything else: refused.
      if (request.method === 'GET') return reply.redirect(`${CONSOLE_PATH}/login?return=${encodeURIComponent(request.url)}`, 303)
      throw new ProblemError('AUTH_REQUIRED', 'your console session has ended; sign in again')
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') checkCsrf(request)
    if (!rule.roles.includes(session.session.identity.role)) {
      throw new ProblemError('ROLE_FORBIDDEN', `this page is for: ${rule.roles.join(', ')}; you are signed in as ${session.session.identity.role}`)
    }
  })

  app.setErrorHandler((error, request, reply) => {
    const problem = toProblem(error)
    logProblem(request, error, problem)
    if (!wantsHtml(request)) return sendProblem(request, reply, problem)
    for (const [name, value] of Object.entries(problem.headers)) reply.header(name, value)
    const { lang } = pageContext(request)
    return sendPage(request, reply, t(lang, 'error.title'), html`
<div class="notice bad" role="alert"><p>${problem.title}: ${problem.detail}</p>
<p class="muted">${t(lang, 'error.code')}: <code>${problem.code}</code> · <code>${request.id}</code></p></div>
<p><a href="${CONSOLE_PATH}/">${t(lang, 'error.back')}</a></p>`, problem.status)
  })

  app.get(STYLESHEET_PATH, { config: { console: { roles: 'anyone' } } }, async (_request, reply) => {
    return reply.type('text/css; charset=utf-8').header('cache-control', `public, max-age=${STYLESHEET_MAX_AGE_SECONDS}`).send(CONSOLE_CSS)
  })

  app.get(CONSOLE_PATH, { config: { console: { roles: 'anyone' } } }, async (_request, reply) => reply.redirect(`${CONSOLE_PATH}/`, 303))

  // Starts the sign-in: PKCE, state and nonce kept server-side under a
  // cookie of this browser's own (Lax, so that it comes back with the
  // provider's redirect), then off to the provider.
  app.get(`${CONSOLE_PATH}/login`, {
    config: { console: { roles: 'anyone' } },
    schema: { querystring: { type: 'object', properties: { return: { type: 'string', maxLength: 2000 } } } },
  }, async (request, reply) => {
    const { return: back } = request.query as { return?: string }
    const origin = `${request.protocol}://${request.host}`
    const { url, pending } = await app.console.oidc().begin(`${origin}${CONSOLE_PATH}/callback`, safeReturn(back))
    const id = await app.console.sessions.startLogin(pending)
    // Abandoned sign-ins and ended sessions go when someone signs in.
    void app.console.sessions.sweep().catch((err: unknown) => request.log.warn({ err }, 'could not sweep ended console sessions'))
    reply.header('set-cookie', cookie(request, LOGIN_COOKIE, id, { path: `${CONSOLE_PATH}/callback`, maxAgeSeconds: 600, sameSite: 'Lax' }))
    return reply.redirect(url.href, 303)
  })

  app.get(`${CONSOLE_PATH}/callback`, { config: { console: { roles: 'anyone' } } }, async (request, reply) => {
    const loginId = readCookie(request, LOGIN_COOKIE)
    const pending = loginId === null || loginId === '' ? null : await app.console.sessions.takeLogin(loginId)
    if (pending === null) throw new ProblemError('SIGN_IN_FAILED', 'this sign-in was not started in this browser, or took too long; sign in again')
    const current = new URL(request.url, `${request.protocol}://${request.host}`)
    let identity
    try {
      const claims = await app.console.oidc().finish(current, pending)
      identity = identityFromClaims(claims, app.console.oidc().issuer, app.console.mapping)
    } catch (err) {
      if (err instanceof SignInRefusedError || err instanceof SignInFailedError) throw new ProblemError('SIGN_IN_FAILED', err.message, { cause: err })
      if (err instanceof IdentityProviderUnavailableError) throw new ProblemError('IDENTITY_PROVIDER_UNAVAILABLE', err.message, { cause: err })
      throw err
    }
    const { id } = await app.console.sessions.create(identity)
    request.log.info({ role: identity.role, unit: identity.unit }, 'console sign-in')
    reply.header('set-cookie', [
      cookie(request, SESSION_COOKIE, id, { path: '/', maxAgeSeconds: Math.floor(app.console.settings.sessionMaxMs / 1000), sameSite: 'Strict' }),
      cookie(request, LOGIN_COOKIE, '', { path: `${CONSOLE_PATH}/callback`, maxAgeSeconds: 0, sameSite: 'Lax' }),
    ])
    // A page of our own rather than a redirect: the browser arrived from the
    // provider's site, and a Strict cookie is only sent once it navigates
    // from a page of this one.
    const lang = pageContext(request).lang
    return reply.type('text/html; charset=utf-8').send(`<!doctype html><html lang="${lang}"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${pending.returnTo.replace(/"/g, '%22')}"><title>${t(lang, 'auth.signIn')}</title><link rel="stylesheet" href="${STYLESHEET_PATH}"></head><body><main><p><a href="${pending.returnTo.replace(/"/g, '%22')}">${t(lang, 'nav.home')}</a></p></main></body></html>`)
  })

  app.post(`${CONSOLE_PATH}/logout`, { config: { console: { roles: ['admin', 'analyst', 'officer'] } } }, async (request, reply) => {
    await app.console.sessions.end(request.consoleSession!.id)
    request.consoleSession = null
    reply.header('set-cookie', cookie(request, SESSION_COOKIE, '', { path: '/', maxAgeSeconds: 0, sameSite: 'Strict' }))
    const signedOut = `${request.protocol}://${request.host}${CONSOLE_PATH}/signed-out`
    const end = await app.console.oidc().endSessionUrl(signedOut)
    return reply.redirect(end?.href ?? signedOut, 303)
  })

  app.get(`${CONSOLE_PATH}/signed-out`, { config: { console: { roles: 'anyone' } } }, async (request, reply) => {
    const { lang } = pageContext(request)
    return sendPage(request, reply, t(lang, 'auth.signedOut'), html`<p><a class="button" href="${CONSOLE_PATH}/login">${t(lang, 'signedOut.again')}</a></p>`)
  })

  app.get(`${CONSOLE_PATH}/language`, {
    config: { console: { roles: 'anyone' } },
    schema: { querystring: { type: 'object', required: ['to'], properties: { to: { enum: ['mn', 'en'] }, back: { type: 'string', maxLength: 2000 } } } },
  }, async (request, reply) => {
    const { to, back } = request.query as { to: 'mn' | 'en', back?: string }
    reply.header('set-cookie', `${LANG_COOKIE}=${to}; Path=/; Max-Age=31536000; SameSite=Lax${request.protocol === 'https' ? '; Secure' : ''}`)
    return reply.redirect(safeReturn(back), 303)
  })

  app.get(`${CONSOLE_PATH}/`, { config: { console: { roles: ['admin', 'analyst', 'officer'] } } }, async (request, reply) => {
    const ctx = pageContext(request)
    const identity = ctx.identity!
    const blurbs: Partial<Record<MessageKey, MessageKey>> = {
      'nav.catalogue': 'home.admin',
      'nav.stats': 'home.stats',
      'nav.operations': 'home.operations',
      'nav.queues': 'home.queues',
      'nav.desk': 'home.desk',
    }
    const cards = NAV.filter((n) => n.key !== 'nav.home' && n.roles.includes(identity.role)).map((n) => html`
<div class="card"><h2><a href="${n.href}">${t(ctx.lang, n.key)}</a></h2><p>${blurbs[n.key] === undefined ? '' : t(ctx.lang, blurbs[n.key]!)}</p></div>`)
    return sendPage(request, reply, `${t(ctx.lang, 'home.title')}, ${identity.name}`, html`<p>${t(ctx.lang, 'home.intro')}</p><div class="cards">${cards}</div>`)
  })

  await app.register(catalogueConsoleRoutes)
  await app.register(statsConsoleRoutes)
  await app.register(operationsConsoleRoutes)
  await app.register(deskConsoleRoutes)
}
