import { parse as parseYaml } from 'yaml'
import { collectionLabel } from './catalogue-common.ts'
import { html, type Html } from './html.ts'
import { t, type Lang } from './messages.ts'

// An import's problems as an administrator reads them: by collection, and
// within it by the item's key (a service by its code), never by its place
// in the file. The API already names items by key where the key is usable;
// an item it could only name by its index (a repeated or missing code) is
// looked up in the file itself.

export type ImportFormat = 'json' | 'yaml'

export interface ImportProblem {
  collection: string
  // The item's key as it reads, with its place in the file when that is
  // what tells it apart.
  item: string
  field: string
  detail: string
}

// The document fields of the catalogue and how an item's key reads.
const KEYS: Readonly<Record<string, (e: Record<string, unknown>) => string | null>> = {
  units: (e) => text(e.code),
  agencies: (e) => text(e.code),
  categories: (e) => text(e.code),
  services: (e) => text(e.code),
  standardLists: (e) => text(e.level),
  availability: (e) => (text(e.unit) === null || text(e.service) === null ? null : `${text(e.unit)}/${text(e.service)}`),
  mobileRounds: (e) => text(e.id),
}

function text (v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null
}

const unescapeToken = (token: string) => token.replaceAll('~1', '/').replaceAll('~0', '~')

export function detectFormat (body: string, chosen: ImportFormat | 'auto'): ImportFormat {
  if (chosen !== 'auto') return chosen
  return /^\s*[{[]/.test(body) ? 'json' : 'yaml'
}

// The file as the API read it, or null when it cannot be read. Only asked
// for when a problem names an item by its index: reading a whole catalogue
// in YAML takes seconds.
export function documentReader (body: string, format: ImportFormat): () => unknown {
  let read: { value: unknown } | null = null
  return () => {
    if (read !== null) return read.value
    try {
      read = { value: format === 'json' ? JSON.parse(body) : parseYaml(body, { maxAliasCount: 100 }) }
    } catch {
      read = { value: null }
    }
    return read.value
  }
}

export function importProblems (lang: Lang, read: () => unknown, errors: ReadonlyArray<{ pointer?: string, detail?: string }>): ImportProblem[] {
  return errors.map((e) => {
    const pointer = e.pointer ?? ''
    const detail = e.detail ?? ''
    const [, field = '', token, ...rest] = pointer.split('/')
    const keyOf = KEYS[field]
    if (token === undefined || keyOf === undefined) {
      return { collection: field === '' ? t(lang, 'import.document') : field, item: '—', field: field === '' ? pointer : `/${field}`, detail }
    }
    const raw = unescapeToken(token)
    const where = rest.length === 0 ? '' : `/${rest.join('/')}`
    if (!/^[0-9]+$/.test(raw)) return { collection: collectionLabel(lang, field), item: raw, field: where, detail }
    const document = read()
    const list = document !== null && typeof document === 'object' ? (document as Record<string, unknown>)[field] : undefined
    const items = Array.isArray(list) ? list.map((x) => (x !== null && typeof x === 'object' ? keyOf(x as Record<string, unknown>) : null)) : []
    // A number is a key when the file has that key once (a unit's code);
    // otherwise it is the item's place in the list.
    if (items.includes(raw) && items.indexOf(raw) === items.lastIndexOf(raw)) return { collection: collectionLabel(lang, field), item: raw, field: where, detail }
    const index = Number(raw)
    const key = items[index] ?? null
    const place = `${t(lang, 'import.item')} ${index + 1}`
    const repeated = key !== null && items.indexOf(key) !== items.lastIndexOf(key)
    const item = key === null ? `${place} (${t(lang, 'import.noKey')})` : `${key} (${place}${repeated ? `, ${t(lang, 'import.repeated')}` : ''})`
    return { collection: collectionLabel(lang, field), item, field: where, detail }
  })
}

export function importProblemTable (lang: Lang, problems: readonly ImportProblem[]): Html {
  const groups = new Map<string, ImportProblem[]>()
  for (const p of problems) groups.set(p.collection, [...(groups.get(p.collection) ?? []), p])
  return html`${[...groups].map(([collection, list]) => html`
<h3>${collection} (${list.length})</h3>
<div class="scroll"><table class="import-problems"><thead><tr><th scope="col">${t(lang, 'import.itemColumn')}</th><th scope="col">${t(lang, 'cat.field')}</th><th scope="col">${t(lang, 'import.problem')}</th></tr></thead><tbody>
${[...list].sort((a, b) => a.item.localeCompare(b.item) || a.field.localeCompare(b.field)).map((p) => html`<tr><th scope="row"><code>${p.item}</code></th><td><code>${p.field === '' ? '—' : p.field}</code></td><td>${p.detail}</td></tr>`)}
</tbody></table></div>`)}`
}

export const IMPORT_SCRIPT_PATH = '/console/assets/catalogue-import.js'

// Reads the chosen file and posts its text as it is, with the session's
// CSRF token and the draft's ETag in headers: a form would send only the
// file's name, and a whole catalogue is larger than a form may be. The
// answer is a console page; its main part replaces this one's.
export const IMPORT_SCRIPT = `'use strict'
;(function () {
  var FORM = 'import-form'
  function enhance () {
    var form = document.getElementById(FORM)
    if (form === null) return
    var choose = form.querySelector('[data-file]')
    if (choose !== null) choose.hidden = false
  }
  function say (form, key) {
    var status = document.getElementById('import-status')
    if (status !== null) status.textContent = form.getAttribute(key) || ''
  }
  function show (markup) {
    var next = new DOMParser().parseFromString(markup, 'text/html')
    var main = document.querySelector('main')
    var fresh = next.querySelector('main')
    if (main === null || fresh === null) return false
    fresh.querySelectorAll('script').forEach(function (s) { s.remove() })
    document.title = next.title
    main.replaceChildren.apply(main, Array.prototype.map.call(fresh.childNodes, function (n) { return document.importNode(n, true) }))
    enhance()
    main.focus()
    return true
  }
  document.addEventListener('submit', function (event) {
    var form = event.target
    if (!(form instanceof HTMLFormElement) || form.id !== FORM) return
    var input = form.elements.namedItem('file')
    var file = input !== null && input.files !== null ? input.files[0] : undefined
    if (file === undefined) return
    event.preventDefault()
    var button = form.querySelector('button[type=submit]')
    if (button !== null) button.disabled = true
    say(form, 'data-sending')
    var chosen = form.elements.namedItem('format').value
    var format = chosen !== 'auto' ? chosen : /\\.ya?ml$/i.test(file.name) ? 'yaml' : /\\.json$/i.test(file.name) ? 'json' : 'auto'
    file.text().then(function (body) {
      return fetch(form.action + '?format=' + encodeURIComponent(format), {
        method: 'POST',
        credentials: 'same-origin',
        headers: {
          'content-type': 'text/plain; charset=utf-8',
          accept: 'text/html',
          'x-csrf-token': form.elements.namedItem('_csrf').value,
          'if-match': form.elements.namedItem('etag').value
        },
        body: body
      })
    }).then(function (res) { return res.text() }).then(function (markup) {
      if (!show(markup)) throw new Error('not a console page')
    }).catch(function () {
      say(form, 'data-failed')
      if (button !== null) button.disabled = false
    })
  })
  enhance()
})()
`
