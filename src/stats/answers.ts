import type { Snapshot } from '../catalogue/snapshot.ts'
import { parsePeriod, periodOf, shiftMonths, type Period } from './calendar.ts'
import { indicatorByCode, label, type Indicator, type IndicatorCatalogue } from './indicators.ts'
import type { Dimension, Figure, Grain, Lang, StatsReport } from './model.ts'
import { detailFor, evaluate, isAdditive, type Cell, type StatsReader } from './query.ts'
import { childrenOf, cubeOf, OWN, PARENT, unitHidden, type ProtectionContext } from './protect.ts'
import { mnAblative } from './report-html.ts'
import { SUPPRESSION_MARK } from './suppress.ts'
import { COUNTRY, parentOf } from './units.ts'

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

  // Indicators without a unit dimension (delivery to the agencies) are kept
  // for the whole country only: they are not a unit's figures.
  function national (ind: Indicator, unit: string): void {
    if (unit !== COUNTRY && !ind.dimensions.includes('unit')) {
      throw new StatsRequestError('/unit', `${ind.code} is kept for the whole country only, not for a unit`)
    }
  }

  // A figure alone, or a breakdown left unprotected or of a derived figure
  // (a rate is hidden when a count it is made of is small).
  function protect (ind: Indicator, cells: Cell[], total: Cell, on: boolean, totalHidden: boolean): { values: Figure[], total: Figure, extra: Cell[] } {
    const plain = { values: cells.map((c) => round(ind, c.value)), total: round(ind, total.value), extra: [] as Cell[] }
    if (!on || !ind.suppressed) return plain
    if (!isAdditive(ind.code)) {
      const one = (c: Cell) => (c.parts.some(small) ? mark : round(ind, c.value))
      return { values: cells.map(one), total: one(total), extra: [] }
    }
    // A count alone: hidden when small, or when its canonical table says so.
    const known = total.value ?? 0
    return { values: [], total: totalHidden || small(known) ? hidden(known) : known, extra: [] }
  }

  // A breakdown by other dimensions (of the unit, or of the units below it)
  // as its cube has it (protect.ts): the same flags in every answer that
  // shows a cell. Hidden zeros are listed too: a reader cannot tell them apart.
  async function protectByCube (ind: Indicator, ctx: ProtectionContext, q: { unit: string, by: Dimension[] }, period: Period, cells: Cell[], children: boolean): Promise<{ values: Figure[], extra: Cell[] }> {
    const dims = q.by.filter((d) => d !== 'unit')
    const cube = await cubeOf(ctx, ind.code, ind.kind === 'stock', dims, children || q.unit === COUNTRY ? q.unit : parentOf(q.unit)!, period)
    const rowOf = (c: Cell) => (children ? c.key.unit! : q.unit === COUNTRY ? PARENT : q.unit)
    const coordsOf = (c: Cell) => dims.map((d) => c.key[d] ?? 'unknown')
    const values = cells.map((c) => (cube.hidden(rowOf(c), coordsOf(c)) ? hidden(c.value ?? 0) : c.value))
    const shown = new Set(cells.map((c) => `${rowOf(c)}|${coordsOf(c).join('|')}`))
    const extra: Cell[] = []
    const rows = children ? cube.rows.filter((r) => r !== OWN) : [rowOf({ key: {}, value: 0, parts: [] })]
    const combos = dims.reduce<string[][]>((acc, _, k) => acc.flatMap((c) => cube.values[k]!.map((v) => [...c, v])), [[]])
    for (const r of rows) {
      for (const coords of combos) {
        if (shown.has(`${r}|${coords.join('|')}`) || !cube.hidden(r, coords)) continue
        extra.push({ key: { ...(children ? { unit: r } : {}), ...Object.fromEntries(dims.map((d, k) => [d, coords[k]!])) }, value: 0, parts: [0] })
      }
    }
    return { values, extra }
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

  // What one answer (or one report) reads and decides once.
  const context = (): ProtectionContext => ({ reader: deps.reader.memo(), today: deps.today(), threshold: deps.threshold, tables: new Map(), cubes: new Map() })

  async function table (q: { indicator: string, period: string, unit: string, by: Dimension[], lang: Lang, protect: boolean }, ctx: ProtectionContext = context()): Promise<TableAnswer> {
    const ind = indicator(q.indicator)
    const period = parsePeriod(q.period)
    if (period === null) throw new StatsRequestError('/period', `"${q.period}" is not a day, ISO week, month or year`)
    checkPeriod(ind, period)
    national(ind, q.unit)
    for (const [i, d] of q.by.entries()) {
      if (!ind.dimensions.includes(d)) throw new StatsRequestError(`/by/${i}`, `${ind.code} can be broken down by ${ind.dimensions.join(', ')}, not by ${d}`)
    }
    const children = q.by.includes('unit')
    // Below the country, or broken down by unit, every answer is protected.
    const on = (q.protect || q.unit !== COUNTRY || children) && ind.suppressed
    const additive = isAdditive(ind.code)
    const stock = ind.kind === 'stock'
    if (on && additive && period.grain === 'week') {
      throw new StatsRequestError('/period', `below the whole country, ${ind.code} is published by day, month and year, not by ISO week (a week straddles months, whose tables keep small counts from being worked out)`)
    }
    if (on && additive && period.grain === 'day' && q.by.some((d) => d !== 'unit')) {
      throw new StatsRequestError('/period', `below the whole country, ${ind.code} by ${q.by.filter((d) => d !== 'unit').join(' and ')} is published by month and year, not by day (the months' tables keep small counts from being worked out)`)
    }
    // Rows by service and channel (by purpose, for look-ups) only when the breakdown needs them.
    const base = { period, unit: q.unit, today: deps.today(), ...detailFor(q.by) }
    const reader = ctx.reader
    const [records, totalRecords] = await Promise.all([
      reader.records(ind.code, { ...base, children }),
      children ? reader.records(ind.code, { ...base, children: false }) : Promise.resolve(null),
    ])
    const { cells, total } = evaluate(ind.code, records, q.by)
    // The unit's own total, not the sum of its children's (look-ups by
    // officers of the unit itself count there and in no child).
    const own = totalRecords === null ? total : evaluate(ind.code, totalRecords, []).total
    const totalHidden = on && additive ? await unitHidden(ctx, ind.code, stock, q.unit, period) : false
    let p: { values: Figure[], total: Figure, extra: Cell[] }
    if (on && additive && children && q.by.length === 1) {
      // The units below, as their canonical table has them.
      const kids = await childrenOf(ctx, ind.code, stock, q.unit, period)
      const shown = kids.filter((k) => k.value > 0 || k.hidden)
      const extra = shown.filter((k) => !cells.some((c) => c.key.unit === k.unit)).map((k) => ({ key: { unit: k.unit }, value: k.value, parts: [k.value] }))
      const all = [...cells, ...extra]
      p = {
        values: all.map((c) => (kids.find((k) => k.unit === c.key.unit)?.hidden === true ? hidden(c.value ?? 0) : c.value)),
        total: totalHidden ? hidden(own.value ?? 0) : own.value,
        extra: [],
      }
      cells.push(...extra)
    } else if (on && additive && q.by.length > 0) {
      const byCube = await protectByCube(ind, ctx, q, period, cells, children)
      p = { values: byCube.values, total: totalHidden ? hidden(own.value ?? 0) : own.value, extra: byCube.extra }
    } else {
      p = protect(ind, cells, own, on, totalHidden)
    }
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
      suppressed: on,
      rows: order(rows, q.by),
      total: p.total,
    }
  }

  async function series (q: { indicator: string, unit: string, grain: Grain, from: string, to: string, lang: Lang, protect: boolean }, ctx: ProtectionContext = context()): Promise<SeriesAnswer> {
    const ind = indicator(q.indicator)
    if (ind.kind === 'stock') throw new StatsRequestError('/indicator', `${ind.code} is a stock (as of now); it has no time series`)
    if (!ind.grains.includes(q.grain)) throw new StatsRequestError('/grain', `${ind.code} is kept by ${ind.grains.join(', ')}, not by ${q.grain}`)
    national(ind, q.unit)
    const periods = ctx.reader.periods(q.grain, q.from, q.to, 400)
    const on = (q.protect || q.unit !== COUNTRY) && ind.suppressed
    const additive = isAdditive(ind.code)
    if (on && additive && q.grain === 'week') {
      throw new StatsRequestError('/grain', `below the whole country, ${ind.code} is published by day, month and year, not by ISO week`)
    }
    const cells = await pointsOf(ind.code, periods, q.unit, ctx.reader)
    // Each point is hidden as its canonical table says, as it is when asked for alone.
    const values: Figure[] = !on
      ? cells.map((c) => round(ind, c.value))
      : !additive
          ? cells.map((c) => (c.parts.some(small) ? mark : round(ind, c.value)))
          : await Promise.all(cells.map(async (c, i) => ((await unitHidden(ctx, ind.code, false, q.unit, periods[i]!)) ? hidden(c.value ?? 0) : c.value)))
    return {
      indicator: head(ind, q.lang),
      unit: { code: q.unit === COUNTRY ? null : q.unit, name: unitName(q.unit, q.lang) },
      grain: q.grain,
      suppressed: on,
      points: periods.map((period, i) => ({ period: period.code, from: period.from, to: period.to, value: values[i]! })),
    }
  }

  // Each period's total: one query over the whole span when the rows carry
  // their period, else one per period.
  async function pointsOf (code: string, span: Period[], unit: string, reader: ProtectionContext['reader']): Promise<Cell[]> {
    const base = { unit, children: false, today: deps.today() }
    if (!reader.splittable(code) || span.length === 0) {
      return Promise.all(span.map(async (period) => ({ ...evaluate(code, await reader.records(code, { ...base, period }), []).total, key: { unit: period.code } })))
    }
    const whole: Period = { code: `${span[0]!.code}/${span.at(-1)!.code}`, grain: span[0]!.grain, from: span[0]!.from, to: span.at(-1)!.to }
    const records = await reader.records(code, { ...base, period: whole, split: true })
    // Rows are days or months (years: months of the year, or the year's own row for persons).
    return span.map((p) => ({ ...evaluate(code, records.filter((r) => r.dims.period! >= p.from && r.dims.period! < p.to), []).total, key: { unit: p.code } }))
  }

  async function ranking (q: { indicator: string, period: string, unit: string, lang: Lang }, ctx: ProtectionContext = context()): Promise<RankingAnswer> {
    const answer = await table({ ...q, by: ['unit'], protect: true }, ctx)
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
    // One reading of each roll-up, and one decision on each count, for the whole report.
    const ctx = context()
    const headline = await Promise.all(HEADLINE.map(async (code) => {
      const t = await table({ ...base, indicator: code, by: [] }, ctx)
      return { indicator: code, name: t.indicator.name, unit: t.indicator.unit, value: t.total }
    }))
    const last = new Date(Date.parse(`${period.to}T00:00:00Z`) - 86400_000).toISOString().slice(0, 10)
    const seriesOf = async (code: string) => {
      const s = await series({ indicator: code, unit: q.unit, grain: 'month', from: shiftMonths(periodOf('month', last).from, -11), to: last, lang: q.lang, protect: q.protect }, ctx)
      return { indicator: code, name: s.indicator.name, unit: s.indicator.unit, points: s.points.map((p) => ({ period: p.period, value: p.value })) }
    }
    const breakdownOf = async (code: string, dimension: Dimension) => {
      const t = await table({ ...base, indicator: code, by: [dimension] }, ctx)
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
    const rank = hasChildren ? await ranking({ indicator: 'applications.received', period: period.code, unit: q.unit, lang: q.lang }, ctx) : null
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
          ? `"${COMPLEMENT_MARK}" marks a count hidden so that a count under ${deps.threshold} next to it cannot be worked out by subtraction.`
          : `"${COMPLEMENT_MARK}" гэсэн тоог хажуугийн ${mnAblative(deps.threshold)} цөөн тоог хасах замаар тооцоолж болохгүйн тулд нуусан.`,
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
