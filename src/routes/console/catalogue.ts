import type { FastifyInstance, FastifyRequest } from 'fastify'
import { CONSOLE_PATH, csrfField, html, type Html } from '../../console/html.ts'
import { t, type Lang } from '../../console/messages.ts'
import { ProblemError } from '../../errors/problem-error.ts'
import type { ApiAnswer } from '../../plugins/console.ts'
import { identityOf, pageContext, sendPage } from './shared.ts'

// The catalogue for administrators, through the admin API: the draft's
// services, a service's form with both languages side by side, the draft's
// changes field by field, and publishing.

const ADMIN = { console: { roles: ['admin'] as const } }
const API = '/v1/admin/catalogue'

interface Text { mn: string, en: string }
interface Service {
  code: string
  category: string
  agency: string
  name: Text
  description: Text
  legalBasis: Text
  guide: { steps: Text[], documents: Text[], feeMnt: number, processingDays: number }
  channels: string[]
  applicants: string[]
  [other: string]: unknown
}
interface Problem { title?: string, detail?: string, code?: string, errors?: Array<{ pointer?: string, detail?: string }> }
interface FieldChange { op: string, path: string, before?: unknown, after?: unknown }
interface CollectionDiff { added: string[], removed: string[], changed: Array<{ key: string, fields: FieldChange[] }> }

const CHANNELS = ['oss_counter', 'mobile_oss', 'online'] as const
const APPLICANTS = ['citizen', 'officer'] as const
const CODE = { type: 'string', pattern: '^[a-z][a-z0-9_.-]{1,63}$' }

// An answer the console cannot show as a page of its own is the API's
// problem, passed on as it is (its code and status).
function failed (answer: ApiAnswer): ProblemError {
  const p = answer.json<Problem>()
  const known = typeof p.code === 'string' ? p.code : 'BAD_REQUEST'
  return new ProblemError(known as never, p.detail ?? `the API answered ${answer.status}`)
}

function show (value: unknown): string {
  if (value === undefined) return '—'
  return typeof value === 'string' ? value : JSON.stringify(value)
}

// Form fields → the service's JSON, over what the API last answered, so
// that what the form does not show (steps, documents, form schema) stays.
function fromForm (current: Service, form: Record<string, unknown>): Service {
  const text = (name: string) => typeof form[name] === 'string' ? (form[name] as string) : ''
  const list = (name: string) => {
    const v = form[name]
    return v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]
  }
  // A number field left as text goes to the API as text: its validation
  // names the field, as it would for any client.
  const number = (name: string) => {
    const raw = text(name).trim().replace(/[\s\u202f,]/g, '')
    return /^-?[0-9]+$/.test(raw) ? Number(raw) : raw
  }
  return {
    ...current,
    name: { mn: text('name.mn'), en: text('name.en') },
    description: { mn: text('description.mn'), en: text('description.en') },
    legalBasis: { mn: text('legalBasis.mn'), en: text('legalBasis.en') },
    guide: { ...current.guide, feeMnt: number('guide.feeMnt') as number, processingDays: number('guide.processingDays') as number },
    channels: list('channels'),
    applicants: list('applicants'),
  }
}

function serviceForm (request: FastifyRequest, service: Service, etag: string, problems: Map<string, string[]>, notice: Html | null): Html {
  const ctx = pageContext(request)
  const { lang } = ctx
  const errorsOf = (pointer: string) => problems.get(pointer) ?? []
  const described = (id: string, pointer: string) => {
    const errs = errorsOf(pointer)
    return errs.length === 0 ? html`` : html` aria-invalid="true" aria-describedby="${id}-error"`
  }
  const errorText = (id: string, pointer: string) => {
    const errs = errorsOf(pointer)
    return errs.length === 0 ? html`` : html`<p class="field-error" id="${id}-error">${errs.join('; ')}</p>`
  }
  const pair = (field: 'name' | 'description' | 'legalBasis', label: string, multiline: boolean) => html`
<fieldset><legend>${label}</legend><div class="pair">
${(['mn', 'en'] as const).map((l) => {
    const id = `${field}-${l}`
    const pointer = `/${field}/${l}`
    const value = service[field][l]
    return html`<div><label for="${id}">${t(lang, `cat.${l}`)}</label>${multiline
      ? html`<textarea id="${id}" name="${field}.${l}" rows="3" lang="${l}"${described(id, pointer)}>${value}</textarea>`
      : html`<input id="${id}" name="${field}.${l}" value="${value}" lang="${l}"${described(id, pointer)}>`}${errorText(id, pointer)}${errorText(`${id}-whole`, `/${field}`)}</div>`
  })}
</div></fieldset>`
  const number = (id: string, name: string, pointer: string, label: string, value: unknown) => html`
<div><label for="${id}">${label}</label><input id="${id}" name="${name}" value="${show(value)}" inputmode="numeric"${described(id, pointer)}>${errorText(id, pointer)}</div>`
  const boxes = (name: 'channels' | 'applicants', options: readonly string[], label: string) => html`
<fieldset${errorsOf(`/${name}`).length === 0 ? '' : html` aria-describedby="${name}-error"`}><legend>${label}</legend>
${options.map((o) => html`<label><input type="checkbox" name="${name}" value="${o}"${service[name].includes(o) ? html` checked` : ''}> ${t(lang, `${name === 'channels' ? 'channel' : 'applicant'}.${o}` as never)}</label>`)}
${errorText(name, `/${name}`)}</fieldset>`
  const general = problems.get('') ?? []
  return html`
${notice}
${general.length === 0 ? '' : html`<div class="notice bad" role="alert"><ul>${general.map((g) => html`<li>${g}</li>`)}</ul></div>`}
<p class="muted"><code>${service.code}</code> · ${t(lang, 'cat.agency')}: ${service.agency} · ${t(lang, 'cat.category')}: ${service.category}</p>
<form method="post" action="${CONSOLE_PATH}/catalogue/services/${service.code}" novalidate>
${csrfField(ctx)}
<input type="hidden" name="etag" value="${etag}">
${pair('name', t(lang, 'cat.name'), false)}
${pair('description', t(lang, 'cat.description'), true)}
${pair('legalBasis', t(lang, 'cat.legalBasis'), true)}
<div class="pair">
${number('fee', 'guide.feeMnt', '/guide/feeMnt', t(lang, 'cat.fee'), service.guide.feeMnt)}
${number('days', 'guide.processingDays', '/guide/processingDays', t(lang, 'cat.days'), service.guide.processingDays)}
</div>
${boxes('channels', CHANNELS, t(lang, 'cat.channels'))}
${boxes('applicants', APPLICANTS, t(lang, 'cat.applicants'))}
<p><button type="submit">${t(lang, 'cat.save')}</button> <a class="button secondary" href="${CONSOLE_PATH}/catalogue/draft">${t(lang, 'cat.draft')}</a></p>
</form>`
}

function problemsByPointer (p: Problem): Map<string, string[]> {
  const out = new Map<string, string[]>()
  const add = (pointer: string, detail: string) => out.set(pointer, [...(out.get(pointer) ?? []), detail])
  if (Array.isArray(p.errors) && p.errors.length > 0) {
    for (const e of p.errors) add(e.pointer ?? '', e.detail ?? p.detail ?? '')
  } else {
    add('', p.detail ?? p.title ?? '')
  }
  return out
}

function diffTable (lang: Lang, name: string, diff: CollectionDiff): Html {
  return html`
<h2>${name}</h2>
${diff.added.length === 0 ? '' : html`<p>${t(lang, 'cat.added')}: ${diff.added.map((k, i) => html`${i === 0 ? '' : ', '}<code>${k}</code>`)}</p>`}
${diff.removed.length === 0 ? '' : html`<p>${t(lang, 'cat.removed')}: ${diff.removed.map((k, i) => html`${i === 0 ? '' : ', '}<code>${k}</code>`)}</p>`}
${diff.changed.length === 0
    ? ''
    : html`<div class="scroll"><table><thead><tr><th scope="col">${t(lang, 'cat.code')}</th><th scope="col">${t(lang, 'cat.field')}</th><th scope="col">${t(lang, 'cat.before')}</th><th scope="col">${t(lang, 'cat.after')}</th></tr></thead><tbody>
${diff.changed.flatMap((c) => c.fields.map((f) => html`<tr><td><code>${c.key}</code></td><td><code>${f.path}</code></td><td><del>${show(f.before)}</del></td><td><ins>${show(f.after)}</ins></td></tr>`))}
</tbody></table></div>`}`
}

export async function catalogueConsoleRoutes (app: FastifyInstance): Promise<void> {
  app.get(`${CONSOLE_PATH}/catalogue`, {
    config: ADMIN,
    schema: { querystring: { type: 'object', properties: { q: { type: 'string', maxLength: 100 } } } },
  }, async (request, reply) => {
    const ctx = pageContext(request)
    const { lang } = ctx
    const { q = '' } = request.query as { q?: string }
    const answer = await app.console.api(identityOf(request), { method: 'GET', url: `${API}/services?pageSize=1000`, lang })
    if (answer.status !== 200) throw failed(answer)
    const needle = q.trim().toLowerCase()
    const services = answer.json<{ items: Service[] }>().items
      .filter((s) => needle === '' || s.code.includes(needle) || s.name.mn.toLowerCase().includes(needle) || s.name.en.toLowerCase().includes(needle))
    return sendPage(request, reply, t(lang, 'cat.title'), html`
<p><a class="button secondary" href="${CONSOLE_PATH}/catalogue/draft">${t(lang, 'cat.draft')}</a></p>
<form method="get" action="${CONSOLE_PATH}/catalogue" role="search"><label for="q">${t(lang, 'cat.search')}</label>
<div class="pair"><input id="q" name="q" value="${q}" type="search"><p><button type="submit">${t(lang, 'cat.find')}</button></p></div></form>
<h2>${t(lang, 'cat.services')} (${services.length})</h2>
<div class="scroll"><table><thead><tr><th scope="col">${t(lang, 'cat.code')}</th><th scope="col">${t(lang, 'cat.name')}</th><th scope="col">${t(lang, 'cat.agency')}</th><th scope="col" class="num">${t(lang, 'cat.fee')}</th><th scope="col" class="num">${t(lang, 'cat.days')}</th><th scope="col"><span class="muted">${t(lang, 'cat.edit')}</span></th></tr></thead><tbody>
${services.map((s) => html`<tr><td><code>${s.code}</code></td><td>${s.name[lang]}</td><td>${s.agency}</td><td class="num">${s.guide.feeMnt}</td><td class="num">${s.guide.processingDays}</td><td><a href="${CONSOLE_PATH}/catalogue/services/${s.code}" aria-label="${t(lang, 'cat.edit')} ${s.name[lang]}">${t(lang, 'cat.edit')}</a></td></tr>`)}
</tbody></table></div>`)
  })

  const serviceParams = { type: 'object', required: ['code'], properties: { code: CODE } }

  async function readService (request: FastifyRequest, code: string, lang: Lang): Promise<{ service: Service, etag: string }> {
    const answer = await app.console.api(identityOf(request), { method: 'GET', url: `${API}/services/${code}`, lang })
    if (answer.status !== 200) throw failed(answer)
    return { service: answer.json<Service>(), etag: String(answer.headers.etag) }
  }

  app.get(`${CONSOLE_PATH}/catalogue/services/:code`, { config: ADMIN, schema: { params: serviceParams } }, async (request, reply) => {
    const { lang } = pageContext(request)
    const { code } = request.params as { code: string }
    const { service, etag } = await readService(request, code, lang)
    return sendPage(request, reply, service.name[lang], serviceForm(request, service, etag, new Map(), null))
  })

  app.post(`${CONSOLE_PATH}/catalogue/services/:code`, {
    config: ADMIN,
    schema: { params: serviceParams, body: { type: 'object', required: ['etag'], properties: { etag: { type: 'string', minLength: 1, maxLength: 200 } } } },
  }, async (request, reply) => {
    const { lang } = pageContext(request)
    const { code } = request.params as { code: string }
    const form = request.body as Record<string, unknown> & { etag: string }
    const { service: current, etag: currentEtag } = await readService(request, code, lang)
    const wanted = fromForm(current, form)
    const answer = await app.console.api(identityOf(request), { method: 'PUT', url: `${API}/services/${code}`, body: wanted, headers: { 'if-match': form.etag }, lang })
    if (answer.status === 200) {
      const saved = answer.json<Service>()
      return sendPage(request, reply, saved.name[lang], serviceForm(request, saved, String(answer.headers.etag), new Map(),
        html`<div class="notice ok" role="status">${t(lang, 'cat.saved')} <a href="${CONSOLE_PATH}/catalogue/draft">${t(lang, 'cat.draft')}</a></div>`))
    }
    if (answer.status === 412) {
      return sendPage(request, reply, current.name[lang], serviceForm(request, current, currentEtag, new Map(),
        html`<div class="notice bad" role="alert">${t(lang, 'cat.conflict')}</div>`), 409)
    }
    if (answer.status === 400) {
      // What was typed stays on the form, with the API's problems beside the fields.
      return sendPage(request, reply, current.name[lang], serviceForm(request, wanted, form.etag, problemsByPointer(answer.json<Problem>()),
        html`<div class="notice bad" role="alert">${t(lang, 'cat.problems')}</div>`), 400)
    }
    throw failed(answer)
  })

  app.get(`${CONSOLE_PATH}/catalogue/draft`, { config: ADMIN }, async (request, reply) => {
    const ctx = pageContext(request)
    const { lang } = ctx
    const answer = await app.console.api(identityOf(request), { method: 'GET', url: `${API}/draft`, lang })
    if (answer.status !== 200) throw failed(answer)
    const draft = answer.json<{ version: number, changesSincePublished: Record<string, CollectionDiff> | null }>()
    const changes = Object.entries(draft.changesSincePublished ?? {})
      .filter(([, d]) => d.added.length + d.removed.length + d.changed.length > 0)
    return sendPage(request, reply, t(lang, 'cat.draft'), html`
<p>${t(lang, 'cat.draftIntro')}</p>
${changes.length === 0 ? html`<p class="notice">${t(lang, 'cat.noChanges')}</p>` : changes.map(([name, d]) => diffTable(lang, name, d))}
${changes.length === 0
    ? ''
    : html`<form method="post" action="${CONSOLE_PATH}/catalogue/publish">${csrfField(ctx)}
<input type="hidden" name="etag" value="${String(answer.headers.etag)}">
<label for="note">${t(lang, 'cat.summary')}</label><input id="note" name="note" maxlength="500" required>
<p><button type="submit">${t(lang, 'cat.publish')}</button></p></form>`}`)
  })

  app.post(`${CONSOLE_PATH}/catalogue/publish`, {
    config: ADMIN,
    schema: { body: { type: 'object', required: ['etag'], properties: { etag: { type: 'string', minLength: 1, maxLength: 200 }, note: { type: 'string', maxLength: 500 } } } },
  }, async (request, reply) => {
    const { lang } = pageContext(request)
    const form = request.body as { etag: string, note?: string }
    const answer = await app.console.api(identityOf(request), {
      method: 'POST',
      url: `${API}/publish`,
      body: form.note === undefined || form.note.trim() === '' ? {} : { note: form.note.trim() },
      headers: { 'if-match': form.etag },
      lang,
    })
    if (answer.status !== 200) throw failed(answer)
    const { version } = answer.json<{ version: number }>()
    return sendPage(request, reply, t(lang, 'cat.draft'), html`<div class="notice ok" role="status">${t(lang, 'cat.published')} ${version}</div>
<p><a href="${CONSOLE_PATH}/catalogue">${t(lang, 'cat.title')}</a></p>`)
  })
}
