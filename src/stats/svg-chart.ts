// Small inline SVG charts for the printable statistics report. Pure string
// builders: the same input gives the same string, so a report can be diffed
// and cached. No xmlns attribute: inline SVG in HTML5 needs none, and the
// report must not contain a single URL. Every label comes from data and is
// escaped, in text and in attributes alike.

export interface BarRow {
  label: string
  value: number | null
  // Written at the bar's place when value is null, e.g. the suppression mark.
  note?: string
}

export interface LinePoint {
  label: string
  value: number | null
  note?: string
}

export interface BarChartOptions {
  title: string
  width?: number
  unitLabel?: string
}

export interface LineChartOptions {
  title: string
  width?: number
  height?: number
  unitLabel?: string
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

// Safe in element text and in quoted attribute values alike.
export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c)
}

// U+202F narrow no-break space: the grouping never wraps across lines.
const GROUP = '\u202f'

// Locale-free so the report reads the same whatever machine renders it:
// integers grouped by threes, other numbers to at most one decimal place.
export function formatNumber (n: number): string {
  if (!Number.isFinite(n)) return '—'
  const rounded = Math.round(Math.abs(n) * 10) / 10
  const sign = n < 0 && rounded !== 0 ? '-' : ''
  const whole = Math.floor(rounded)
  const tenth = Math.round((rounded - whole) * 10)
  const grouped = String(whole).replace(/\B(?=(\d{3})+(?!\d))/g, GROUP)
  return sign + grouped + (tenth === 0 ? '' : `.${tenth}`)
}

// Coordinates to one decimal keep the output short and stable.
function r (n: number): string {
  const v = Math.round(n * 10) / 10
  return String(Object.is(v, -0) ? 0 : v)
}

// Clean floating-point noise (0.30000000000000004) out of tick values.
function clean (n: number): number {
  const v = Number(n.toPrecision(12))
  return Object.is(v, -0) ? 0 : v
}

// Axis ticks on round numbers, 3 to 5 of them, covering min..max (min defaults
// to 0 so bars and lines read against a zero baseline). Steps of 2.5 are only
// taken from 25 up: the formatter shows one decimal, and 0.25 would print as 0.3.
export function niceTicks (max: number, min = 0): number[] {
  let lo = Number.isFinite(min) ? Math.min(min, 0) : 0
  let hi = Number.isFinite(max) ? Math.max(max, 0) : 0
  if (hi === lo) {
    // All zero (or a single value at 0): still draw a usable axis.
    if (lo === 0) hi = 1
    else lo = 0
  }
  const span = hi - lo
  let exp = Math.floor(Math.log10(span / 4)) - 1
  for (;;) {
    const base = 10 ** exp
    for (const m of [1, 2, 2.5, 5]) {
      if (m === 2.5 && exp < 1) continue
      const step = clean(m * base)
      const start = Math.floor(clean(lo / step)) * step
      const end = Math.ceil(clean(hi / step)) * step
      const intervals = Math.round((end - start) / step)
      if (intervals <= 4) {
        const ticks: number[] = []
        for (let i = 0; i <= Math.max(intervals, 2); i++) ticks.push(clean(start + i * step))
        return ticks
      }
    }
    exp++
  }
}

// Rough advance width of a character, in ems, generous enough for Cyrillic in
// the usual system fonts; lays labels out without measuring text.
const CHAR_EM = 0.6

function textWidth (text: string, fontSize: number): number {
  return [...text].length * fontSize * CHAR_EM
}

function truncate (text: string, maxChars: number): string {
  const chars = [...text]
  return chars.length <= maxChars ? text : chars.slice(0, Math.max(1, maxChars - 1)).join('') + '…'
}

function open (width: number, height: number, title: string, unitLabel: string | undefined, cls: string): string {
  const label = unitLabel === undefined || unitLabel === '' ? title : `${title} (${unitLabel})`
  return `<svg class="${cls}" role="img" aria-label="${escapeHtml(label)}" viewBox="0 0 ${r(width)} ${r(height)}" width="${r(width)}" height="${r(height)}" font-size="11">` +
    `<title>${escapeHtml(label)}</title>`
}

const ROW = 22
const BAR = 14
const FONT = 11

// Horizontal bars, one row per label, the value written at the end of the bar.
// A null value draws no bar; its note (or a dash) stands where the bar would.
export function barChart (rows: BarRow[], opts: BarChartOptions): string {
  const width = opts.width ?? 640
  const top = opts.unitLabel === undefined || opts.unitLabel === '' ? 4 : 20
  const height = top + rows.length * ROW + 4
  const maxLabel = Math.min(Math.max(0, ...rows.map((row) => [...row.label].length)), 30)
  const labelWidth = Math.min(Math.max(textWidth('x'.repeat(maxLabel), FONT) + 8, 40), width * 0.4)
  const labelChars = Math.max(3, Math.floor((labelWidth - 8) / (FONT * CHAR_EM)))
  const texts = rows.map((row) => row.value === null ? (row.note ?? '—') : formatNumber(row.value))
  const valueWidth = Math.max(...texts.map((s) => textWidth(s, FONT)), 20) + 8
  const x0 = labelWidth
  const barSpace = Math.max(width - x0 - valueWidth, 40)
  // Negative figures are not expected (counts and rates); they draw no bar.
  const max = Math.max(0, ...rows.map((row) => row.value ?? 0))
  const scale = max > 0 ? barSpace / max : 0

  const parts = [open(width, height, opts.title, opts.unitLabel, 'chart bar-chart')]
  if (top > 4) parts.push(`<text x="${r(width - 4)}" y="13" text-anchor="end" font-size="10">${escapeHtml(opts.unitLabel ?? '')}</text>`)
  rows.forEach((row, i) => {
    const y = top + i * ROW
    const mid = y + ROW / 2
    const text = texts[i] ?? ''
    parts.push(`<text x="${r(x0 - 6)}" y="${r(mid + 4)}" text-anchor="end">${escapeHtml(truncate(row.label, labelChars))}</text>`)
    if (row.value === null) {
      parts.push(`<text class="gap" x="${r(x0 + 4)}" y="${r(mid + 4)}" font-style="italic">${escapeHtml(text)}</text>`)
      return
    }
    const w = Math.max(row.value, 0) * scale
    if (w > 0) parts.push(`<rect x="${r(x0)}" y="${r(mid - BAR / 2)}" width="${r(w)}" height="${BAR}" fill="#555"/>`)
    parts.push(`<text x="${r(x0 + w + 4)}" y="${r(mid + 4)}">${escapeHtml(text)}</text>`)
  })
  parts.push(`<line x1="${r(x0)}" y1="${top}" x2="${r(x0)}" y2="${r(height - 4)}" stroke="#000"/>`)
  parts.push('</svg>')
  return parts.join('')
}

// A line over evenly spaced periods, broken wherever a value is missing, with
// a dot at each known value and a y axis on nice ticks.
export function lineChart (points: LinePoint[], opts: LineChartOptions): string {
  const width = opts.width ?? 640
  const height = opts.height ?? 240
  const values = points.flatMap((p) => p.value === null ? [] : [p.value])
  const ticks = niceTicks(Math.max(0, ...values), Math.min(0, ...values))
  const tickTexts = ticks.map(formatNumber)
  const left = Math.max(...tickTexts.map((s) => textWidth(s, 10)), 10) + 12
  const right = 12
  const top = 20
  const bottom = 28
  const plotW = Math.max(width - left - right, 20)
  const plotH = Math.max(height - top - bottom, 20)
  const lo = ticks[0] ?? 0
  const hi = ticks[ticks.length - 1] ?? 1
  const yOf = (v: number): number => top + plotH - ((v - lo) / (hi - lo)) * plotH
  // Band centres, so a single point still sits inside the plot.
  const band = points.length > 0 ? plotW / points.length : plotW
  const xOf = (i: number): number => left + band * (i + 0.5)

  const parts = [open(width, height, opts.title, opts.unitLabel, 'chart line-chart')]
  if (opts.unitLabel !== undefined && opts.unitLabel !== '') {
    parts.push(`<text x="${r(left)}" y="12" font-size="10">${escapeHtml(opts.unitLabel)}</text>`)
  }
  ticks.forEach((tick, i) => {
    const y = yOf(tick)
    parts.push(`<line x1="${r(left)}" y1="${r(y)}" x2="${r(left + plotW)}" y2="${r(y)}" stroke="${i === 0 ? '#000' : '#ccc'}" stroke-width="${i === 0 ? 1 : 0.5}"/>`)
    parts.push(`<text x="${r(left - 4)}" y="${r(y + 3.5)}" text-anchor="end" font-size="10">${escapeHtml(tickTexts[i] ?? '')}</text>`)
  })
  parts.push(`<line x1="${r(left)}" y1="${top}" x2="${r(left)}" y2="${r(top + plotH)}" stroke="#000"/>`)

  // Thin out x labels when they would collide; the table below lists them all.
  const maxLabel = Math.max(1, ...points.map((p) => textWidth(p.label, 10)))
  const every = Math.max(1, Math.ceil((maxLabel + 6) / band))
  points.forEach((p, i) => {
    if (i % every !== 0) return
    parts.push(`<text x="${r(xOf(i))}" y="${r(top + plotH + 16)}" text-anchor="middle" font-size="10">${escapeHtml(p.label)}</text>`)
  })

  // Consecutive known values form one polyline; a null ends it.
  const segments: string[][] = []
  let current: string[] = []
  points.forEach((p, i) => {
    if (p.value === null) {
      if (current.length > 0) segments.push(current)
      current = []
      return
    }
    current.push(`${r(xOf(i))},${r(yOf(p.value))}`)
  })
  if (current.length > 0) segments.push(current)
  for (const seg of segments) {
    if (seg.length > 1) parts.push(`<polyline points="${seg.join(' ')}" fill="none" stroke="#000" stroke-width="1.5"/>`)
  }
  points.forEach((p, i) => {
    const x = xOf(i)
    if (p.value === null) {
      parts.push(`<text class="gap" x="${r(x)}" y="${r(top + plotH - 4)}" text-anchor="middle" font-size="10" font-style="italic">${escapeHtml(p.note ?? '—')}</text>`)
      return
    }
    parts.push(`<circle cx="${r(x)}" cy="${r(yOf(p.value))}" r="2.5" fill="#000"><title>${escapeHtml(`${p.label}: ${formatNumber(p.value)}`)}</title></circle>`)
  })
  parts.push('</svg>')
  return parts.join('')
}
