import { parsePeriod, periodOf, periodsBetween, type Period } from './calendar.ts'
import { evaluate, type StatsReader, type StatsRecord } from './query.ts'
import { suppressCells, type SuppressionProblem } from './suppress.ts'
import { COUNTRY, parentOf } from './units.ts'

// Which counts stay hidden, decided once for every answer that shows them.
// A count below the threshold is hidden, and so are the counts that would
// give it away by subtraction. Deciding that per answer is not enough: a
// count hidden as a complement in its parent's breakdown, and shown when
// asked for alone, gives the small one away all the same. So each count of a
// unit and a period is judged in one canonical table: the units directly
// below a parent (and the parent's own share, in no unit below it) across
// the months of a year (or the days of a month; or, for stocks, as of now),
// with the row, column and grand totals that other answers publish. A table
// takes as given what the table above it hid (its parent's cells), so the
// decisions agree from the country down to the bags. Every answer then reads
// its flags from these tables.

type Reader = ReturnType<StatsReader['memo']>

export const OWN = '@own'

export interface CanonicalTable {
  // Rows: the units below the parent, then OWN.
  rows: string[]
  // Columns: period codes (months or days); one column '' for stocks.
  columns: string[]
  value (row: string, column: string): number
  rowValue (row: string): number
  hidden (row: string, column: string): boolean
  // A row's whole (a unit's year or month), a column's total (the parent's
  // month or day), and the parent's whole.
  rowHidden (row: string): boolean
  columnHidden (column: string): boolean
  grandHidden: boolean
}

export interface ProtectionContext {
  reader: Reader
  today: string
  threshold: number
  // Tables already worked out for this answer.
  tables: Map<string, Promise<CanonicalTable>>
}

const dayBefore = (date: string) => new Date(Date.parse(`${date}T00:00:00Z`) - 86400_000).toISOString().slice(0, 10)

function counts (indicator: string, records: StatsRecord[], by: Array<'unit' | 'period'>): Map<string, number> {
  const out = new Map<string, number>()
  for (const c of evaluate(indicator, records, by).cells) out.set(by.map((d) => c.key[d] ?? '').join('|'), c.value ?? 0)
  return out
}

function total (indicator: string, records: StatsRecord[]): number {
  return evaluate(indicator, records, []).total.value ?? 0
}

// Lays out rows x columns with their totals, solves, and reads the flags.
function solve (rows: string[], columns: string[], value: (r: string, c: string) => number, rowTotal: (r: string) => number, columnTotal: (c: string) => number, grand: number,
  forced: { rows: Set<string>, columns: Set<string>, grand: boolean }, threshold: number): CanonicalTable {
  const nr = rows.length
  const nc = columns.length
  const cell = (r: number, c: number) => r * nc + c
  const rowAt = (r: number) => nr * nc + r
  const colAt = (c: number) => nr * nc + nr + c
  const grandAt = nr * nc + nr + nc
  const cellCounts: number[] = []
  for (const r of rows) for (const c of columns) cellCounts.push(value(r, c))
  const problem: SuppressionProblem = {
    counts: [...cellCounts, ...rows.map(rowTotal), ...columns.map(columnTotal), grand],
    groups: [
      ...rows.map((_, r) => columns.map((_, c) => cell(r, c))),
      ...columns.map((_, c) => rows.map((_, r) => cell(r, c))),
      rows.map((_, r) => rowAt(r)),
      columns.map((_, c) => colAt(c)),
    ],
    totals: [...rows.map((_, r) => rowAt(r)), ...columns.map((_, c) => colAt(c)), grandAt, grandAt],
    forced: [
      ...rows.flatMap((r, i) => (forced.rows.has(r) ? [rowAt(i)] : [])),
      ...columns.flatMap((c, i) => (forced.columns.has(c) ? [colAt(i)] : [])),
      ...(forced.grand ? [grandAt] : []),
    ],
  }
  const flags = suppressCells(problem, threshold)
  const ri = new Map(rows.map((r, i) => [r, i]))
  const ci = new Map(columns.map((c, i) => [c, i]))
  return {
    rows,
    columns,
    value: (r, c) => (ri.has(r) && ci.has(c) ? cellCounts[cell(ri.get(r)!, ci.get(c)!)]! : 0),
    rowValue: (r) => (ri.has(r) ? problem.counts[rowAt(ri.get(r)!)]! : 0),
    hidden: (r, c) => ri.has(r) && ci.has(c) && flags[cell(ri.get(r)!, ci.get(c)!)] === true,
    rowHidden: (r) => ri.has(r) && flags[rowAt(ri.get(r)!)] === true,
    columnHidden: (c) => ci.has(c) && flags[colAt(ci.get(c)!)] === true,
    grandHidden: flags[grandAt] === true,
  }
}

function memo (ctx: ProtectionContext, key: string, make: () => Promise<CanonicalTable>): Promise<CanonicalTable> {
  let found = ctx.tables.get(key)
  if (found === undefined) {
    found = make()
    ctx.tables.set(key, found)
  }
  return found
}

// The units below `parent` by month of `year`.
function monthsTable (ctx: ProtectionContext, indicator: string, parent: string, year: string): Promise<CanonicalTable> {
  return memo(ctx, `months|${indicator}|${parent}|${year}`, async () => {
    const whole = parsePeriod(year)!
    const span: Period = { ...whole, grain: 'month' }
    const sel = (children: boolean, period: Period, split: boolean) => ({ period, unit: parent, children, today: ctx.today, split })
    const [kidsM, ownM, kidsY, ownY] = await Promise.all([
      ctx.reader.records(indicator, sel(true, span, true)),
      ctx.reader.records(indicator, sel(false, span, true)),
      ctx.reader.records(indicator, sel(true, whole, false)),
      ctx.reader.records(indicator, sel(false, whole, false)),
    ])
    const columns = periodsBetween('month', whole.from, dayBefore(whole.to), 12).map((p) => p.code)
    const byMonth = counts(indicator, kidsM, ['unit', 'period'])
    const parentMonth = counts(indicator, ownM, ['period'])
    const byYear = counts(indicator, kidsY, ['unit'])
    const units = [...new Set([...byYear.keys(), ...[...byMonth.keys()].map((k) => k.split('|')[0]!)])].sort()
    const first = (month: string) => `${month}-01`
    const kid = (u: string, m: string) => byMonth.get(`${u}|${first(m)}`) ?? 0
    const own = (m: string) => Math.max(0, (parentMonth.get(first(m)) ?? 0) - units.reduce((a, u) => a + kid(u, m), 0))
    const parentYear = total(indicator, ownY)
    const ownYear = Math.max(0, parentYear - units.reduce((a, u) => a + (byYear.get(u) ?? 0), 0))
    const above = await aboveForMonths(ctx, indicator, parent, columns, year)
    return solve([...units, OWN], columns, (r, c) => (r === OWN ? own(c) : kid(r, c)), (r) => (r === OWN ? ownYear : byYear.get(r) ?? 0),
      (c) => parentMonth.get(first(c)) ?? 0, parentYear, { rows: new Set(), ...above }, ctx.threshold)
  })
}

async function aboveForMonths (ctx: ProtectionContext, indicator: string, parent: string, columns: string[], year: string) {
  if (parent === COUNTRY) return { columns: new Set<string>(), grand: false }
  const up = await monthsTable(ctx, indicator, parentOf(parent)!, year)
  return { columns: new Set(columns.filter((m) => up.hidden(parent, m))), grand: up.rowHidden(parent) }
}

// The units below `parent` by day of `month` (2026-11).
function daysTable (ctx: ProtectionContext, indicator: string, parent: string, month: string): Promise<CanonicalTable> {
  return memo(ctx, `days|${indicator}|${parent}|${month}`, async () => {
    const whole = parsePeriod(month)!
    const span: Period = { ...whole, grain: 'day' }
    const sel = (children: boolean, period: Period, split: boolean) => ({ period, unit: parent, children, today: ctx.today, split })
    const [kidsD, ownD, kidsM, ownM] = await Promise.all([
      ctx.reader.records(indicator, sel(true, span, true)),
      ctx.reader.records(indicator, sel(false, span, true)),
      ctx.reader.records(indicator, sel(true, whole, false)),
      ctx.reader.records(indicator, sel(false, whole, false)),
    ])
    const columns = periodsBetween('day', whole.from, dayBefore(whole.to), 31).map((p) => p.code)
    const byDay = counts(indicator, kidsD, ['unit', 'period'])
    const parentDay = counts(indicator, ownD, ['period'])
    const byMonth = counts(indicator, kidsM, ['unit'])
    const units = [...new Set([...byMonth.keys(), ...[...byDay.keys()].map((k) => k.split('|')[0]!)])].sort()
    const kid = (u: string, d: string) => byDay.get(`${u}|${d}`) ?? 0
    const own = (d: string) => Math.max(0, (parentDay.get(d) ?? 0) - units.reduce((a, u) => a + kid(u, d), 0))
    const parentMonth = total(indicator, ownM)
    const ownMonth = Math.max(0, parentMonth - units.reduce((a, u) => a + (byMonth.get(u) ?? 0), 0))
    // The month table has the say on each unit's month and on the parent's.
    const months = await monthsTable(ctx, indicator, parent, month.slice(0, 4))
    const rows = new Set([...units, OWN].filter((u) => months.hidden(u, month)))
    const up = parent === COUNTRY ? null : await daysTable(ctx, indicator, parentOf(parent)!, month)
    const parentHidden = parent === COUNTRY ? false : (await monthsTable(ctx, indicator, parentOf(parent)!, month.slice(0, 4))).hidden(parent, month)
    return solve([...units, OWN], columns, (r, c) => (r === OWN ? own(c) : kid(r, c)), (r) => (r === OWN ? ownMonth : byMonth.get(r) ?? 0),
      (c) => parentDay.get(c) ?? 0, parentMonth,
      { rows, columns: new Set(columns.filter((d) => up?.hidden(parent, d) === true)), grand: parentHidden }, ctx.threshold)
  })
}

// Stocks (the backlog): the units below `parent` as of now.
function stockTable (ctx: ProtectionContext, indicator: string, parent: string): Promise<CanonicalTable> {
  return memo(ctx, `stock|${indicator}|${parent}`, async () => {
    const period = periodOf('day', ctx.today)
    const [kids, own] = await Promise.all([
      ctx.reader.records(indicator, { period, unit: parent, children: true, today: ctx.today }),
      ctx.reader.records(indicator, { period, unit: parent, children: false, today: ctx.today }),
    ])
    const byUnit = counts(indicator, kids, ['unit'])
    const units = [...byUnit.keys()].sort()
    const parentTotal = total(indicator, own)
    const ownShare = Math.max(0, parentTotal - units.reduce((a, u) => a + (byUnit.get(u) ?? 0), 0))
    const grand = parent === COUNTRY ? false : (await stockTable(ctx, indicator, parentOf(parent)!)).hidden(parent, '')
    return solve([...units, OWN], [''], (r) => (r === OWN ? ownShare : byUnit.get(r) ?? 0), (r) => (r === OWN ? ownShare : byUnit.get(r) ?? 0),
      () => parentTotal, parentTotal, { rows: new Set(), columns: new Set(), grand }, ctx.threshold)
  })
}

// The table that judges `unit`'s figures for `period`, and where in it they sit.
export async function placeOf (ctx: ProtectionContext, indicator: string, stock: boolean, unit: string, period: Period): Promise<{ table: CanonicalTable, column: string | null }> {
  if (stock) return { table: await stockTable(ctx, indicator, unit), column: '' }
  switch (period.grain) {
    case 'year': return { table: await monthsTable(ctx, indicator, unit, period.code), column: null }
    case 'month': return { table: await monthsTable(ctx, indicator, unit, period.code.slice(0, 4)), column: period.code }
    case 'day': return { table: await daysTable(ctx, indicator, unit, period.code.slice(0, 7)), column: period.code }
    default: throw new RangeError(`no canonical table for ${period.grain}s`)
  }
}

// Whether `unit`'s own figure for `period` is hidden (never the country's).
export async function unitHidden (ctx: ProtectionContext, indicator: string, stock: boolean, unit: string, period: Period): Promise<boolean> {
  if (unit === COUNTRY) return false
  const { table, column } = await placeOf(ctx, indicator, stock, parentOf(unit)!, period)
  return column === null ? table.rowHidden(unit) : table.hidden(unit, column)
}

// The units below `unit` for `period`: each one's count and whether it is hidden.
export async function childrenOf (ctx: ProtectionContext, indicator: string, stock: boolean, unit: string, period: Period): Promise<Array<{ unit: string, value: number, hidden: boolean }>> {
  const { table, column } = await placeOf(ctx, indicator, stock, unit, period)
  return table.rows.filter((r) => r !== OWN).map((r) => ({
    unit: r,
    value: column === null ? table.rowValue(r) : table.value(r, column),
    hidden: column === null ? table.rowHidden(r) : table.hidden(r, column),
  }))
}

// The parent's own share for `period` (in no unit below it): never shown, hidden or not.
export async function ownHidden (ctx: ProtectionContext, indicator: string, stock: boolean, unit: string, period: Period): Promise<boolean> {
  const { table, column } = await placeOf(ctx, indicator, stock, unit, period)
  return column === null ? table.rowHidden(OWN) : table.hidden(OWN, column)
}
