import { escapeHtml } from '../stats/svg-chart.ts'
import type { ConsoleIdentity } from './sessions.ts'
import { t, type Lang, type MessageKey } from './messages.ts'

export { escapeHtml }

// Server-rendered pages: text is escaped unless it is already Html, so a
// value can only become markup by passing through this module.
export class Html {
  readonly value: string
  constructor (value: string) { this.value = value }
  toString (): string { return this.value }
}

type Part = Html | string | number | null | undefined | false | readonly Part[]

function render (part: Part): string {
  if (part === null || part === undefined || part === false) return ''
  if (part instanceof Html) return part.value
  if (Array.isArray(part)) return part.map(render).join('')
  return escapeHtml(String(part))
}

export function html (strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0]!
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!
  return new Html(out)
}

export const CONSOLE_PATH = '/console'
export const STYLESHEET_PATH = `${CONSOLE_PATH}/assets/console.css`

export interface PageContext {
  lang: Lang
  identity: ConsoleIdentity | null
  // The session's CSRF token, put in every form that changes anything.
  csrf: string | null
  // The page's own path and query, for the language switch to come back to.
  here: string
}

interface NavItem { key: MessageKey, href: string, roles: ReadonlyArray<ConsoleIdentity['role']> }

// What each role finds in the menu; the routes check the role again.
export const NAV: readonly NavItem[] = [
  { key: 'nav.home', href: `${CONSOLE_PATH}/`, roles: ['admin', 'analyst', 'officer'] },
  { key: 'nav.catalogue', href: `${CONSOLE_PATH}/catalogue`, roles: ['admin'] },
  { key: 'nav.stats', href: `${CONSOLE_PATH}/stats`, roles: ['admin', 'analyst', 'officer'] },
  { key: 'nav.operations', href: `${CONSOLE_PATH}/operations`, roles: ['admin'] },
  { key: 'nav.queues', href: '/admin/queues', roles: ['admin'] },
  { key: 'nav.desk', href: `${CONSOLE_PATH}/desk`, roles: ['officer'] },
]

// The menu item of the page and of the pages beneath it.
function current (here: string, href: string): boolean {
  const path = here.split('?')[0]!
  if (href === `${CONSOLE_PATH}/`) return path === href
  return path === href || path.startsWith(`${href}/`)
}

export function csrfField (ctx: PageContext): Html {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrf ?? ''}">`
}

export function page (ctx: PageContext, title: string, body: Html): string {
  const { lang, identity } = ctx
  const other: Lang = lang === 'mn' ? 'en' : 'mn'
  const nav = identity === null
    ? null
    : NAV.filter((n) => n.roles.includes(identity.role)).map((n) => html`<li><a href="${n.href}"${current(ctx.here, n.href) ? new Html(' aria-current="page"') : ''}>${t(lang, n.key)}</a></li>`)
  const doc = html`<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · ${t(lang, 'app.name')}</title>
<link rel="stylesheet" href="${STYLESHEET_PATH}">
</head>
<body>
<a class="skip" href="#main">${t(lang, 'a11y.skip')}</a>
<header class="top">
  <span class="brand">${t(lang, 'app.name')}</span>
  ${nav === null ? '' : html`<nav aria-label="${t(lang, 'nav.label')}"><ul>${nav}</ul></nav>`}
  <div class="who">
    <a href="${CONSOLE_PATH}/language?to=${other}&amp;back=${encodeURIComponent(ctx.here)}" lang="${other}" hreflang="${other}">${t(other, 'lang.switch')}</a>
    ${identity === null
      ? ''
      : html`<span>${identity.name} · ${t(lang, `role.${identity.role}`)}${identity.unit === undefined ? '' : html` · ${identity.unit}`}</span>
    <form method="post" action="${CONSOLE_PATH}/logout" class="inline">${csrfField(ctx)}<button type="submit">${t(lang, 'auth.logout')}</button></form>`}
  </div>
</header>
<main id="main" tabindex="-1">
<h1>${title}</h1>
${body}
</main>
</body>
</html>
`
  return doc.value
}
