import type { Finding, FindingKind, Report } from '../catalogue/consistency.ts'
import { CATALOGUE_PATH, levelLabel, unitHref } from './catalogue-common.ts'
import { html, type Html } from './html.ts'
import { t, type Lang, type MessageKey } from './messages.ts'

// The consistency report as a table by aimag (the capital counts as one),
// each row opening that aimag's gaps; the findings that belong to no unit
// (a service whose adapter is missing) are a row of their own.

export const KINDS: readonly FindingKind[] = ['missing_mandated_category', 'missing_standard_service', 'unlisted_service', 'competing_offer', 'no_service', 'unknown_adapter']
export const NATIONAL = 'none'

export interface ReportQuery { version: string, aimag?: string }

export function reportHref (q: ReportQuery, csv = false): string {
  const params = new URLSearchParams({ version: q.version })
  // The CSV of one aimag is the API's report below that unit; the findings
  // tied to no unit come only with the whole report.
  if (q.aimag !== undefined && !(csv && q.aimag === NATIONAL)) params.set(csv ? 'unit' : 'aimag', q.aimag)
  return `${CATALOGUE_PATH}/consistency${csv ? '.csv' : ''}?${params}`
}

const kindLabel = (lang: Lang, kind: FindingKind) => t(lang, `report.kind.${kind}` as MessageKey)

export function versionForm (lang: Lang, version: string, versions: readonly number[], aimag: string | undefined): Html {
  const option = (value: string, label: string) => html`<option value="${value}"${value === version ? html` selected` : ''}>${label}</option>`
  return html`<form method="get" action="${CATALOGUE_PATH}/consistency" class="noprint"><div class="pair"><div><label for="report-version">${t(lang, 'report.version')}</label>
<select id="report-version" name="version">${option('published', t(lang, 'report.published'))}${option('draft', t(lang, 'report.draft'))}${versions.map((v) => option(String(v), `${t(lang, 'versions.version')} ${v}`))}</select></div>
${aimag === undefined ? '' : html`<input type="hidden" name="aimag" value="${aimag}">`}
<p><button type="submit">${t(lang, 'tree.show')}</button></p></div></form>`
}

export function reportTable (lang: Lang, report: Report, names: ReadonlyMap<string, string>, version: string): Html {
  const byAimag = new Map<string, Record<FindingKind, number>>()
  const zero = () => Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<FindingKind, number>
  for (const code of names.keys()) byAimag.set(code, zero())
  for (const f of report.findings) {
    const key = f.aimag ?? NATIONAL
    const row = byAimag.get(key) ?? zero()
    row[f.kind]++
    byAimag.set(key, row)
  }
  const rows = [...byAimag].sort(([a], [b]) => (a === NATIONAL ? 1 : b === NATIONAL ? -1 : a.localeCompare(b)))
  const total = (r: Record<FindingKind, number>) => KINDS.reduce((n, k) => n + r[k], 0)
  const label = (code: string) => (code === NATIONAL ? t(lang, 'report.national') : names.get(code) ?? code)
  return html`<div class="scroll"><table id="by-aimag"><caption class="muted">${t(lang, 'report.caption')} ${report.version}</caption><thead><tr><th scope="col">${t(lang, 'report.aimag')}</th>${KINDS.map((k) => html`<th scope="col" class="num">${kindLabel(lang, k)}</th>`)}<th scope="col" class="num">${t(lang, 'report.total')}</th></tr></thead><tbody>
${rows.map(([code, r]) => html`<tr><th scope="row">${total(r) === 0 ? label(code) : html`<a href="${reportHref({ version, aimag: code })}#gaps">${label(code)}</a>`}${code === NATIONAL ? '' : html` <span class="muted"><code>${code}</code></span>`}</th>${KINDS.map((k) => html`<td class="num">${r[k]}</td>`)}<td class="num"><strong>${total(r)}</strong></td></tr>`)}
</tbody><tfoot><tr><th scope="row">${t(lang, 'report.total')}</th>${KINDS.map((k) => html`<td class="num">${report.counts[k]}</td>`)}<td class="num"><strong>${report.findings.length}</strong></td></tr></tfoot></table></div>`
}

export function gapsTable (lang: Lang, findings: readonly Finding[]): Html {
  if (findings.length === 0) return html`<p class="notice ok" role="status">${t(lang, 'report.noGaps')}</p>`
  const sorted = [...findings].sort((a, b) => (a.unit ?? '').localeCompare(b.unit ?? '') || a.kind.localeCompare(b.kind) || (a.service ?? '').localeCompare(b.service ?? ''))
  return html`<div class="scroll"><table><thead><tr><th scope="col">${t(lang, 'report.unit')}</th><th scope="col">${t(lang, 'unit.level')}</th><th scope="col">${t(lang, 'report.kind')}</th><th scope="col">${t(lang, 'tree.service')}</th><th scope="col">${t(lang, 'cat.category')}</th><th scope="col">${t(lang, 'report.detail')}</th></tr></thead><tbody>
${sorted.map((f) => html`<tr><td>${f.unit === null ? '—' : html`<a href="${unitHref(f.unit)}"><code>${f.unit}</code></a>`}</td><td>${f.level === null ? '—' : levelLabel(lang, f.level)}</td><td>${kindLabel(lang, f.kind)}</td><td>${f.service === null ? '—' : html`<code>${f.service}</code>`}</td><td>${f.category === null ? '—' : html`<code>${f.category}</code>`}</td><td>${f.detail}</td></tr>`)}
</tbody></table></div>`
}
