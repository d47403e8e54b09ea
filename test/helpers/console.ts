import type { FastifyInstance, LightMyRequestResponse } from 'fastify'

// A browser's cookies and redirects, for signing in to the console through
// the development identity provider with app.inject (no network).
export class CookieJar {
  readonly cookies = new Map<string, string>()
  take (res: LightMyRequestResponse): void {
    const set = res.headers['set-cookie']
    for (const line of set === undefined ? [] : Array.isArray(set) ? set : [set]) {
      const [pair = ''] = line.split(';')
      const at = pair.indexOf('=')
      const name = pair.slice(0, at).trim()
      const value = pair.slice(at + 1).trim()
      const expired = /max-age=0\b/i.test(line) || /expires=Thu, 01 Jan 1970/i.test(line)
      if (value === '' || expired) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
  }

  header (): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }
}

export interface Browsed { res: LightMyRequestResponse, url: string }

// Follows redirects as a browser would, keeping cookies; `host` is the
// origin's host the console was opened at: by default the configured PORT's,
// for which the development provider is made when nothing listens.
export async function browse (app: FastifyInstance, jar: CookieJar, url: string, options: { method?: 'GET' | 'POST', form?: Record<string, string>, host?: string, headers?: Record<string, string> } = {}): Promise<Browsed> {
  let method = options.method ?? 'GET'
  let target = new URL(url, `http://${options.host ?? '127.0.0.1:3000'}`)
  let payload = options.form === undefined ? undefined : new URLSearchParams(options.form).toString()
  for (let hops = 0; hops < 20; hops++) {
    const res = await app.inject({
      method,
      url: `${target.pathname}${target.search}`,
      headers: {
        host: target.host,
        accept: 'text/html',
        cookie: jar.header(),
        ...(payload === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
        ...options.headers,
      },
      ...(payload === undefined ? {} : { payload }),
    })
    jar.take(res)
    const location = res.headers.location
    if (res.statusCode < 300 || res.statusCode >= 400 || typeof location !== 'string') return { res, url: target.href }
    target = new URL(location, target)
    method = 'GET'
    payload = undefined
  }
  throw new Error(`too many redirects from ${url}`)
}

// The console's callback answers a page that moves on by meta refresh.
export function refreshTarget (body: string): string | null {
  return /http-equiv="refresh" content="0;url=([^"]+)"/.exec(body)?.[1] ?? null
}

export function csrfOf (body: string): string {
  const token = /name="_csrf" value="([^"]+)"/.exec(body)?.[1]
  if (token === undefined) throw new Error('no CSRF token on the page')
  return token
}

// Signs in as a development user; returns the jar holding the session.
export async function signIn (app: FastifyInstance, user: string, returnTo = '/console/'): Promise<{ jar: CookieJar, home: Browsed }> {
  const jar = new CookieJar()
  const login = await browse(app, jar, `/console/login?return=${encodeURIComponent(returnTo)}`)
  const uid = /\/dev-idp\/interaction\/([^/?]+)/.exec(login.url)?.[1]
  if (uid === undefined) throw new Error(`the sign-in did not reach the provider's page: ${login.url} ${login.res.statusCode} ${login.res.body.slice(0, 300)}`)
  const back = await browse(app, jar, `/dev-idp/interaction/${uid}`, { method: 'POST', form: { user } })
  const next = refreshTarget(back.res.body)
  if (next === null) throw new Error(`the callback did not sign in: ${back.res.statusCode} ${back.res.body.slice(0, 500)}`)
  const home = await browse(app, jar, next)
  return { jar, home }
}

// Signs in in a real browser through the development provider's page and
// waits until the console shows `path`.
export async function browserSignIn (page: import('playwright-core').Page, base: string, user: 'admin' | 'analyst' | 'officer', path = '/console/'): Promise<void> {
  await page.goto(`${base}${path}`)
  await page.locator(`input[name=user][value=${user}]`).check()
  await page.locator('form button[type=submit]').click()
  await page.waitForURL(`${base}${path}`)
}
