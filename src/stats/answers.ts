import type { Snapshot } from '../catalogue/snapshot.ts'
import { parsePeriod, periodOf, shiftMonths, type Period } from './calendar.ts'
import { indicatorByCode, label, type Indicator, type IndicatorCatalogue } from './indicators.ts'
import type { Dimension, Figure, Grain, Lang, StatsReport } from './model.ts'
import { evaluate, isAdditive, type Cell, type StatsReader } from './query.ts'
import { oneWay, suppressCells, SUPPRESSION_MARK, twoWay } from './suppress.ts'
import { COUNTRY } from './units.ts'

// Answers as they leave the gateway: labelled, rounded, and with small
// counts suppressed wherever the rules ask for it.

export interface Row {
  key: Partial<Record<Dimension, string>>
  labels: Partial<Record<Dimension, string>>
  value: Figure
}

export interface TableAnswer {
  indicator: { code: string, name: string, unit: string }
  period: { code: string, from: string, to: string }
  unit: { code: string | null, name: string }
  by: Dimension[]
  suppressed: boolean
  rows: Row[]
  total: Figure
}

export interface SeriesAnswer {
  indicator: { code: string, name: string, unit: string }
  unit: { code: string | null, name: string }
  grain: Grain
  suppressed: boolean
  points: Array<{ period: string, from: string, to: string, value: Figure }>
}

export interface RankingAnswer {
  indicator: { code: string, name: string, unit: string }
  period: { code: string, from: string, to: string }
  parent: { code: string | null, name: string }
  suppressed: boolean
  rows: Array<{ rank: number | null, unit: string, name: string, value: Figure }>
}

// Marks a count hidden so that a small one next to it cannot be worked out.
export const COMPLEMENT_MARK = 'x'

// What the points of a series add up to, grain by grain.
const WHOLES: Partial<Record<Grain, Grain[]>> = { month: ['year'], day: ['month', 'week'] }

const dayBefore = (date: string) => new Date(Date.parse(`${date}T00:00:00Z`) - 86400_000).toISOString().slice(0, 10)

const DECIMALS: Record<string, number> = { count: 0, persons: 0, percent: 1, hours: 2, seconds: 1, ratio: 2 }

export class StatsRequestError extends Error {
  readonly pointer: string
  constructor (pointer: string, message: string) {
    super(message)
    this.name = 'StatsRequestError'
    this.pointer = pointer
  }
}

interface Deps {
  reader: StatsReader
  indicators: IndicatorCatalogue
  catalogue: () => Snapshot
  today: () => string
  threshold: number
}

export function createStatsAnswers (deps: Deps) {
  const mark = SUPPRESSION_MARK(deps.threshold)
  const small = (n: number) => n > 0 && n < deps.threshold
  // A count hidden only to protect another is not under the threshold; it
  // carries its own mark rather than an untrue "<5".
  const hidden = (n: number) => (small(n) ? mark : COMPLEMENT_MARK)

  function indicator (code: string, pointer = '/indicator'): Indicator {
    const found = indicatorByCode(deps.indicators, code)
    if (found === undefined) throw new StatsRequestError(pointer, `no indicator "${code}"; GET /v1/stats/indicators lists them`)
    return found
  }

  const round = (ind: Indicator, v: number | null): number | null => {
    if (v === null) return null
    const f = 10 ** (DECIMALS[ind.unit] ?? 2)
    return Math.round(v * f) / f
  }

  function unitName (code: string, lang: Lang): string {
    if (code === COUNTRY) return lang === 'mn' ? 'Монгол Улс' : 'Mongolia'
    const u = deps.catalogue().unit(code)
    return u === undefined ? code : u.name[lang]
  }

  function valueLabel (dim: Dimension, value: string, lang: Lang): string {
    const snap = deps.catalogue()
    switch (dim) {
      case 'unit': return unitName(value, lang)
      case 'service': return snap.service(value)?.name[lang] ?? value
      case 'category': return snap.category(value)?.name[lang] ?? value
      case 'agency': return snap.agency(value)?.name[lang] ?? value
      default: {
        const text = deps.indicators.dimensions[dim]?.values?.[value]
        return text === undefined ? value : label(text, lang)
      }
    }
  }

  function head (ind: Indicator, lang: Lang) {
    return { code: ind.code, name: label(ind.name, lang), unit: label(deps.indicators.units[ind.unit], lang) }
  }

  function checkPeriod (ind: Indicator, period: Period): void {
    if (ind.kind === 'stock') return
    if (!ind.grains.includes(period.grain)) {
      throw new StatsRequestError('/period', `${ind.code} is kept by ${ind.grains.join(', ')}, not by ${period.grain}`)
    }
  }

  // Indicators without a unit dimension (delivery to the agencies) are kept
  // for the whole country only: they are not a unit's figures.
  function national (ind: Indicator, unit: string): void {
    if (unit !== COUNTRY && !ind.dimensions.includes('unit')) {
      throw new StatsRequestError('/unit', `${ind.code} is kept for the whole country only, not for a unit`)
    }
  }

  // Figures of cells with their total, suppressed when `protect` is on.
  // `rest` (two dimensions, one of them unit) holds what the unit's total has
  // beyond its children's cells: its own applications, in no unit below it.
  // They are never shown, but total - children would give them away, so they
  // take part in the suppression like any cell.
  function protect (ind: Indicator, cells: Cell[], total: Cell, by: Dimension[], on: boolean, rest: Cell[] = []): { values: Figure[], total: Figure, extra: Cell[] } {
    const plain = { values: cells.map((c) => round(ind, c.value)), total: round(ind, total.value), extra: [] as Cell[] }
    if (!on || !ind.suppressed) return plain
    if (!isAdditive(ind.code)) {
      const one = (c: Cell) => (c.parts.some(small) ? mark : round(ind, c.value))
      return { values: cells.map(one), total: one(total), extra: [] }
    }
    const counts = cells.map((c) => c.value ?? 0)
    const all = [...cells, ...rest]
    if (by.length < 2 || all.length === 0) {
      // The total less the rows (the unit's own applications, by=unit) is a
      // hidden row of its own. Distinct persons of the units below add up to
      // more than the unit's: then there is nothing left over.
      const known = total.value ?? 0
      const left = Math.max(known - counts.reduce((a, b) => a + b, 0), 0)
      const rows = left > 0 ? [...counts, left] : counts
      const flags = suppressCells(oneWay(rows, rows.reduce((a, b) => a + b, 0)), deps.threshold)
      return { values: counts.map((n, i) => (flags[i] === true ? hidden(n) : n)), total: flags[rows.length] === true ? hidden(known) : known, extra: [] }
    }
    // Two dimensions: every combination, absent ones as zeros, so the
    // complements can be chosen among them too.
    const [a, b] = by as [Dimension, Dimension]
    const rows = [...new Set(all.map((c) => c.key[a]!))].sort()
    const cols = [...new Set(all.map((c) => c.key[b]!))].sort()
    const matrix = rows.map((r) => cols.map((c) => all.find((x) => x.key[a] === r && x.key[b] === c)?.value ?? 0))
    const t = twoWay(matrix)
    const flags = suppressCells(t.problem, deps.threshold)
    const values = cells.map((c) => (flags[t.cell(rows.indexOf(c.key[a]!), cols.indexOf(c.key[b]!))] === true ? hidden(c.value ?? 0) : c.value))
    // The unit's own row (or column) is never shown.
    const own = new Set(rest.map((c) => c.key.unit))
    const extra: Cell[] = []
    rows.forEach((r, i) => cols.forEach((c, j) => {
      if ((a === 'unit' && own.has(r)) || (b === 'unit' && own.has(c))) return
      if (matrix[i]![j] === 0 && flags[t.cell(i, j)] === true) extra.push({ key: { [a]: r, [b]: c }, value: 0, parts: [0] })
    }))
    return { values, total: flags[t.grand] === true ? hidden(total.value ?? 0) : total.value, extra }
  }

  function order (rows: Row[], by: Dimension[]): Row[] {
    return rows.sort((x, y) => {
      for (const d of by) {
        const c = (x.key[d] ?? '').localeCompare(y.key[d] ?? '')
        if (c !== 0) return c
      }
      return 0
    })
  }

  type Reader = ReturnType<StatsReader['memo']>

  async function table (q: { indicator: string, period: string, unit: string, by: Dimension[], lang: Lang, protect: boolean }, reader: Reader = deps.reader.memo()): Promise<TableAnswer> {
    const ind = indicator(q.indicator)
    const period = parsePeriod(q.period)
    if (period === null) throw new StatsRequestError('/period', `"${q.period}" is not a day, ISO week, month or year`)
    checkPeriod(ind, period)
    national(ind, q.unit)
    for (const [i, d] of q.by.entries()) {
      if (!ind.dimensions.includes(d)) throw new StatsRequestError(`/by/${i}`, `${ind.code} can be broken down by ${ind.dimensions.join(', ')}, not by ${d}`)
    }
    const children = q.by.includes('unit')
    const base = { period, unit: q.unit, today: deps.today() }
    const [records, totalRecords] = await Promise.all([
      reader.records(ind.code, { ...base, children }),
      children ? reader.records(ind.code, { ...base, children: false }) : Promise.resolve(null),
    ])
    const { cells, total } = evaluate(ind.code, records, q.by)
    // The unit's own total, not the sum of its children's (look-ups by
    // officers of the unit itself count there and in no child).
    const own = totalRecords === null ? total : evaluate(ind.code, totalRecords, []).total
    // Below the country, or broken down by unit, every answer is protected.
    const on = q.protect || q.unit !== COUNTRY || children
    // By unit and another dimension: the unit's own applications by that
    // dimension, as a row of their own (shown nowhere).
    const other = q.by.find((d) => d !== 'unit')
    const rest: Cell[] = []
    if (children && other !== undefined && totalRecords !== null && isAdditive(ind.code)) {
      for (const c of evaluate(ind.code, totalRecords, [other]).cells) {
        const below = cells.filter((x) => x.key[other] === c.key[other]).reduce((a, x) => a + (x.value ?? 0), 0)
        const left = (c.value ?? 0) - below
        if (left > 0) rest.push({ key: { unit: q.unit, [other]: c.key[other] }, value: left, parts: [left] })
      }
    }
    const p = protect(ind, cells, own, q.by, on, rest)
    const rows = [...cells.map((c, i) => ({ c, value: p.values[i]! })), ...p.extra.map((c) => ({ c, value: COMPLEMENT_MARK as Figure }))]
      .map(({ c, value }) => ({
        key: c.key,
        labels: Object.fromEntries(q.by.map((d) => [d, valueLabel(d, c.key[d] ?? '', q.lang)])) as Partial<Record<Dimension, string>>,
        value,
      }))
    return {
      indicator: head(ind, q.lang),
      period: { code: period.code, from: period.from, to: period.to },
      unit: { code: q.unit === COUNTRY ? null : q.unit, name: unitName(q.unit, q.lang) },
      by: q.by,
      suppressed: on && ind.suppressed,
      rows: order(rows, q.by),
      total: p.total,
    }
  }

  async function series (q: { indicator: string, unit: string, grain: Grain, from: string, to: string, lang: Lang, protect: boolean }, reader: Reader = deps.reader.memo()): Promise<SeriesAnswer> {
    const ind = indicator(q.indicator)
    if (ind.kind === 'stock') throw new StatsRequestError('/indicator', `${ind.code} is a stock (as of now); it has no time series`)
    if (!ind.grains.includes(q.grain)) throw new StatsRequestError('/grain', `${ind.code} is kept by ${ind.grains.join(', ')}, not by ${q.grain}`)
    national(ind, q.unit)
    const periods = reader.periods(q.grain, q.from, q.to, 400)
    const on = q.protect || q.unit !== COUNTRY
    // The points add up to periods a reader can ask for on their own (the
    // year of a month; the month and the ISO week of a day), whether or not
    // the series shows the whole of them: the points are protected within
    // each of those, so every one they touch is read whole.
    const wholes = on && ind.suppressed && isAdditive(ind.code) ? WHOLES[q.grain] ?? [] : []
    const first = periods[0]!
    const last = periods.at(-1)!
    const span = wholes.length === 0
      ? periods
      : reader.periods(q.grain, [first.from, ...wholes.map((g) => periodOf(g, first.from).from)].sort()[0]!,
        dayBefore([last.to, ...wholes.map((g) => periodOf(g, dayBefore(last.to)).to)].sort().at(-1)!), 500)
    const cells = await pointsOf(ind.code, span, q.unit, reader)
    const offset = span.findIndex((p) => p.code === first.code)
    let values: Figure[]
    if (wholes.length === 0) {
      const sum = cells.reduce((a, c) => a + (c.value ?? 0), 0)
      // Otherwise the points add up to their sum.
      values = protect(ind, cells, { key: {}, value: sum, parts: [sum] }, [], on).values
    } else {
      const counts = cells.map((c) => c.value ?? 0)
      const groups: number[][] = []
      for (const g of wholes) {
        const members = new Map<string, number[]>()
        span.forEach((p, i) => {
          const w = periodOf(g, p.from)
          if (w.from >= span[0]!.from && w.to <= span.at(-1)!.to) members.set(w.code, [...members.get(w.code) ?? [], i])
        })
        groups.push(...members.values())
      }
      const sums = groups.map((m) => m.reduce((a, i) => a + counts[i]!, 0))
      const flags = suppressCells({ counts: [...counts, ...sums], groups, totals: groups.map((_, i) => counts.length + i) }, deps.threshold)
      values = counts.map((n, i) => (flags[i] === true ? hidden(n) : n))
    }
    return {
      indicator: head(ind, q.lang),
      unit: { code: q.unit === COUNTRY ? null : q.unit, name: unitName(q.unit, q.lang) },
      grain: q.grain,
      suppressed: on && ind.suppressed,
      points: periods.map((period, i) => ({ period: period.code, from: period.from, to: period.to, value: values[offset + i]! })),
    }
  }

  // Each period's total: one query over the whole span when the rows carry
  // their period, else one per period.
  async function pointsOf (code: string, span: Period[], unit: string, reader: Reader): Promise<Cell[]> {
    const base = { unit, children: false, today: deps.today() }
    if (!reader.splittable(code) || span.length === 0) {
      return Promise.all(span.map(async (period) => ({ ...evaluate(code, await reader.records(code, { ...base, period }), []).total, key: { unit: period.code } })))
    }
    const whole: Period = { code: `${span[0]!.code}/${span.at(-1)!.code}`, grain: span[0]!.grain, from: span[0]!.from, to: span.at(-1)!.to }
    const records = await reader.records(code, { ...base, period: whole, split: true })
    // Rows are days or months (years: months of the year, or the year's own row for persons).
    return span.map((p) => ({ ...evaluate(code, records.filter((r) => r.dims.period! >= p.from && r.dims.period! < p.to), []).total, key: { unit: p.code } }))
  }

  async function ranking (q: { indicator: string, period: string, unit: string, lang: Lang }, reader: Reader = deps.reader.memo()): Promise<RankingAnswer> {
    const answer = await table({ ...q, by: ['unit'], protect: true }, reader)
    const numeric = answer.rows.filter((r) => typeof r.value === 'number').sort((a, b) => (b.value as number) - (a.value as number))
    const rest = answer.rows.filter((r) => typeof r.value !== 'number')
    const rows: RankingAnswer['rows'] = []
    for (const [i, r] of numeric.entries()) {
      // Ties share a rank.
      const rank = i > 0 && numeric[i - 1]!.value === r.value ? rows[i - 1]!.rank : i + 1
      rows.push({ rank, unit: r.key.unit!, name: r.labels.unit!, value: r.value })
    }
    for (const r of rest) rows.push({ rank: null, unit: r.key.unit!, name: r.labels.unit!, value: r.value })
    return { indicator: answer.indicator, period: answer.period, parent: answer.unit, suppressed: answer.suppressed, rows }
  }

  const HEADLINE = ['applications.received', 'applications.persons_served', 'outcomes.delivered', 'outcomes.approved', 'outcomes.rejected', 'outcomes.failed',
    'outcomes.approval_rate', 'time.received_to_decided.p50', 'time.received_to_decided.p90', 'time.decided_within_standard', 'backlog.open', 'backlog.overdue',
    'lookups.total', 'mobile.rounds_held', 'mobile.applications_per_round', 'coverage.standard_list']

  // The document a unit files for a month (or a year).
  async function report (q: { period: string, unit: string, lang: Lang, protect: boolean }): Promise<StatsReport> {
    const period = parsePeriod(q.period)
    if (period === null || (period.grain !== 'month' && period.grain !== 'year')) throw new StatsRequestError('/period', 'a report is for a month (2026-11) or a year (2026)')
    const base = { period: period.code, unit: q.unit, lang: q.lang, protect: q.protect }
    // One reading of each roll-up for the whole report.
    const reader = deps.reader.memo()
    const headline = await Promise.all(HEADLINE.map(async (code) => {
      const t = await table({ ...base, indicator: code, by: [] }, reader)
      return { indicator: code, name: t.indicator.name, unit: t.indicator.unit, value: t.total }
    }))
    const last = new Date(Date.parse(`${period.to}T00:00:00Z`) - 86400_000).toISOString().slice(0, 10)
    const seriesOf = async (code: string) => {
      const s = await series({ indicator: code, unit: q.unit, grain: 'month', from: shiftMonths(periodOf('month', last).from, -11), to: last, lang: q.lang, protect: q.protect }, reader)
      return { indicator: code, name: s.indicator.name, unit: s.indicator.unit, points: s.points.map((p) => ({ period: p.period, value: p.value })) }
    }
    const breakdownOf = async (code: string, dimension: Dimension) => {
      const t = await table({ ...base, indicator: code, by: [dimension] }, reader)
      const dim = deps.indicators.dimensions[dimension]
      return {
        indicator: code,
        name: t.indicator.name,
        unit: t.indicator.unit,
        dimension,
        dimensionName: label(dim.name, q.lang),
        rows: t.rows.map((r) => ({ key: r.key[dimension]!, label: r.labels[dimension]!, value: r.value })),
      }
    }
    const snap = deps.catalogue()
    const hasChildren = q.unit === COUNTRY || snap.children(q.unit).length > 0
    const rank = hasChildren ? await ranking({ indicator: 'applications.received', period: period.code, unit: q.unit, lang: q.lang }, reader) : null
    const level = q.unit === COUNTRY ? 'country' : snap.unit(q.unit)?.level ?? 'unit'
    const en = q.lang === 'en'
    return {
      lang: q.lang,
      period: { code: period.code, from: period.from, to: period.to },
      unit: { code: q.unit === COUNTRY ? null : q.unit, name: unitName(q.unit, q.lang), level },
      generatedAt: new Date().toISOString(),
      catalogueVersion: snap.version,
      suppressionThreshold: deps.threshold,
      suppressionMark: mark,
      headline,
      series: await Promise.all([seriesOf('applications.received'), seriesOf('outcomes.approved'), seriesOf('time.received_to_decided.p50')]),
      breakdowns: await Promise.all([
        breakdownOf('applications.received', 'channel'),
        breakdownOf('applications.received', 'category'),
        breakdownOf('applications.persons_served', 'sex'),
        breakdownOf('applications.persons_served', 'age_band'),
        breakdownOf('outcomes.failed', 'agency'),
      ]),
      ranking: rank === null ? null : { indicator: rank.indicator.code, name: rank.indicator.name, unit: rank.indicator.unit, rows: rank.rows.map((r) => ({ rank: r.rank, unit: r.unit, label: r.name, value: r.value })) },
      notes: [
        en
          ? 'Backlog and catalogue coverage are as of the day the report was made; every other figure is for the period.'
          : 'Хүлээгдэж буй өргөдөл болон каталогийн хамрах хүрээ нь тайлан гаргасан өдрийн байдлаар, бусад үзүүлэлт тайлант хугацааных.',
        en
          ? 'Persons are counted once per period and unit, by sex and age at their first application, read from the registration number.'
          : 'Иргэнийг тухайн хугацаа, нэгжид нэг удаа, анхны өргөдлийн үеийн хүйс, насаар нь регистрийн дугаараас тоолсон.',
      ],
    }
  }

  return { table, series, ranking, report, indicator, unitName }
}

export type StatsAnswers = ReturnType<typeof createStatsAnswers>
