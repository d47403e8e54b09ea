import type { Figure } from '../stats/model.ts'
import { mnAblative } from '../stats/report-html.ts'
import { barChart, formatNumber, lineChart, type BarRow } from '../stats/svg-chart.ts'
import { CONSOLE_PATH, html, Html, type PageContext } from './html.ts'
import { t, type Lang, type MessageKey } from './messages.ts'
import { recentPeriods, type FilterField, type FilterInput, type FilterProblem } from './stats-filters.ts'

// The dashboard's parts as HTML: the filter form, headline cards, and each
// chart with its table right below it (the table is the text alternative
// and what a reader quotes). No script and no style attribute: the console's
// policy allows neither.

// Wide enough for a tablet held either way (768 px less the page's margins)
// without the browser scaling the labels down.
const CHART_WIDTH = 720

export const STATS_PATH = `${CONSOLE_PATH}/stats`

// Puts values into a message's {name} marks.
export function fillIn (template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole)
}

// As the printable report shows a figure: the number grouped, the
// suppression mark as the API sent it, a dash where nothing was computed.
export function figureText (value: Figure): string {
  if (value === null) return '—'
  return typeof value === 'number' ? formatNumber(value) : value
}

export interface UnitNode {
  code: string
  name: string
  children: UnitNode[]
}

export function unitLabel (u: { code: string, name: string }): string {
  return u.code === '' ? u.name : `${u.name} (${u.code})`
}

export interface ServiceOption { code: string, name: string, category: { code: string, name: string } }
export interface FormOptions {
  scope: UnitNode
  // A unit chosen by following a link that the list does not hold (an
  // administrator's soum): offered too, so that the form keeps it.
  extra: { code: string, name: string } | null
  services: ServiceOption[]
  rankBy: Array<{ code: string, name: string }>
  today: string
}

function problemOf (problems: FilterProblem[], field: FilterField): FilterProblem | undefined {
  return problems.find((p) => p.field === field)
}

function problemText (lang: Lang, p: FilterProblem): string {
  return fillIn(t(lang, p.key), { code: p.value ?? '' })
}

function selected (on: boolean): Html | '' {
  return on ? new Html(' selected') : ''
}

function unitOptions (options: FormOptions, chosen: string, lang: Lang): Html {
  const { scope, extra } = options
  const option = (u: { code: string, name: string }) => html`<option value="${u.code}"${selected(u.code === chosen)}>${unitLabel(u)}</option>`
  // Units with units below them are a group: the unit itself first.
  const children = scope.children.map((c) => c.children.length === 0
    ? option(c)
    : html`<optgroup label="${c.name}">${option(c)}${c.children.map(option)}</optgroup>`)
  return html`${option(scope)}${children}${extra === null ? '' : html`<optgroup label="${t(lang, 'stats.chosen')}">${option(extra)}</optgroup>`}`
}

function serviceOptions (services: ServiceOption[], chosen: string, lang: Lang): Html {
  const groups = new Map<string, { name: string, items: ServiceOption[] }>()
  for (const s of services) {
    const g = groups.get(s.category.code) ?? { name: s.category.name, items: [] }
    g.items.push(s)
    groups.set(s.category.code, g)
  }
  return html`<option value=""${selected(chosen === '')}>${t(lang, 'stats.allServices')}</option>${[...groups.values()].map((g) => html`<optgroup label="${g.name}">${g.items.map((s) => html`<option value="${s.code}"${selected(s.code === chosen)}>${s.name}</option>`)}</optgroup>`)}`
}

// The filters: a GET form, so that every view has an address to share.
// novalidate: the gateway checks the fields and explains in the page's
// language, where a browser would in its own.
export function filterForm (ctx: PageContext, options: FormOptions, input: FilterInput, problems: FilterProblem[]): Html {
  const { lang } = ctx
  const described = (field: FilterField, hint: string | null) => {
    const ids = [hint, problemOf(problems, field) === undefined ? null : `${field}-error`].filter((x) => x !== null)
    const invalid = problemOf(problems, field) === undefined ? '' : ' aria-invalid="true"'
    return new Html(`${ids.length === 0 ? '' : ` aria-describedby="${ids.join(' ')}"`}${invalid}`)
  }
  const error = (field: FilterField) => {
    const p = problemOf(problems, field)
    return p === undefined ? '' : html`<p class="field-error" id="${field}-error">${problemText(lang, p)}</p>`
  }
  return html`
${problems.length === 0 ? '' : html`<div class="notice bad" role="alert"><p>${t(lang, 'stats.invalid')}</p><ul>${problems.map((p) => html`<li><a href="#${p.field}">${t(lang, `stats.${p.field === 'rank' ? 'rankBy' : p.field}`)}</a>: ${problemText(lang, p)}</li>`)}</ul></div>`}
<form method="get" action="${STATS_PATH}" class="noprint" novalidate aria-labelledby="filters-h">
<h2 id="filters-h">${t(lang, 'stats.filters')}</h2>
<div class="pair">
<div><label for="period">${t(lang, 'stats.period')}</label>
<input id="period" name="period" value="${input.period}" list="period-list" inputmode="numeric" autocomplete="off"${described('period', 'period-hint')}>
<datalist id="period-list">${recentPeriods(options.today).map((p) => html`<option value="${p}"></option>`)}</datalist>
<p class="muted" id="period-hint">${t(lang, 'stats.periodHint')}</p>${error('period')}</div>
<div><label for="unit">${t(lang, 'stats.unit')}</label>
<select id="unit" name="unit"${described('unit', null)}>${unitOptions(options, input.unit, lang)}</select>${error('unit')}</div>
<div><label for="service">${t(lang, 'stats.service')}</label>
<select id="service" name="service"${described('service', null)}>${serviceOptions(options.services, input.service, lang)}</select>${error('service')}</div>
<div><label for="rank">${t(lang, 'stats.rankBy')}</label>
<select id="rank" name="rank"${described('rank', null)}>${options.rankBy.map((r) => html`<option value="${r.code}"${selected(r.code === input.rank)}>${r.name}</option>`)}</select>${error('rank')}</div>
</div>
<p><button type="submit">${t(lang, 'stats.show')}</button></p>
</form>`
}

export interface HeadlineCard { name: string, unit: string, value: Figure, note: string | null }

export function headlineSection (lang: Lang, cards: HeadlineCard[]): Html {
  return html`
<section aria-labelledby="headline-h">
<h2 id="headline-h">${t(lang, 'stats.headline')}</h2>
<div class="cards">${cards.map((c) => html`
<div class="card"><h3>${c.name}</h3><p><strong>${figureText(c.value)}</strong>${typeof c.value !== 'number' || c.unit === '' ? '' : ` ${c.unit}`}</p>${c.note === null ? '' : html`<p class="muted">${c.note}</p>`}</div>`)}
</div>
</section>`
}

export interface ChartRow {
  label: string
  value: Figure
  // Where the row's unit has a dashboard of its own.
  href?: string
  rank?: number | null
}

export interface ChartBlock {
  id: string
  title: string
  kind: 'line' | 'bar'
  // What the table's first column holds, and the measure (count, %, hours).
  keyHeading: string
  unitLabel: string
  caption: string
  rows: ChartRow[]
  notes: string[]
  csv: string | null
  // Said instead of a chart when there are no rows.
  empty: string
  ranked?: boolean
}

function chartOf (block: ChartBlock): Html {
  if (block.kind === 'line') {
    const points = block.rows.map((r) => (typeof r.value === 'number' ? { label: r.label, value: r.value } : { label: r.label, value: null, note: figureText(r.value) }))
    return new Html(lineChart(points, { title: block.title, unitLabel: block.unitLabel, width: CHART_WIDTH, height: 260 }))
  }
  const bars: BarRow[] = block.rows.map((r) => {
    const label = r.rank === undefined || r.rank === null ? r.label : `${formatNumber(r.rank)}. ${r.label}`
    return typeof r.value === 'number' ? { label, value: r.value } : { label, value: null, note: figureText(r.value) }
  })
  return new Html(barChart(bars, { title: block.title, unitLabel: block.unitLabel, width: CHART_WIDTH }))
}

export function chartSection (lang: Lang, block: ChartBlock): Html {
  const valueHeading = block.unitLabel === '' ? t(lang, 'stats.value') : `${t(lang, 'stats.value')} (${block.unitLabel})`
  const rankText = (rank: number | null | undefined) => (rank === null || rank === undefined ? '—' : formatNumber(rank))
  const table = html`<div class="scroll"><table>
<caption>${block.caption}</caption>
<thead><tr>${block.ranked === true ? html`<th scope="col" class="num">${t(lang, 'stats.rank')}</th>` : ''}<th scope="col">${block.keyHeading}</th><th scope="col" class="num">${valueHeading}</th></tr></thead>
<tbody>${block.rows.map((r) => html`
<tr>${block.ranked === true ? html`<td class="num">${rankText(r.rank)}</td>` : ''}<th scope="row">${r.href === undefined ? r.label : html`<a href="${r.href}">${r.label}</a>`}</th><td class="num">${figureText(r.value)}</td></tr>`)}
</tbody></table></div>`
  return html`
<section class="card stats-block" aria-labelledby="${block.id}-h">
<h2 id="${block.id}-h">${block.title}</h2>
${block.notes.map((n) => html`<p class="muted">${n}</p>`)}
${block.rows.length === 0 ? html`<p>${block.empty}</p>` : html`${chartOf(block)}${table}`}
${block.csv === null ? '' : html`<p class="noprint"><a href="${block.csv}" download>${t(lang, 'stats.csv')}</a></p>`}
</section>`
}

// The marks on the page explained, in the words the printable report uses.
export function notesSection (lang: Lang, figures: Figure[]): Html {
  const marks = figures.filter((f) => typeof f === 'string')
  const threshold = marks.map((m) => /^<(\d+)$/.exec(m)?.[1]).find((n) => n !== undefined)
  const amount = threshold === undefined ? null : lang === 'mn' ? mnAblative(Number(threshold)) : formatNumber(Number(threshold))
  const notes: string[] = []
  for (const mark of new Set(marks.filter((m) => m.startsWith('<')))) {
    notes.push(fillIn(t(lang, 'stats.noteSuppressed'), { mark, threshold: lang === 'mn' ? mnAblative(Number(mark.slice(1))) : formatNumber(Number(mark.slice(1))) }))
  }
  if (marks.includes('x')) notes.push(amount === null ? t(lang, 'stats.noteComplementAny') : fillIn(t(lang, 'stats.noteComplement'), { threshold: amount }))
  if (figures.includes(null)) notes.push(t(lang, 'stats.noteMissing'))
  if (notes.length === 0) return html``
  return html`
<section aria-labelledby="notes-h">
<h2 id="notes-h">${t(lang, 'stats.notes')}</h2>
<ul>${notes.map((n) => html`<li>${n}</li>`)}</ul>
</section>`
}

export function messageOf (lang: Lang, key: MessageKey, values: Record<string, string> = {}): string {
  return fillIn(t(lang, key), values)
}
