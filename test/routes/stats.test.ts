import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { buildTestApp } from '../helpers/app.ts'
import { historyKit, QUIET_ENV, type Step } from '../helpers/stats-history.ts'

// The statistics API over HTTP: who may read what, suppression of small counts
// (including the subtraction attack), the public summary, formats, caching,
// the report, and bad input. One known history is built through the store and
// folded once; every figure below is worked out from BATCHES by hand.

const TODAY = '2026-11-30'
const THRESHOLD = 5
const BOOK = 'insurance.insurance-book' // GASI, standard 5 days
// One person who applies in a bag of 6201, in 6213 and in 2104 in October:
// counted once in the country, once in aimag 62, and in each soum.
const SHARED = 'ХО60012048'

type Channel = 'oss_counter' | 'mobile_oss' | 'online'

interface Batch {
  unit: string
  month: string
  n: number
  // One channel for the whole batch, or the three in turn.
  channel?: Channel
  // How many of the batch are approved (after delivery) in the same month.
  approved?: number
  // Whether the first application of the batch is the shared person's.
  shared?: boolean
}

const BATCHES: Batch[] = [
  // Aimag 62 (Övörkhangai), October: 6201 has 12 (9 in its bag 620151, 3 at
  // the soum itself), 6204 3 and 6210 1 (both under the threshold), 6207 8, 6213 20.
  { unit: '620151', month: '2026-10', n: 9, channel: 'oss_counter', approved: 4, shared: true },
  { unit: '6201', month: '2026-10', n: 3, channel: 'oss_counter', approved: 2 },
  { unit: '6204', month: '2026-10', n: 3 },
  { unit: '6207', month: '2026-10', n: 8 },
  { unit: '6210', month: '2026-10', n: 1 },
  { unit: '6213', month: '2026-10', n: 20, shared: true },
  // 6213 over the year: a small September, July, and December 2025 (inside
  // the default twelve months of a series, but in another year).
  { unit: '6213', month: '2026-09', n: 2 },
  { unit: '6213', month: '2026-07', n: 7 },
  { unit: '6213', month: '2025-12', n: 6 },
  // Aimag 21 (Dornod): 2101 2, 2104 7 (2 approved).
  { unit: '2101', month: '2026-10', n: 2 },
  { unit: '2104', month: '2026-10', n: 7, approved: 2, shared: true },
  // The capital and aimag 65 (Arkhangai, 3: small even as an aimag).
  { unit: '1101', month: '2026-10', n: 6 },
  // The capital in the other months, so that no national count is small
  // (national figures are published as they are).
  { unit: '1101', month: '2026-09', n: 15 },
  { unit: '1101', month: '2026-07', n: 15 },
  { unit: '1101', month: '2025-12', n: 15 },
  { unit: '6501', month: '2026-10', n: 3 },
]

// Applications received in units starting with `unit`, in periods starting with `period` (2026-10, 2026).
function truth (unit: string, period: string): number {
  return BATCHES.filter((b) => b.unit.startsWith(unit) && b.month.startsWith(period)).reduce((a, b) => a + b.n, 0)
}

let people = 0
// A distinct valid registration number each time (born 1960-1999).
function nextRegnum (): string {
  const i = people++
  const two = (n: number) => String(n).padStart(2, '0')
  return `УБ${two(60 + (i % 40))}${two(1 + (i % 12))}${two(1 + (i % 28))}${i % 2}${i % 10}`
}

const h = (iso: string, hours: number) => new Date(Date.parse(iso) + hours * 3600_000).toISOString()

interface Row { key: Record<string, string>, labels: Record<string, string>, value: unknown }
interface Table { indicator: { code: string, name: string }, unit: { code: string | null, name: string }, by: string[], suppressed: boolean, rows: Row[], total: unknown }
interface Series { unit: { code: string | null }, points: Array<{ period: string, value: unknown }> }
interface Ranking { parent: { code: string | null }, rows: Array<{ rank: number | null, unit: string, value: unknown }> }
interface Problem { status: number, code: string, errors?: Array<{ in: string, pointer: string }> }

const isSmall = (v: unknown) => typeof v === 'number' && v >= 1 && v < THRESHOLD

// Every count in an answer (rows, totals, points), wherever it is.
function countsIn (body: unknown): unknown[] {
  const out: unknown[] = []
  const walk = (x: unknown, key: string) => {
    if (Array.isArray(x)) x.forEach((y) => walk(y, key))
    else if (x !== null && typeof x === 'object') for (const [k, v] of Object.entries(x)) walk(v, k)
    else if (key === 'value' || key === 'total') out.push(x)
  }
  walk(body, '')
  return out
}

t.test('statistics API', async (t) => {
  const ctx = await buildTestApp(t, { env: { ...QUIET_ENV }, appOptions: { today: () => TODAY } })
  const { app } = ctx
  const kit = historyKit(app)
  for (const b of BATCHES) {
    for (let j = 0; j < b.n; j++) {
      const at = `${b.month}-${String(1 + (j % 25)).padStart(2, '0')}T03:00:00.000Z`
      const channel = b.channel ?? (['oss_counter', 'mobile_oss', 'online'] as const)[j % 3]!
      const steps: Step[] = j < (b.approved ?? 0)
        ? [{ status: 'queued', at: h(at, 0.1) }, { status: 'delivering', at: h(at, 0.2) }, { status: 'delivered', at: h(at, 0.5) }, { status: 'approved', at: h(at, 48) }]
        : []
      await kit.add({ service: BOOK, unit: b.unit, channel, regnum: b.shared === true && j === 0 ? SHARED : nextRegnum(), at, steps })
    }
  }
  const { rows: [written] } = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM application_events')
  // fold() waits for transactions older than itself (other test files run alongside).
  const folded = (await app.stats.fold()).events
  t.equal(folded, written!.n, 'the whole history was folded')

  const responses: Array<{ url: string, status: number }> = []
  async function get (url: string, token?: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    const res = await app.inject({ method: 'GET', url, headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...headers } })
    responses.push({ url, status: res.statusCode })
    return res
  }
  async function ok<T> (tt: Test, url: string, token?: string, headers?: Record<string, string>): Promise<T> {
    const res = await get(url, token, headers)
    tt.equal(res.statusCode, 200, `${url}: ${res.body.slice(0, 400)}`)
    return res.json() as T
  }
  async function problem (tt: Test, url: string, status: number, code: string, token?: string, pointer?: string): Promise<Problem> {
    const res = await get(url, token)
    tt.equal(res.statusCode, status, `${url} -> ${status}: ${res.body.slice(0, 400)}`)
    tt.match(res.headers['content-type'], /^application\/problem\+json/, `${url} answers a problem`)
    const body = res.json() as Problem
    tt.equal(body.code, code, `${url} -> ${code}`)
    if (pointer !== undefined) tt.ok(body.errors?.some((e) => e.pointer === pointer && e.in === 'querystring'), `${url} names ${pointer}: ${JSON.stringify(body.errors)}`)
    return body
  }

  const admin = await ctx.token('admin')
  const analyst = await ctx.token('analyst', { claims: { sub: 'analyst-62', unit: '62' } })
  const officer = await ctx.token('officer', { claims: { sub: 'officer-6201', unit: '6201', agency: 'GASI' } })
  const values = (q: string) => `/v1/stats/values?indicator=applications.received&period=2026-10${q}`

  // The subtraction attack on one breakdown: with the unit's total known, the
  // hidden rows add up to total - visible. A lone hidden row, or hidden rows
  // adding up to a small count (the remainder of the unit's own applications
  // included), would give counts under the threshold away.
  function noSubtraction (tt: Test, what: string, total: number, rows: Row[], dim: string, trueOf: (key: string) => number, extra: { todo?: string } = {}) {
    const hidden = rows.filter((r) => typeof r.value === 'string')
    const visible = rows.reduce((a, r) => a + (typeof r.value === 'number' ? r.value : 0), 0)
    const left = total - visible
    for (const r of hidden) {
      tt.ok(hidden.length >= 2 || left !== trueOf(r.key[dim]!), `${what}: ${r.key[dim]} (${trueOf(r.key[dim]!)}) is not total - visible = ${left}`, extra)
    }
    tt.notOk(isSmall(left), `${what}: total - visible (${left}) is not a small count`, extra)
  }

  // Marks: "<5" for a true count under the threshold, "x" for one hidden to protect it.
  function marks (tt: Test, what: string, rows: Row[], dim: string, trueOf: (key: string) => number) {
    for (const r of rows) {
      const n = trueOf(r.key[dim]!)
      if (isSmall(n)) tt.equal(r.value, `<${THRESHOLD}`, `${what}: ${r.key[dim]} (${n}) is marked <${THRESHOLD}`)
      else if (typeof r.value === 'string') tt.equal(r.value, 'x', `${what}: ${r.key[dim]} (${n}) is hidden only as a complement`)
      else tt.equal(r.value, n, `${what}: ${r.key[dim]} is ${n}`)
    }
  }

  await t.test('scope: analyst of aimag 62', async (tt) => {
    const own = await ok<Table>(tt, values(''), analyst)
    tt.equal(own.unit.code, '62', 'without unit, the analyst\'s own unit')
    tt.equal(own.total, truth('62', '2026-10'))
    tt.equal((await ok<Table>(tt, values('&unit=62'), analyst)).total, 44)
    tt.equal((await ok<Table>(tt, values('&unit=6201'), analyst)).total, 12)
    await ok(tt, values('&unit=620151'), analyst)
    await problem(tt, values('&unit=21'), 403, 'STATS_SCOPE_FORBIDDEN', analyst, '/unit')
    await problem(tt, values('&unit=2101'), 403, 'STATS_SCOPE_FORBIDDEN', analyst, '/unit')
    await problem(tt, values('&unit=11'), 403, 'STATS_SCOPE_FORBIDDEN', analyst, '/unit')
    // The country cannot be named: an empty unit is not a unit.
    const empty = await get(values('&unit='), analyst)
    tt.equal(empty.statusCode, 400)
    for (const route of ['series?indicator=applications.received&unit=21', 'ranking?indicator=applications.received&period=2026-10&unit=21', 'report?period=2026-10&unit=21']) {
      await problem(tt, `/v1/stats/${route}`, 403, 'STATS_SCOPE_FORBIDDEN', analyst)
    }
    // Nothing outside 62 in any of its answers.
    const byUnit = await ok<Table>(tt, values('&by=unit'), analyst)
    tt.ok(byUnit.rows.length > 0)
    tt.ok(byUnit.rows.every((r) => /^62\d\d$/.test(r.key.unit!)), `only soums of 62: ${byUnit.rows.map((r) => r.key.unit).join(',')}`)
    const ranking = await ok<Ranking>(tt, '/v1/stats/ranking?indicator=applications.received&period=2026-10', analyst)
    tt.equal(ranking.parent.code, '62')
    tt.ok(ranking.rows.every((r) => /^62\d\d$/.test(r.unit)))
    const series = await ok<Series>(tt, '/v1/stats/series?indicator=applications.received', analyst)
    tt.equal(series.unit.code, '62', 'a series without unit is of the analyst\'s unit')
    const report = await ok<{ unit: { code: string }, ranking: { rows: Array<{ unit: string }> } }>(tt, '/v1/stats/report?period=2026-10', analyst)
    tt.equal(report.unit.code, '62')
    tt.ok(report.ranking.rows.every((r) => /^62\d\d$/.test(r.unit)))
    // Indicators kept for the whole country only are not the aimag's to read.
    await problem(tt, '/v1/stats/values?indicator=delivery.attempts_per_delivery&period=2026-10', 422, 'STATS_NOT_AVAILABLE', analyst, '/unit')
    await problem(tt, '/v1/stats/series?indicator=delivery.dead_lettered_share', 422, 'STATS_NOT_AVAILABLE', analyst, '/unit')
    tt.equal((await get('/v1/stats/values?indicator=delivery.attempts_per_delivery&period=2026-10', admin)).statusCode, 200, 'the country\'s, for admins')
  })

  await t.test('scope: officer of soum 6201, other roles, no token', async (tt) => {
    tt.equal((await ok<Table>(tt, values(''), officer)).unit.code, '6201')
    tt.equal((await ok<Table>(tt, values('&unit=6201'), officer)).total, 12)
    // 9 of 6201's 12 are in bag 620151; the other 3 at the soum itself are
    // under the threshold, so the 9 is hidden with them, here as everywhere.
    tt.equal((await ok<Table>(tt, values('&unit=620151'), officer)).total, 'x')
    await problem(tt, values('&unit=62'), 403, 'STATS_SCOPE_FORBIDDEN', officer, '/unit')
    await problem(tt, values('&unit=6204'), 403, 'STATS_SCOPE_FORBIDDEN', officer, '/unit')
    await problem(tt, '/v1/stats/report?period=2026-10&unit=62', 403, 'STATS_SCOPE_FORBIDDEN', officer)

    for (const role of ['citizen', 'partner']) {
      const token = await ctx.token(role)
      for (const route of [values(''), '/v1/stats/series?indicator=applications.received', '/v1/stats/ranking?indicator=applications.received&period=2026-10', '/v1/stats/report?period=2026-10']) {
        await problem(tt, route, 403, 'ROLE_FORBIDDEN', token)
      }
    }
    for (const route of [values(''), '/v1/stats/series?indicator=applications.received', '/v1/stats/report?period=2026-10']) {
      await problem(tt, route, 401, 'AUTH_REQUIRED')
    }
    const stranger = await ctx.token('analyst', { claims: { sub: 'analyst-99', unit: '99' } })
    await problem(tt, values(''), 403, 'ANALYST_UNKNOWN_UNIT', stranger)

    // The indicator catalogue and the public summary need no token.
    tt.equal((await get('/v1/stats/indicators')).statusCode, 200)
  })

  await t.test('scope: admin sees the country', async (tt) => {
    const national = await ok<Table>(tt, values(''), admin)
    tt.equal(national.unit.code, null)
    tt.equal(national.total, truth('', '2026-10'), 'the national total is not suppressed')
    tt.equal(national.suppressed, false)
    const aimags = await ok<Table>(tt, values('&by=unit'), admin)
    tt.same(aimags.rows.map((r) => r.key.unit).sort(), ['11', '21', '62', '65'])
    tt.equal(aimags.suppressed, true, 'broken down by unit, the national answer is protected')
    // Below the country, even an admin reads a unit's total as the country's table has it.
    const d21 = aimags.rows.find((r) => r.key.unit === '21')!.value
    tt.ok(d21 === 9 || d21 === 'x', `21 (9) is shown or hidden as a complement, not ${d21}`)
    tt.equal((await ok<Table>(tt, values('&unit=21'), admin)).total, d21, 'asked for alone, 21 reads as in the table by aimag')
    await problem(tt, values('&unit=99'), 400, 'VALIDATION_FAILED', admin, '/unit')
  })

  await t.test('suppression below national level', async (tt) => {
    const countAnswers = [
      values('&by=unit'),
      values('&unit=62&by=unit'),
      values('&unit=62&by=unit,channel'),
      values('&unit=62&by=channel'),
      values('&unit=6201&by=unit'),
      values('&unit=6201&by=unit,channel'),
      values('&unit=6204'),
      values('&unit=6210'),
      values('&unit=6213&by=channel'),
      '/v1/stats/values?indicator=applications.persons_served&period=2026-10&unit=62&by=unit',
      '/v1/stats/values?indicator=applications.persons_served&period=2026-10&unit=62&by=sex,age_band',
      '/v1/stats/values?indicator=outcomes.approved&period=2026-10&unit=62&by=unit',
      '/v1/stats/ranking?indicator=applications.received&period=2026-10&unit=62',
      '/v1/stats/ranking?indicator=applications.received&period=2026-10&unit=21',
      '/v1/stats/series?indicator=applications.received&unit=6213',
      '/v1/stats/series?indicator=applications.received&unit=6213&from=2026-01-01&to=2026-12-31',
      '/v1/stats/series?indicator=applications.received&unit=6204&grain=day&from=2026-10-01&to=2026-10-31',
      '/v1/stats/series?indicator=applications.received&unit=6213&grain=day&from=2026-09-20&to=2026-10-10',
      '/v1/stats/series?indicator=applications.persons_served&unit=6213&from=2025-12-01&to=2026-11-30',
    ]
    for (const url of countAnswers) {
      const body = await ok(tt, url, admin)
      const small = countsIn(body).filter(isSmall)
      tt.same(small, [], `${url}: no count under ${THRESHOLD}`)
    }
    tt.equal((await ok<Table>(tt, values('&unit=6204'), analyst)).total, '<5', 'a soum with 3 is marked')
    tt.equal((await ok<Table>(tt, values('&unit=6210'), analyst)).total, '<5', 'a soum with 1 is marked')
    tt.equal((await ok<Table>(tt, values('&unit=65'), admin)).total, '<5', 'an aimag with 3 is marked')
  })

  await t.test('the subtraction attack', async (tt) => {
    // Aimag 62: its total from one answer, its soums from another.
    const total62 = (await ok<Table>(tt, values('&unit=62'), analyst)).total
    tt.equal(total62, 44)
    const fromNational = (await ok<Table>(tt, values('&by=unit'), admin)).rows.find((r) => r.key.unit === '62')?.value
    const soums = await ok<Table>(tt, values('&unit=62&by=unit'), analyst)
    tt.equal(soums.total, 44)
    for (const total of [total62, fromNational, soums.total]) {
      if (typeof total === 'number') noSubtraction(tt, 'soums of 62', total, soums.rows, 'unit', (u) => truth(u, '2026-10'))
    }
    marks(tt, 'soums of 62', soums.rows, 'unit', (u) => truth(u, '2026-10'))
    tt.equal(soums.rows.find((r) => r.key.unit === '6207')?.value, 'x', '6207 (8) is the complement: 3 + 1 alone would add up to 4')

    // Aimag 21: 2101 (2) with 2104 (7) as its complement.
    const d21 = await ok<Table>(tt, values('&unit=21&by=unit'), admin)
    noSubtraction(tt, 'soums of 21', 9, d21.rows, 'unit', (u) => truth(u, '2026-10'))
    marks(tt, 'soums of 21', d21.rows, 'unit', (u) => truth(u, '2026-10'))

    // The aimags: 65 (3) is hidden, and so is one more.
    const aimags = await ok<Table>(tt, values('&by=unit'), admin)
    noSubtraction(tt, 'aimags', truth('', '2026-10'), aimags.rows, 'unit', (u) => truth(u, '2026-10'))
    marks(tt, 'aimags', aimags.rows, 'unit', (u) => truth(u, '2026-10'))

    // Soum 6201: 9 in its bag and 3 at the soum itself. The bag alone would
    // leave 12 - 9 = 3, the soum's own applications.
    const bags = await ok<Table>(tt, values('&unit=6201&by=unit'), officer)
    tt.equal(bags.total, 12)
    noSubtraction(tt, 'bags of 6201', 12, bags.rows, 'unit', (u) => truth(u, '2026-10'))
    const bagsByChannel = await ok<Table>(tt, values('&unit=6201&by=unit,channel'), officer)
    noSubtraction(tt, 'bags of 6201 by channel', 12, bagsByChannel.rows, 'unit', () => 9)

    // Persons: distinct people, so the soums add up to more than the aimag.
    const persons = await ok<Table>(tt, '/v1/stats/values?indicator=applications.persons_served&period=2026-10&unit=62&by=unit', analyst)
    tt.equal(persons.total, 43, 'the shared person once in 62')
    tt.same(countsIn(persons).filter(isSmall), [])

    // The ranking hides what the table hides, unranked and last.
    const ranking = await ok<Ranking>(tt, '/v1/stats/ranking?indicator=applications.received&period=2026-10&unit=62', analyst)
    tt.same(ranking.rows.map((r) => [r.rank, r.unit, r.value]), [[1, '6213', 20], [2, '6201', 12], [null, '6204', '<5'], [null, '6207', 'x'], [null, '6210', '<5']])

    // Months against the year: 6213 has 7 in July and 2 in September of 2026
    // (29 in the year), and 6 in December 2025.
    tt.equal((await ok<Table>(tt, '/v1/stats/values?indicator=applications.received&period=2026&unit=6213', analyst)).total, 29)
    tt.equal((await ok<Table>(tt, '/v1/stats/values?indicator=applications.received&period=2025&unit=6213', analyst)).total, 6)
    // A year is checked where the series shows all of its months that have
    // passed (the months after today are known to be 0).
    for (const query of ['', '&from=2026-01-01&to=2026-12-31', '&from=2025-01-01&to=2026-11-30', '&from=2025-12-01&to=2026-12-31']) {
      const series = await ok<Series>(tt, `/v1/stats/series?indicator=applications.received&unit=6213${query}`, analyst)
      const rows = series.points.map((p) => ({ key: { month: p.period }, labels: {}, value: p.value as unknown }))
      for (const year of ['2025', '2026']) {
        const months = rows.filter((r) => r.key.month.startsWith(year))
        const shown = months.length + (year === '2026' ? 12 - Number(TODAY.slice(5, 7)) : 0)
        if (months.length === 0 || (months.length < 12 && shown < 12)) continue
        noSubtraction(tt, `6213 series${query} in ${year}`, truth('6213', year), months, 'month', (m) => truth('6213', m))
      }
      marks(tt, `6213 series${query}`, rows, 'month', (m) => truth('6213', m))
      tt.equal(rows.find((r) => r.key.month === '2026-09')?.value, '<5')
      tt.equal(rows.find((r) => r.key.month === '2026-07')?.value, 'x', 'July is September\'s complement within 2026')
    }
    // Days against their month and their ISO week: 6204 has 3 in October, on the 1st, 2nd and 3rd.
    const days = await ok<Series>(tt, '/v1/stats/series?indicator=applications.received&unit=6204&grain=day&from=2026-10-01&to=2026-10-31', analyst)
    tt.same(countsIn(days).filter(isSmall), [])
    tt.ok(days.points.filter((p) => typeof p.value === 'string').length >= 2, 'no lone hidden day')
  })

  // The answers above are each safe against their own totals. A reader who
  // asks for every cell on its own (values at each soum, at each month) can
  // still work a small count out: a single cell is suppressed only when it is
  // small itself, so a complement chosen in a breakdown comes back when asked
  // for alone. Kept as a known gap; see the report that came with this test.
  await t.test('single-cell answers against a breakdown', async (tt) => {
    const todo = {}
    const aimag = (await ok<Table>(tt, values('&unit=21'), admin)).total as number
    const soums = await ok<Table>(tt, values('&unit=21&by=unit'), admin)
    const alone = []
    for (const r of soums.rows) alone.push({ ...r, value: (await ok<Table>(tt, values(`&unit=${r.key.unit}`), admin)).total })
    noSubtraction(tt, 'soums of 21, each asked for alone', aimag, alone, 'unit', (u) => truth(u, '2026-10'), todo)
    const year = (await ok<Table>(tt, '/v1/stats/values?indicator=applications.received&period=2026&unit=6213', analyst)).total as number
    const months = []
    for (let m = 1; m <= 12; m++) {
      const month = `2026-${String(m).padStart(2, '0')}`
      months.push({ key: { month }, labels: {}, value: (await ok<Table>(tt, `/v1/stats/values?indicator=applications.received&period=${month}&unit=6213`, analyst)).total })
    }
    noSubtraction(tt, 'months of 6213, each asked for alone', year, months, 'month', (m) => truth('6213', m), todo)
  })

  // The attacker: every count published for each unit and period, alone and
  // broken down by unit, by channel and by both, becomes a linear equation
  // over the true counts of (unit where received, channel, month). No count
  // under the threshold that an answer hides may follow from them all.
  await t.test('no combination of answers gives a small count away', async (tt) => {
    const atoms = new Map<string, number>()
    for (const b of BATCHES) {
      for (let j = 0; j < b.n; j++) {
        const key = `${b.unit}|${b.channel ?? (['oss_counter', 'mobile_oss', 'online'] as const)[j % 3]}|${b.month}`
        atoms.set(key, (atoms.get(key) ?? 0) + 1)
      }
    }
    const keys = [...atoms.keys()].map((k) => k.split('|') as [string, string, string])
    const vectorOf = (unit: string, channel: string | undefined, period: string) =>
      keys.map(([u, c, m]) => (u.startsWith(unit) && (channel === undefined || c === channel) && m.startsWith(period) ? 1 : 0))
    const truthOf = (v: number[]) => v.reduce((a, x, i) => a + x * atoms.get(keys[i]!.join('|'))!, 0)
    const equations: number[][] = []
    const hidden: Array<{ what: string, vector: number[], truth: number }> = []
    const units = ['', '11', '1101', '21', '2101', '2104', '62', '6201', '620151', '6204', '6207', '6210', '6213', '65', '6501']
    const periods = ['2025-12', '2026-07', '2026-09', '2026-10', '2025', '2026']
    let answers = 0
    for (const unit of units) {
      for (const period of periods) {
        for (const by of ['', 'channel', 'unit', 'unit,channel']) {
          const url = `/v1/stats/values?indicator=applications.received&period=${period}${unit === '' ? '' : `&unit=${unit}`}${by === '' ? '' : `&by=${by}`}`
          const body = await ok<Table>(tt, url, admin)
          answers++
          const cells = [{ what: `${url} total`, vector: vectorOf(unit, undefined, period), value: body.total },
            ...body.rows.map((r) => ({ what: `${url} ${JSON.stringify(r.key)}`, vector: vectorOf(r.key.unit ?? unit, r.key.channel, period), value: r.value }))]
          for (const c of cells) {
            const truth = truthOf(c.vector)
            if (typeof c.value === 'number') {
              if (c.value !== truth) tt.fail(`${c.what}: ${c.value}, the history says ${truth}`)
              if (c.vector.some((x) => x !== 0)) equations.push(c.vector)
            } else {
              hidden.push({ what: c.what, vector: c.vector, truth })
            }
          }
        }
      }
    }
    // Row space by fraction-free elimination: a hidden count follows from the
    // published ones exactly when its vector reduces to zero.
    const basis: Array<{ row: bigint[], col: number }> = []
    const reduce = (v: number[]): bigint[] => {
      let row = v.map(BigInt)
      for (const b of basis) {
        const f = row[b.col]!
        if (f === 0n) continue
        const g = b.row[b.col]!
        row = row.map((x, k) => x * g - b.row[k]! * f)
      }
      return row
    }
    for (const e of equations) {
      const row = reduce(e)
      const col = row.findIndex((x) => x !== 0n)
      if (col >= 0) basis.push({ row, col })
    }
    const small = hidden.filter((h) => h.truth > 0 && h.truth < THRESHOLD)
    tt.ok(small.length >= 20, `the answers hide small counts (${small.length} of ${hidden.length} hidden, ${answers} answers, ${equations.length} equations over ${keys.length} true counts, rank ${basis.length})`)
    for (const h of small) {
      if (reduce(h.vector).every((x) => x === 0n)) tt.fail(`${h.what} (${h.truth}) follows from the published counts`)
    }
    // The attacker is not blind: a count shown somewhere does follow.
    tt.ok(reduce(vectorOf('6213', undefined, '2026-10')).every((x) => x === 0n), 'a published count is in the row space')
  })

  // A unit's cell by sex, age band or service is shown or hidden alike in
  // its own breakdown and in its parent's table by unit; a two-dimension
  // breakdown's hidden cells cannot be worked out from the one-dimension
  // breakdowns it adds up to.
  await t.test('one flag per cell across answers, whatever the dimension', async (tt) => {
    const url = (indicator: string, unit: string, by: string) => `/v1/stats/values?indicator=${indicator}&period=2026-10${unit === '' ? '' : `&unit=${unit}`}&by=${by}`
    let compared = 0
    for (const [indicator, dim] of [['applications.persons_served', 'sex'], ['applications.persons_served', 'age_band'], ['applications.received', 'service'], ['applications.received', 'category']] as const) {
      for (const parent of ['', '62', '6201']) {
        const table = await ok<Table>(tt, url(indicator, parent, `unit,${dim}`), admin)
        const units = [...new Set(table.rows.map((r) => r.key.unit!))]
        for (const unit of units) {
          const own = await ok<Table>(tt, url(indicator, unit, dim), admin)
          const mine = table.rows.filter((r) => r.key.unit === unit)
          for (const r of own.rows) {
            const there = mine.find((m) => m.key[dim] === r.key[dim])
            const here = typeof r.value === 'string' ? 'hidden' : 'shown'
            const other = there === undefined ? (r.value === 0 ? 'shown' : 'absent') : typeof there.value === 'string' ? 'hidden' : 'shown'
            tt.equal(here, other, `${indicator} ${unit} ${dim}=${r.key[dim]}: ${JSON.stringify(r.value)} alone, ${JSON.stringify(there?.value)} in ${parent || 'the country'} by unit and ${dim}`)
            compared++
          }
        }
      }
    }
    tt.ok(compared >= 30, `${compared} cells compared`)
    for (const unit of ['62', '6213']) {
      const both = await ok<Table>(tt, url('applications.persons_served', unit, 'sex,age_band'), analyst)
      for (const dim of ['sex', 'age_band'] as const) {
        const margin = await ok<Table>(tt, url('applications.persons_served', unit, dim), analyst)
        for (const m of margin.rows) {
          if (typeof m.value !== 'number') continue
          const line = both.rows.filter((r) => r.key[dim] === m.key[dim])
          const hiddenCells = line.filter((r) => typeof r.value === 'string')
          const left = m.value - line.reduce((a, r) => a + (typeof r.value === 'number' ? r.value : 0), 0)
          tt.not(hiddenCells.length, 1, `${unit} persons ${dim}=${m.key[dim]} (${m.value}): no lone hidden cell in its line`)
          tt.notOk(isSmall(left), `${unit} persons ${dim}=${m.key[dim]}: ${m.value} - visible = ${left} is not a small count`)
        }
      }
    }
  })

  await t.test('the public summary', async (tt) => {
    const res = await get('/v1/stats/public?period=2026-10')
    tt.equal(res.statusCode, 200, res.body.slice(0, 400))
    const body = res.json() as { period: { code: string }, indicators: Array<{ code: string }>, rows: Array<{ unit: string, name: string, values: Record<string, unknown> }> }
    tt.equal(body.period.code, '2026-10')
    tt.same(body.rows.map((r) => r.unit), ['11', '21', '62', '65'], 'one row per aimag, in code order')
    const counts = ['applications.received', 'applications.persons_served', 'outcomes.approved']
    for (const r of body.rows) {
      for (const c of counts) tt.notOk(isSmall(r.values[c]), `${r.unit} ${c} = ${JSON.stringify(r.values[c])} is not a small count`)
    }
    const received = Object.fromEntries(body.rows.map((r) => [r.unit, r.values['applications.received']]))
    tt.equal(received['65'], '<5', 'an aimag of 3 is suppressed')
    tt.equal(received['62'], 44)
    noSubtraction(tt, 'public received', truth('', '2026-10'), body.rows.map((r) => ({ key: { unit: r.unit }, labels: {}, value: r.values['applications.received'] })), 'unit', (u) => truth(u, '2026-10'))
    const approved = Object.fromEntries(body.rows.map((r) => [r.unit, r.values['outcomes.approved']]))
    tt.equal(approved['21'], '<5', '2 approvals in 21')
    tt.equal(body.rows.find((r) => r.unit === '21')?.values['time.received_to_decided.p50'], '<5', 'a median of 2 decisions is suppressed')
    const median = body.rows.find((r) => r.unit === '62')?.values['time.received_to_decided.p50']
    tt.ok(typeof median === 'number' && median >= 48 && median < 72, `6 decisions, all after 48 hours: ${median}`)

    const csv = await get('/v1/stats/public?period=2026-10&format=csv')
    tt.equal(csv.statusCode, 200)
    tt.match(csv.headers['content-type'], /^text\/csv/)
    tt.match(csv.headers['content-disposition'], /attachment; filename="oss-public-2026-10\.csv"/)
    const lines = csv.body.trimEnd().split('\r\n')
    tt.equal(lines[0], 'unit,name,applications.received,applications.persons_served,outcomes.approved,time.received_to_decided.p50')
    tt.equal(lines.length, 5)
    const r65 = lines.find((l) => l.startsWith('65,'))!.split(',')
    tt.equal(r65[2], '<5')
    tt.equal(r65[5], '', 'no decisions in 65: no median, not a median of 0 hours')
    for (const line of lines.slice(1)) {
      for (const cell of line.split(',').slice(2, 5)) tt.notOk(/^[1-4]$/.test(cell), `public CSV ${line}: no small count`)
    }

    await problem(tt, '/v1/stats/public?period=2026-W41', 400, 'VALIDATION_FAILED', undefined, '/period')
    await problem(tt, '/v1/stats/public?period=2026-10-05', 400, 'VALIDATION_FAILED', undefined, '/period')
    await problem(tt, '/v1/stats/public?period=2026-13', 400, 'VALIDATION_FAILED', undefined, '/period')
    const year = await get('/v1/stats/public?period=2026')
    tt.equal(year.statusCode, 200, year.body.slice(0, 300))
    tt.equal((await get('/v1/stats/public?period=2026-10', admin)).statusCode, 200, 'a token does not hurt')
  })

  await t.test('formats, languages and caching', async (tt) => {
    for (const how of [{ q: '&format=csv', headers: {} }, { q: '', headers: { accept: 'text/csv' } }] as Array<{ q: string, headers: Record<string, string> }>) {
      const res = await get(values(`&unit=62&by=channel${how.q}`), analyst, how.headers)
      tt.equal(res.statusCode, 200)
      tt.match(res.headers['content-type'], /^text\/csv; charset=utf-8/)
      tt.equal(res.headers['content-disposition'], 'attachment; filename="applications.received-2026-10-62.csv"')
      const lines = res.body.trimEnd().split('\r\n')
      tt.equal(lines[0], 'channel,channel_label,indicator,period,unit,value', 'a header row')
      tt.equal(lines.length, 1 + 3 + 1, 'three channels and the total')
      tt.equal(lines.at(-1), ',,applications.received,2026-10,62,44')
    }
    const byUnitCsv = (await get(values('&unit=62&by=unit&format=csv'), analyst)).body.trimEnd().split('\r\n')
    tt.equal(byUnitCsv[0], 'unit,unit_label,indicator,period,parent,value', 'by unit: each row\'s unit, and the parent asked for')
    tt.match(byUnitCsv[1], /^6201,Арвайхээр,applications\.received,2026-10,62,12$/)
    const json = await get(values('&unit=62&by=channel'), analyst, { accept: 'application/json' })
    tt.match(json.headers['content-type'], /^application\/json/)

    // ETag and 304.
    const first = await get(values('&unit=62&by=unit'), analyst)
    const etag = first.headers.etag as string
    tt.match(etag, /^"[A-Za-z0-9_-]+"$/, 'a strong ETag')
    const again = await get(values('&unit=62&by=unit'), analyst, { 'if-none-match': etag })
    tt.equal(again.statusCode, 304)
    tt.equal(again.body, '')
    tt.equal((await get(values('&unit=62&by=unit'), analyst, { 'if-none-match': `W/${etag}` })).statusCode, 304, 'a weak comparison matches too')
    tt.equal((await get(values('&unit=62&by=unit'), analyst, { 'if-none-match': '"other"' })).statusCode, 200)
    const csv1 = await get(values('&unit=62&by=unit&format=csv'), analyst)
    tt.not(csv1.headers.etag, etag, 'the CSV has its own ETag')
    tt.equal((await get(values('&unit=62&by=unit&format=csv'), analyst, { 'if-none-match': csv1.headers.etag as string })).statusCode, 304)
    const indicators = await get('/v1/stats/indicators')
    tt.equal((await get('/v1/stats/indicators', undefined, { 'if-none-match': indicators.headers.etag as string })).statusCode, 304)
    const report = await get('/v1/stats/report?period=2026-10&unit=62', analyst)
    tt.ok(report.headers.etag)
    tt.equal((await get('/v1/stats/report?period=2026-10&unit=62', analyst, { 'if-none-match': report.headers.etag as string })).statusCode, 304,
      'the report\'s ETag is of its figures, not of the time it was made')

    // Languages.
    const mn = await ok<Table>(tt, values('&unit=62&by=unit&lang=mn'), analyst)
    const en = await ok<Table>(tt, values('&unit=62&by=unit&lang=en'), analyst)
    const cyrillic = /[\u0400-\u04FF]/
    tt.equal(mn.unit.name, 'Өвөрхангай')
    tt.equal(en.unit.name, 'Övörkhangai')
    tt.ok(mn.rows.every((r) => cyrillic.test(r.labels.unit!)), 'soum names in Cyrillic')
    tt.ok(en.rows.every((r) => !cyrillic.test(r.labels.unit!)), 'soum names in Latin letters')
    tt.not(mn.indicator.name, en.indicator.name)
    tt.not(mn.rows[0]!.labels.unit, en.rows[0]!.labels.unit)
    const byAccept = await ok<Table>(tt, values('&unit=62&by=unit'), analyst, { 'accept-language': 'en-GB,en;q=0.9' })
    tt.equal(byAccept.unit.name, 'Övörkhangai', 'Accept-Language when no lang')
    tt.equal((await ok<Table>(tt, values('&unit=62&by=unit&lang=mn'), analyst, { 'accept-language': 'en' })).unit.name, 'Өвөрхангай', 'lang before Accept-Language')
    tt.equal((await ok<Table>(tt, values('&unit=62'), analyst, { 'accept-language': 'fr' })).unit.name, 'Өвөрхангай', 'Mongolian otherwise')
    tt.equal((await ok<Table>(tt, values('&unit=62'), analyst, { 'accept-language': 'mn;q=0.5, en;q=0.8' })).unit.name, 'Övörkhangai', 'the higher q-value wins (test/routes/language.test.ts)')
    const channels = await ok<Table>(tt, values('&unit=62&by=channel&lang=en'), analyst)
    tt.equal(channels.rows.find((r) => r.key.channel === 'online')?.labels.channel, 'Online')
    const vary = (await get(values(''), analyst)).headers.vary as string
    tt.match(vary, /accept-language/)
    tt.match(vary, /authorization/)

    // Series and ranking as CSV.
    const seriesCsv = await get('/v1/stats/series?indicator=applications.received&unit=6213&format=csv', analyst)
    tt.equal(seriesCsv.statusCode, 200)
    tt.equal(seriesCsv.body.split('\r\n')[0], 'period,from,to,indicator,unit,value')
    tt.equal(seriesCsv.body.trimEnd().split('\r\n').length, 13, 'twelve months')
    const rankingCsv = await get('/v1/stats/ranking?indicator=applications.received&period=2026-10&unit=62', analyst, { accept: 'text/csv' })
    tt.equal(rankingCsv.statusCode, 200)
    tt.equal(rankingCsv.body.split('\r\n')[0], 'rank,unit,name,indicator,period,value')
  })

  await t.test('the report', async (tt) => {
    const report = await ok<Record<string, unknown> & { headline: Array<{ indicator: string, value: unknown }>, series: Array<{ points: unknown[] }>, breakdowns: unknown[], ranking: { rows: unknown[] } }>(
      tt, '/v1/stats/report?period=2026-10&unit=62&lang=mn', analyst)
    tt.match(report, { lang: 'mn', period: { code: '2026-10' }, unit: { code: '62', name: 'Өвөрхангай', level: 'aimag' }, suppressionThreshold: THRESHOLD, suppressionMark: '<5' })
    tt.equal(report.headline.find((x) => x.indicator === 'applications.received')?.value, 44)
    tt.equal(report.series.length, 3)
    tt.ok(report.series.every((s) => s.points.length === 12), 'twelve months each')
    tt.equal(report.breakdowns.length, 5)
    tt.equal(report.ranking.rows.length, 5)
    for (const b of report.breakdowns as Array<{ indicator: string, rows: Array<{ value: unknown }> }>) {
      tt.same(b.rows.map((r) => r.value).filter(isSmall), [], `the ${b.indicator} breakdown has no small count`)
    }

    const html = await get('/v1/stats/report?period=2026-10&unit=62&lang=mn&format=html', analyst)
    tt.equal(html.statusCode, 200)
    tt.match(html.headers['content-type'], /^text\/html; charset=utf-8/)
    tt.match(html.body, /^<!doctype html>/i)
    tt.match(html.body, /<svg/)
    tt.notMatch(html.body, /<script/i)
    tt.notMatch(html.body, /https?:\/\//)
    tt.match(html.body, /Өвөрхангай/)
    const byAccept = await get('/v1/stats/report?period=2026-10&unit=62', analyst, { accept: 'text/html' })
    tt.match(byAccept.headers['content-type'], /^text\/html/)

    const csv = await get('/v1/stats/report?period=2026-10&unit=62&format=csv', analyst)
    tt.equal(csv.statusCode, 200)
    tt.match(csv.headers['content-type'], /^text\/csv/)
    tt.match(csv.headers['content-disposition'], /filename="oss-report-62-2026-10\.csv"/)
    tt.equal(csv.body.split('\r\n')[0], 'section,indicator,key,label,value')
    tt.match(csv.body, /\r\nheadline,applications\.received,,[^\r\n]*,44\r\n/)

    tt.equal((await get('/v1/stats/report?period=2026&unit=6201', officer)).statusCode, 200, 'a year')
    const bag = await ok<{ ranking: unknown }>(tt, '/v1/stats/report?period=2026-10&unit=620151', officer)
    tt.equal(bag.ranking, null, 'a bag has nothing below it to rank')
    const national = await ok<{ unit: { code: string | null } }>(tt, '/v1/stats/report?period=2026-10&lang=en', admin)
    tt.equal(national.unit.code, null)
    await problem(tt, '/v1/stats/report?period=2026-10-05&unit=62', 422, 'STATS_NOT_AVAILABLE', analyst, '/period')
    await problem(tt, '/v1/stats/report?period=2026-W41&unit=62', 422, 'STATS_NOT_AVAILABLE', analyst, '/period')
    await problem(tt, '/v1/stats/report?period=2026-13&unit=62', 400, 'VALIDATION_FAILED', analyst, '/period')
    await problem(tt, '/v1/stats/report?unit=62', 400, 'VALIDATION_FAILED', analyst, '/period')
  })

  await t.test('bad input', async (tt) => {
    await problem(tt, '/v1/stats/values?indicator=applications.nope&period=2026-10', 400, 'VALIDATION_FAILED', admin, '/indicator')
    await problem(tt, '/v1/stats/values?period=2026-10', 400, 'VALIDATION_FAILED', admin, '/indicator')
    await problem(tt, '/v1/stats/values?indicator=applications.received&period=2026-13', 400, 'VALIDATION_FAILED', admin, '/period')
    await problem(tt, '/v1/stats/values?indicator=applications.received&period=26-10', 400, 'VALIDATION_FAILED', admin, '/period')
    await problem(tt, '/v1/stats/values?indicator=applications.received&period=2026-10&by=sex', 422, 'STATS_NOT_AVAILABLE', admin, '/by/0')
    await problem(tt, '/v1/stats/values?indicator=applications.received&period=2026-10&by=channel,sex', 422, 'STATS_NOT_AVAILABLE', admin, '/by/1')
    await problem(tt, '/v1/stats/values?indicator=applications.received&period=2026-10&by=colour', 400, 'VALIDATION_FAILED', admin, '/by')
    await problem(tt, '/v1/stats/values?indicator=applications.received&period=2026-10&by=unit,channel,service', 400, 'VALIDATION_FAILED', admin, '/by')
    await problem(tt, '/v1/stats/values?indicator=applications.persons_served&period=2026-W41', 422, 'STATS_NOT_AVAILABLE', admin, '/period')
    await problem(tt, '/v1/stats/values?indicator=applications.persons_served&period=2026-10-05', 422, 'STATS_NOT_AVAILABLE', admin, '/period')
    await problem(tt, '/v1/stats/series?indicator=applications.received&from=2026-10-01&to=2026-09-01', 400, 'VALIDATION_FAILED', admin, '/from')
    await problem(tt, '/v1/stats/series?indicator=applications.received&from=2026-02-30', 400, 'VALIDATION_FAILED', admin, '/from')
    await problem(tt, '/v1/stats/series?indicator=applications.persons_served&grain=week', 422, 'STATS_NOT_AVAILABLE', admin, '/grain')
    // Below the country, weeks straddle the month tables that decide what is hidden.
    await problem(tt, '/v1/stats/series?indicator=applications.received&unit=62&grain=week', 422, 'STATS_NOT_AVAILABLE', admin, '/grain')
    await problem(tt, '/v1/stats/values?indicator=applications.received&unit=62&period=2026-W41', 422, 'STATS_NOT_AVAILABLE', admin, '/period')
    // Below the country, a day's breakdown by channel (or service, sex ...) has no table joining it to its month.
    await problem(tt, '/v1/stats/values?indicator=applications.received&unit=62&period=2026-10-05&by=channel', 422, 'STATS_NOT_AVAILABLE', analyst, '/period')
    await problem(tt, '/v1/stats/values?indicator=applications.received&unit=62&period=2026-10-05&by=unit,service', 422, 'STATS_NOT_AVAILABLE', analyst, '/period')
    tt.equal((await ok<Table>(tt, '/v1/stats/values?indicator=applications.received&unit=62&period=2026-10-05&by=unit', analyst)).by[0], 'unit', 'by unit alone, a day is answered')
    tt.equal((await ok<Table>(tt, '/v1/stats/values?indicator=applications.received&period=2026-10-05&by=channel', admin)).suppressed, false, 'the country by channel on a day is answered as it is')
    await problem(tt, '/v1/stats/series?indicator=backlog.open', 422, 'STATS_NOT_AVAILABLE', admin, '/indicator')
    await problem(tt, '/v1/stats/series?indicator=applications.received&grain=fortnight', 400, 'VALIDATION_FAILED', admin, '/grain')
    await problem(tt, '/v1/stats/values?indicator=applications.received&period=2026-10&colour=red', 400, 'VALIDATION_FAILED', admin, '/colour')
    await problem(tt, '/v1/stats/public?period=2026-10&colour=red', 400, 'VALIDATION_FAILED', undefined, '/colour')
    await problem(tt, '/v1/stats/values?indicator=applications.received&period=2026-10&lang=fr', 400, 'VALIDATION_FAILED', admin, '/lang')
    await problem(tt, '/v1/stats/values?indicator=applications.received&period=2026-10&format=html', 400, 'VALIDATION_FAILED', admin, '/format')
    await problem(tt, '/v1/stats/values?indicator=applications.received&period=2026-10&unit=620', 400, 'VALIDATION_FAILED', admin, '/unit')
    await problem(tt, '/v1/stats/values?indicator=applications.received&period=2026-10&unit=21&unit=62', 400, 'VALIDATION_FAILED', analyst)

    // Syntactically fine, but no such period: named, and not a server error.
    for (const period of ['2026-02-30', '2027-W53']) {
      const res = await get(`/v1/stats/values?indicator=applications.received&period=${period}`, admin)
      tt.ok(res.statusCode === 400 || res.statusCode === 422, `${period}: ${res.statusCode}`)
      tt.ok((res.json() as Problem).errors?.some((e) => e.pointer === '/period'))
    }
    // Odd but valid requests answer, never 500.
    const odd = [
      '/v1/stats/values?indicator=applications.received&period=2026-03&unit=62&by=channel,service',
      '/v1/stats/values?indicator=applications.received&period=2026-03&unit=62&by=unit,channel',
      '/v1/stats/values?indicator=applications.received&period=2026-10&by=unit,unit',
      '/v1/stats/values?indicator=applications.persons_served&period=2026-10&by=unit',
      '/v1/stats/values?indicator=applications.persons_served&period=2026&unit=62&by=unit',
      '/v1/stats/values?indicator=applications.persons_served&period=2026-10&by=unit,sex',
      '/v1/stats/values?indicator=backlog.open&period=2026-10&unit=62&by=unit,channel',
      '/v1/stats/values?indicator=time.received_to_decided.p50&period=2026-10&unit=62&by=unit',
      '/v1/stats/values?indicator=coverage.standard_list&period=2026-10&unit=62&by=unit',
      '/v1/stats/values?indicator=mobile.rounds_held&period=2026-10&by=unit',
      '/v1/stats/values?indicator=lookups.total&period=2026-10&unit=62&by=purpose,result',
      '/v1/stats/values?indicator=delivery.queue_time.p50&period=2026-10&by=agency',
      '/v1/stats/values?indicator=applications.received&period=2026-10&unit=620151&by=unit',
      '/v1/stats/series?indicator=applications.received&grain=day&from=2026-01-01&to=2026-12-31&unit=62',
      '/v1/stats/series?indicator=applications.received&grain=year&from=2020-01-01&to=2026-12-31&unit=62',
      '/v1/stats/series?indicator=applications.received&grain=week&from=2026-12-20&to=2027-01-10',
      '/v1/stats/series?indicator=time.received_to_decided.p50&unit=62',
      '/v1/stats/ranking?indicator=time.received_to_decided.p50&period=2026-10',
      '/v1/stats/ranking?indicator=applications.received&period=2026-10&unit=620151',
    ]
    for (const url of odd) {
      const res = await get(url, admin)
      tt.equal(res.statusCode, 200, `${url}: ${res.body.slice(0, 300)}`)
    }
    // Years before 100 upset Date.UTC (ISO weeks): refused, not a 500.
    await problem(tt, '/v1/stats/series?indicator=applications.received&grain=week&from=0050-01-01&to=0050-03-01', 400, 'VALIDATION_FAILED', admin, '/from')
    await problem(tt, '/v1/stats/series?indicator=applications.received&grain=week&from=2026-01-01&to=0999-03-01', 400, 'VALIDATION_FAILED', admin, '/from')
    const ancient = await get('/v1/stats/values?indicator=applications.received&period=0050-W10', admin)
    tt.ok(ancient.statusCode < 500, `week 10 of the year 50: ${ancient.statusCode}`)
  })

  await t.test('no answer was a server error', async (tt) => {
    tt.ok(responses.length > 100)
    tt.same(responses.filter((r) => r.status >= 500), [])
  })
})
