import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { launchBrowser } from '../helpers/browser.ts'
import { browserSignIn } from '../helpers/console.ts'

// Every console page each role can reach by following links, in Chromium,
// in both languages and on a tablet held either way: no request leaves the
// gateway's origin, no script error, every page says its language, has one
// h1 and a main region, every form control has a label a screen reader
// reads, and nothing is wider than the screen.

const MAX_PAGES = 250
// Pages of one kind (a service's form, a unit's page) are looked at a few
// times, not once per entity.
const PER_KIND = 3
const kindOf = (path: string) => {
  const url = new URL(path, 'http://x')
  // Segments naming an entity (a code with digits or dots) make one kind.
  return `${url.pathname.split('/').map((p) => /[0-9.]/.test(p) ? '*' : p).join('/')}?${[...url.searchParams.keys()].sort().join('&')}`
}
// Links that change nothing but lead away from the console's pages.
const SKIP = [/\/console\/logout/, /\/console\/language\?/, /\/admin\/queues\/(queue|api)\//, /format=(csv|yaml|json)/, /\.csv(\?|$)/, /\/csv\//, /\/export/]

interface Check { wide: boolean, lang: string, h1: number, main: number, unlabelled: string[], links: string[] }
// Run in the page (a string: this project type-checks without the DOM library).
const INSPECT = `(() => {
  const unlabelled = [...document.querySelectorAll('input, select, textarea')]
    .filter((e) => e.type !== 'hidden' && e.type !== 'submit')
    .filter((e) => e.labels?.length === 0 && e.getAttribute('aria-label') === null && e.getAttribute('aria-labelledby') === null)
    .map((e) => e.name || e.outerHTML.slice(0, 80))
  return {
    wide: document.documentElement.scrollWidth > window.innerWidth + 1,
    lang: document.documentElement.lang,
    h1: document.querySelectorAll('h1').length,
    main: document.querySelectorAll('main').length,
    unlabelled,
    links: [...document.querySelectorAll('a[href]')].map((a) => a.href),
  }
})()`

t.test('every page of the console, for every role', async (t) => {
  const { app } = await buildTestApp(t, { exchange: true })
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const origin = new URL(base).origin
  const browser = await launchBrowser(t)

  for (const user of ['admin', 'analyst', 'officer'] as const) {
    for (const [locale, viewport] of [['en-GB', { width: 1024, height: 768 }], ['mn-MN', { width: 768, height: 1024 }]] as const) {
      const context = await browser.newContext({ locale, viewport })
      const page = await context.newPage()
      const elsewhere: string[] = []
      const errors: string[] = []
      page.on('request', (r) => { if (new URL(r.url()).origin !== origin) elsewhere.push(`${page.url()} → ${r.url()}`) })
      page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`))
      page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy/.test(m.text())) errors.push(`${page.url()}: ${m.text()}`) })
      await browserSignIn(page, base, user)

      const seen = new Set<string>()
      const kinds = new Map<string, number>()
      const queue = ['/console/']
      const faults: string[] = []
      while (queue.length > 0 && seen.size < MAX_PAGES) {
        const path = queue.shift()!
        if (seen.has(path)) continue
        const kind = kindOf(path)
        if ((kinds.get(kind) ?? 0) >= PER_KIND) continue
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
        seen.add(path)
        // A file to download is not a page.
        const res = await page.goto(`${base}${path}`).catch((err: Error) => {
          if (/Download is starting/.test(err.message)) return null
          throw err
        })
        if (res === null) continue
        const status = res?.status() ?? 0
        const type = res?.headers()['content-type'] ?? ''
        if (!type.startsWith('text/html')) continue
        // A link the console shows leads somewhere: no 404, no 5xx. (Pages
        // that refuse for a reason, 403, are allowed.)
        if (status >= 500 || status === 404) faults.push(`${path}: ${status}`)
        if (path.startsWith('/admin/queues')) continue
        const check = await page.evaluate<Check>(INSPECT)
        if (check.lang !== locale.slice(0, 2)) faults.push(`${path}: lang ${check.lang}`)
        if (check.wide) faults.push(`${path}: wider than ${viewport.width} px`)
        if (check.h1 !== 1) faults.push(`${path}: ${check.h1} h1`)
        if (check.main !== 1) faults.push(`${path}: ${check.main} main`)
        if (check.unlabelled.length > 0) faults.push(`${path}: unlabelled ${check.unlabelled.join(', ')}`)
        for (const href of check.links) {
          const url = new URL(href)
          if (url.origin !== origin) continue
          const next = `${url.pathname}${url.search}`
          if (!/^\/(console|admin\/queues)/.test(next) || SKIP.some((re) => re.test(next))) continue
          if (!seen.has(next)) queue.push(next)
        }
      }
      t.ok(seen.size >= 2, `${user} (${locale}): ${seen.size} pages visited`)
      t.same(faults, [], `${user} (${locale}): every page has its language, one h1, a main region, labels, and no 5xx`)
      t.same(elsewhere, [], `${user} (${locale}): no request left the gateway's origin`)
      t.same(errors, [], `${user} (${locale}): no script error`)
      await context.close()
    }
  }
})
