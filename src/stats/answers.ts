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

  // Figures of cells with their total, suppressed when `protect` is on.
  function protect (ind: Indicator, cells: Cell[], total: Cell, by: Dimension[], on: boolean): { values: Figure[], total: Figure, extra: Cell[] } {
    const plain = { values: cells.map((c) => round(ind, c.value)), total: round(ind, total.value), extra: [] as Cell[] }
    if (!on || !ind.suppressed) return plain
    if (!isAdditive(ind.code)) {
      const one = (c: Cell) => (c.parts.some(small) ? mark : round(ind, c.value))
      return { values: cells.map(one), total: one(total), extra: [] }
    }
    const counts = cells.map((c) => c.value ?? 0)
    if (by.length < 2) {
      const flags = suppressCells(oneWay(counts, total.value ?? 0), deps.threshold)
      return { values: counts.map((n, i) => (flags[i] === true ? hidden(n) : n)), total: flags[counts.length] === true ? hidden(total.value ?? 0) : total.value, extra: [] }
    }
    // Two dimensions: every combination, absent ones as zeros, so the
    // complements can be chosen among them too.
    const [a, b] = by as [Dimension, Dimension]
    const rows = [...new Set(cells.map((c) => c.key[a]!))].sort()
    const cols = [...new Set(cells.map((c) => c.key[b]!))].sort()
    const matrix = rows.map((r) => cols.map((c) => cells.find((x) => x.key[a] === r && x.key[b] === c)?.value ?? 0))
    const t = twoWay(matrix)
    const flags = suppressCells(t.problem, deps.threshold)
    const values = cells.map((c) => (flags[t.cell(rows.indexOf(c.key[a]!), cols.indexOf(c.key[b]!))] === true ? hidden(c.value ?? 0) : c.value))
    const extra: Cell[] = []
    rows.forEach((r, i) => cols.forEach((c, j) => {
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

  async function table (q: { indicator: string, period: string, unit: string, by: Dimension[], lang: Lang, protect: boolean }): Promise<TableAnswer> {
    const ind = indicator(q.indicator)
    const period = parsePeriod(q.period)
    if (period === null) throw new StatsRequestError('/period', `"${q.period}" is not a day, ISO week, month or year`)
    checkPeriod(ind, period)
    for (const [i, d] of q.by.entries()) {
      if (!ind.dimensions.includes(d)) throw new StatsRequestError(`/by/${i}`, `${ind.code} can be broken down by ${ind.dimensions.join(', ')}, not by ${d}`)
    }
    const children = q.by.includes('unit')
    const base = { period, unit: q.unit, today: deps.today() }
    const [records, totalRecords] = await Promise.all([
      deps.reader.records(ind.code, { ...base, children }),
      children ? deps.reader.records(ind.code, { ...base, children: false }) : Promise.resolve(null),
    ])
    const { cells, total } = evaluate(ind.code, records, q.by)
    // The unit's own total, not the sum of its children's (look-ups by
    // officers of the unit itself count there and in no child).
    const own = totalRecords === null ? total : evaluate(ind.code, totalRecords, []).total
    // Below the country, or broken down by unit, every answer is protected.
    const on = q.protect || q.unit !== COUNTRY || children
    const p = protect(ind, cells, own, q.by, on)
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

  async function series (q: { indicator: string, unit: string, grain: Grain, from: string, to: string, lang: Lang, protect: boolean }): Promise<SeriesAnswer> {
    const ind = indicator(q.indicator)
    if (ind.kind === 'stock') throw new StatsRequestError('/indicator', `${ind.code} is a stock (as of now); it has no time series`)
    if (!ind.grains.includes(q.grain)) throw new StatsRequestError('/grain', `${ind.code} is kept by ${ind.grains.join(', ')}, not by ${q.grain}`)
    const periods = deps.reader.periods(q.grain, q.from, q.to, 400)
    const cells = await Promise.all(periods.map(async (period) => {
      const { total } = evaluate(ind.code, await deps.reader.records(ind.code, { period, unit: q.unit, children: false, today: deps.today() }), [])
      return { ...total, key: { unit: period.code } as Partial<Record<Dimension, string>> }
    }))
    const on = q.protect || q.unit !== COUNTRY
    const sum = cells.reduce((a, c) => a + (c.value ?? 0), 0)
    // The periods add up to a total a reader can ask for (a year, say).
    const p = protect(ind, cells, { key: {}, value: sum, parts: [sum] }, [], on)
    return {
      indicator: head(ind, q.lang),
      unit: { code: q.unit === COUNTRY ? null : q.unit, name: unitName(q.unit, q.lang) },
      grain: q.grain,
      suppressed: on && ind.suppressed,
      points: periods.map((period, i) => ({ period: period.code, from: period.from, to: period.to, value: p.values[i]! })),
    }
  }

  async function ranking (q: { indicator: string, period: string, unit: string, lang: Lang }): Promise<RankingAnswer> {
    const answer = await table({ ...q, by: ['unit'], protect: true })
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
    const headline = await Promise.all(HEADLINE.map(async (code) => {
      const t = await table({ ...base, indicator: code, by: [] })
      return { indicator: code, name: t.indicator.name, unit: t.indicator.unit, value: t.total }
    }))
    const last = new Date(Date.parse(`${period.to}T00:00:00Z`) - 86400_000).toISOString().slice(0, 10)
    const seriesOf = async (code: string) => {
      const s = await series({ indicator: code, unit: q.unit, grain: 'month', from: shiftMonths(periodOf('month', last).from, -11), to: last, lang: q.lang, protect: q.protect })
      return { indicator: code, name: s.indicator.name, unit: s.indicator.unit, points: s.points.map((p) => ({ period: p.period, value: p.value })) }
    }
    const breakdownOf = async (code: string, dimension: Dimension) => {
      const t = await table({ ...base, indicator: code, by: [dimension] })
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
    const rank = hasChildren ? await ranking({ indicator: 'applications.received', period: period.code, unit: q.unit, lang: q.lang }) : null
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
