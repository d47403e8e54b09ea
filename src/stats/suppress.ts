// Statistical disclosure control for published counts (cell suppression).
//
// A published count must never reveal fewer than `threshold` people, and a
// hidden count must never come back by subtracting visible figures from a
// published total. Zero is published as 0: it reveals nobody.
//
// The method is the classic iterative heuristic (primary suppression, then
// complementary suppression group by group until nothing changes), followed by
// an exact audit: the published sums are solved as a linear system and any
// hidden non-zero count that the system pins down gets one more complement.
// The per-group rules alone miss chains of subtractions across overlapping
// groups (two suppressed blocks joined through a single cell), hence the audit.
// Not covered: bounds from non-negativity (a reader learning "between 2 and 4"
// through several groups at once); that needs linear programming.

export interface SuppressionProblem {
  // One count per cell.
  counts: readonly number[]
  // Each group lists cell indices whose SUM a reader is assumed to know (it is
  // published as a total in this answer or in another one: e.g. the children
  // of a unit plus the unit's own total, the months of a year, the sexes
  // within an age band). A total cell may itself be a member of another group.
  groups: ReadonlyArray<readonly number[]>
  // Cells that must be suppressed whatever their count (e.g. already
  // suppressed in another answer).
  forced?: readonly number[]
  // Cells whose state was decided in another table (hidden when also
  // forced, shown otherwise): never taken as a complement here, so that
  // every answer showing them agrees.
  fixed?: readonly number[]
  // Optional, parallel to `groups`: the cell that publishes the group's sum in
  // this answer (null: the sum is known from elsewhere). It ties the total to
  // its members: a hidden total is then not a known sum, and it could be
  // rebuilt by adding its members if all of them stayed visible.
  totals?: ReadonlyArray<number | null | undefined>
}

const MIN_THRESHOLD = 3

// Below 3 a pair of respondents could each subtract themselves and learn the other.
export function checkThreshold (threshold: number): number {
  if (!Number.isInteger(threshold) || threshold < MIN_THRESHOLD) {
    throw new RangeError(`suppression threshold must be an integer of at least ${MIN_THRESHOLD}, got ${threshold}`)
  }
  return threshold
}

export const SUPPRESSION_MARK = (threshold: number): string => `<${checkThreshold(threshold)}`

interface Relation {
  members: readonly number[]
  total: number | null
}

// Returns one flag per cell; true = suppressed.
export function suppressCells (problem: SuppressionProblem, threshold: number): boolean[] {
  const t = checkThreshold(threshold)
  const { counts } = problem
  const relations = validate(problem)
  const hidden = counts.map((c) => c > 0 && c < t)
  const fixed = new Set(problem.fixed ?? [])
  for (const i of fixed) hidden[i] = false
  for (const i of problem.forced ?? []) hidden[i] = true
  // Every pass suppresses a new cell or stops, so this ends after at most counts.length passes.
  for (;;) {
    settle(counts, relations, hidden, t, fixed)
    const extra = auditPartner(counts, relations, hidden, fixed)
    if (extra === null) return hidden
    hidden[extra] = true
  }
}

// Complementary suppression, group by group, until no group exposes anything.
function settle (counts: readonly number[], relations: readonly Relation[], hidden: boolean[], t: number, fixed: ReadonlySet<number>): void {
  let changed = true
  while (changed) {
    changed = false
    for (const rel of relations) {
      const extra = groupPartner(counts, rel, hidden, t, fixed)
      if (extra !== null) {
        hidden[extra] = true
        changed = true
      }
    }
  }
}

// The cell this group needs suppressed next, or null when it is safe (or
// wholly suppressed already, when there is nothing left to add).
function groupPartner (counts: readonly number[], rel: Relation, hidden: readonly boolean[], t: number, fixed: ReadonlySet<number>): number | null {
  let n = 0
  let sum = 0
  for (const m of rel.members) {
    if (hidden[m] === true) {
      n++
      sum += counts[m]!
    }
  }
  const totalHidden = rel.total !== null && hidden[rel.total] === true
  // A lone hidden member equals the known sum minus the visible ones.
  const lone = n === 1
  // Hidden members adding up to 1..t-1 publish that small sum (only if the sum is known).
  const smallSum = !totalHidden && sum > 0 && sum < t
  // A hidden total with every member visible is just their sum.
  const bareTotal = totalHidden && n === 0
  if (!lone && !smallSum && !bareTotal) return null
  const pick = smallestVisible(counts, rel.members, hidden, fixed)
  if (pick !== null) return pick
  // A one-member group: the member is its own total, so hide the total too.
  if (lone && rel.total !== null && !totalHidden && !fixed.has(rel.total)) return rel.total
  return null
}

// Smallest visible non-zero count (hiding a zero adds no uncertainty to the
// sum), else a visible zero; ties go to the lowest index so the outcome is
// deterministic.
function smallestVisible (counts: readonly number[], cells: Iterable<number>, hidden: readonly boolean[], fixed: ReadonlySet<number>): number | null {
  let best: number | null = null
  for (const i of cells) {
    if (hidden[i] === true || fixed.has(i)) continue
    if (best === null || better(counts, i, best)) best = i
  }
  return best
}

function better (counts: readonly number[], a: number, b: number): boolean {
  const ca = counts[a]!
  const cb = counts[b]!
  if ((ca === 0) !== (cb === 0)) return cb === 0
  return ca !== cb ? ca < cb : a < b
}

// The complement for the first hidden non-zero count that the published sums
// determine exactly, or null when none is determined (or none can be helped).
function auditPartner (counts: readonly number[], relations: readonly Relation[], hidden: readonly boolean[], fixed: ReadonlySet<number>): number | null {
  for (const cell of determinedCells(relations, hidden)) {
    if (counts[cell] === 0) continue
    const around = new Set<number>()
    for (const rel of relations) {
      if (rel.total !== cell && !rel.members.includes(cell)) continue
      for (const m of rel.members) around.add(m)
      if (rel.total !== null) around.add(rel.total)
    }
    const pick = smallestVisible(counts, [...around].sort((a, b) => a - b), hidden, fixed)
    if (pick !== null) return pick
  }
  return null
}

// Hidden cells whose value follows from the published sums alone. Each group
// gives one linear equation in the hidden cells (members +1, a hidden total
// -1); a cell is determined when its unit vector lies in the row space, i.e.
// its pivot row in reduced echelon form has no free column. Exact arithmetic
// (BigInt, fraction-free) so rounding can never hide a disclosure.
function determinedCells (relations: readonly Relation[], hidden: readonly boolean[]): number[] {
  const cols: number[] = []
  const colOf = new Map<number, number>()
  hidden.forEach((h, i) => {
    if (h) {
      colOf.set(i, cols.length)
      cols.push(i)
    }
  })
  const rows: bigint[][] = []
  for (const rel of relations) {
    const row = new Array<bigint>(cols.length).fill(0n)
    let any = false
    for (const m of rel.members) {
      const c = colOf.get(m)
      if (c !== undefined) {
        row[c] = 1n
        any = true
      }
    }
    const tc = rel.total === null ? undefined : colOf.get(rel.total)
    if (tc !== undefined) {
      row[tc] = -1n
      any = true
    }
    if (any) rows.push(row)
  }
  const pivots: Array<{ row: number, col: number }> = []
  let rank = 0
  for (let c = 0; c < cols.length && rank < rows.length; c++) {
    let p = rank
    while (p < rows.length && rows[p]![c] === 0n) p++
    if (p === rows.length) continue
    ;[rows[rank], rows[p]] = [rows[p]!, rows[rank]!]
    const pr = rows[rank]!
    for (let r = 0; r < rows.length; r++) {
      if (r === rank || rows[r]![c] === 0n) continue
      const row = rows[r]!
      const f = row[c]!
      const g = pr[c]!
      for (let k = 0; k < cols.length; k++) row[k] = row[k]! * g - pr[k]! * f
      normalise(row)
    }
    pivots.push({ row: rank, col: c })
    rank++
  }
  const isPivot = new Set(pivots.map((p) => p.col))
  const out: number[] = []
  for (const { row, col } of pivots) {
    const r = rows[row]!
    let free = false
    for (let k = 0; k < cols.length && !free; k++) free = !isPivot.has(k) && r[k] !== 0n
    if (!free) out.push(cols[col]!)
  }
  return out.sort((a, b) => a - b)
}

// Divides a row by the gcd of its entries so the integers stay small.
function normalise (row: bigint[]): void {
  let g = 0n
  for (const v of row) g = gcd(g, v < 0n ? -v : v)
  if (g > 1n) for (let k = 0; k < row.length; k++) row[k] = row[k]! / g
}

function gcd (a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b]
  return a
}

function validate (problem: SuppressionProblem): Relation[] {
  const { counts, groups, forced, totals } = problem
  counts.forEach((c, i) => {
    if (!Number.isSafeInteger(c) || c < 0) throw new RangeError(`count ${i} must be a non-negative integer, got ${c}`)
  })
  const cell = (i: number, what: string): number => {
    if (!Number.isInteger(i) || i < 0 || i >= counts.length) throw new RangeError(`${what} refers to cell ${i}, which does not exist`)
    return i
  }
  for (const i of forced ?? []) cell(i, 'forced')
  for (const i of problem.fixed ?? []) cell(i, 'fixed')
  if (totals !== undefined && totals.length !== groups.length) throw new RangeError('totals must have one entry per group')
  return groups.map((members, g) => {
    const seen = new Set<number>()
    for (const m of members) {
      cell(m, `group ${g}`)
      // A repeated member would be counted twice in the known sum.
      if (seen.has(m)) throw new RangeError(`group ${g} lists cell ${m} twice`)
      seen.add(m)
    }
    const total = totals?.[g] ?? null
    if (total !== null) {
      cell(total, `total of group ${g}`)
      if (seen.has(total)) throw new RangeError(`group ${g} has its total cell ${total} as a member`)
    }
    return { members, total }
  })
}

// A one-way breakdown: rows plus their total (the total is the last cell,
// index rows.length). Readers know the rows' sum from the published total.
// The total may exceed the rows' sum (a category left out, e.g. "not
// stated"); treating the relation as exact then only errs towards hiding more.
export function oneWay (rows: readonly number[], total: number): SuppressionProblem {
  const sum = rows.reduce((a, b) => a + b, 0)
  if (total < sum) throw new RangeError(`total ${total} is less than the sum of its rows (${sum})`)
  return {
    counts: [...rows, total],
    groups: [rows.map((_, i) => i)],
    totals: [rows.length]
  }
}

// A two-way table r x c with row totals, column totals and grand total.
// Layout: the r*c cells row by row, then the r row totals, the c column
// totals, and the grand total last.
export function twoWay (cells: readonly (readonly number[])[]): {
  problem: SuppressionProblem
  cell (r: number, c: number): number
  rowTotal (r: number): number
  colTotal (c: number): number
  grand: number
} {
  const nr = cells.length
  const nc = cells[0]?.length ?? 0
  if (nr === 0 || nc === 0) throw new RangeError('a two-way table needs at least one row and one column')
  if (cells.some((row) => row.length !== nc)) throw new RangeError('every row of a two-way table must have the same number of columns')
  const index = (i: number, n: number, what: string): number => {
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new RangeError(`${what} ${i} is out of range`)
    return i
  }
  const cell = (r: number, c: number): number => index(r, nr, 'row') * nc + index(c, nc, 'column')
  const rowTotal = (r: number): number => nr * nc + index(r, nr, 'row')
  const colTotal = (c: number): number => nr * nc + nr + index(c, nc, 'column')
  const grand = nr * nc + nr + nc
  const rowSums = cells.map((row) => row.reduce((a, b) => a + b, 0))
  const colSums = Array.from({ length: nc }, (_, c) => cells.reduce((a, row) => a + row[c]!, 0))
  const counts = [...cells.flat(), ...rowSums, ...colSums, rowSums.reduce((a, b) => a + b, 0)]
  const rs = Array.from({ length: nr }, (_, r) => r)
  const cs = Array.from({ length: nc }, (_, c) => c)
  const groups: number[][] = []
  const totals: number[] = []
  for (const r of rs) { groups.push(cs.map((c) => cell(r, c))); totals.push(rowTotal(r)) }
  for (const c of cs) { groups.push(rs.map((r) => cell(r, c))); totals.push(colTotal(c)) }
  groups.push(rs.map(rowTotal)); totals.push(grand)
  groups.push(cs.map(colTotal)); totals.push(grand)
  return { problem: { counts, groups, totals }, cell, rowTotal, colTotal, grand }
}
