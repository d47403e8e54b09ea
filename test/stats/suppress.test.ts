import t from 'tap'
import { createRandom } from '../../src/exchange/prng.ts'
import type { SuppressionProblem } from '../../src/stats/suppress.ts'
import { SUPPRESSION_MARK, checkThreshold, oneWay, suppressCells, twoWay } from '../../src/stats/suppress.ts'

// Indices of the suppressed cells, for readable assertions.
function hiddenOf (problem: SuppressionProblem, threshold = 5): number[] {
  return suppressCells(problem, threshold).flatMap((h, i) => (h ? [i] : []))
}

// Seeded so a failing table can be replayed from its seed.
const seeded = (seed: number) => createRandom('suppress', seed).next

// Skewed towards zeros and small counts, where disclosure happens.
function randomCount (rnd: () => number): number {
  const u = rnd()
  if (u < 0.25) return 0
  if (u < 0.6) return 1 + Math.floor(rnd() * 6)
  if (u < 0.85) return 1 + Math.floor(rnd() * 30)
  return 1 + Math.floor(rnd() * 400)
}

function randomForced (rnd: () => number, n: number): number[] {
  if (rnd() >= 0.2) return []
  return Array.from({ length: 1 + Math.floor(rnd() * 2) }, () => Math.floor(rnd() * n))
}

t.test('checkThreshold and the mark', async (tt) => {
  tt.equal(checkThreshold(5), 5)
  tt.equal(checkThreshold(3), 3)
  for (const bad of [2, 0, -5, 3.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    tt.throws(() => checkThreshold(bad), RangeError, `${bad} is refused`)
  }
  tt.throws(() => suppressCells(oneWay([1], 1), 2), RangeError)
  tt.equal(SUPPRESSION_MARK(5), '<5')
  tt.equal(SUPPRESSION_MARK(10), '<10')
  tt.throws(() => SUPPRESSION_MARK(2), RangeError)
})

t.test('one-way, hand-worked', async (tt) => {
  // 3 is primary; the smallest other non-zero row (50) protects it, not 67; the total stays.
  tt.same(hiddenOf(oneWay([50, 3, 67], 120)), [0, 1])
  // Zeros add no uncertainty, so 10 is taken rather than a zero.
  tt.same(hiddenOf(oneWay([0, 3, 0, 10], 13)), [1, 3])
  // Every row is small but they add up to 6: the rows go, the total stays.
  tt.same(hiddenOf(oneWay([1, 2, 3], 6)), [0, 1, 2])
  // Everything below the threshold, the total included.
  tt.same(hiddenOf(oneWay([1, 2, 1], 4)), [0, 1, 2, 3])
  // The total is small too, so 3 + 1 is not a known sum: the zero stays visible.
  tt.same(hiddenOf(oneWay([3, 0, 1], 4)), [0, 2, 3])
  // Two small rows adding up to 4 with a published total of 24 would publish "4": take 20 too.
  tt.same(hiddenOf(oneWay([2, 20, 2], 24)), [0, 1, 2])
  // Small rows that add up to the threshold are safe as a pair.
  tt.same(hiddenOf(oneWay([2, 3, 40], 45)), [0, 1])
  // Nothing small, nothing hidden; zeros are published.
  tt.same(hiddenOf(oneWay([0, 5, 12, 0], 17)), [])
  // The only non-zero row is small: a zero is the last resort partner.
  tt.same(hiddenOf(oneWay([0, 4, 0], 4)), [0, 1, 3])
  // Ties go to the lowest index.
  tt.same(hiddenOf(oneWay([9, 2, 9], 20)), [0, 1])
  // A forced row needs a partner like any other.
  tt.same(hiddenOf({ ...oneWay([10, 20, 30], 60), forced: [1] }), [0, 1])
  // A one-row breakdown: the row is its own total, so hiding one hides both.
  tt.same(hiddenOf({ ...oneWay([7], 7), forced: [0] }), [0, 1])
  // A forced total would be the sum of the visible rows: two rows go with it.
  tt.same(hiddenOf({ ...oneWay([10, 20, 30], 60), forced: [3] }), [0, 1, 3])
  tt.throws(() => oneWay([5, 5], 9), RangeError)
})

t.test('threshold 3 against 5', async (tt) => {
  tt.same(hiddenOf(oneWay([50, 3, 67], 120), 3), [])
  tt.same(hiddenOf(oneWay([4, 50, 66], 120), 3), [])
  tt.same(hiddenOf(oneWay([4, 50, 66], 120), 5), [0, 1])
  tt.same(hiddenOf(oneWay([2, 50, 66], 118), 3), [0, 1])
  // 1 + 2 reaches 3 but not 5.
  tt.same(hiddenOf(oneWay([1, 2, 66], 69), 3), [0, 1])
  tt.same(hiddenOf(oneWay([1, 2, 66], 69), 5), [0, 1, 2])
})

t.test('bare groups', async (tt) => {
  // A pair where one is hidden forces the other.
  tt.same(hiddenOf({ counts: [2, 100], groups: [[0, 1]] }), [0, 1])
  // A group with nothing small and nothing forced is left alone.
  tt.same(hiddenOf({ counts: [6, 7, 8], groups: [[0, 1, 2]] }), [])
  // No groups at all: primary suppression only.
  tt.same(hiddenOf({ counts: [0, 1, 4, 5], groups: [] }), [1, 2])
  // A cell shared by two groups (months of a year, sexes within a band) propagates.
  tt.same(hiddenOf({ counts: [3, 10, 10, 40], groups: [[0, 1], [1, 2, 3]] }), [0, 1, 2])
  tt.throws(() => suppressCells({ counts: [1, 2], groups: [[0, 2]] }, 5), RangeError)
  tt.throws(() => suppressCells({ counts: [1, 2], groups: [[0, 0]] }, 5), RangeError)
  tt.throws(() => suppressCells({ counts: [1, -2], groups: [] }, 5), RangeError)
  tt.throws(() => suppressCells({ counts: [1, 2.5], groups: [] }, 5), RangeError)
  tt.throws(() => suppressCells({ counts: [1, 2], groups: [], forced: [5] }, 5), RangeError)
})

t.test('fixed cells are decided elsewhere', async (tt) => {
  // 3 + 10 + 20 = 33, the total published: without `fixed` the 10 is the
  // complement; fixed (shown in another answer), the 20 is taken instead.
  const problem = { counts: [3, 10, 20, 33], groups: [[0, 1, 2]], totals: [3] }
  tt.same(hiddenOf(problem), [0, 1])
  tt.same(hiddenOf({ ...problem, fixed: [1] }), [0, 2])
  // A fixed cell keeps its state: shown even when small, hidden when also forced.
  tt.same(hiddenOf({ counts: [2, 6, 7, 15], groups: [[0, 1, 2]], totals: [3], fixed: [0] }), [])
  tt.same(hiddenOf({ counts: [6, 7, 8, 21], groups: [[0, 1, 2]], totals: [3], forced: [0], fixed: [0, 3] }), [0, 1])
  // Nothing left to take: the group stays as it is rather than touch a fixed cell.
  tt.same(hiddenOf({ counts: [3, 10, 13], groups: [[0, 1]], totals: [2], fixed: [1, 2] }), [0])
  tt.throws(() => suppressCells({ counts: [1, 2], groups: [], fixed: [2] }, 5), RangeError)
})

t.test('two-way, hand-worked', async (tt) => {
  //  3 10 20 | 33
  // 10 12 30 | 52
  // 13 22 50 | 85
  const tw = twoWay([[3, 10, 20], [10, 12, 30]])
  tt.equal(tw.cell(1, 2), 5)
  tt.equal(tw.rowTotal(1), 7)
  tt.equal(tw.colTotal(2), 10)
  tt.equal(tw.grand, 11)
  tt.same(tw.problem.counts, [3, 10, 20, 10, 12, 30, 33, 52, 13, 22, 50, 85])
  // The classic rectangle: 3 and its complements in its row, its column, and the corner that closes them.
  tt.same(hiddenOf(tw.problem), [tw.cell(0, 0), tw.cell(0, 1), tw.cell(1, 0), tw.cell(1, 1)])

  // A small row total is hidden with its row, and must be protected among the row totals too.
  const small = twoWay([[3, 0, 0], [20, 20, 20], [6, 100, 100], [100, 6, 100], [100, 100, 6]])
  const hidden = suppressCells(small.problem, 5)
  tt.ok(hidden[small.rowTotal(0)])
  tt.ok(hidden[small.rowTotal(1)], 'the smallest other row total is the complement')
  // Hidden row total 60 with its row all visible would give it back by addition.
  tt.ok([0, 1, 2].filter((c) => hidden[small.cell(1, c)]).length >= 2, 'the hidden total takes two of its cells along')

  // Per-group rules alone hide cells 0 1 3 4 6 9 11 12 14: every row and column
  // then has 0 or >= 2 hidden cells, yet
  //   row 0: x00 + x01 + x03 = 40 - 29 = 11
  //   col 1: x01 + x21 = 7,  col 3: x03 + x23 = 6,  row 2: x21 + x23 = 5
  // give x01 + x03 = 8 and so x00 = 3. The audit hides 29 to break the chain.
  const chain = twoWay([[3, 5, 29, 3], [23, 0, 15, 0], [34, 2, 40, 3], [5, 0, 2, 0]])
  tt.same(hiddenOf(chain.problem), [0, 1, 2, 3, 4, 6, 9, 11, 12, 14])

  tt.throws(() => twoWay([]), RangeError)
  tt.throws(() => twoWay([[1, 2], [3]]), RangeError)
  tt.throws(() => tw.cell(2, 0), RangeError)
})

t.test('deterministic', async (tt) => {
  const rnd = seeded(42)
  for (let k = 0; k < 50; k++) {
    const cells = Array.from({ length: 4 }, () => Array.from({ length: 5 }, () => randomCount(rnd)))
    const { problem } = twoWay(cells)
    tt.same(suppressCells(problem, 5), suppressCells(structuredClone(problem), 5))
  }
})

// ---- properties ----

interface Relation { members: readonly number[], total: number | null }

function relationsOf (p: SuppressionProblem): Relation[] {
  return p.groups.map((members, g) => ({ members, total: p.totals?.[g] ?? null }))
}

// What a reader may check against each group, written independently of the module.
function checkGroups (p: SuppressionProblem, hidden: readonly boolean[], threshold: number): string[] {
  const faults: string[] = []
  p.counts.forEach((c, i) => {
    if (!hidden[i] && c > 0 && c < threshold) faults.push(`cell ${i} (${c}) published below the threshold`)
  })
  for (const i of p.forced ?? []) if (!hidden[i]) faults.push(`forced cell ${i} published`)
  relationsOf(p).forEach(({ members, total }, g) => {
    const sup = members.filter((m) => hidden[m])
    const totalHidden = total !== null && hidden[total]
    if (sup.length === 1 && !(members.length === 1 && (total === null || totalHidden))) {
      faults.push(`group ${g} has exactly one hidden member`)
    }
    if (totalHidden && sup.length === 0 && members.length > 0) faults.push(`group ${g}: hidden total with all members visible`)
    // The subtraction attack: when the sum is known, the hidden members add up to it minus the visible ones.
    if (!totalHidden && sup.length > 0) {
      const known = total === null ? members.reduce((a, m) => a + p.counts[m]!, 0) : p.counts[total]!
      const derived = known - members.filter((m) => !hidden[m]).reduce((a, m) => a + p.counts[m]!, 0)
      const allHidden = sup.length === members.length
      if (derived > 0 && derived < threshold && !allHidden) faults.push(`group ${g}: hidden members add up to ${derived}`)
      for (const m of sup) {
        if (derived === p.counts[m] && sup.length < 2 && p.counts[m] !== 0) faults.push(`group ${g}: cell ${m} recovered by subtraction`)
      }
    }
  })
  return faults
}

// Rank of an integer matrix, exactly (fraction-free elimination in BigInt).
function rank (matrix: bigint[][]): number {
  const rows = matrix.map((r) => [...r])
  const width = rows[0]?.length ?? 0
  let rk = 0
  for (let c = 0; c < width && rk < rows.length; c++) {
    const p = rows.findIndex((r, i) => i >= rk && r[c] !== 0n)
    if (p < 0) continue
    ;[rows[rk], rows[p]] = [rows[p]!, rows[rk]!]
    const pr = rows[rk]!
    for (let i = rk + 1; i < rows.length; i++) {
      const f = rows[i]![c]!
      if (f === 0n) continue
      rows[i] = rows[i]!.map((v, k) => v * pr[c]! - pr[k]! * f)
    }
    rk++
  }
  return rk
}

// The chained attack: a hidden non-zero cell is disclosed when its unit vector
// is a combination of the published equations (rank does not grow when added).
function linearlyDisclosed (p: SuppressionProblem, hidden: readonly boolean[]): number[] {
  const cols = hidden.flatMap((h, i) => (h ? [i] : []))
  const eqs = relationsOf(p).map(({ members, total }) => cols.map((c) => {
    if (members.includes(c)) return 1n
    return c === total ? -1n : 0n
  }))
  const base = rank(eqs)
  return cols.filter((c, k) => p.counts[c] !== 0 && rank([...eqs, cols.map((_, j) => (j === k ? 1n : 0n))]) === base)
}

t.test('random one-way tables', async (tt) => {
  let tables = 0
  let withHidden = 0
  for (let seed = 1; seed <= 600; seed++) {
    const rnd = seeded(seed)
    const threshold = 3 + Math.floor(rnd() * 8)
    const rows = Array.from({ length: 1 + Math.floor(rnd() * 8) }, () => randomCount(rnd))
    const sum = rows.reduce((a, b) => a + b, 0)
    const problem = { ...oneWay(rows, sum), forced: randomForced(rnd, rows.length + 1) }
    const hidden = suppressCells(problem, threshold)
    tables++
    if (hidden.some(Boolean)) withHidden++
    const faults = checkGroups(problem, hidden, threshold)
    // Explicit subtraction attack on the rows.
    if (!hidden[rows.length]) {
      const visible = rows.reduce((a, r, i) => a + (hidden[i] ? 0 : r), 0)
      const sup = rows.flatMap((_, i) => (hidden[i] ? [i] : []))
      for (const i of sup) {
        if (sum - visible === rows[i] && sup.length < 2) faults.push(`row ${i} recovered`)
      }
      if (sup.length === 1) faults.push('a single hidden row under a published total')
    }
    faults.push(...linearlyDisclosed(problem, hidden).map((c) => `cell ${c} solved from the equations`))
    if (faults.length > 0) tt.fail(`seed ${seed}, threshold ${threshold}, rows ${JSON.stringify(rows)}: ${faults.join('; ')}`)
  }
  tt.equal(tables, 600)
  tt.ok(withHidden > 200, `most tables exercise suppression (${withHidden})`)
})

t.test('random two-way tables', async (tt) => {
  let tables = 0
  let withHidden = 0
  for (let seed = 1001; seed <= 1600; seed++) {
    const rnd = seeded(seed)
    const threshold = 3 + Math.floor(rnd() * 8)
    const nr = 1 + Math.floor(rnd() * 6)
    const nc = 1 + Math.floor(rnd() * 6)
    const cells = Array.from({ length: nr }, () => Array.from({ length: nc }, () => randomCount(rnd)))
    const tw = twoWay(cells)
    const problem = { ...tw.problem, forced: randomForced(rnd, tw.grand + 1) }
    const hidden = suppressCells(problem, threshold)
    tables++
    if (hidden.some(Boolean)) withHidden++
    const faults = checkGroups(problem, hidden, threshold)
    // Explicit attacks along every row and every column with a published total.
    const attack = (line: number[], total: number, what: string): void => {
      if (hidden[total]) return
      const sup = line.filter((i) => hidden[i])
      const derived = problem.counts[total]! - line.reduce((a, i) => a + (hidden[i] ? 0 : problem.counts[i]!), 0)
      if (sup.length === 1) faults.push(`${what}: cell ${sup[0]} = ${derived} recovered`)
      if (derived > 0 && derived < threshold && sup.length < line.length) faults.push(`${what}: hidden cells add up to ${derived}`)
    }
    for (let r = 0; r < nr; r++) attack(Array.from({ length: nc }, (_, c) => tw.cell(r, c)), tw.rowTotal(r), `row ${r}`)
    for (let c = 0; c < nc; c++) attack(Array.from({ length: nr }, (_, r) => tw.cell(r, c)), tw.colTotal(c), `column ${c}`)
    attack(Array.from({ length: nr }, (_, r) => tw.rowTotal(r)), tw.grand, 'row totals')
    attack(Array.from({ length: nc }, (_, c) => tw.colTotal(c)), tw.grand, 'column totals')
    faults.push(...linearlyDisclosed(problem, hidden).map((c) => `cell ${c} solved from the equations`))
    if (faults.length > 0) tt.fail(`seed ${seed}, threshold ${threshold}, cells ${JSON.stringify(cells)}: ${faults.join('; ')}`)
  }
  tt.equal(tables, 600)
  tt.ok(withHidden > 300, `most tables exercise suppression (${withHidden})`)
})
