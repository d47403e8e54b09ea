import type { ApiAnswer } from '../plugins/console.ts'
import { errorRegistry, type ErrorCode } from '../errors/registry.ts'
import { ProblemError } from '../errors/problem-error.ts'
import { html, type Html } from './html.ts'
import { t, type Lang, type MessageKey } from './messages.ts'
import { DESK_MESSAGES } from './messages/desk.ts'

// How the desk shows what the API answered: the registries' records, field
// by field, and the API's refusals in the officer's language with the API's
// own words beside them.

export interface ApiProblem {
  status: number
  code: string
  title: string
  detail: string
  errors: Array<{ in?: string, pointer?: string, detail?: string }>
  retryAfter: string | null
  extensions: Record<string, unknown>
}

export type SourceStatus = 'ok' | 'not_found' | 'timeout' | 'unavailable' | 'error'
export interface SourceAnswer { status: SourceStatus, data?: Record<string, unknown>, latencyMs?: number, detail?: string }

// An answer that is not what was hoped for, read as the RFC 9457 problem it is.
export function problemOf (answer: ApiAnswer): ApiProblem {
  let body: Record<string, unknown> = {}
  try {
    const parsed = answer.json<unknown>()
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Record<string, unknown>
  } catch {
    // Not JSON: the status says enough.
  }
  const text = (v: unknown, fallback: string) => (typeof v === 'string' ? v : fallback)
  const retry = answer.headers['retry-after']
  return {
    status: answer.status,
    code: text(body.code, 'INTERNAL'),
    title: text(body.title, `HTTP ${answer.status}`),
    detail: text(body.detail, ''),
    errors: Array.isArray(body.errors) ? body.errors.filter((e): e is ApiProblem['errors'][number] => typeof e === 'object' && e !== null) : [],
    retryAfter: retry === undefined ? null : String(retry),
    extensions: body,
  }
}

// A problem the page cannot help with, shown as the console's error page
// with the API's code, status and words.
export function problemError (p: ApiProblem): ProblemError {
  const code = (p.code in errorRegistry ? p.code : 'INTERNAL') as ErrorCode
  return new ProblemError(code, p.detail === '' ? p.title : p.detail, p.retryAfter === null ? {} : { headers: { 'retry-after': p.retryAfter } })
}

const REFUSALS = new Set(['PURPOSE_FORBIDDEN', 'SOURCE_FORBIDDEN', 'RATE_LIMITED', 'INVALID_REGNUM', 'VALIDATION_FAILED', 'AUDIT_UNAVAILABLE', 'ALL_SOURCES_FAILED', 'ALL_SOURCES_TIMED_OUT', 'STORE_UNAVAILABLE',
  'CONSENT_REQUIRED', 'CONSENT_METHOD_TOO_WEAK', 'CONSENT_NOT_NEEDED', 'CONSENT_NOT_PENDING', 'OTP_WRONG', 'OTP_LOCKED'])

// The refusal in the officer's words first, then the API's, with the code to quote.
// `more`: what the page adds to it (when a lock ends, say).
export function problemNotice (lang: Lang, p: ApiProblem, lead: string | null = null, more: Html | null = null): Html {
  const headline = lead ?? t(lang, (REFUSALS.has(p.code) ? `desk.refused.${p.code}` : 'desk.refused.other') as MessageKey)
  const seconds = p.retryAfter !== null && /^[0-9]+$/.test(p.retryAfter) ? p.retryAfter : null
  return html`<div class="notice bad" role="alert"><p><strong>${headline}</strong>${seconds === null ? '' : html` ${[t(lang, 'desk.retry.before'), seconds, t(lang, 'desk.retry.after')].filter((x) => x !== '').join(' ')}`}</p>
${more ?? ''}<p class="muted">${t(lang, 'desk.apiSays')}: ${p.status} ${p.title}${p.detail === '' ? '' : html` — ${p.detail}`} · ${t(lang, 'desk.code')}: <code>${p.code}</code></p></div>`
}

export function fieldLabel (lang: Lang, name: string): string {
  const key = `desk.f.${name}`
  return key in DESK_MESSAGES ? t(lang, key as MessageKey) : name
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

// A coded value (sex, a land right, a status) in words, where the field is known.
function coded (lang: Lang, field: string | null, value: string): string {
  const key = `desk.v.${field}.${value}`
  return field !== null && key in DESK_MESSAGES ? t(lang, key as MessageKey) : value
}

// A registry's value: yes/no, lists, nested records as lists of fields, and
// lists of records as tables.
export function valueHtml (lang: Lang, value: unknown, field: string | null = null): Html {
  if (value === null || value === undefined || value === '') return html`—`
  if (typeof value === 'boolean') return html`${t(lang, value ? 'desk.yes' : 'desk.no')}`
  if (typeof value === 'string') return html`${coded(lang, field, value)}`
  if (typeof value === 'number') return html`${value}`
  if (Array.isArray(value)) {
    if (value.length === 0) return html`—`
    if (value.every(isRecord)) {
      const columns = [...new Set(value.flatMap((r) => Object.keys(r)))]
      return html`<div class="scroll"><table><thead><tr>${columns.map((c) => html`<th scope="col">${fieldLabel(lang, c)}</th>`)}</tr></thead>
<tbody>${value.map((r) => html`<tr>${columns.map((c) => html`<td>${valueHtml(lang, r[c], c)}</td>`)}</tr>`)}</tbody></table></div>`
    }
    return html`${value.map((v, i) => html`${i === 0 ? '' : ', '}${valueHtml(lang, v, field)}`)}`
  }
  if (isRecord(value)) return recordHtml(lang, value, [])
  return html`${String(value)}`
}

export function recordHtml (lang: Lang, record: Record<string, unknown>, leaveOut: readonly string[]): Html {
  const entries = Object.entries(record).filter(([k]) => !leaveOut.includes(k))
  if (entries.length === 0) return html`<p class="muted">${t(lang, 'desk.view.empty')}</p>`
  return html`<dl class="fields">${entries.map(([k, v]) => html`<dt>${fieldLabel(lang, k)}</dt><dd>${valueHtml(lang, v, k)}</dd>`)}</dl>`
}

const STATUSES: readonly SourceStatus[] = ['ok', 'not_found', 'timeout', 'unavailable', 'error']

// Each source its own section: what it says, or why it could not be read.
export function sourcesHtml (lang: Lang, sources: Record<string, SourceAnswer>, names: (source: string) => string): Html {
  const entries = Object.entries(sources)
  if (entries.length === 0) return html`<p class="muted">${t(lang, 'desk.view.noSource')}</p>`
  return html`<div class="cards sources">${entries.map(([source, answer]) => {
    const id = `source-${source.replace(/[^A-Za-z0-9_-]/g, '_')}`
    const status = STATUSES.includes(answer.status) ? answer.status : 'error'
    const latency = typeof answer.latencyMs === 'number' ? html` <span class="muted">· ${t(lang, 'desk.view.latency')} ${answer.latencyMs} ms</span>` : ''
    const body = status === 'ok'
      ? html`<p><strong>${t(lang, 'desk.source.ok')}</strong>${latency}</p>${recordHtml(lang, answer.data ?? {}, ['regnum'])}`
      : html`<p class="notice${status === 'not_found' ? '' : ' bad'}"><strong>${t(lang, `desk.source.${status}`)}</strong>${answer.detail === undefined ? '' : html`: ${answer.detail}`}${latency}</p>`
    // A source with a table (land plots, enrolments) may take the whole row.
    const wide = Object.values(answer.data ?? {}).some((v) => Array.isArray(v) && v.some(isRecord))
    return html`<section class="card${wide ? ' wide' : ''}" aria-labelledby="${id}" data-source="${source}" data-status="${status}"><h3 id="${id}">${names(source)}</h3>${body}</section>`
  })}</div>`
}

// Ulaanbaatar time (UTC+8, no daylight saving), the time at every counter.
export function timeHtml (iso: unknown): Html {
  if (typeof iso !== 'string' || Number.isNaN(Date.parse(iso))) return html`—`
  const local = new Date(Date.parse(iso) + 8 * 3600_000).toISOString()
  return html`<time datetime="${iso}">${local.slice(0, 10)} ${local.slice(11, 16)}</time>`
}
