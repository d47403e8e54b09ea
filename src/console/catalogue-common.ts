import { isErrorCode, type ErrorCode } from '../errors/registry.ts'
import { ProblemError } from '../errors/problem-error.ts'
import type { ApiAnswer } from '../plugins/console.ts'
import { CONSOLE_PATH, html, Html, type PageContext } from './html.ts'
import { t, type Lang, type MessageKey } from './messages.ts'

// What the catalogue's console pages share: the admin API's address, its
// problems as the console shows them, the catalogue's own menu and labels.

export const CATALOGUE_PATH = `${CONSOLE_PATH}/catalogue`
export const ADMIN_API = '/v1/admin/catalogue'

export interface ApiProblem {
  title?: string
  detail?: string
  code?: string
  errors?: Array<{ in?: string, pointer?: string, detail?: string }>
}

export interface FieldChange { op: string, path: string, before?: unknown, after?: unknown }
export interface CollectionDiff { added: string[], removed: string[], changed: Array<{ key: string, fields: FieldChange[] }> }

export const CHANNELS = ['oss_counter', 'mobile_oss', 'online'] as const
export const LEVELS = ['capital', 'aimag', 'district', 'soum', 'khoroo', 'bag'] as const

export function problemOf (answer: ApiAnswer): ApiProblem {
  try {
    const p = answer.json<unknown>()
    return p !== null && typeof p === 'object' ? p as ApiProblem : {}
  } catch {
    return {}
  }
}

function codeForStatus (status: number): ErrorCode {
  if (status === 404) return 'NOT_FOUND'
  if (status === 409) return 'CONFLICT'
  if (status === 412) return 'PRECONDITION_FAILED'
  if (status === 413) return 'PAYLOAD_TOO_LARGE'
  if (status === 415) return 'UNSUPPORTED_MEDIA_TYPE'
  if (status >= 500) return 'DEPENDENCY_UNAVAILABLE'
  return 'BAD_REQUEST'
}

// An answer the console cannot show as a page of its own is the API's
// problem, passed on as it is (its code, status and field errors).
export function apiFailure (answer: ApiAnswer): ProblemError {
  const p = problemOf(answer)
  const code = typeof p.code === 'string' && isErrorCode(p.code) ? p.code : codeForStatus(answer.status)
  return new ProblemError(code, p.detail ?? `the API answered ${answer.status}`, Array.isArray(p.errors) ? { extensions: { errors: p.errors } } : {})
}

// The API's problems by JSON pointer, '' for those about the whole request.
export function problemsByPointer (p: ApiProblem): Map<string, string[]> {
  const out = new Map<string, string[]>()
  const add = (pointer: string, detail: string) => {
    const list = out.get(pointer) ?? []
    // The same problem reported for the URL and the body is said once.
    if (!list.includes(detail)) out.set(pointer, [...list, detail])
  }
  if (Array.isArray(p.errors) && p.errors.length > 0) {
    for (const e of p.errors) add(e.pointer ?? '', e.detail ?? p.detail ?? '')
  } else {
    add('', p.detail ?? p.title ?? '')
  }
  return out
}

export function show (value: unknown): string {
  if (value === undefined) return '—'
  return typeof value === 'string' ? value : JSON.stringify(value)
}

export function channelLabel (lang: Lang, channel: string): string {
  return (CHANNELS as readonly string[]).includes(channel) ? t(lang, `channel.${channel as typeof CHANNELS[number]}`) : channel
}

export function levelLabel (lang: Lang, level: string): string {
  return (LEVELS as readonly string[]).includes(level) ? t(lang, `level.${level as typeof LEVELS[number]}`) : level
}

export function unitHref (code: string): string {
  return `${CATALOGUE_PATH}/units/${encodeURIComponent(code)}`
}

interface MenuItem { key: MessageKey, href: string }

// The catalogue's own menu, on each of its pages: links in a line that
// wraps, so it needs no style of its own.
const MENU: readonly MenuItem[] = [
  { key: 'cat.services', href: CATALOGUE_PATH },
  { key: 'tree.title', href: `${CATALOGUE_PATH}/units` },
  { key: 'ent.agencies', href: `${CATALOGUE_PATH}/agencies` },
  { key: 'ent.categories', href: `${CATALOGUE_PATH}/categories` },
  { key: 'ent.standard-lists', href: `${CATALOGUE_PATH}/standard-lists` },
  { key: 'ent.availability', href: `${CATALOGUE_PATH}/availability` },
  { key: 'ent.mobile-rounds', href: `${CATALOGUE_PATH}/mobile-rounds` },
  { key: 'cat.draft', href: `${CATALOGUE_PATH}/draft` },
  { key: 'cat.versions', href: `${CATALOGUE_PATH}/versions` },
  { key: 'io.title', href: `${CATALOGUE_PATH}/import` },
  { key: 'report.title', href: `${CATALOGUE_PATH}/consistency` },
]

export function catalogueMenu (ctx: PageContext): Html {
  const path = ctx.here.split('?')[0]
  const current = (href: string) => href === CATALOGUE_PATH ? path === href || path === `${CATALOGUE_PATH}/services` || path!.startsWith(`${CATALOGUE_PATH}/services/`) : path === href || path!.startsWith(`${href}/`)
  return html`<nav class="subnav noprint" aria-label="${t(ctx.lang, 'cat.menu')}"><p>${MENU.map((m, i) => html`${i === 0 ? '' : ' · '}<a href="${m.href}"${current(m.href) ? new Html(' aria-current="page"') : ''}>${t(ctx.lang, m.key)}</a>`)}</p></nav>`
}

// At most this many changed fields per collection are listed: an import
// can change thousands, and the page must stay usable.
const DIFF_ROWS = 500

export function diffTable (lang: Lang, name: string, diff: CollectionDiff): Html {
  const rows = diff.changed.flatMap((c) => c.fields.map((f) => ({ key: c.key, f })))
  const codes = (keys: string[]) => keys.map((k, i) => html`${i === 0 ? '' : ', '}<code>${k}</code>`)
  return html`
<h2>${collectionLabel(lang, name)}</h2>
${diff.added.length === 0 ? '' : html`<p>${t(lang, 'cat.added')}: ${codes(diff.added)}</p>`}
${diff.removed.length === 0 ? '' : html`<p>${t(lang, 'cat.removed')}: ${codes(diff.removed)}</p>`}
${rows.length === 0
    ? ''
    : html`<div class="scroll"><table><thead><tr><th scope="col">${t(lang, 'cat.code')}</th><th scope="col">${t(lang, 'cat.field')}</th><th scope="col">${t(lang, 'cat.before')}</th><th scope="col">${t(lang, 'cat.after')}</th></tr></thead><tbody>
${rows.slice(0, DIFF_ROWS).map(({ key, f }) => html`<tr><td><code>${key}</code></td><td><code>${f.path}</code></td><td><del>${show(f.before)}</del></td><td><ins>${show(f.after)}</ins></td></tr>`)}
</tbody></table></div>
${rows.length > DIFF_ROWS ? html`<p class="muted">${t(lang, 'cat.moreRows')} ${rows.length - DIFF_ROWS}</p>` : ''}`}`
}

const COLLECTION_LABELS: Record<string, MessageKey> = {
  units: 'ent.units',
  agencies: 'ent.agencies',
  categories: 'ent.categories',
  services: 'cat.services',
  'standard-lists': 'ent.standard-lists',
  standardLists: 'ent.standard-lists',
  availability: 'ent.availability',
  'mobile-rounds': 'ent.mobile-rounds',
  mobileRounds: 'ent.mobile-rounds',
}

// A collection's name as people read it, by its API or document name.
export function collectionLabel (lang: Lang, name: string): string {
  const key = COLLECTION_LABELS[name]
  return key === undefined ? name : t(lang, key)
}

// Every item of one of the draft's collections, page by page; started
// again if the draft changed in between, so the pages are of one draft.
export async function listAll<T> (get: (url: string) => Promise<ApiAnswer>, collection: string): Promise<{ items: T[], etag: string }> {
  for (let attempt = 0; ; attempt++) {
    const items: T[] = []
    let etag: string | null = null
    let moved = false
    for (let page = 1; ; page++) {
      const answer = await get(`${ADMIN_API}/${collection}?pageSize=1000&page=${page}`)
      if (answer.status !== 200) throw apiFailure(answer)
      const tag = String(answer.headers.etag)
      if (etag !== null && tag !== etag) { moved = true; break }
      etag = tag
      const body = answer.json<{ items: T[], total: number }>()
      items.push(...body.items)
      if (items.length >= body.total || body.items.length === 0) break
    }
    if (!moved || attempt >= 2) return { items, etag: etag ?? '' }
  }
}

// A field's problems below it, and what ties them to the control.
export function describedBy (ids: ReadonlyArray<string | null>): Html {
  const list = ids.filter((i): i is string => i !== null)
  return list.length === 0 ? html`` : html` aria-describedby="${list.join(' ')}"`
}

export function errorsBeside (id: string, errors: readonly string[]): Html {
  return errors.length === 0 ? html`` : html`<p class="field-error" id="${id}-error">${errors.join('; ')}</p>`
}

export function generalProblems (lang: Lang, problems: ReadonlyArray<readonly [string, string]>): Html {
  if (problems.length === 0) return html``
  return html`<div class="notice bad" role="alert"><p>${t(lang, 'cat.problems')}</p><ul>${problems.map(([pointer, detail]) => html`<li>${pointer === '' ? '' : html`<code>${pointer}</code>: `}${detail}</li>`)}</ul></div>`
}

export function formatDate (value: string | null | undefined): string {
  if (value === null || value === undefined) return '—'
  return value.replace('T', ' ').slice(0, 16)
}
