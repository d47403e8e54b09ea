// The printable report: one standalone HTML document an aimag governor's
// office or the ministry can open offline and print to PDF. Nothing is fetched
// (no scripts, fonts, images or links), so the file is the whole record. Each
// chart has its table right below it: the table is the text alternative and
// what a reader quotes from; the chart only shows the shape.

import type { Figure, Lang, StatsReport } from './model.ts'
import { barChart, escapeHtml, formatNumber, lineChart, type BarRow } from './svg-chart.ts'

export { escapeHtml, formatNumber } from './svg-chart.ts'

interface Strings {
  title: string
  unit: string
  period: string
  generatedAt: string
  catalogueVersion: string
  headline: string
  indicator: string
  value: string
  series: string
  breakdowns: string
  ranking: string
  rank: string
  notes: string
  noData: string
  suppressed: (mark: string, threshold: number) => string
  missing: string
}

// Mongolian ablative ("from") suffix of a number as read aloud: 5 таваас,
// 2 хоёроос, 10 арваас. The suppression note puts the threshold in it.
const MN_UNITS = ['', 'ээс', 'оос', 'аас', 'өөс', 'аас', 'гаас', 'гоос', 'аас', 'өөс']
const MN_TENS = ['', 'аас', 'иос', 'аас', 'өөс', 'иас', 'аас', 'аас', 'аас', 'өөс']

export function mnAblative (n: number): string {
  if (!Number.isInteger(n) || n <= 0) return `${formatNumber(n)}-ээс`
  let suffix = 'аас' // мянга, сая
  if (n % 10 !== 0) suffix = MN_UNITS[n % 10] ?? suffix
  else if (n % 100 !== 0) suffix = MN_TENS[(n / 10) % 10] ?? suffix
  else if (n % 1000 !== 0) suffix = 'гаас' // зуу
  return `${formatNumber(n)}-${suffix}`
}

const STRINGS: Record<Lang, Strings> = {
  mn: {
    title: 'Нэг цэгийн үйлчилгээний тайлан',
    unit: 'Нэгж',
    period: 'Хугацаа',
    generatedAt: 'Үүсгэсэн',
    catalogueVersion: 'Каталогийн хувилбар',
    headline: 'Гол үзүүлэлтүүд',
    indicator: 'Үзүүлэлт',
    value: 'Утга',
    series: 'Сарын явц',
    breakdowns: 'Задаргаа',
    ranking: 'Эрэмбэ',
    rank: 'Эрэмбэ',
    notes: 'Тайлбар',
    noData: 'Мэдээлэл алга',
    suppressed: (mark, threshold) => `«${mark}» гэсэн нүд ${mnAblative(threshold)} цөөн хүнийг тоолсон тул нууцлагдсан`,
    missing: '«—» гэсэн нүдийг тооцох боломжгүй (хуваах тоо алга)',
  },
  en: {
    title: 'One-Stop-Shop services report',
    unit: 'Unit',
    period: 'Period',
    generatedAt: 'Generated at',
    catalogueVersion: 'Catalogue version',
    headline: 'Headline figures',
    indicator: 'Indicator',
    value: 'Value',
    series: 'Monthly trend',
    breakdowns: 'Breakdowns',
    ranking: 'Ranking',
    rank: 'Rank',
    notes: 'Notes',
    noData: 'No data',
    suppressed: (mark, threshold) => `Cells marked “${mark}” count fewer than ${formatNumber(threshold)} people and are suppressed`,
    missing: 'Cells marked “—” cannot be computed (nothing to divide by)',
  },
}

// Black on white, system fonts only, nothing whose meaning depends on colour
// or on printed backgrounds. Figures and tables stay whole on a page.
const CSS = `
:root { color: #000; background: #fff; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue", Arial, sans-serif; font-size: 14px; line-height: 1.4; max-width: 50rem; margin: 1.5rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 1.75rem 0 .5rem; padding-bottom: .15rem; border-bottom: 1px solid #000; }
h3, figcaption { font-size: 1rem; font-weight: 600; margin: 0 0 .35rem; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: .5rem 0 0; }
.meta dt { font-weight: 600; }
.meta dd { margin: 0; }
table { border-collapse: collapse; width: 100%; margin: .35rem 0 1rem; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #888; padding: .2rem .45rem; text-align: left; vertical-align: top; }
th { font-weight: 600; }
.num { text-align: right; white-space: nowrap; }
.gap { font-style: italic; }
figure { margin: 1rem 0 1.25rem; }
svg { display: block; max-width: 100%; height: auto; margin: .25rem 0; }
ul.notes { padding-left: 1.25rem; }
@media print {
  @page { size: A4; margin: 15mm; }
  body { font-size: 10pt; max-width: none; margin: 0; padding: 0; }
  figure, table, .headline { break-inside: avoid; page-break-inside: avoid; }
  h2, h3, figcaption { break-after: avoid; page-break-after: avoid; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; page-break-inside: avoid; }
}
`

// A figure as table text: the number formatted, the suppression mark as is,
// a dash where nothing could be computed.
function figureText (value: Figure): string {
  if (value === null) return '—'
  if (typeof value === 'number') return formatNumber(value)
  return value
}

function figureCell (value: Figure): string {
  const cls = typeof value === 'number' ? 'num' : 'num gap'
  return `<td class="${cls}">${escapeHtml(figureText(value))}</td>`
}

// Suppressed and missing figures draw no bar; their text marks the place.
function chartRow (label: string, value: Figure): BarRow {
  return typeof value === 'number' ? { label, value } : { label, value: null, note: figureText(value) }
}

function valueHeading (s: Strings, unit: string): string {
  return unit === '' ? s.value : `${s.value} (${unit})`
}

// "2025-06-30T08:15:00.000Z" reads as "2025-06-30 08:15 UTC" whatever the
// machine's time zone; anything else is shown as given.
function formatTimestamp (iso: string): string {
  const d = new Date(iso)
  if (!/^\d{4}-\d{2}-\d{2}T/.test(iso) || Number.isNaN(d.getTime())) return iso
  return d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC'
}

function header (report: StatsReport, s: Strings): string {
  const { period, unit } = report
  const unitText = unit.code === null ? unit.name : `${unit.name} (${unit.code})`
  return `<header>
<h1>${escapeHtml(s.title)}</h1>
<dl class="meta">
<dt>${escapeHtml(s.unit)}</dt><dd>${escapeHtml(unitText)}</dd>
<dt>${escapeHtml(s.period)}</dt><dd>${escapeHtml(period.code)} (<time datetime="${escapeHtml(period.from)}">${escapeHtml(period.from)}</time> – <time datetime="${escapeHtml(period.to)}">${escapeHtml(period.to)}</time>)</dd>
<dt>${escapeHtml(s.generatedAt)}</dt><dd><time datetime="${escapeHtml(report.generatedAt)}">${escapeHtml(formatTimestamp(report.generatedAt))}</time></dd>
<dt>${escapeHtml(s.catalogueVersion)}</dt><dd>${escapeHtml(formatNumber(report.catalogueVersion))}</dd>
</dl>
</header>`
}

function headline (report: StatsReport, s: Strings): string {
  if (report.headline.length === 0) return ''
  const rows = report.headline.map((h) => {
    const text = figureText(h.value)
    // The unit follows a number or a suppressed count, never the dash.
    const withUnit = h.value === null || h.unit === '' ? text : `${text} ${h.unit}`
    const cls = typeof h.value === 'number' ? 'num' : 'num gap'
    return `<tr><th scope="row">${escapeHtml(h.name)}</th><td class="${cls}">${escapeHtml(withUnit)}</td></tr>`
  })
  return `<section class="headline">
<h2>${escapeHtml(s.headline)}</h2>
<table>
<thead><tr><th scope="col">${escapeHtml(s.indicator)}</th><th scope="col" class="num">${escapeHtml(s.value)}</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
</section>`
}

function emptyRow (s: Strings, columns: number): string {
  return `<tr><td colspan="${columns}">${escapeHtml(s.noData)}</td></tr>`
}

function series (report: StatsReport, s: Strings): string {
  if (report.series.length === 0) return ''
  const figures = report.series.map((one) => {
    const points = one.points.map((p) => chartRow(p.period, p.value))
    const chart = points.length > 0 ? lineChart(points, { title: one.name, unitLabel: one.unit }) : ''
    const rows = one.points.map((p) => `<tr><th scope="row">${escapeHtml(p.period)}</th>${figureCell(p.value)}</tr>`)
    return `<figure class="series-figure">
<figcaption>${escapeHtml(one.name)}</figcaption>
${chart}
<table>
<thead><tr><th scope="col">${escapeHtml(s.period)}</th><th scope="col" class="num">${escapeHtml(valueHeading(s, one.unit))}</th></tr></thead>
<tbody>
${rows.length > 0 ? rows.join('\n') : emptyRow(s, 2)}
</tbody>
</table>
</figure>`
  })
  return `<section class="series">
<h2>${escapeHtml(s.series)}</h2>
${figures.join('\n')}
</section>`
}

function breakdowns (report: StatsReport, s: Strings): string {
  if (report.breakdowns.length === 0) return ''
  const figures = report.breakdowns.map((b) => {
    const title = `${b.name} — ${b.dimensionName}`
    const chart = b.rows.length > 0 ? barChart(b.rows.map((row) => chartRow(row.label, row.value)), { title, unitLabel: b.unit }) : ''
    const rows = b.rows.map((row) => `<tr><th scope="row">${escapeHtml(row.label)}</th>${figureCell(row.value)}</tr>`)
    return `<figure class="breakdown-figure">
<figcaption>${escapeHtml(title)}</figcaption>
${chart}
<table>
<thead><tr><th scope="col">${escapeHtml(b.dimensionName)}</th><th scope="col" class="num">${escapeHtml(valueHeading(s, b.unit))}</th></tr></thead>
<tbody>
${rows.length > 0 ? rows.join('\n') : emptyRow(s, 2)}
</tbody>
</table>
</figure>`
  })
  return `<section class="breakdowns">
<h2>${escapeHtml(s.breakdowns)}</h2>
${figures.join('\n')}
</section>`
}

function ranking (report: StatsReport, s: Strings): string {
  const ranked = report.ranking
  if (ranked === null) return ''
  const rankText = (rank: number | null): string => rank === null ? '—' : formatNumber(rank)
  const rows = ranked.rows.map((row) =>
    `<tr><td class="num">${escapeHtml(rankText(row.rank))}</td><th scope="row">${escapeHtml(row.label)}</th>${figureCell(row.value)}</tr>`)
  const chart = ranked.rows.length > 0
    ? barChart(ranked.rows.map((row) => chartRow(row.rank === null ? row.label : `${rankText(row.rank)}. ${row.label}`, row.value)), { title: ranked.name, unitLabel: ranked.unit })
    : ''
  return `<section class="ranking">
<h2>${escapeHtml(s.ranking)}</h2>
<figure class="ranking-figure">
<figcaption>${escapeHtml(ranked.name)}</figcaption>
<table>
<thead><tr><th scope="col" class="num">${escapeHtml(s.rank)}</th><th scope="col">${escapeHtml(s.unit)}</th><th scope="col" class="num">${escapeHtml(valueHeading(s, ranked.unit))}</th></tr></thead>
<tbody>
${rows.length > 0 ? rows.join('\n') : emptyRow(s, 3)}
</tbody>
</table>
${chart}
</figure>
</section>`
}

function notes (report: StatsReport, s: Strings): string {
  // The marks are explained on every report, whatever its notes say.
  const items = [...report.notes, s.suppressed(report.suppressionMark, report.suppressionThreshold), s.missing]
  return `<section class="notes-section">
<h2>${escapeHtml(s.notes)}</h2>
<ul class="notes">
${items.map((n) => `<li>${escapeHtml(n)}</li>`).join('\n')}
</ul>
</section>`
}

export function renderReportHtml (report: StatsReport): string {
  const lang: Lang = report.lang === 'mn' ? 'mn' : 'en'
  const s = STRINGS[lang]
  const title = `${s.title} — ${report.unit.name} — ${report.period.code}`
  const body = [header(report, s), '<main>', headline(report, s), series(report, s), breakdowns(report, s), ranking(report, s), notes(report, s), '</main>']
    .filter((part) => part !== '')
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
${body.join('\n')}
</body>
</html>
`
}
