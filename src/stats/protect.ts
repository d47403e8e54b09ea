import { parsePeriod, periodOf, periodsBetween, type Period } from './calendar.ts'
import { DEFINITIONS, detailFor, evaluate, type StatsReader, type StatsRecord } from './query.ts'
import { suppressCells, type SuppressionProblem } from './suppress.ts'
import { COUNTRY, parentOf } from './units.ts'

// Which counts stay hidden, decided once for every answer that shows them.
// The country's own figures are published as they are.
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
  cubes: Map<string, Promise<Map<string, Cube>>>
}

// The rows of a parent's table: its units, and its own share (applications
// taken at the parent's own office). Every application is taken at a unit, so
// the country has no share of its own: a row of zeros everyone knows, no
// cover for anything.
const rowsBelow = (parent: string, units: string[]): string[] => (parent === COUNTRY ? units : [...units, OWN])

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
// `fixed` names the totals decided in another table (see suppress.ts).
function solve (rows: string[], columns: string[], value: (r: string, c: string) => number, rowTotal: (r: string) => number, columnTotal: (c: string) => number, grand: number,
  forced: { rows: Set<string>, columns: Set<string>, grand: boolean }, fixed: { rows: boolean, columns: boolean, grand: boolean }, threshold: number): CanonicalTable {
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
    fixed: [
      ...(fixed.rows ? rows.map((_, r) => rowAt(r)) : []),
      ...(fixed.columns ? columns.map((_, c) => colAt(c)) : []),
      ...(fixed.grand ? [grandAt] : []),
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

// Worked out once per answer: tables and cubes lean on each other.
function memo<T> (found: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let table = found.get(key)
  if (table === undefined) {
    table = make()
    found.set(key, table)
  }
  return table
}

// The records of a period (a year, or a month) for the units below `parent`
// and for `parent` itself, by its parts (months, or days; split) and whole;
// and the parts' codes.
async function spanRecords (ctx: ProtectionContext, indicator: string, parent: string, code: string, part: 'month' | 'day', detail: ReturnType<typeof detailFor>) {
  const whole = parsePeriod(code)!
  const parts: Period = { ...whole, grain: part }
  const sel = (children: boolean, period: Period, split: boolean) => ({ period, unit: parent, children, today: ctx.today, split, ...detail })
  const [kidsParts, ownParts, kidsWhole, ownWhole] = await Promise.all([
    ctx.reader.records(indicator, sel(true, parts, true)),
    ctx.reader.records(indicator, sel(false, parts, true)),
    ctx.reader.records(indicator, sel(true, whole, false)),
    ctx.reader.records(indicator, sel(false, whole, false)),
  ])
  const columns = periodsBetween(part, whole.from, dayBefore(whole.to), 31).map((p) => p.code)
  return { columns, kidsParts, ownParts, kidsWhole, ownWhole }
}

// The units below `parent` by month of `year`.
function monthsTable (ctx: ProtectionContext, indicator: string, parent: string, year: string): Promise<CanonicalTable> {
  return memo(ctx.tables, `months|${indicator}|${parent}|${year}`, async () => {
    const { columns, kidsParts: kidsM, ownParts: ownM, kidsWhole: kidsY, ownWhole: ownY } = await spanRecords(ctx, indicator, parent, year, 'month', {})
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
    // The parent's months and year are its parent's table's to decide (the
    // country's are published as they are).
    return solve(rowsBelow(parent, units), columns, (r, c) => (r === OWN ? own(c) : kid(r, c)), (r) => (r === OWN ? ownYear : byYear.get(r) ?? 0),
      (c) => parentMonth.get(first(c)) ?? 0, parentYear, { rows: new Set(), ...above }, { rows: false, columns: true, grand: true }, ctx.threshold)
  })
}

async function aboveForMonths (ctx: ProtectionContext, indicator: string, parent: string, columns: string[], year: string) {
  if (parent === COUNTRY) return { columns: new Set<string>(), grand: false }
  const up = await monthsTable(ctx, indicator, parentOf(parent)!, year)
  return { columns: new Set(columns.filter((m) => up.hidden(parent, m))), grand: up.rowHidden(parent) }
}

// The units below `parent` by day of `month` (2026-11).
function daysTable (ctx: ProtectionContext, indicator: string, parent: string, month: string): Promise<CanonicalTable> {
  return memo(ctx.tables, `days|${indicator}|${parent}|${month}`, async () => {
    const { columns, kidsParts: kidsD, ownParts: ownD, kidsWhole: kidsM, ownWhole: ownM } = await spanRecords(ctx, indicator, parent, month, 'day', {})
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
    const rows = new Set(rowsBelow(parent, units).filter((u) => months.hidden(u, month)))
    const up = parent === COUNTRY ? null : await daysTable(ctx, indicator, parentOf(parent)!, month)
    const parentHidden = parent === COUNTRY ? false : (await monthsTable(ctx, indicator, parentOf(parent)!, month.slice(0, 4))).hidden(parent, month)
    // Months are the month tables' to decide, the parent's days its parent's.
    return solve(rowsBelow(parent, units), columns, (r, c) => (r === OWN ? own(c) : kid(r, c)), (r) => (r === OWN ? ownMonth : byMonth.get(r) ?? 0),
      (c) => parentDay.get(c) ?? 0, parentMonth,
      { rows, columns: new Set(columns.filter((d) => up?.hidden(parent, d) === true)), grand: parentHidden },
      { rows: true, columns: true, grand: true }, ctx.threshold)
  })
}

// Stocks (the backlog): the units below `parent` as of now.
function stockTable (ctx: ProtectionContext, indicator: string, parent: string): Promise<CanonicalTable> {
  return memo(ctx.tables, `stock|${indicator}|${parent}`, async () => {
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
    return solve(rowsBelow(parent, units), [''], (r) => (r === OWN ? ownShare : byUnit.get(r) ?? 0), (r) => (r === OWN ? ownShare : byUnit.get(r) ?? 0),
      () => parentTotal, parentTotal, { rows: new Set(), columns: new Set(grand ? [''] : []), grand }, { rows: false, columns: true, grand: true }, ctx.threshold)
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

// ---- breakdowns by other dimensions ----------------------------------------
//
// A unit's figures by channel (or service, sex, ... ; one or two dimensions)
// are published three ways: as the unit's own breakdown, as its row in its
// parent's table by unit and channel, and summed over the year's months. So
// each is judged once, in a cube: the units below a parent (and the
// parent's own share) by the dimensions' values, with every margin. The
// margins come from the tables that decide them (the unit tables above for
// the units' totals, the cube of the parent's parent for the parent's own
// breakdown, the one-dimension cubes for a two-dimension cube's edges) and
// are never taken as complements here. A month's cube and its year's are
// solved together: a cell hidden in any month is hidden in the year (the
// months could not be subtracted from a visible year), and a year cell
// hidden to protect another gets a month hidden with it.

export const PARENT = '@parent'
// A dimension's total in a cube's coordinates.
const ALL = '*'

export interface Cube {
  // The units below the parent, then OWN.
  rows: string[]
  // Each dimension's values.
  values: string[][]
  // `row` may be PARENT; `coords` has one value per dimension (or ALL).
  hidden (row: string, coords: readonly string[]): boolean
}

type Dim = Parameters<typeof evaluate>[2][number]
type State = { fixed: true, hidden: boolean } | { fixed: false }

// Cells of one period (a month, the year, or now for stocks), laid out as a
// mixed-radix hypercube: the row axis (rows, then PARENT) and one axis per
// dimension (values, then ALL).
interface Layer {
  counts: number[]
  // Per cell: decided elsewhere or free.
  states: State[]
}

function cubeShape (rows: readonly string[], values: readonly string[][]) {
  const sizes = [rows.length + 1, ...values.map((v) => v.length + 1)]
  const strides: number[] = []
  let n = 1
  for (let k = sizes.length - 1; k >= 0; k--) {
    strides[k] = n
    n *= sizes[k]!
  }
  const rowIndex = new Map(rows.map((r, i) => [r, i]))
  const valueIndex = values.map((vs) => new Map(vs.map((v, i) => [v, i])))
  const index = (row: string, coords: readonly string[]): number | undefined => {
    const r = row === PARENT ? rows.length : rowIndex.get(row)
    if (r === undefined) return undefined
    let at = r * strides[0]!
    for (let k = 0; k < coords.length; k++) {
      const v = coords[k] === ALL ? values[k]!.length : valueIndex[k]!.get(coords[k]!)
      if (v === undefined) return undefined
      at += v * strides[k + 1]!
    }
    return at
  }
  const coordsOf = (cell: number): number[] => sizes.map((size, k) => Math.floor(cell / strides[k]!) % size)
  // Each line along an axis: its members, and the total at the axis's end.
  const groups: number[][] = []
  const totals: number[] = []
  for (let k = 0; k < sizes.length; k++) {
    for (let cell = 0; cell < n; cell++) {
      if (coordsOf(cell)[k] !== 0) continue
      groups.push(Array.from({ length: sizes[k]! - 1 }, (_, i) => cell + i * strides[k]!))
      totals.push(cell + (sizes[k]! - 1) * strides[k]!)
    }
  }
  return { n, index, coordsOf, groups, totals }
}

function solveLayer (shape: ReturnType<typeof cubeShape>, layer: Layer, extra: ReadonlySet<number>, threshold: number): boolean[] {
  const forced: number[] = []
  const fixed: number[] = []
  layer.states.forEach((st, i) => {
    if (st.fixed) {
      fixed.push(i)
      if (st.hidden) forced.push(i)
    }
  })
  for (const i of extra) forced.push(i)
  return suppressCells({ counts: layer.counts, groups: shape.groups, totals: shape.totals, forced, fixed }, threshold)
}

// The cubes of `dims` below `parent`: per month and for the year `span`, or
// for now (`span` '') for stocks.
export function cubes (ctx: ProtectionContext, indicator: string, stock: boolean, dims: Dim[], parent: string, span: string): Promise<Map<string, Cube>> {
  return memo(ctx.cubes, `cube|${indicator}|${dims.join(',')}|${parent}|${span}`, async () => {
    const sel = (children: boolean, period: Period, split: boolean) => ({ period, unit: parent, children, today: ctx.today, split, ...detailFor(dims) })
    let layers: Array<{ code: string, kids: StatsRecord[], own: StatsRecord[] }>
    if (stock) {
      const now = periodOf('day', ctx.today)
      const [kids, own] = await Promise.all([ctx.reader.records(indicator, sel(true, now, false)), ctx.reader.records(indicator, sel(false, now, false))])
      layers = [{ code: '', kids, own }]
    } else {
      const { columns: codes, kidsParts: kidsM, ownParts: ownM, kidsWhole: kidsY, ownWhole: ownY } = await spanRecords(ctx, indicator, parent, span, 'month', detailFor(dims))
      const byMonth = (records: StatsRecord[]) => {
        const out = new Map<string, StatsRecord[]>(codes.map((c) => [`${c}-01`, []]))
        for (const r of records) out.get(r.dims.period ?? '')?.push(r)
        return out
      }
      const [kidsBy, ownBy] = [byMonth(kidsM), byMonth(ownM)]
      layers = [
        ...codes.map((code) => ({ code, kids: kidsBy.get(`${code}-01`)!, own: ownBy.get(`${code}-01`)! })),
        { code: span, kids: kidsY, own: ownY },
      ]
    }
    const all = layers.flatMap((l) => [...l.kids, ...l.own])
    const rows = [...new Set(layers.flatMap((l) => l.kids.map((r) => r.dims.unit ?? '')))].sort()
    if (parent !== COUNTRY) rows.push(OWN)
    const values = dims.map((d) => [...new Set(all.map((r) => r.dims[d] ?? 'unknown'))].sort())
    const shape = cubeShape(rows, values)

    // What the other tables decided, per layer.
    const unitTable = stock ? await stockTable(ctx, indicator, parent) : await monthsTable(ctx, indicator, parent, span)
    const parentTotal = async (code: string): Promise<boolean> => {
      if (parent === COUNTRY) return false
      return unitHidden(ctx, indicator, stock, parent, stock ? periodOf('day', ctx.today) : parsePeriod(code)!)
    }
    const above = parent === COUNTRY ? null : await cubes(ctx, indicator, stock, dims, parentOf(parent)!, span)
    const edges = dims.length === 2 ? await Promise.all(dims.map((d) => cubes(ctx, indicator, stock, [d], parent, span))) : null

    // What each cell is, once for every layer.
    const cells = Array.from({ length: shape.n }, (_, cell) => {
      const at = shape.coordsOf(cell)
      const row = at[0] === rows.length ? PARENT : rows[at[0]!]!
      const coords = dims.map((_, k) => (at[k + 1] === values[k]!.length ? ALL : values[k]![at[k + 1]!]!))
      return { row, coords, key: coords.join('|'), summed: coords.filter((c) => c === ALL).length }
    })
    // Every pattern of dimensions kept or summed (ALL), as key makers.
    const patterns = Array.from({ length: 1 << dims.length }, (_, mask) => (coords: string[]) => coords.map((c, k) => ((mask & (1 << k)) !== 0 ? c : ALL)).join('|'))
    // Cubes are of counts: a record's figure adds up.
    const def = DEFINITIONS[indicator]!
    const figure = (r: StatsRecord) => def.value(r.m, r.h) ?? 0
    const sums = (records: StatsRecord[], withUnit: boolean) => {
      // The records' cells first (many records, by service, fall in one
      // category's cell), then every margin of each cell.
      const leaves = new Map<string, { unit: string, coords: string[], v: number }>()
      for (const r of records) {
        const v = figure(r)
        if (v === 0) continue
        const coords = dims.map((d) => r.dims[d] ?? 'unknown')
        const unit = withUnit ? r.dims.unit ?? '' : ''
        const k = `${unit}|${coords.join('|')}`
        const leaf = leaves.get(k)
        if (leaf === undefined) leaves.set(k, { unit, coords, v })
        else leaf.v += v
      }
      const out = new Map<string, number>()
      for (const { unit, coords, v } of leaves.values()) {
        for (const keyOf of patterns) {
          const key = keyOf(coords)
          for (const k of withUnit ? [`${unit}|${key}`, key] : [key]) out.set(k, (out.get(k) ?? 0) + v)
        }
      }
      return out
    }

    const built = await Promise.all(layers.map(async (l): Promise<Layer> => {
      // By unit ("unit|key"), and over all the units below ("key").
      const kids = sums(l.kids, true)
      const own = sums(l.own, false)
      const parentHidden = await parentTotal(l.code)
      const counts: number[] = new Array(shape.n).fill(0)
      const states: State[] = new Array(shape.n)
      cells.forEach(({ row, coords, key, summed }, cell) => {
        if (row === PARENT) counts[cell] = own.get(key) ?? 0
        else if (row !== OWN) counts[cell] = kids.get(`${row}|${key}`) ?? 0
        else counts[cell] = Math.max(0, (own.get(key) ?? 0) - (kids.get(key) ?? 0))
        if (summed === dims.length) {
          // A unit's total, or the parent's: the unit tables'.
          const hidden = row === PARENT ? parentHidden : stock ? unitTable.hidden(row, '') : l.code === span ? unitTable.rowHidden(row) : unitTable.hidden(row, l.code)
          states[cell] = { fixed: true, hidden }
        } else if (summed > 0) {
          // An edge of a two-dimension cube: a one-dimension cube's cell.
          const k = coords.findIndex((c) => c !== ALL)
          states[cell] = { fixed: true, hidden: edges![k]!.get(l.code)!.hidden(row, [coords[k]!]) }
        } else if (row === PARENT) {
          // The parent's own breakdown: its parent's cube's, or the country's, published as it is.
          states[cell] = { fixed: true, hidden: above === null ? false : above.get(l.code)!.hidden(parent, coords) }
        } else {
          states[cell] = { fixed: false }
        }
      })
      return { counts, states }
    }))

    // Months and year together (see above); stocks have one layer.
    const monthsN = layers.length - 1
    const extra = layers.map(() => new Set<number>())
    let flags: boolean[][] = stock ? [solveLayer(shape, built[0]!, extra[0]!, ctx.threshold)] : []
    while (!stock) {
      flags = built.slice(0, monthsN).map((l, i) => solveLayer(shape, l, extra[i]!, ctx.threshold))
      const year = built[monthsN]!
      const inAnyMonth = new Set<number>()
      for (const f of flags) f.forEach((h, i) => { if (h && !year.states[i]!.fixed) inAnyMonth.add(i) })
      const yearFlags = solveLayer(shape, year, inAnyMonth, ctx.threshold)
      flags.push(yearFlags)
      let added = false
      yearFlags.forEach((h, i) => {
        if (!h || inAnyMonth.has(i) || year.states[i]!.fixed || year.counts[i] === 0) return
        // Hidden in the year and in no month: the months would add up to it.
        let best = -1
        built.slice(0, monthsN).forEach((l, m) => {
          if (l.counts[i]! > 0 && (best < 0 || l.counts[i]! < built[best]!.counts[i]!)) best = m
        })
        if (best >= 0) {
          extra[best]!.add(i)
          added = true
        }
      })
      if (!added) break
    }
    const out = new Map<string, Cube>()
    layers.forEach((l, i) => {
      out.set(l.code, {
        rows,
        values,
        hidden: (row, coords) => {
          const at = shape.index(row, coords)
          return at !== undefined && flags[i]![at] === true
        },
      })
    })
    return out
  })
}

// The cube (and its layer) that judges a breakdown by `dims` of `parent`'s
// units, for `period`: a month or a year, or now for stocks.
export async function cubeOf (ctx: ProtectionContext, indicator: string, stock: boolean, dims: Dim[], parent: string, period: Period): Promise<Cube> {
  if (stock) return (await cubes(ctx, indicator, true, dims, parent, '')).get('')!
  if (period.grain !== 'month' && period.grain !== 'year') throw new RangeError(`no cube for ${period.grain}s`)
  return (await cubes(ctx, indicator, false, dims, parent, period.code.slice(0, 4))).get(period.code)!
}
