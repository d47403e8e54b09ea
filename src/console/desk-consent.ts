import { describedBy, errorLine, invalid, requiredMark } from './desk-form.ts'
import { timeHtml, type ApiProblem } from './desk-view.ts'
import { CONSOLE_PATH, csrfField, html, type Html, type PageContext } from './html.ts'
import { t, type Lang } from './messages.ts'
import type { Consent, ConsentMethod } from '../consent/consents.ts'

// The citizen's consent at the desk: why a look-up needs it, the form that
// asks for it (a KHUR code or a request in the citizen's portal), and the
// consent's own page, where the code is entered or the answer awaited.
// The registration number travels in hidden fields of POST forms only; the
// consent's id is what the pages' addresses carry.

const DESK = `${CONSOLE_PATH}/desk`

// A consent as GET /v1/consents/{id} answers it.
export type ConsentView = Consent & { purposeName?: { mn: string, en: string } }

// What a look-up asked for, carried from step to step.
export interface LookupRequest { regnum: string, purpose: string, caseRef: string, sources: string[] }

// What the API says is lacking: the method, and the sources that need it.
export interface ConsentOffer { needs: ConsentMethod, because: string[], sources: string[] }

const METHODS: readonly string[] = ['otp', 'portal']
const strings = (v: unknown): string[] => Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []

// CONSENT_REQUIRED carries `consent: { needs, because, sources }`;
// CONSENT_METHOD_TOO_WEAK carries `needs` and `because` at the top.
export function consentOfferOf (p: ApiProblem): ConsentOffer | null {
  if (p.code === 'CONSENT_REQUIRED') {
    const c = p.extensions.consent as Record<string, unknown> | undefined
    if (typeof c !== 'object' || c === null || typeof c.needs !== 'string' || !METHODS.includes(c.needs)) return null
    return { needs: c.needs as ConsentMethod, because: strings(c.because), sources: strings(c.sources) }
  }
  if (p.code === 'CONSENT_METHOD_TOO_WEAK') {
    const needs = p.extensions.needs
    if (typeof needs !== 'string' || !METHODS.includes(needs)) return null
    return { needs: needs as ConsentMethod, because: strings(p.extensions.because), sources: [] }
  }
  return null
}

export function lookupOf (consent: ConsentView): LookupRequest {
  return { regnum: consent.citizen, purpose: consent.purpose, caseRef: consent.case ?? '', sources: consent.sources }
}

// The look-up's particulars as hidden fields of a POST form.
function carried (look: LookupRequest): Html {
  return html`<input type="hidden" name="regnum" value="${look.regnum}">
<input type="hidden" name="purpose" value="${look.purpose}">
<input type="hidden" name="case" value="${look.caseRef}">
${look.sources.map((s) => html`<input type="hidden" name="sources" value="${s}">`)}`
}

// A form that asks for consent, by `method`, for the look-up.
function askForm (ctx: PageContext, look: LookupRequest, method: ConsentMethod, label: string, secondary = false): Html {
  return html`<form method="post" action="${DESK}/consents">
${csrfField(ctx)}
${carried(look)}
<input type="hidden" name="method" value="${method}">
<p><button type="submit"${secondary ? html` class="secondary"` : ''}>${label}</button></p>
</form>`
}

const names = (list: string[], name: (source: string) => string) => list.map(name).join(', ')

// Why the look-up was refused and the way to the consent it lacks.
export function consentOfferHtml (ctx: PageContext, offer: ConsentOffer, look: LookupRequest, sourceName: (source: string) => string): Html {
  const { lang } = ctx
  // The sources the officer ticked, or else all those the look-up covered.
  const covered = look.sources.length > 0 ? look.sources : offer.sources
  return html`<section class="card consent-offer" aria-labelledby="consent-offer-title" data-needs="${offer.needs}">
<h2 id="consent-offer-title">${t(lang, 'desk.consent.offer')}</h2>
<p>${t(lang, `desk.consent.needs.${offer.needs}`)}</p>
<p>${offer.because.length > 0
    ? html`${t(lang, 'desk.consent.because')}: <strong id="consent-because">${names(offer.because, sourceName)}</strong>`
    : t(lang, 'desk.consent.becausePurpose')}</p>
${covered.length === 0 ? '' : html`<p class="muted">${t(lang, 'desk.consent.covers')}: ${names(covered, sourceName)}</p>`}
${askForm(ctx, { ...look, sources: covered }, offer.needs, t(lang, `desk.consent.ask.${offer.needs}`))}
</section>`
}

// When a locked code may be tried again, in Ulaanbaatar time.
export function lockedHtml (lang: Lang, p: ApiProblem): Html {
  const until = p.extensions.lockedUntil
  return p.code === 'OTP_LOCKED' && typeof until === 'string'
    ? html`<p id="locked-until">${t(lang, 'desk.consent.lockedUntil')}: <strong>${timeHtml(until)}</strong></p>`
    : html``
}

export interface ConsentPageOptions {
  // What the last step answered, above the consent.
  notice?: Html
  // The code as typed and what was wrong with it.
  code?: string
  codeErrors?: string[]
  // Codes are locked for now: no code field, only a new code later.
  locked?: boolean
}

export function consentPageHtml (ctx: PageContext, c: ConsentView, options: ConsentPageOptions, sourceName: (source: string) => string): Html {
  const { lang } = ctx
  const row = (label: string, value: Html | string) => html`<dt>${label}</dt><dd>${value}</dd>`
  const look = lookupOf(c)
  const errs = options.codeErrors
  let next: Html
  if (c.state === 'pending' && c.method === 'otp') {
    next = options.locked === true
      ? askForm(ctx, look, 'otp', t(lang, 'desk.consent.newCode'), true)
      : html`<div class="notice" role="status"><p>${t(lang, 'desk.consent.sent')}</p></div>
<form method="post" action="${DESK}/consents/${c.id}/otp" novalidate>
${csrfField(ctx)}
<label for="code">${t(lang, 'desk.consent.code')}${requiredMark(lang, true)}</label>
<p class="muted hint" id="code-hint">${t(lang, 'desk.consent.code.hint')}</p>
<input id="code" name="code" class="code" value="${options.code ?? ''}" inputmode="numeric" autocomplete="one-time-code" maxlength="8" spellcheck="false" aria-required="true"${describedBy('code-hint', errs === undefined || errs.length === 0 ? null : 'code-error')}${invalid(errs)}>
${errorLine('code', errs)}
<p><button type="submit">${t(lang, 'desk.consent.code.submit')}</button></p>
</form>
${askForm(ctx, look, 'otp', t(lang, 'desk.consent.newCode'), true)}`
  } else if (c.state === 'pending') {
    next = html`<div class="notice" role="status"><p>${t(lang, 'desk.consent.waiting')}</p></div>
<p><a class="button secondary" id="consent-refresh" href="${DESK}/consents/${c.id}">${t(lang, 'desk.consent.refresh')}</a></p>`
  } else if (c.state === 'active') {
    next = html`<div class="notice ok" role="status"><p>${t(lang, 'desk.consent.given')}</p></div>
<form method="post" action="${DESK}/consents/${c.id}/lookup">
${csrfField(ctx)}
<p><button type="submit">${t(lang, 'desk.consent.lookup')}</button></p>
</form>`
  } else {
    next = html`<div class="notice bad" role="status"><p>${t(lang, `desk.consent.ended.${c.state}`)}</p></div>
${askForm(ctx, look, c.method, t(lang, 'desk.consent.askAgain'))}`
  }
  return html`${options.notice ?? ''}
<dl class="fields">
${row(t(lang, 'desk.consent.id'), html`<code id="consent-id">${c.id}</code>`)}
${row(t(lang, 'desk.regnum'), c.citizen)}
${row(t(lang, 'desk.purpose'), html`${c.purposeName?.[lang] ?? c.purpose} (<code>${c.purpose}</code>)`)}
${row(t(lang, 'desk.case'), html`<code>${c.case ?? '—'}</code>`)}
${row(t(lang, 'desk.consent.covers'), names(c.sources, sourceName))}
${row(t(lang, 'desk.consent.method'), t(lang, `desk.consent.method.${c.method}`))}
${row(t(lang, 'desk.consent.state'), html`<strong id="consent-state" data-state="${c.state}">${t(lang, `desk.consent.state.${c.state}`)}</strong>`)}
${c.state === 'pending' && c.pendingUntil !== null ? row(t(lang, 'desk.consent.pendingUntil'), timeHtml(c.pendingUntil)) : ''}
${c.givenAt === null ? '' : row(t(lang, 'desk.consent.givenAt'), timeHtml(c.givenAt))}
${c.state === 'active' && c.expiresAt !== null ? row(t(lang, 'desk.consent.expiresAt'), timeHtml(c.expiresAt)) : ''}
</dl>
${next}`
}
