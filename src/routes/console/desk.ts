import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { formFields, initialValues, planForm, problemsByField, readForm, type FieldProblems, type FormPlan, type FormValues, describedBy, errorLine, invalid, requiredMark } from '../../console/desk-form.ts'
import { consentOfferHtml, consentOfferOf, consentPageHtml, lockedHtml, lookupOf, type ConsentPageOptions, type ConsentView, type LookupRequest } from '../../console/desk-consent.ts'
import { problemError, problemNotice, problemOf, recordHtml, sourcesHtml, timeHtml, valueHtml, type ApiProblem, type SourceAnswer } from '../../console/desk-view.ts'
import { CONSOLE_PATH, csrfField, html, type Html } from '../../console/html.ts'
import { t, type Lang, type MessageKey } from '../../console/messages.ts'
import type { ConsoleIdentity } from '../../console/sessions.ts'
import { statusLabels } from '../../applications/labels.ts'
import { ProblemError } from '../../errors/problem-error.ts'
import type { ApiAnswer } from '../../plugins/console.ts'
import { identityOf, pageContext, sendPage } from './shared.ts'

// The OSS desk for officers: look a citizen up for a purpose and a case,
// take an application at the counter, follow the unit's applications. Every
// step is a call to the public API as the signed-in officer, so purposes,
// limits, scope, idempotency and the audit log are the API's, unchanged.
// When a look-up needs the citizen's consent, the desk asks for it (a KHUR
// code read out at the counter, or a request the citizen answers in their
// portal) and looks up again under it.
// Registration numbers travel in POST bodies only (never in a console URL;
// a consent's page is addressed by the consent's id), and nothing here logs
// them.

const OFFICER = { console: { roles: ['officer'] as const } }
const DESK = `${CONSOLE_PATH}/desk`
const SERVICE_CODE = '^[a-z][a-z0-9_.-]{1,63}$'
const KEY = /^[A-Za-z0-9._:-]{8,200}$/
const UUID = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
const STATUSES = ['received', 'queued', 'delivering', 'delivered', 'decided', 'failed'] as const
// The API's own bound on a path parameter's length, once percent-encoded.
const MAX_ENCODED_PARAM = 100

interface Bilingual { mn: string, en: string }
interface ServiceSummary { code: string, name: string, category: { code: string, name: string }, agency: { code: string, name: string } }
interface ServiceGuide {
  code: string
  name: string
  agency: { code: string, name: string }
  guide: { documents: string[], feeMnt: number, processingDays: number }
  formSchema: unknown
}
interface ApplicationView {
  id: string
  service: string
  unit: string
  channel: string
  status: string
  statusLabel?: string
  statusLabels?: Bilingual
  decision?: string | null
  agencyReference?: string | null
  reason?: string | null
  result?: unknown
  attempts?: number
  parts?: ApplicationView[]
  history?: Array<{ at: string, status: string, attempt: number | null, detail: string | null, statusLabels?: Bilingual }>
  createdAt: string
  updatedAt: string
}

function text (body: unknown, name: string): string {
  const v = (body as Record<string, unknown> | null | undefined)?.[name]
  if (typeof v === 'string') return v
  return Array.isArray(v) && typeof v[0] === 'string' ? v[0] : ''
}

function texts (body: unknown, name: string): string[] {
  const v = (body as Record<string, unknown> | null | undefined)?.[name]
  if (typeof v === 'string') return [v]
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
}

function officerOf (request: FastifyRequest): ConsoleIdentity & { unit: string, agency: string } {
  const identity = identityOf(request)
  if (identity.unit === undefined || identity.agency === undefined) {
    throw new ProblemError('ROLE_FORBIDDEN', 'the OSS desk needs an officer with a unit and an agency')
  }
  return identity as ConsoleIdentity & { unit: string, agency: string }
}

function deskNav (lang: Lang, current: 'lookup' | 'apply' | 'applications'): Html {
  const items = [['lookup', DESK], ['apply', `${DESK}/apply`], ['applications', `${DESK}/applications`]] as const
  return html`<nav aria-label="${t(lang, 'desk.nav.label')}" class="desk-nav noprint"><p>${items.map(([key, href]) => html`<a class="button${key === current ? '' : ' secondary'}" href="${href}"${key === current ? html` aria-current="page"` : ''}>${t(lang, `desk.nav.${key}`)}</a> `)}</p></nav>`
}

const channelLabel = (lang: Lang, channel: string) =>
  ['oss_counter', 'mobile_oss', 'online'].includes(channel) ? t(lang, `channel.${channel}` as MessageKey) : channel

function labelOf (lang: Lang, a: Pick<ApplicationView, 'status' | 'decision' | 'statusLabels'>): string {
  return a.statusLabels?.[lang] ?? statusLabels(a.status, a.decision ?? null)[lang]
}

export async function deskConsoleRoutes (app: FastifyInstance): Promise<void> {
  // The purposes this officer's agency may state: read from the purposes
  // table the API enforces (officers may not read GET /v1/admin/policies);
  // the API still decides each look-up.
  function purposesFor (agency: string): Array<{ code: string, name: Bilingual }> {
    return Object.entries(app.policies.purposes)
      .filter(([, p]) => p.agencies.includes(agency))
      .map(([code, p]) => ({ code, name: p.name }))
  }

  const sourceName = (lang: Lang) => (source: string) => app.policies.sources[source]?.name[lang] ?? source

  async function get<T> (request: FastifyRequest, url: string, lang: Lang): Promise<T> {
    const answer = await app.console.api(identityOf(request), { method: 'GET', url, lang })
    if (answer.status !== 200) throw problemError(problemOf(answer))
    return answer.json<T>()
  }

  async function unitName (request: FastifyRequest, code: string, lang: Lang): Promise<string> {
    const unit = await get<{ unit: { name: string } }>(request, `/v1/units/${code}?lang=${lang}`, lang)
    return `${unit.unit.name} (${code})`
  }

  async function serviceNames (request: FastifyRequest, lang: Lang): Promise<Map<string, string>> {
    const page = await get<{ items: ServiceSummary[] }>(request, `/v1/services?pageSize=500&lang=${lang}`, lang)
    return new Map(page.items.map((s) => [s.code, s.name]))
  }

  // ---- 1. Look a citizen up ----------------------------------------------

  interface LookupState extends LookupRequest { problems: FieldProblems }

  // The sources the agency's purposes read, in the policies' order: the
  // officer may narrow a look-up to some of them (a consent may cover less).
  function sourcesFor (agency: string): string[] {
    const used = new Set(purposesFor(agency).flatMap((p) => Object.keys(app.policies.purposes[p.code]?.sources ?? {})))
    return Object.keys(app.policies.sources).filter((s) => used.has(s))
  }

  function lookupForm (request: FastifyRequest, state: LookupState): Html {
    const ctx = pageContext(request)
    const { lang } = ctx
    const agency = officerOf(request).agency
    const purposes = purposesFor(agency)
    const chosen = state.purpose !== '' ? state.purpose : purposes.length === 1 ? purposes[0]!.code : ''
    const errs = (field: string) => state.problems.get(field)
    const name = sourceName(lang)
    return html`
<p>${t(lang, 'desk.lookup.intro')}</p>
${purposes.length === 0 ? html`<div class="notice bad" role="alert">${t(lang, 'desk.purpose.none')}</div>` : ''}
<form method="post" action="${DESK}/lookup" novalidate>
${csrfField(ctx)}
<div class="pair">
<div><label for="regnum">${t(lang, 'desk.regnum')}${requiredMark(lang, true)}</label>
<p class="muted hint" id="regnum-hint">${t(lang, 'desk.regnum.hint')}</p>
<input id="regnum" name="regnum" value="${state.regnum}" autocomplete="off" autocapitalize="characters" spellcheck="false" aria-required="true"${describedBy('regnum-hint', errs('regnum') === undefined ? null : 'regnum-error')}${invalid(errs('regnum'))}>
${errorLine('regnum', errs('regnum'))}</div>
<div><label for="case">${t(lang, 'desk.case')}${requiredMark(lang, true)}</label>
<p class="muted hint" id="case-hint">${t(lang, 'desk.case.hint')}</p>
<input id="case" name="case" value="${state.caseRef}" maxlength="100" autocomplete="off" spellcheck="false" aria-required="true"${describedBy('case-hint', errs('case') === undefined ? null : 'case-error')}${invalid(errs('case'))}>
${errorLine('case', errs('case'))}</div>
</div>
<label for="purpose">${t(lang, 'desk.purpose')}${requiredMark(lang, true)}</label>
<select id="purpose" name="purpose" aria-required="true"${describedBy(errs('purpose') === undefined ? null : 'purpose-error')}${invalid(errs('purpose'))}>
<option value="">${t(lang, 'desk.choose')}</option>
${purposes.map((p) => html`<option value="${p.code}"${p.code === chosen ? html` selected` : ''}>${p.name[lang]} (${p.code})</option>`)}
${chosen !== '' && !purposes.some((p) => p.code === chosen) ? html`<option value="${chosen}" selected>${chosen}</option>` : ''}
</select>
${errorLine('purpose', errs('purpose'))}
<fieldset class="choices"${describedBy('sources-hint', errs('sources') === undefined ? null : 'sources-error')}><legend>${t(lang, 'desk.sources')}</legend>
<p class="muted hint" id="sources-hint">${t(lang, 'desk.sources.hint')}</p>
${sourcesFor(agency).map((s) => html`<label><input type="checkbox" id="sources-${s}" name="sources" value="${s}"${state.sources.includes(s) ? html` checked` : ''}> ${name(s)}</label>`)}
${errorLine('sources', errs('sources'))}</fieldset>
<p><button type="submit">${t(lang, 'desk.lookup.submit')}</button></p>
</form>`
  }

  function sendLookup (request: FastifyRequest, reply: FastifyReply, state: LookupState, result: Html, status: number): FastifyReply {
    const { lang } = pageContext(request)
    return sendPage(request, reply, t(lang, 'desk.nav.lookup'), html`${deskNav(lang, 'lookup')}${result}${lookupForm(request, state)}`, status)
  }

  // The API's refusal of a look-up or of a request for consent: its field
  // errors beside the fields, and, when consent is lacking, the way to it.
  function sendRefusal (request: FastifyRequest, reply: FastifyReply, look: LookupRequest, answer: ApiAnswer): FastifyReply {
    const ctx = pageContext(request)
    const { lang } = ctx
    if (answer.status === 401) throw problemError(problemOf(answer))
    const p = problemOf(answer)
    if (p.retryAfter !== null) reply.header('retry-after', p.retryAfter)
    const fields: FieldProblems = new Map()
    const add = (key: string, detail: string) => fields.set(key, [...(fields.get(key) ?? []), detail])
    for (const e of p.errors) {
      const field = (e.pointer ?? '').split('/')[1] ?? ''
      if (['regnum', 'purpose', 'case', 'sources'].includes(field)) add(field, e.detail ?? p.detail)
    }
    if (p.code === 'PURPOSE_FORBIDDEN') fields.set('purpose', [t(lang, 'desk.refused.PURPOSE_FORBIDDEN')])
    if (p.code === 'SOURCE_FORBIDDEN') {
      const source = p.extensions.source
      add('sources', `${t(lang, 'desk.refused.SOURCE_FORBIDDEN')}${typeof source === 'string' ? ` (${sourceName(lang)(source)})` : ''}`)
    }
    const offer = consentOfferOf(p)
    // No source answered: each still says why.
    const sources = p.extensions.sources
    const result = html`${problemNotice(lang, p, null, lockedHtml(lang, p))}${offer === null ? '' : consentOfferHtml(ctx, offer, look, sourceName(lang))}${typeof sources === 'object' && sources !== null && !Array.isArray(sources)
      ? html`<section aria-labelledby="view-title"><h2 id="view-title">${t(lang, 'desk.view.title')}</h2>${sourcesHtml(lang, sources as Record<string, SourceAnswer>, sourceName(lang))}</section>`
      : ''}`
    return sendLookup(request, reply, { ...look, problems: fields }, result, answer.status)
  }

  // The look-up itself, as the officer, with what the page shows first
  // (`lead`: that a consent was just given, say).
  async function runLookup (request: FastifyRequest, reply: FastifyReply, look: LookupRequest, lead: Html = html``): Promise<FastifyReply> {
    const { lang } = pageContext(request)
    const query = new URLSearchParams({ purpose: look.purpose, case: look.caseRef, ...(look.sources.length === 0 ? {} : { sources: look.sources.join(',') }) })
    const answer = await app.console.api(officerOf(request), { method: 'GET', url: `/v1/citizens/${encodeURIComponent(look.regnum)}?${query}`, lang })
    if (answer.status !== 200) return sendRefusal(request, reply, look, answer)
    const view = answer.json<{ regnum: string, purpose: string, case: string, auditSeq?: number, consent?: string | null, sources: Record<string, SourceAnswer> }>()
    const purposeName = app.policies.purposes[view.purpose]?.name[lang] ?? view.purpose
    const consent = typeof view.consent === 'string' ? view.consent : null
    const result = html`${lead}<section aria-labelledby="view-title"><h2 id="view-title">${t(lang, 'desk.view.title')}</h2>
<p>${t(lang, 'desk.regnum')}: <strong>${view.regnum}</strong> · ${t(lang, 'desk.purpose')}: ${purposeName} · ${t(lang, 'desk.case')}: <code>${view.case}</code>${view.auditSeq === undefined ? '' : html` · ${t(lang, 'desk.view.audit')}: ${view.auditSeq}`}${consent === null ? '' : html` · ${t(lang, 'desk.view.consent')}: <code id="lookup-consent">${consent}</code>`}</p>
${sourcesHtml(lang, view.sources, sourceName(lang))}</section>`
    // The next look-up starts blank; the purpose, the case and the sources stay.
    return sendLookup(request, reply, { ...look, regnum: '', problems: new Map() }, result, 200)
  }

  // What a look-up form (or a consent form carrying one) sent.
  function lookupFrom (body: unknown): LookupRequest {
    return { regnum: text(body, 'regnum').trim(), purpose: text(body, 'purpose').trim(), caseRef: text(body, 'case').trim(), sources: [...new Set(texts(body, 'sources'))] }
  }

  app.get(DESK, { config: OFFICER }, async (request, reply) => {
    return sendLookup(request, reply, { regnum: '', purpose: '', caseRef: '', sources: [], problems: new Map() }, html``, 200)
  })

  // The look-up is a POST: the registration number stays out of URLs,
  // history and access logs.
  app.post(`${DESK}/lookup`, { config: OFFICER }, async (request, reply) => {
    const { lang } = pageContext(request)
    const look = lookupFrom(request.body)
    const problems: FieldProblems = new Map()
    if (look.regnum === '') problems.set('regnum', [t(lang, 'desk.lookup.regnumMissing')])
    else if (encodeURIComponent(look.regnum).length > MAX_ENCODED_PARAM) problems.set('regnum', [t(lang, 'desk.lookup.tooLong')])
    if (look.purpose === '') problems.set('purpose', [t(lang, 'desk.lookup.purposeMissing')])
    if (look.caseRef === '') problems.set('case', [t(lang, 'desk.lookup.caseMissing')])
    if (problems.size > 0) {
      const notice = html`<div class="notice bad" role="alert"><p><strong>${t(lang, 'desk.refused.VALIDATION_FAILED')}</strong></p></div>`
      return sendLookup(request, reply, { ...look, problems }, notice, 400)
    }
    return runLookup(request, reply, look)
  })

  // ---- 1a. The citizen's consent, when a look-up needs it ----------------

  const consentParams = { params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: UUID } } } }

  async function consentOf (request: FastifyRequest, id: string, lang: Lang): Promise<ConsentView> {
    return get<ConsentView>(request, `/v1/consents/${id}`, lang)
  }

  function sendConsent (request: FastifyRequest, reply: FastifyReply, consent: ConsentView, options: ConsentPageOptions, status = 200): FastifyReply {
    const ctx = pageContext(request)
    return sendPage(request, reply, t(ctx.lang, 'desk.consent.title'), html`${deskNav(ctx.lang, 'lookup')}${consentPageHtml(ctx, consent, options, sourceName(ctx.lang))}`, status)
  }

  // Asks for consent for the look-up the form carries: KHUR sends the
  // citizen a code now, or the request waits in the citizen's portal. Then
  // on to the consent's page, whose address names the consent, not the
  // citizen.
  app.post(`${DESK}/consents`, { config: OFFICER }, async (request, reply) => {
    const { lang } = pageContext(request)
    const look = lookupFrom(request.body)
    const method = text(request.body, 'method')
    if (method !== 'otp' && method !== 'portal') throw new ProblemError('VALIDATION_FAILED', 'the form names no way to ask for consent; look the citizen up again')
    const answer = await app.console.api(officerOf(request), {
      method: 'POST',
      url: '/v1/consents',
      body: { regnum: look.regnum, purpose: look.purpose, case: look.caseRef, method, ...(look.sources.length === 0 ? {} : { sources: look.sources }) },
      lang,
    })
    if (answer.status !== 201) return sendRefusal(request, reply, look, answer)
    return reply.redirect(`${DESK}/consents/${answer.json<ConsentView>().id}`, 303)
  })

  // The consent as it stands: the code field while a code waits, the
  // citizen's answer awaited (refresh), or the look-up once it is given.
  app.get(`${DESK}/consents/:id`, { config: OFFICER, schema: consentParams }, async (request, reply) => {
    const { id } = request.params as { id: string }
    return sendConsent(request, reply, await consentOf(request, id, pageContext(request).lang), {})
  })

  // The code the citizen reads out; when KHUR says it matches, the look-up
  // runs at once under the consent.
  app.post(`${DESK}/consents/:id/otp`, { config: OFFICER, schema: consentParams }, async (request, reply) => {
    const { lang } = pageContext(request)
    const { id } = request.params as { id: string }
    const code = text(request.body, 'code').replace(/\s+/g, '')
    // Checked here first: a typing slip is not an attempt against the citizen.
    const slip = code === '' ? t(lang, 'desk.consent.code.missing') : /^[0-9]{4,8}$/.test(code) ? null : t(lang, 'desk.consent.code.format')
    if (slip !== null) {
      const notice = html`<div class="notice bad" role="alert"><p><strong>${t(lang, 'desk.refused.VALIDATION_FAILED')}</strong></p></div>`
      return sendConsent(request, reply, await consentOf(request, id, lang), { notice, code, codeErrors: [slip] }, 400)
    }
    const answer = await app.console.api(officerOf(request), { method: 'POST', url: `/v1/consents/${id}/otp`, body: { code }, lang })
    if (answer.status === 200) {
      const given = answer.json<ConsentView>()
      return runLookup(request, reply, lookupOf(given), html`<div class="notice ok" role="status"><p><strong>${t(lang, 'desk.consent.codeAccepted')}</strong></p></div>`)
    }
    const p = problemOf(answer)
    if (answer.status === 401 || answer.status === 404) throw problemError(p)
    if (p.retryAfter !== null) reply.header('retry-after', p.retryAfter)
    // The API's reason beside the field, with the attempts left.
    const left = p.extensions.attemptsLeft
    const reasons = p.errors.filter((e) => e.pointer === '/code').map((e) => e.detail ?? p.detail)
    // The code is the form's one field: whatever the API found invalid is about it.
    if (reasons.length === 0 && p.code === 'VALIDATION_FAILED') reasons.push(p.detail === '' ? p.title : p.detail)
    const codeErrors = reasons.length === 0 && typeof left !== 'number'
      ? []
      : [[reasons.join('; '), typeof left === 'number' ? `${t(lang, 'desk.consent.attemptsLeft')}: ${left}` : ''].filter((x) => x !== '').join(' — ')]
    const consent = await consentOf(request, id, lang)
    return sendConsent(request, reply, consent, { notice: problemNotice(lang, p, null, lockedHtml(lang, p)), code, codeErrors, locked: p.code === 'OTP_LOCKED' }, answer.status)
  })

  // The look-up under a consent given (in the citizen's portal, say): the
  // consent says whom, for what, for which case and which sources.
  app.post(`${DESK}/consents/:id/lookup`, { config: OFFICER, schema: consentParams }, async (request, reply) => {
    const { id } = request.params as { id: string }
    const consent = await consentOf(request, id, pageContext(request).lang)
    if (consent.case === null) throw new ProblemError('VALIDATION_FAILED', 'this consent names no case; look the citizen up from the desk')
    return runLookup(request, reply, lookupOf(consent))
  })

  // ---- 2. Submit an application at the counter ---------------------------

  async function offered (request: FastifyRequest, lang: Lang): Promise<ServiceSummary[]> {
    // The same rule intake applies: what this unit's counter takes today.
    const unit = officerOf(request).unit
    const page = await get<{ items: ServiceSummary[] }>(request, `/v1/services?unit=${unit}&channel=oss_counter&pageSize=500&lang=${lang}`, lang)
    return page.items
  }

  async function guideOf (request: FastifyRequest, code: string, lang: Lang): Promise<ServiceGuide> {
    return get<ServiceGuide>(request, `/v1/services/${code}?lang=${lang}`, lang)
  }

  interface ApplyState { service: ServiceGuide, plan: FormPlan, key: string, regnum: string, values: FormValues, problems: FieldProblems }

  async function applyPage (request: FastifyRequest, reply: FastifyReply, state: ApplyState, notice: Html, status: number): Promise<FastifyReply> {
    const ctx = pageContext(request)
    const { lang } = ctx
    const { service, problems } = state
    const unit = await unitName(request, officerOf(request).unit, lang)
    const general = problems.get('') ?? []
    const regnumErrors = problems.get('regnum')
    return sendPage(request, reply, service.name, html`${deskNav(lang, 'apply')}
${notice}
${general.length === 0 ? '' : html`<div class="notice bad"><ul>${general.map((g) => html`<li>${g}</li>`)}</ul></div>`}
<p class="muted"><code>${service.code}</code> · ${service.agency.name} · ${t(lang, 'desk.apply.fee')}: ${service.guide.feeMnt === 0 ? t(lang, 'desk.apply.free') : `${service.guide.feeMnt} ₮`} · ${t(lang, 'desk.apply.days')}: ${service.guide.processingDays}</p>
${service.guide.documents.length === 0 ? '' : html`<h2>${t(lang, 'desk.apply.documents')}</h2><ul>${service.guide.documents.map((d) => html`<li>${d}</li>`)}</ul>`}
<form method="post" action="${DESK}/apply" novalidate>
${csrfField(ctx)}
<input type="hidden" name="service" value="${service.code}">
<input type="hidden" name="key" value="${state.key}">
<fieldset><legend>${t(lang, 'desk.apply.applicant')}</legend>
<div class="pair">
<div><label for="regnum">${t(lang, 'desk.regnum')}${requiredMark(lang, true)}</label>
<p class="muted hint" id="regnum-hint">${t(lang, 'desk.regnum.hint')}</p>
<input id="regnum" name="regnum" value="${state.regnum}" autocomplete="off" autocapitalize="characters" spellcheck="false" aria-required="true"${describedBy('regnum-hint', regnumErrors === undefined ? null : 'regnum-error')}${invalid(regnumErrors)}>
${errorLine('regnum', regnumErrors)}</div>
<div><p><strong>${t(lang, 'desk.unit')}</strong></p><p>${unit} · ${channelLabel(lang, 'oss_counter')}</p></div>
</div></fieldset>
<fieldset><legend>${t(lang, 'desk.apply.form')}</legend>
${formFields(state.plan, state.values, problems, lang)}
</fieldset>
<p><button type="submit">${t(lang, 'desk.apply.submit')}</button></p>
</form>`, status)
  }

  // The key is made when the form is drawn: submitting it twice (a double
  // click, a resend after a lost answer) is one application.
  const newKey = () => `console-${randomUUID()}`

  app.get(`${DESK}/apply`, {
    config: OFFICER,
    schema: { querystring: { type: 'object', properties: { service: { type: 'string', pattern: SERVICE_CODE } } } },
  }, async (request, reply) => {
    const ctx = pageContext(request)
    const { lang } = ctx
    const { service: code } = request.query as { service?: string }
    if (code !== undefined) {
      const service = await guideOf(request, code, lang)
      const plan = planForm(service.formSchema)
      return applyPage(request, reply, { service, plan, key: newKey(), regnum: '', values: initialValues(plan), problems: new Map() }, html``, 200)
    }
    const services = await offered(request, lang)
    const unit = await unitName(request, officerOf(request).unit, lang)
    const categories = [...new Map(services.map((s) => [s.category.code, s.category.name]))]
    return sendPage(request, reply, t(lang, 'desk.nav.apply'), html`${deskNav(lang, 'apply')}
<p>${t(lang, 'desk.apply.offered')}: <strong>${unit}</strong></p>
${services.length === 0
    ? html`<p class="notice">${t(lang, 'desk.apply.none')}</p>`
    : html`<form method="get" action="${DESK}/apply">
<label for="service">${t(lang, 'desk.apply.service')}</label>
<select id="service" name="service" required>
<option value="">${t(lang, 'desk.choose')}</option>
${categories.map(([category, name]) => html`<optgroup label="${name}">${services.filter((s) => s.category.code === category).map((s) => html`<option value="${s.code}">${s.name} (${s.agency.code})</option>`)}</optgroup>`)}
</select>
<p><button type="submit">${t(lang, 'desk.apply.open')}</button></p>
</form>`}`)
  })

  app.post(`${DESK}/apply`, { config: OFFICER }, async (request, reply) => {
    const { lang } = pageContext(request)
    const officer = officerOf(request)
    const body = request.body as Record<string, unknown>
    const code = text(body, 'service')
    const sentKey = text(body, 'key')
    if (!new RegExp(SERVICE_CODE).test(code)) throw new ProblemError('VALIDATION_FAILED', 'the form names no service; open it again from the list')
    if (!KEY.test(sentKey)) throw new ProblemError('VALIDATION_FAILED', 'the form has no idempotency key; open it again from the list')
    const service = await guideOf(request, code, lang)
    const plan = planForm(service.formSchema)
    const regnum = text(body, 'regnum').trim()
    const read = readForm(plan, body, lang)
    const state: ApplyState = { service, plan, key: sentKey, regnum, values: read.values, problems: read.problems }
    if (read.problems.size > 0) {
      return applyPage(request, reply, state, html`<div class="notice bad" role="alert"><p><strong>${t(lang, 'desk.apply.problems')}</strong></p></div>`, 400)
    }

    const answer = await app.console.api(officer, {
      method: 'POST',
      url: '/v1/applications',
      headers: { 'idempotency-key': sentKey },
      body: { service: code, unit: officer.unit, channel: 'oss_counter', applicant: { regnum }, form: read.form },
      lang,
    })
    if (answer.status === 202) {
      const accepted = answer.json<ApplicationView>()
      const replayed = answer.headers['idempotent-replayed'] === 'true'
      return sendPage(request, reply, t(lang, 'desk.apply.accepted'), html`${deskNav(lang, 'apply')}
<div class="notice ok" role="status"><p><strong>${t(lang, 'desk.apply.accepted')}</strong></p>${replayed ? html`<p>${t(lang, 'desk.apply.replayed')}</p>` : ''}</div>
<dl class="fields">
<dt>${t(lang, 'desk.apply.id')}</dt><dd><code id="application-id">${accepted.id}</code></dd>
<dt>${t(lang, 'desk.apply.service')}</dt><dd>${service.name} (<code>${accepted.service}</code>)</dd>
<dt>${t(lang, 'desk.apps.status')}</dt><dd>${labelOf(lang, accepted)}</dd>
<dt>${t(lang, 'desk.apps.created')}</dt><dd>${timeHtml(accepted.createdAt)}</dd>
</dl>
<p><a class="button" href="${DESK}/applications/${accepted.id}">${t(lang, 'desk.apply.follow')}</a>
<a class="button secondary" href="${DESK}/apply?service=${encodeURIComponent(code)}">${t(lang, 'desk.apply.another')}</a>
<a class="button secondary" href="${DESK}/applications">${t(lang, 'desk.nav.applications')}</a></p>`, 202)
    }
    if (answer.status === 401) throw problemError(problemOf(answer))
    const p: ApiProblem = problemOf(answer)
    if (p.retryAfter !== null) reply.header('retry-after', p.retryAfter)
    const problems = problemsByField(plan, p.errors, p.detail)
    // Nothing was stored under the key unless the API says it was used for
    // something else: then the form is drawn anew, with a new key.
    const reused = p.code === 'IDEMPOTENCY_KEY_REUSED'
    const lead = reused ? t(lang, 'desk.apply.keyReused') : p.code === 'VALIDATION_FAILED' || p.code === 'INVALID_REGNUM' ? t(lang, 'desk.apply.problems') : null
    return applyPage(request, reply, { ...state, key: reused ? newKey() : sentKey, problems }, problemNotice(lang, p, lead), answer.status)
  })

  // ---- 3. The unit's applications -----------------------------------------

  app.get(`${DESK}/applications`, {
    config: OFFICER,
    schema: {
      querystring: {
        type: 'object',
        properties: { scope: { type: 'string', enum: ['subtree', 'unit'] }, status: { type: 'string', enum: ['', ...STATUSES] } },
      },
    },
  }, async (request, reply) => {
    const { lang } = pageContext(request)
    const officer = officerOf(request)
    const { scope = 'subtree', status = '' } = request.query as { scope?: 'subtree' | 'unit', status?: string }
    const query = new URLSearchParams({ scope, limit: '50', ...(status === '' ? {} : { status }) })
    const [list, names, unit] = await Promise.all([
      get<{ applications: ApplicationView[] }>(request, `/v1/units/${officer.unit}/applications?${query}`, lang),
      serviceNames(request, lang),
      unitName(request, officer.unit, lang),
    ])
    const rows = list.applications
    return sendPage(request, reply, t(lang, 'desk.nav.applications'), html`${deskNav(lang, 'applications')}
<form method="get" action="${DESK}/applications" class="noprint">
<div class="pair">
<div><label for="scope">${t(lang, 'desk.apps.scope')}</label><select id="scope" name="scope">
<option value="subtree"${scope === 'subtree' ? html` selected` : ''}>${t(lang, 'desk.apps.subtree')}</option>
<option value="unit"${scope === 'unit' ? html` selected` : ''}>${t(lang, 'desk.apps.unitOnly')}</option></select></div>
<div><label for="status">${t(lang, 'desk.apps.status')}</label><select id="status" name="status">
<option value="">${t(lang, 'desk.apps.anyStatus')}</option>
${STATUSES.map((s) => html`<option value="${s}"${s === status ? html` selected` : ''}>${statusLabels(s)[lang]}</option>`)}</select></div>
</div>
<p><button type="submit">${t(lang, 'desk.apps.show')}</button></p>
</form>
<h2>${unit}</h2>
<p class="muted">${t(lang, 'desk.apps.latest')} (${rows.length})</p>
${rows.length === 0
    ? html`<p class="notice">${t(lang, 'desk.apps.none')}</p>`
    : html`<div class="scroll"><table><thead><tr><th scope="col">${t(lang, 'desk.apply.id')}</th><th scope="col">${t(lang, 'desk.apps.created')}</th><th scope="col">${t(lang, 'desk.apply.service')}</th><th scope="col">${t(lang, 'desk.unit')}</th><th scope="col">${t(lang, 'desk.apps.channel')}</th><th scope="col">${t(lang, 'desk.apps.status')}</th></tr></thead>
<tbody>${rows.map((a) => html`<tr data-id="${a.id}"><td><a href="${DESK}/applications/${a.id}" aria-label="${t(lang, 'desk.apps.open')}: ${names.get(a.service) ?? a.service}, ${a.id.slice(0, 8)}"><code>${a.id.slice(0, 8)}</code></a></td><td>${timeHtml(a.createdAt)}</td><td>${names.get(a.service) ?? a.service}</td><td>${a.unit}</td><td>${channelLabel(lang, a.channel)}</td><td>${labelOf(lang, a)}</td></tr>`)}</tbody></table></div>`}`)
  })

  app.get(`${DESK}/applications/:id`, {
    config: OFFICER,
    schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: UUID } } } },
  }, async (request, reply) => {
    const { lang } = pageContext(request)
    const { id } = request.params as { id: string }
    const [a, names] = await Promise.all([
      get<ApplicationView>(request, `/v1/applications/${id}?lang=${lang}`, lang),
      serviceNames(request, lang),
    ])
    const row = (label: string, value: Html | string | number) => html`<dt>${label}</dt><dd>${value}</dd>`
    const history = a.history ?? []
    return sendPage(request, reply, `${t(lang, 'desk.app.title')} ${a.id.slice(0, 8)}`, html`${deskNav(lang, 'applications')}
<dl class="fields">
${row(t(lang, 'desk.apply.id'), html`<code>${a.id}</code>`)}
${row(t(lang, 'desk.apply.service'), html`${names.get(a.service) ?? a.service} (<code>${a.service}</code>)`)}
${row(t(lang, 'desk.unit'), a.unit)}
${row(t(lang, 'desk.apps.channel'), channelLabel(lang, a.channel))}
${row(t(lang, 'desk.apps.status'), html`<strong id="application-status">${labelOf(lang, a)}</strong>`)}
${a.agencyReference === null || a.agencyReference === undefined ? '' : row(t(lang, 'desk.app.agencyReference'), a.agencyReference)}
${a.reason === null || a.reason === undefined ? '' : row(t(lang, 'desk.app.reason'), a.reason)}
${a.result === null || a.result === undefined ? '' : row(t(lang, 'desk.app.result'), typeof a.result === 'object' && !Array.isArray(a.result) ? recordHtml(lang, a.result as Record<string, unknown>, []) : valueHtml(lang, a.result))}
${row(t(lang, 'desk.app.attempts'), a.attempts ?? 0)}
${row(t(lang, 'desk.apps.created'), timeHtml(a.createdAt))}
${row(t(lang, 'desk.apps.updated'), timeHtml(a.updatedAt))}
</dl>
${a.parts === undefined || a.parts.length === 0
    ? ''
    : html`<h2>${t(lang, 'desk.app.parts')}</h2><div class="scroll"><table><thead><tr><th scope="col">${t(lang, 'desk.apply.service')}</th><th scope="col">${t(lang, 'desk.apps.status')}</th><th scope="col">${t(lang, 'desk.app.agencyReference')}</th><th scope="col">${t(lang, 'desk.app.reason')}</th></tr></thead>
<tbody>${a.parts.map((p) => html`<tr><td>${names.get(p.service) ?? p.service}</td><td>${labelOf(lang, p)}</td><td>${p.agencyReference ?? '—'}</td><td>${p.reason ?? '—'}</td></tr>`)}</tbody></table></div>`}
<h2>${t(lang, 'desk.app.history')}</h2>
<div class="scroll"><table><thead><tr><th scope="col">${t(lang, 'desk.app.at')}</th><th scope="col">${t(lang, 'desk.apps.status')}</th><th scope="col" class="num">${t(lang, 'desk.app.attempts')}</th><th scope="col">${t(lang, 'desk.app.detail')}</th></tr></thead>
<tbody>${history.map((h) => html`<tr><td>${timeHtml(h.at)}</td><td>${(h.statusLabels ?? statusLabels(h.status))[lang]}</td><td class="num">${h.attempt ?? '—'}</td><td>${h.detail ?? '—'}</td></tr>`)}</tbody></table></div>
<p><a class="button secondary" href="${DESK}/applications/${a.id}">${t(lang, 'desk.app.refresh')}</a> <a class="button secondary" href="${DESK}/applications">${t(lang, 'desk.nav.applications')}</a></p>`)
  })
}
