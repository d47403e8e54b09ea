import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Report } from '../../catalogue/consistency.ts'
import {
  ADMIN_API, apiFailure, CATALOGUE_PATH, catalogueMenu, CHANNELS, diffTable, formatDate, generalProblems, levelLabel, listAll, problemOf,
  problemsByPointer, show, type ApiProblem, type CollectionDiff,
} from '../../console/catalogue-common.ts'
import {
  apiKeyPath, editHref, entityForm, entityFromForm, entityTable, ENTITY_SPECS, keyOf, keyPath, type Entity, type EntitySpec, type Form, type FormData,
} from '../../console/catalogue-entities.ts'
import { detectFormat, documentReader, IMPORT_SCRIPT, IMPORT_SCRIPT_PATH, importProblems, importProblemTable, type ImportProblem } from '../../console/catalogue-import.ts'
import { gapsTable, NATIONAL, reportHref, reportTable, versionForm } from '../../console/catalogue-report.ts'
import { searchForm, searchResults, unitCards, unitPage, type UnitDetail, type UnitServices, type UnitView } from '../../console/catalogue-tree.ts'
import { csrfField, html, type Html } from '../../console/html.ts'
import { t, type Lang } from '../../console/messages.ts'
import { ProblemError, ValidationProblem } from '../../errors/problem-error.ts'
import type { ApiAnswer, ApiCall } from '../../plugins/console.ts'
import { identityOf, pageContext, sendPage } from './shared.ts'

// The catalogue for administrators, through the admin API (the draft) and
// the public API (what is published): services and the smaller
// collections with their forms, both languages side by side; the
// administrative tree and what each unit offers; versions, their changes
// and restoring one; import and export; the consistency report.

const ADMIN = { console: { roles: ['admin'] as const } }
const ASSET = { console: { roles: 'anyone' as const } }
const ASSET_MAX_AGE_SECONDS = 3600
const PAGE_ROWS = 100
// The API takes a catalogue of up to 16 MiB; the file comes as it is.
const IMPORT_LIMIT = 16 * 1024 * 1024
const SEARCH_ROWS = 30

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
interface VersionMeta {
  version: number
  status: 'draft' | 'published' | 'archived'
  basedOn: number | null
  createdAt: string
  createdBy: string
  publishedAt: string | null
  publishedBy: string | null
  note: string | null
}

const APPLICANTS = ['citizen', 'officer'] as const
const CODE = { type: 'string', pattern: '^[a-z][a-z0-9_.-]{1,63}$' }
const UNIT_CODE = { type: 'string', pattern: '^[0-9]{2}([0-9]{2}([0-9]{2})?)?$' }
const VERSION = { type: 'string', pattern: '^(draft|published|[0-9]{1,9})$' }
const DATE = { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' }
const ETAG_BODY = { type: 'object', required: ['etag'], properties: { etag: { type: 'string', minLength: 1, maxLength: 200 } } }
const KEY_SCHEMAS: Record<Exclude<EntitySpec['collection'], 'availability'>, object> = {
  agencies: { type: 'string', pattern: '^[A-Z][A-Z0-9]{1,15}$' },
  categories: CODE,
  'standard-lists': { enum: ['capital', 'aimag', 'district', 'soum', 'khoroo', 'bag'] },
  'mobile-rounds': CODE,
}

// Form fields → the service's JSON, over what the API last answered (or
// the service copied), so that what the form does not show (steps,
// documents, form schema, adapter) stays.
function serviceFromForm (current: Service, form: Record<string, unknown>, creating: boolean): Service {
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
    code: creating ? text('code').trim() : current.code,
    category: form.category === undefined ? current.category : text('category'),
    agency: form.agency === undefined ? current.agency : text('agency'),
    name: { mn: text('name.mn'), en: text('name.en') },
    description: { mn: text('description.mn'), en: text('description.en') },
    legalBasis: { mn: text('legalBasis.mn'), en: text('legalBasis.en') },
    guide: { ...current.guide, feeMnt: number('guide.feeMnt') as number, processingDays: number('guide.processingDays') as number },
    channels: list('channels'),
    applicants: list('applicants'),
  }
}

interface ServiceFormOptions {
  service: Service
  // null: a new service, copied from `from`.
  etag: string | null
  from?: string
  problems: Map<string, string[]>
  notice: Html | null
  agencies: Array<{ code: string, name: Text }>
  categories: Array<{ code: string, name: Text }>
}

function serviceForm (request: FastifyRequest, o: ServiceFormOptions): Html {
  const ctx = pageContext(request)
  const { lang } = ctx
  const { service, problems } = o
  const creating = o.etag === null
  const shown = new Set<string>()
  const errorsOf = (pointer: string, items = false) => [...problems.entries()]
    .filter(([p]) => p === pointer || (items && p.startsWith(`${pointer}/`)))
    .flatMap(([p, list]) => { shown.add(p); return list })
  const described = (id: string, pointer: string) => {
    const errs = errorsOf(pointer)
    return errs.length === 0 ? html`` : html` aria-invalid="true" aria-describedby="${id}-error"`
  }
  const errorText = (id: string, pointer: string, items = false) => {
    const errs = errorsOf(pointer, items)
    return errs.length === 0 ? html`` : html`<p class="field-error" id="${id}-error">${errs.join('; ')}</p>`
  }
  const pair = (field: 'name' | 'description' | 'legalBasis', label: string, multiline: boolean) => html`
<fieldset><legend>${label}</legend><div class="pair">
${(['mn', 'en'] as const).map((l) => {
    const id = `${field}-${l}`
    const pointer = `/${field}/${l}`
    const value = service[field]?.[l] ?? ''
    return html`<div><label for="${id}">${t(lang, `cat.${l}`)}</label>${multiline
      ? html`<textarea id="${id}" name="${field}.${l}" rows="3" lang="${l}"${described(id, pointer)}>${value}</textarea>`
      : html`<input id="${id}" name="${field}.${l}" value="${value}" lang="${l}"${described(id, pointer)}>`}${errorText(id, pointer)}${l === 'en' ? errorText(`${field}-whole`, `/${field}`) : ''}</div>`
  })}
</div></fieldset>`
  const number = (id: string, name: string, pointer: string, label: string, value: unknown) => html`
<div><label for="${id}">${label}</label><input id="${id}" name="${name}" value="${show(value)}" inputmode="numeric"${described(id, pointer)}>${errorText(id, pointer)}</div>`
  const boxes = (name: 'channels' | 'applicants', options: readonly string[], label: string) => {
    const error = errorText(name, `/${name}`, true)
    return html`
<fieldset${error.value === '' ? '' : html` aria-describedby="${name}-error"`}><legend>${label}</legend>
${options.map((v) => html`<label><input type="checkbox" name="${name}" value="${v}"${service[name].includes(v) ? html` checked` : ''}> ${t(lang, `${name === 'channels' ? 'channel' : 'applicant'}.${v}` as never)}</label>`)}
${error}</fieldset>`
  }
  const select = (name: 'category' | 'agency', label: string, choices: Array<{ code: string, name: Text }>) => {
    const value = service[name]
    const known = choices.some((c) => c.code === value)
    return html`<div><label for="f-${name}">${label}</label><select id="f-${name}" name="${name}"${described(`f-${name}`, `/${name}`)}>
${known ? '' : html`<option value="${value}" selected>${value}</option>`}
${choices.map((c) => html`<option value="${c.code}"${c.code === value ? html` selected` : ''}>${c.name[lang]} (${c.code})</option>`)}
</select>${errorText(`f-${name}`, `/${name}`)}</div>`
  }
  const code = creating
    ? html`<div><label for="f-code">${t(lang, 'cat.code')}</label><p class="muted" id="f-code-hint">${t(lang, 'ent.codeHint')}</p><input id="f-code" name="code" value="${service.code}" autocomplete="off"${errorsOf('/code').length === 0 ? html` aria-describedby="f-code-hint"` : html` aria-invalid="true" aria-describedby="f-code-hint f-code-error"`}>${errorText('f-code', '/code')}</div>`
    : html`<p class="muted"><code>${service.code}</code> · <a href="${CATALOGUE_PATH}/new/services?from=${service.code}">${t(lang, 'svc.copy')}</a></p>`
  const fields = html`
${pair('name', t(lang, 'cat.name'), false)}
<div class="pair">${select('category', t(lang, 'cat.category'), o.categories)}${select('agency', t(lang, 'cat.agency'), o.agencies)}</div>
${pair('description', t(lang, 'cat.description'), true)}
${pair('legalBasis', t(lang, 'cat.legalBasis'), true)}
<div class="pair">
${number('fee', 'guide.feeMnt', '/guide/feeMnt', t(lang, 'cat.fee'), service.guide.feeMnt)}
${number('days', 'guide.processingDays', '/guide/processingDays', t(lang, 'cat.days'), service.guide.processingDays)}
</div>
${boxes('channels', CHANNELS, t(lang, 'cat.channels'))}
${boxes('applicants', APPLICANTS, t(lang, 'cat.applicants'))}`
  const codeField = creating ? code : html``
  // What no field shows (steps, the form schema, a reference elsewhere) is listed above the form.
  const general = [...problems.entries()].filter(([p]) => !shown.has(p) && p !== '/code').flatMap(([p, list]) => list.map((d) => [p, d] as const))
  return html`
${o.notice}
${generalProblems(lang, general)}
${creating ? html`<p class="muted">${t(lang, 'svc.copyIntro')} <code>${o.from ?? ''}</code></p>` : code}
<form method="post" action="${creating ? `${CATALOGUE_PATH}/new/services` : `${CATALOGUE_PATH}/services/${service.code}`}" novalidate>
${csrfField(ctx)}
${creating ? html`<input type="hidden" name="from" value="${o.from ?? ''}">` : html`<input type="hidden" name="etag" value="${o.etag ?? ''}">`}
${codeField}
${fields}
<p><button type="submit">${t(lang, creating ? 'ent.create' : 'cat.save')}</button> <a class="button secondary" href="${CATALOGUE_PATH}/draft">${t(lang, 'cat.draft')}</a></p>
</form>`
}

// Problems of a create or replace as the form shows them: the API names a
// key that is wrong in the URL `/key` (in params); the form calls it by
// its field.
function entityProblems (spec: EntitySpec, p: ApiProblem): Map<string, string[]> {
  const errors = (p.errors ?? []).map((e) => (e.in === 'params' && e.pointer === '/key' ? { ...e, pointer: `/${spec.keys[0]}` } : e))
  return problemsByPointer({ ...p, errors })
}

function notice (kind: 'ok' | 'bad', text: string | Html, extra: Html | string = ''): Html {
  return html`<div class="notice ${kind}" role="${kind === 'ok' ? 'status' : 'alert'}">${text}${extra}</div>`
}

export async function catalogueConsoleRoutes (app: FastifyInstance): Promise<void> {
  const langOf = (request: FastifyRequest): Lang => pageContext(request).lang
  const api = (request: FastifyRequest, call: Omit<ApiCall, 'lang'>): Promise<ApiAnswer> =>
    app.console.api(identityOf(request), { ...call, lang: langOf(request) })
  const getter = (request: FastifyRequest) => (url: string) => api(request, { method: 'GET', url })
  async function getJson<T> (request: FastifyRequest, url: string): Promise<{ body: T, answer: ApiAnswer }> {
    const answer = await api(request, { method: 'GET', url })
    if (answer.status !== 200) throw apiFailure(answer)
    return { body: answer.json<T>(), answer }
  }
  // The draft's ETag, the If-Match of restore and import. Every list of the
  // draft answers it; the smallest is asked for, since GET /draft also
  // compares the whole draft with what is published.
  const draftEtag = async (request: FastifyRequest): Promise<string> =>
    String((await getJson<unknown>(request, `${ADMIN_API}/standard-lists?pageSize=1`)).answer.headers.etag)
  // Every catalogue page opens with the catalogue's own menu.
  const page = (request: FastifyRequest, reply: FastifyReply, title: string, body: Html, status = 200) =>
    sendPage(request, reply, title, html`${catalogueMenu(pageContext(request))}${body}`, status)

  // ---- Services ----------------------------------------------------------

  app.get(CATALOGUE_PATH, {
    config: ADMIN,
    schema: { querystring: { type: 'object', properties: { q: { type: 'string', maxLength: 100 } } } },
  }, async (request, reply) => {
    const lang = langOf(request)
    const { q = '' } = request.query as { q?: string }
    const { items } = await listAll<Service>(getter(request), 'services')
    const needle = q.trim().toLowerCase()
    const services = items
      .filter((s) => needle === '' || s.code.includes(needle) || s.name.mn.toLowerCase().includes(needle) || s.name.en.toLowerCase().includes(needle))
    return page(request, reply, t(lang, 'cat.title'), html`
<p><a class="button secondary" href="${CATALOGUE_PATH}/draft">${t(lang, 'cat.draft')}</a></p>
<form method="get" action="${CATALOGUE_PATH}" role="search"><label for="q">${t(lang, 'cat.search')}</label>
<div class="pair"><input id="q" name="q" value="${q}" type="search"><p><button type="submit">${t(lang, 'cat.find')}</button></p></div></form>
<h2>${t(lang, 'cat.services')} (${services.length})</h2>
<p class="muted">${t(lang, 'svc.howToAdd')}</p>
<div class="scroll"><table><thead><tr><th scope="col">${t(lang, 'cat.code')}</th><th scope="col">${t(lang, 'cat.name')}</th><th scope="col">${t(lang, 'cat.agency')}</th><th scope="col" class="num">${t(lang, 'cat.fee')}</th><th scope="col" class="num">${t(lang, 'cat.days')}</th><th scope="col"><span class="muted">${t(lang, 'cat.edit')}</span></th></tr></thead><tbody>
${services.map((s) => html`<tr><td><code>${s.code}</code></td><td>${s.name[lang]}</td><td>${s.agency}</td><td class="num">${s.guide.feeMnt}</td><td class="num">${s.guide.processingDays}</td><td><a href="${CATALOGUE_PATH}/services/${s.code}" aria-label="${t(lang, 'cat.edit')} ${s.name[lang]}">${t(lang, 'cat.edit')}</a></td></tr>`)}
</tbody></table></div>`)
  })

  const serviceParams = { type: 'object', required: ['code'], properties: { code: CODE } }

  async function readService (request: FastifyRequest, code: string): Promise<{ service: Service, etag: string }> {
    const { body, answer } = await getJson<Service>(request, `${ADMIN_API}/services/${code}`)
    return { service: body, etag: String(answer.headers.etag) }
  }

  // The agencies and categories a service may name.
  async function serviceChoices (request: FastifyRequest): Promise<Pick<ServiceFormOptions, 'agencies' | 'categories'>> {
    const [agencies, categories] = await Promise.all([
      listAll<{ code: string, name: Text }>(getter(request), 'agencies'),
      listAll<{ code: string, name: Text }>(getter(request), 'categories'),
    ])
    return { agencies: agencies.items, categories: categories.items }
  }

  const servicePage = async (request: FastifyRequest, reply: FastifyReply, title: string, o: Omit<ServiceFormOptions, 'agencies' | 'categories'>, status = 200) =>
    page(request, reply, title, serviceForm(request, { ...o, ...await serviceChoices(request) }), status)

  app.get(`${CATALOGUE_PATH}/services/:code`, {
    config: ADMIN,
    schema: { params: serviceParams, querystring: { type: 'object', properties: { saved: { type: 'string', maxLength: 10 } } } },
  }, async (request, reply) => {
    const lang = langOf(request)
    const { code } = request.params as { code: string }
    const saved = (request.query as { saved?: string }).saved !== undefined
    const { service, etag } = await readService(request, code)
    return servicePage(request, reply, service.name[lang], {
      service,
      etag,
      problems: new Map(),
      notice: saved ? notice('ok', t(lang, 'cat.saved'), html` <a href="${CATALOGUE_PATH}/draft">${t(lang, 'cat.draft')}</a>`) : null,
    })
  })

  app.post(`${CATALOGUE_PATH}/services/:code`, {
    config: ADMIN,
    schema: { params: serviceParams, body: ETAG_BODY },
  }, async (request, reply) => {
    const lang = langOf(request)
    const { code } = request.params as { code: string }
    const form = request.body as Record<string, unknown> & { etag: string }
    const { service: current, etag: currentEtag } = await readService(request, code)
    const wanted = serviceFromForm(current, form, false)
    const answer = await api(request, { method: 'PUT', url: `${ADMIN_API}/services/${code}`, body: wanted, headers: { 'if-match': form.etag } })
    if (answer.status === 200) {
      const saved = answer.json<Service>()
      return servicePage(request, reply, saved.name[lang], {
        service: saved,
        etag: String(answer.headers.etag),
        problems: new Map(),
        notice: notice('ok', t(lang, 'cat.saved'), html` <a href="${CATALOGUE_PATH}/draft">${t(lang, 'cat.draft')}</a>`),
      })
    }
    if (answer.status === 412) {
      return servicePage(request, reply, current.name[lang], { service: current, etag: currentEtag, problems: new Map(), notice: notice('bad', t(lang, 'cat.conflict')) }, 409)
    }
    if (answer.status === 400) {
      // What was typed stays on the form, with the API's problems beside the fields.
      return servicePage(request, reply, current.name[lang], { service: wanted, etag: form.etag, problems: problemsByPointer(problemOf(answer)), notice: notice('bad', t(lang, 'cat.problems')) }, 400)
    }
    throw apiFailure(answer)
  })

  // A new service starts as a copy of one like it: its steps, documents,
  // application form and delivery are not on this form.
  const fromQuery = { type: 'object', required: ['from'], properties: { from: CODE } }

  app.get(`${CATALOGUE_PATH}/new/services`, { config: ADMIN, schema: { querystring: fromQuery } }, async (request, reply) => {
    const lang = langOf(request)
    const { from } = request.query as { from: string }
    const { service } = await readService(request, from)
    return servicePage(request, reply, t(lang, 'svc.new'), { service: { ...service, code: '' }, etag: null, from, problems: new Map(), notice: null })
  })

  app.post(`${CATALOGUE_PATH}/new/services`, { config: ADMIN, schema: { body: fromQuery } }, async (request, reply) => {
    const lang = langOf(request)
    const form = request.body as Record<string, unknown> & { from: string }
    const { service: model } = await readService(request, form.from)
    const wanted = serviceFromForm(model, form, true)
    const key = wanted.code !== '' && wanted.code.length <= 64 ? encodeURIComponent(wanted.code) : '_'
    const answer = await api(request, { method: 'PUT', url: `${ADMIN_API}/services/${key}`, body: wanted, headers: { 'if-none-match': '*' } })
    if (answer.status === 201) return reply.redirect(`${CATALOGUE_PATH}/services/${wanted.code}?saved=1`, 303)
    const problems = answer.status === 412
      ? new Map([['/code', [t(lang, 'ent.exists')]]])
      : answer.status === 400
        ? problemsByPointer({ ...problemOf(answer), errors: (problemOf(answer).errors ?? []).map((e) => (e.in === 'params' ? { ...e, pointer: '/code' } : e)) })
        : null
    if (problems === null) throw apiFailure(answer)
    return servicePage(request, reply, t(lang, 'svc.new'), { service: wanted, etag: null, from: form.from, problems, notice: notice('bad', t(lang, 'cat.problems')) }, answer.status === 412 ? 409 : 400)
  })

  // ---- The draft and publishing -------------------------------------------

  app.get(`${CATALOGUE_PATH}/draft`, { config: ADMIN }, async (request, reply) => {
    const ctx = pageContext(request)
    const { lang } = ctx
    const { body: draft, answer } = await getJson<{ version: number, changesSincePublished: Record<string, CollectionDiff> | null }>(request, `${ADMIN_API}/draft`)
    const changes = Object.entries(draft.changesSincePublished ?? {})
      .filter(([, d]) => d.added.length + d.removed.length + d.changed.length > 0)
    return page(request, reply, t(lang, 'cat.draft'), html`
<p>${t(lang, 'cat.draftIntro')}</p>
${changes.length === 0 ? html`<p class="notice">${t(lang, 'cat.noChanges')}</p>` : changes.map(([name, d]) => diffTable(lang, name, d))}
${changes.length === 0
    ? ''
    : html`<form method="post" action="${CATALOGUE_PATH}/publish">${csrfField(ctx)}
<input type="hidden" name="etag" value="${String(answer.headers.etag)}">
<label for="note">${t(lang, 'cat.summary')}</label><input id="note" name="note" maxlength="500" required>
<p><button type="submit">${t(lang, 'cat.publish')}</button></p></form>`}`)
  })

  app.post(`${CATALOGUE_PATH}/publish`, {
    config: ADMIN,
    schema: { body: { type: 'object', required: ['etag'], properties: { etag: { type: 'string', minLength: 1, maxLength: 200 }, note: { type: 'string', maxLength: 500 } } } },
  }, async (request, reply) => {
    const lang = langOf(request)
    const form = request.body as { etag: string, note?: string }
    const answer = await api(request, {
      method: 'POST',
      url: `${ADMIN_API}/publish`,
      body: form.note === undefined || form.note.trim() === '' ? {} : { note: form.note.trim() },
      headers: { 'if-match': form.etag },
    })
    if (answer.status !== 200) throw apiFailure(answer)
    const { version } = answer.json<{ version: number }>()
    return page(request, reply, t(lang, 'cat.draft'), html`${notice('ok', `${t(lang, 'cat.published')} ${version}`)}
<p><a href="${CATALOGUE_PATH}">${t(lang, 'cat.title')}</a></p>`)
  })

  // ---- The administrative tree (published) --------------------------------

  const topUnits = async (request: FastifyRequest): Promise<UnitView[]> => {
    const [capital, aimags] = await Promise.all([
      getJson<{ items: UnitView[] }>(request, '/v1/units?level=capital&pageSize=500'),
      getJson<{ items: UnitView[] }>(request, '/v1/units?level=aimag&pageSize=500'),
    ])
    return [...capital.body.items, ...aimags.body.items]
  }

  app.get(`${CATALOGUE_PATH}/units`, {
    config: ADMIN,
    schema: { querystring: { type: 'object', properties: { q: { type: 'string', maxLength: 100 } } } },
  }, async (request, reply) => {
    const lang = langOf(request)
    const q = ((request.query as { q?: string }).q ?? '').trim()
    const top = await topUnits(request)
    if (q === '') {
      const capital = top.filter((u) => u.level === 'capital')
      const aimags = top.filter((u) => u.level === 'aimag').sort((a, b) => a.name.localeCompare(b.name, lang))
      return page(request, reply, t(lang, 'tree.title'), html`${searchForm(lang, q)}
<h2>${levelLabel(lang, 'capital')}</h2>${unitCards(lang, capital)}
<h2>${t(lang, 'tree.aimags')} (${aimags.length})</h2>${unitCards(lang, aimags)}`)
    }
    const { body: found } = await getJson<{ items: UnitView[], total: number }>(request, `/v1/units?q=${encodeURIComponent(q)}&pageSize=${SEARCH_ROWS}`)
    // Where each unit lies: its aimag (or the capital), and for a bag or a
    // khoroo its soum or district, since many share a name.
    const names = new Map(top.map((u) => [u.code, u.name]))
    const parents = [...new Set(found.items.filter((u) => (u.level === 'bag' || u.level === 'khoroo') && u.parent !== null).map((u) => u.parent!))]
    await Promise.all(parents.map(async (code) => {
      const answer = await api(request, { method: 'GET', url: `/v1/units/${code}` })
      if (answer.status === 200) names.set(code, answer.json<UnitDetail>().unit.name)
    }))
    const within = (u: UnitView) => {
      const aimag = u.code.length > 2 ? names.get(u.code.slice(0, 2)) : undefined
      const middle = u.code.length > 4 ? names.get(u.code.slice(0, 4)) : undefined
      return [aimag, middle].filter((x) => x !== undefined).join(' › ')
    }
    return page(request, reply, t(lang, 'tree.title'), html`${searchForm(lang, q)}${searchResults(lang, q, found.items, found.total, within)}`)
  })

  app.get(`${CATALOGUE_PATH}/units/:code`, {
    config: ADMIN,
    schema: {
      params: { type: 'object', required: ['code'], properties: { code: UNIT_CODE } },
      querystring: { type: 'object', properties: { date: DATE } },
    },
  }, async (request, reply) => {
    const ctx = pageContext(request)
    const { code } = request.params as { code: string }
    const { date } = request.query as { date?: string }
    // Mobile rounds start from a soum and visit its bags: asked for with the
    // rest when the code is of that length, kept when the unit is one.
    const [detail, services, departures, allRounds] = await Promise.all([
      getJson<UnitDetail>(request, `/v1/units/${code}`),
      getJson<UnitServices>(request, `/v1/units/${code}/services${date === undefined ? '' : `?date=${date}`}`),
      listAll<Entity>(getter(request), 'availability'),
      code.length > 2 ? listAll<Entity>(getter(request), 'mobile-rounds') : null,
    ])
    const level = detail.body.unit.level
    const rounds = (level === 'soum' || level === 'bag') && allRounds !== null
      ? allRounds.items
        .filter((r) => r.unit === code || (r.bags as unknown[]).includes(code))
        .sort((a, b) => String(a.from).localeCompare(String(b.from)))
      : null
    return page(request, reply, detail.body.unit.name, unitPage({
      ctx,
      detail: detail.body,
      services: services.body,
      departures: departures.items.filter((a) => a.unit === code),
      rounds,
      today: app.catalogue.today(),
    }))
  })

  // ---- Agencies, categories, standard lists, availability, mobile rounds ----

  for (const spec of Object.values(ENTITY_SPECS)) {
    const base = `${CATALOGUE_PATH}/${spec.collection}`
    const composite = spec.collection === 'availability'
    const keyRoute = composite ? `${base}/:unit/:service` : `${base}/:key`
    const keyParams = spec.collection === 'availability'
      ? { type: 'object', required: ['unit', 'service'], properties: { unit: UNIT_CODE, service: CODE } }
      : { type: 'object', required: ['key'], properties: { key: KEY_SCHEMAS[spec.collection] } }
    const keysOf = (params: Record<string, string>): Entity => (composite ? { unit: params.unit, service: params.service } : { [spec.keys[0]!]: params.key })

    async function formData (request: FastifyRequest, entity: Entity): Promise<FormData> {
      const data: FormData = { services: [], categories: [], unit: null }
      const unit = typeof entity.unit === 'string' && /^[0-9]{2}([0-9]{2}([0-9]{2})?)?$/.test(entity.unit) ? entity.unit : null
      await Promise.all([
        spec.needsServices
          ? Promise.all([listAll<FormData['services'][number]>(getter(request), 'services'), listAll<FormData['categories'][number]>(getter(request), 'categories')])
            .then(([s, c]) => { data.services = s.items; data.categories = c.items })
          : null,
        unit === null
          ? null
          : api(request, { method: 'GET', url: `/v1/units/${unit}` }).then((answer) => {
            if (answer.status !== 200) return
            const d = answer.json<UnitDetail>()
            data.unit = { code: d.unit.code, name: d.unit.name, level: d.unit.level, children: d.children }
          }),
      ])
      return data
    }

    async function readEntity (request: FastifyRequest, params: Record<string, string>): Promise<{ entity: Entity, etag: string }> {
      const { body, answer } = await getJson<Entity>(request, `${ADMIN_API}/${spec.collection}/${keyPath(spec, keysOf(params))}`)
      return { entity: body, etag: String(answer.headers.etag) }
    }

    const formPage = async (request: FastifyRequest, reply: FastifyReply, o: { entity: Entity, creating: boolean, etag: string | null, data?: FormData, problems?: Map<string, string[]>, notice?: Html | null, status?: number }) => {
      const lang = langOf(request)
      const key = spec.collection === 'standard-lists' ? levelLabel(lang, String(o.entity.level)) : keyOf(spec, o.entity)
      const title = o.creating ? t(lang, spec.newTitle) : `${t(lang, spec.oneTitle)}: ${key}`
      const body = entityForm({
        ctx: pageContext(request),
        spec,
        entity: o.entity,
        data: o.data ?? await formData(request, o.entity),
        creating: o.creating,
        etag: o.etag,
        problems: o.problems ?? new Map(),
        notice: o.notice ?? null,
      })
      return page(request, reply, title, o.creating ? body : html`<p class="muted">${t(lang, spec.intro)}</p>${body}`, o.status ?? 200)
    }

    app.get(base, {
      config: ADMIN,
      schema: {
        querystring: {
          type: 'object',
          properties: { q: { type: 'string', maxLength: 100 }, page: { type: 'integer', minimum: 1, maximum: 10000, default: 1 }, removed: { type: 'string', maxLength: 200 } },
        },
      },
    }, async (request, reply) => {
      const lang = langOf(request)
      const { q = '', page: at, removed } = request.query as { q?: string, page: number, removed?: string }
      const { items } = await listAll<Entity>(getter(request), spec.collection)
      const needle = q.trim().toLowerCase()
      const found = needle === '' ? items : items.filter((e) => spec.matches(e, needle))
      const pages = Math.max(1, Math.ceil(found.length / PAGE_ROWS))
      const shown = found.slice((at - 1) * PAGE_ROWS, at * PAGE_ROWS)
      const link = (n: number) => `${base}?${new URLSearchParams({ ...(q === '' ? {} : { q }), page: String(n) })}`
      return page(request, reply, t(lang, spec.plural), html`
${removed === undefined ? '' : notice('ok', `${t(lang, 'ent.removed')}: ${removed}`)}
<p>${t(lang, spec.intro)}</p>
<p><a class="button" href="${CATALOGUE_PATH}/new/${spec.collection}">${t(lang, spec.newTitle)}</a></p>
<form method="get" action="${base}" role="search"><label for="list-q">${t(lang, 'ent.filter')}</label>
<div class="pair"><input id="list-q" name="q" value="${q}" type="search"><p><button type="submit">${t(lang, 'ent.filterButton')}</button></p></div></form>
<h2>${t(lang, spec.plural)} (${found.length})</h2>
${found.length === 0 ? html`<p class="muted">${t(lang, 'ent.empty')}</p>` : entityTable(lang, spec, shown)}
${pages <= 1
    ? ''
    : html`<nav aria-label="${t(lang, 'ent.pages')}"><p>${at > 1 ? html`<a href="${link(at - 1)}" rel="prev">${t(lang, 'ent.previous')}</a> · ` : ''}${t(lang, 'ent.page')} ${at} / ${pages}${at < pages ? html` · <a href="${link(at + 1)}" rel="next">${t(lang, 'ent.next')}</a>` : ''}</p></nav>`}`)
    })

    app.get(`${CATALOGUE_PATH}/new/${spec.collection}`, {
      config: ADMIN,
      schema: { querystring: { type: 'object', properties: { unit: UNIT_CODE, service: CODE, level: KEY_SCHEMAS['standard-lists'] } } },
    }, async (request, reply) => {
      const query = request.query as Record<string, string | undefined>
      const data = await formData(request, { unit: query.unit })
      return formPage(request, reply, { entity: spec.blank(query, data), creating: true, etag: null, data })
    })

    app.post(`${CATALOGUE_PATH}/new/${spec.collection}`, { config: ADMIN, schema: { body: { type: 'object' } } }, async (request, reply) => {
      const lang = langOf(request)
      const wanted = entityFromForm(spec, request.body as Form, null, null)
      const answer = await api(request, { method: 'PUT', url: `${ADMIN_API}/${spec.collection}/${apiKeyPath(spec, wanted)}`, body: wanted, headers: { 'if-none-match': '*' } })
      if (answer.status === 201) return reply.redirect(`${editHref(spec, wanted)}?saved=1`, 303)
      if (answer.status === 400) {
        return formPage(request, reply, { entity: wanted, creating: true, etag: null, problems: entityProblems(spec, problemOf(answer)), notice: notice('bad', t(lang, 'cat.problems')), status: 400 })
      }
      if (answer.status === 412) {
        // If-None-Match: * refused: the key is taken.
        const problems = new Map([[`/${spec.keys[spec.keys.length - 1]}`, [t(lang, 'ent.exists')]]])
        return formPage(request, reply, {
          entity: wanted,
          creating: true,
          etag: null,
          problems,
          notice: notice('bad', t(lang, 'ent.exists'), html` <a href="${editHref(spec, wanted)}">${keyOf(spec, wanted)}</a>`),
          status: 409,
        })
      }
      throw apiFailure(answer)
    })

    app.get(keyRoute, {
      config: ADMIN,
      schema: { params: keyParams, querystring: { type: 'object', properties: { saved: { type: 'string', maxLength: 10 } } } },
    }, async (request, reply) => {
      const lang = langOf(request)
      const { entity, etag } = await readEntity(request, request.params as Record<string, string>)
      const saved = (request.query as { saved?: string }).saved !== undefined
      return formPage(request, reply, {
        entity,
        creating: false,
        etag,
        notice: saved ? notice('ok', t(lang, 'cat.saved'), html` <a href="${CATALOGUE_PATH}/draft">${t(lang, 'cat.draft')}</a>`) : null,
      })
    })

    app.post(keyRoute, { config: ADMIN, schema: { params: keyParams, body: ETAG_BODY } }, async (request, reply) => {
      const lang = langOf(request)
      const params = request.params as Record<string, string>
      const form = request.body as Form & { etag: string }
      const { entity: current, etag: currentEtag } = await readEntity(request, params)
      const wanted = entityFromForm(spec, form, keysOf(params), current)
      const answer = await api(request, { method: 'PUT', url: `${ADMIN_API}/${spec.collection}/${keyPath(spec, wanted)}`, body: wanted, headers: { 'if-match': form.etag } })
      if (answer.status === 200) return reply.redirect(`${editHref(spec, wanted)}?saved=1`, 303)
      if (answer.status === 412) {
        return formPage(request, reply, { entity: current, creating: false, etag: currentEtag, notice: notice('bad', t(lang, 'cat.conflict')), status: 409 })
      }
      if (answer.status === 400) {
        return formPage(request, reply, { entity: wanted, creating: false, etag: form.etag, problems: entityProblems(spec, problemOf(answer)), notice: notice('bad', t(lang, 'cat.problems')), status: 400 })
      }
      throw apiFailure(answer)
    })

    app.post(`${keyRoute}/delete`, { config: ADMIN, schema: { params: keyParams, body: ETAG_BODY } }, async (request, reply) => {
      const lang = langOf(request)
      const params = request.params as Record<string, string>
      const { etag } = request.body as { etag: string }
      const key = keysOf(params)
      const answer = await api(request, { method: 'DELETE', url: `${ADMIN_API}/${spec.collection}/${keyPath(spec, key)}`, headers: { 'if-match': etag } })
      if (answer.status === 204) return reply.redirect(`${base}?${new URLSearchParams({ removed: keyOf(spec, key) })}`, 303)
      if (answer.status === 412 || answer.status === 409) {
        const { entity, etag: currentEtag } = await readEntity(request, params)
        // Still referred to: what refers to it is listed, by where it is in the catalogue.
        const refs = answer.status === 409 ? [...problemsByPointer(problemOf(answer))].flatMap(([p, list]) => list.map((d) => html`<li>${p === '' ? '' : html`<code>${p}</code>: `}${d}</li>`)) : []
        return formPage(request, reply, {
          entity,
          creating: false,
          etag: currentEtag,
          notice: notice('bad', t(lang, answer.status === 409 ? 'ent.stillUsed' : 'cat.conflict'), refs.length === 0 ? '' : html`<ul>${refs}</ul>`),
          status: 409,
        })
      }
      throw apiFailure(answer)
    })
  }

  // ---- Versions ------------------------------------------------------------

  async function versionsPage (request: FastifyRequest, reply: FastifyReply, top: Html | null, status = 200) {
    const ctx = pageContext(request)
    const { lang } = ctx
    const [{ body: list }, etag] = await Promise.all([
      getJson<{ versions: VersionMeta[] }>(request, `${ADMIN_API}/versions`),
      draftEtag(request),
    ])
    return page(request, reply, t(lang, 'cat.versions'), html`${top}
<p>${t(lang, 'versions.intro')}</p>
<div class="scroll"><table><thead><tr><th scope="col">${t(lang, 'versions.version')}</th><th scope="col">${t(lang, 'versions.status')}</th><th scope="col">${t(lang, 'versions.created')}</th><th scope="col">${t(lang, 'versions.publishedAt')}</th><th scope="col">${t(lang, 'cat.summary')}</th><th scope="col">${t(lang, 'versions.download')}</th><th scope="col">${t(lang, 'versions.restore')}</th></tr></thead><tbody>
${list.versions.map((v) => html`<tr>
<th scope="row"><a href="${CATALOGUE_PATH}/versions/${v.version}">${t(lang, 'versions.version')} ${v.version}</a></th>
<td>${t(lang, `versions.${v.status}`)}</td>
<td>${formatDate(v.createdAt)}<br><span class="muted">${v.createdBy}</span></td>
<td>${formatDate(v.publishedAt)}${v.publishedBy === null ? '' : html`<br><span class="muted">${v.publishedBy}</span>`}</td>
<td>${v.note ?? ''}</td>
<td><a href="${CATALOGUE_PATH}/export?version=${v.version}&amp;format=json" download>JSON</a> · <a href="${CATALOGUE_PATH}/export?version=${v.version}&amp;format=yaml" download>YAML</a></td>
<td>${v.status === 'draft'
    ? html`<span class="muted">${t(lang, 'versions.isDraft')}</span>`
    : html`<form method="post" action="${CATALOGUE_PATH}/versions/${v.version}/restore" class="inline">${csrfField(ctx)}<input type="hidden" name="etag" value="${etag}"><button type="submit" class="secondary">${t(lang, 'versions.restoreN').replace('{n}', String(v.version))}</button></form>`}</td>
</tr>`)}
</tbody></table></div>
<p class="muted">${t(lang, 'versions.restoreNote')}</p>`, status)
  }

  app.get(`${CATALOGUE_PATH}/versions`, {
    config: ADMIN,
    schema: { querystring: { type: 'object', properties: { restored: { type: 'integer', minimum: 1, maximum: 2147483647 } } } },
  }, async (request, reply) => {
    const lang = langOf(request)
    const { restored } = request.query as { restored?: number }
    return versionsPage(request, reply, restored === undefined
      ? null
      : notice('ok', t(lang, 'versions.restored').replace('{n}', String(restored)), html` <a href="${CATALOGUE_PATH}/draft">${t(lang, 'cat.draft')}</a>`))
  })

  const versionParams = { type: 'object', required: ['version'], properties: { version: { type: 'integer', minimum: 1, maximum: 2147483647 } } }

  app.get(`${CATALOGUE_PATH}/versions/:version`, {
    config: ADMIN,
    schema: { params: versionParams, querystring: { type: 'object', properties: { from: VERSION } } },
  }, async (request, reply) => {
    const lang = langOf(request)
    const { version } = request.params as { version: number }
    const { from: asked } = request.query as { from?: string }
    const { body: list } = await getJson<{ versions: VersionMeta[] }>(request, `${ADMIN_API}/versions`)
    const meta = list.versions.find((v) => v.version === version)
    if (meta === undefined) throw new ProblemError('NOT_FOUND', `the catalogue has no version ${version}`)
    // By default, against what it was made from; the draft against what is published.
    const from = asked ?? (meta.status === 'draft' ? 'published' : meta.basedOn === null ? null : String(meta.basedOn))
    const title = `${t(lang, 'versions.version')} ${version} · ${t(lang, `versions.${meta.status}`)}`
    const compare = html`<form method="get" action="${CATALOGUE_PATH}/versions/${version}" class="noprint"><div class="pair"><div><label for="compare-from">${t(lang, 'versions.compareWith')}</label>
<select id="compare-from" name="from">${list.versions.filter((v) => v.version !== version).map((v) => html`<option value="${v.version}"${String(v.version) === from ? html` selected` : ''}>${t(lang, 'versions.version')} ${v.version} (${t(lang, `versions.${v.status}`)})</option>`)}</select></div>
<p><button type="submit">${t(lang, 'tree.show')}</button></p></div></form>`
    const facts = html`<p class="muted">${formatDate(meta.createdAt)} · ${meta.createdBy}${meta.note === null ? '' : html` · ${meta.note}`}</p>`
    if (from === null) return page(request, reply, title, html`${facts}<p class="notice">${t(lang, 'versions.first')}</p>${compare}`)
    const { body: diff } = await getJson<{ from: number, to: number, changes: Record<string, CollectionDiff> }>(request, `${ADMIN_API}/diff?from=${from}&to=${version}`)
    const changes = Object.entries(diff.changes)
    return page(request, reply, title, html`${facts}
<p>${t(lang, 'versions.changedFrom')} ${diff.from}:</p>
${changes.length === 0 ? html`<p class="notice">${t(lang, 'versions.same')}</p>` : changes.map(([name, d]) => diffTable(lang, name, d))}
${compare}`)
  })

  app.post(`${CATALOGUE_PATH}/versions/:version/restore`, { config: ADMIN, schema: { params: versionParams, body: ETAG_BODY } }, async (request, reply) => {
    const lang = langOf(request)
    const { version } = request.params as { version: number }
    const { etag } = request.body as { etag: string }
    const answer = await api(request, { method: 'POST', url: `${ADMIN_API}/versions/${version}/restore`, headers: { 'if-match': etag } })
    if (answer.status === 200) return reply.redirect(`${CATALOGUE_PATH}/versions?restored=${version}`, 303)
    if (answer.status === 412) return versionsPage(request, reply, notice('bad', t(lang, 'versions.conflict')), 409)
    if (answer.status === 409 || answer.status === 400) {
      return versionsPage(request, reply, generalProblems(lang, [...problemsByPointer(problemOf(answer))].flatMap(([p, list]) => list.map((d) => [p, d] as const))), answer.status)
    }
    throw apiFailure(answer)
  })

  // ---- Import and export ---------------------------------------------------

  async function importPage (request: FastifyRequest, reply: FastifyReply, o: { top?: Html | null, problems?: ImportProblem[], pasted?: string, format?: string, status?: number }) {
    const ctx = pageContext(request)
    const { lang } = ctx
    const etag = await draftEtag(request)
    const format = o.format ?? 'auto'
    const option = (value: string, label: string) => html`<option value="${value}"${value === format ? html` selected` : ''}>${label}</option>`
    const problems = o.problems ?? []
    return page(request, reply, t(lang, 'io.title'), html`${o.top ?? ''}
${problems.length === 0
    ? ''
    : html`<section aria-labelledby="import-problems"><h2 id="import-problems">${t(lang, 'import.problems')} (${problems.length})</h2>
<p>${t(lang, 'import.problemsIntro')}</p>${importProblemTable(lang, problems)}</section>`}
<h2>${t(lang, 'import.title')}</h2>
<p>${t(lang, 'import.intro')}</p>
<form id="import-form" method="post" action="${CATALOGUE_PATH}/import" data-sending="${t(lang, 'import.sending')}" data-failed="${t(lang, 'import.failed')}">
${csrfField(ctx)}
<input type="hidden" name="etag" value="${etag}">
<div data-file hidden><label for="import-file">${t(lang, 'import.file')}</label><input id="import-file" name="file" type="file" accept=".yaml,.yml,.json,application/json,application/yaml,text/yaml"></div>
<label for="import-text">${t(lang, 'import.paste')}</label>
<p class="muted" id="import-text-hint">${t(lang, 'import.pasteHint')}</p>
<textarea id="import-text" name="document" rows="8" spellcheck="false" aria-describedby="import-text-hint">${o.pasted ?? ''}</textarea>
<label for="import-format">${t(lang, 'import.format')}</label>
<select id="import-format" name="format">${option('auto', t(lang, 'import.auto'))}${option('yaml', 'YAML')}${option('json', 'JSON')}</select>
<p><button type="submit">${t(lang, 'import.submit')}</button></p>
<p id="import-status" role="status" aria-live="polite"></p>
</form>
<h2>${t(lang, 'export.title')}</h2>
<ul>
<li>${t(lang, 'export.draft')}: <a href="${CATALOGUE_PATH}/export?version=draft&amp;format=json" download>JSON</a> · <a href="${CATALOGUE_PATH}/export?version=draft&amp;format=yaml" download>YAML</a></li>
<li>${t(lang, 'export.published')}: <a href="${CATALOGUE_PATH}/export?version=published&amp;format=json" download>JSON</a> · <a href="${CATALOGUE_PATH}/export?version=published&amp;format=yaml" download>YAML</a></li>
</ul>
<p class="muted">${t(lang, 'export.versions')} <a href="${CATALOGUE_PATH}/versions">${t(lang, 'cat.versions')}</a></p>
<script src="${IMPORT_SCRIPT_PATH}" defer></script>`, o.status ?? 200)
  }

  app.get(IMPORT_SCRIPT_PATH, { config: ASSET }, async (_request, reply) => {
    return reply.type('text/javascript; charset=utf-8').header('cache-control', `public, max-age=${ASSET_MAX_AGE_SECONDS}`).send(IMPORT_SCRIPT)
  })

  app.get(`${CATALOGUE_PATH}/import`, {
    config: ADMIN,
    schema: { querystring: { type: 'object', properties: { imported: { type: 'string', maxLength: 10 } } } },
  }, async (request, reply) => {
    const lang = langOf(request)
    const imported = (request.query as { imported?: string }).imported !== undefined
    return importPage(request, reply, { top: imported ? notice('ok', t(lang, 'import.done'), html` <a href="${CATALOGUE_PATH}/draft">${t(lang, 'cat.draft')}</a>`) : null })
  })

  // The file comes as it is (text/plain, from the page's script, with the
  // draft's ETag in If-Match), or pasted in the form.
  app.post(`${CATALOGUE_PATH}/import`, {
    config: ADMIN,
    bodyLimit: IMPORT_LIMIT,
    schema: { querystring: { type: 'object', properties: { format: { enum: ['auto', 'json', 'yaml'], default: 'auto' } } } },
  }, async (request, reply) => {
    const lang = langOf(request)
    let document: string
    let etag: unknown
    let chosen: unknown = (request.query as { format: string }).format
    const pasted = typeof request.body !== 'string'
    if (!pasted) {
      document = request.body as string
      etag = request.headers['if-match']
      if (typeof etag !== 'string' || etag === '') throw new ValidationProblem([{ in: 'headers', pointer: '/if-match', detail: 'must be the draft\'s ETag' }])
    } else {
      const form = (request.body ?? {}) as Form
      document = typeof form.document === 'string' ? form.document : ''
      etag = form.etag
      chosen = form.format ?? chosen
      if (typeof etag !== 'string' || etag === '') throw new ValidationProblem([{ in: 'body', pointer: '/etag', detail: 'must be the draft\'s ETag' }])
    }
    if (chosen !== 'auto' && chosen !== 'json' && chosen !== 'yaml') throw new ValidationProblem([{ in: 'body', pointer: '/format', detail: 'must be one of: auto, json, yaml' }])
    const keep = pasted ? { pasted: document, format: chosen } : {}
    if (document.trim() === '') {
      return importPage(request, reply, { ...keep, top: generalProblems(lang, [['document', t(lang, 'import.empty')]]), status: 400 })
    }
    const format = detectFormat(document, chosen)
    const answer = await api(request, {
      method: 'POST',
      url: `${ADMIN_API}/import`,
      body: document,
      headers: { 'content-type': format === 'json' ? 'application/json' : 'application/yaml', 'if-match': etag },
    })
    if (answer.status === 200) return reply.redirect(`${CATALOGUE_PATH}/import?imported=1`, 303)
    if (answer.status === 412) return importPage(request, reply, { ...keep, top: notice('bad', t(lang, 'import.conflict')), status: 409 })
    const problem = problemOf(answer)
    if (answer.status === 400 && Array.isArray(problem.errors) && problem.errors.length > 0) {
      const problems = importProblems(lang, documentReader(document, format), problem.errors)
      return importPage(request, reply, { ...keep, top: notice('bad', t(lang, 'import.refused')), problems, status: 400 })
    }
    if (answer.status >= 400 && answer.status < 500) {
      return importPage(request, reply, { ...keep, top: generalProblems(lang, [['', problem.detail ?? problem.title ?? String(answer.status)]]), status: answer.status })
    }
    throw apiFailure(answer)
  })

  // Downloads: the API's answer passed on as it is, with its file name.
  const passOn = (reply: FastifyReply, answer: ApiAnswer) => {
    const disposition = answer.headers['content-disposition']
    if (typeof disposition === 'string') reply.header('content-disposition', disposition)
    return reply.code(200).type(String(answer.headers['content-type'])).send(answer.body)
  }

  app.get(`${CATALOGUE_PATH}/export`, {
    config: ADMIN,
    schema: { querystring: { type: 'object', properties: { version: VERSION, format: { enum: ['json', 'yaml'], default: 'json' } } } },
  }, async (request, reply) => {
    const { version = 'draft', format } = request.query as { version?: string, format: string }
    const answer = await api(request, { method: 'GET', url: `${ADMIN_API}/export?version=${version}&format=${format}` })
    if (answer.status !== 200) throw apiFailure(answer)
    return passOn(reply, answer)
  })

  // ---- The consistency report ---------------------------------------------

  app.get(`${CATALOGUE_PATH}/consistency`, {
    config: ADMIN,
    schema: { querystring: { type: 'object', properties: { version: VERSION, aimag: { type: 'string', pattern: `^([0-9]{2}|${NATIONAL})$` } } } },
  }, async (request, reply) => {
    const lang = langOf(request)
    const { version = 'published', aimag } = request.query as { version?: string, aimag?: string }
    const [{ body: report }, top, { body: list }] = await Promise.all([
      getJson<Report>(request, `${ADMIN_API}/consistency?version=${version}`),
      topUnits(request),
      getJson<{ versions: VersionMeta[] }>(request, `${ADMIN_API}/versions`),
    ])
    const names = new Map(top.map((u) => [u.code, u.name]))
    const gaps = aimag === undefined
      ? html``
      : html`<h2 id="gaps">${t(lang, 'report.gapsIn')} ${aimag === NATIONAL ? t(lang, 'report.national') : names.get(aimag) ?? aimag}</h2>
<p><a href="${reportHref({ version, aimag }, true)}" download>${t(lang, 'report.csvAimag')}</a></p>
${gapsTable(lang, report.findings.filter((f) => (f.aimag ?? NATIONAL) === aimag))}`
    return page(request, reply, t(lang, 'report.title'), html`
<p>${t(lang, 'report.intro')}</p>
${versionForm(lang, version, list.versions.map((v) => v.version), aimag)}
<p><a class="button secondary" href="${reportHref({ version }, true)}" download>${t(lang, 'report.csv')}</a></p>
<h2>${t(lang, 'report.byAimag')}</h2>
${reportTable(lang, report, names, version)}
${gaps}`)
  })

  app.get(`${CATALOGUE_PATH}/consistency.csv`, {
    config: ADMIN,
    schema: { querystring: { type: 'object', properties: { version: VERSION, unit: UNIT_CODE } } },
  }, async (request, reply) => {
    const { version = 'published', unit } = request.query as { version?: string, unit?: string }
    const answer = await api(request, { method: 'GET', url: `${ADMIN_API}/consistency?format=csv&version=${version}${unit === undefined ? '' : `&unit=${unit}`}` })
    if (answer.status !== 200) throw apiFailure(answer)
    return passOn(reply, answer)
  })
}
