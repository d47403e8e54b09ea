import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'
import formbody from '@fastify/formbody'
import { DEV_IDP_PATH, DEV_USERS } from '../../console/dev-idp.ts'
import { html, page } from '../../console/html.ts'
import { ProblemError } from '../../errors/problem-error.ts'
import { consoleLanguage } from './shared.ts'

// The development identity provider's HTTP face: oidc-provider's own
// endpoints under /dev-idp, and its sign-in page, which lists the
// development users (no password: it only runs on a loopback bind).

// The sign-in form's answer redirects to the console's callback, which may be
// on another loopback origin (localhost against 127.0.0.1): form-action
// covers redirects after a submission.
const PAGE_POLICY = "default-src 'none'; style-src 'self'; form-action 'self' http://127.0.0.1:* http://localhost:*; frame-ancestors 'none'; base-uri 'none'"

export async function devIdpRoutes (app: FastifyInstance): Promise<void> {
  const provider = () => {
    const p = app.console.devIdp()
    if (p === null) throw new ProblemError('NOT_FOUND', 'the development identity provider is not running: the console signs in at CONSOLE_OIDC_ISSUER')
    return p
  }

  await app.register(async (endpoints) => {
    // The provider reads its own request bodies.
    endpoints.removeAllContentTypeParsers()
    endpoints.addContentTypeParser('*', (_request, _payload, done) => done(null))
    endpoints.route({
      method: ['GET', 'POST', 'HEAD', 'OPTIONS'],
      url: `${DEV_IDP_PATH}/*`,
      schema: { hide: true },
      handler: async (request, reply) => {
        const handle = provider().callback()
        reply.hijack()
        // Mounted under a path: the provider sees its own paths and finds
        // the mount point from originalUrl.
        const raw = request.raw as IncomingMessage & { originalUrl?: string }
        raw.originalUrl = raw.url
        raw.url = (raw.url ?? '').slice(DEV_IDP_PATH.length) || '/'
        await handle(raw, reply.raw)
      },
    })
  })

  await app.register(async (interaction) => {
    await interaction.register(formbody)
    interaction.addHook('onRequest', async (_request, reply) => {
      reply.header('content-security-policy', PAGE_POLICY)
      reply.header('cache-control', 'no-store')
    })

    interaction.get(`${DEV_IDP_PATH}/interaction/:uid`, {
      schema: { hide: true, params: { type: 'object', properties: { uid: { type: 'string', maxLength: 100 } } } },
    }, async (request, reply) => {
      const details = await provider().interactionDetails(request.raw, reply.raw)
      const lang = consoleLanguage(request)
      const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint : DEV_USERS[0]!.id
      const body = html`
<p class="notice">${lang === 'mn' ? 'Хөгжүүлэлтийн горим: нууц үггүй, зөвхөн энэ компьютер дээр.' : 'Development mode: no password, on this computer only.'}</p>
<form method="post" action="${DEV_IDP_PATH}/interaction/${details.uid}">
<fieldset><legend>${lang === 'mn' ? 'Хэрэглэгч сонгох' : 'Choose a user'}</legend>
${DEV_USERS.map((u) => html`<label><input type="radio" name="user" value="${u.id}"${u.id === hint ? html` checked` : ''}> <strong>${u.id}</strong> — ${u.name[lang]}, ${u.what[lang]}</label>`)}
</fieldset>
<p><button type="submit">${lang === 'mn' ? 'Нэвтрэх' : 'Sign in'}</button></p>
</form>`
      return reply.type('text/html; charset=utf-8').send(page({ lang, identity: null, csrf: null, here: request.url }, lang === 'mn' ? 'Хөгжүүлэлтийн нэвтрэлт' : 'Development sign-in', body))
    })

    interaction.post(`${DEV_IDP_PATH}/interaction/:uid`, {
      schema: {
        hide: true,
        params: { type: 'object', properties: { uid: { type: 'string', maxLength: 100 } } },
        body: { type: 'object', required: ['user'], properties: { user: { enum: DEV_USERS.map((u) => u.id) } } },
      },
    }, async (request, reply) => {
      const { user } = request.body as { user: string }
      // The interaction must be live; then the provider answers the browser.
      await provider().interactionDetails(request.raw, reply.raw)
      reply.hijack()
      await provider().interactionFinished(request.raw, reply.raw, { login: { accountId: user } }, { mergeWithLastSubmission: false })
    })
  })
}
