import type { Database } from '../db/index.ts'
import type { Snapshot } from '../catalogue/snapshot.ts'
import { consistencyReport } from '../catalogue/consistency.ts'
import { countWithinDays, emptyHistogram, quantileSeconds } from './buckets.ts'
import { periodsBetween, type Period } from './calendar.ts'
import type { Dimension, Grain } from './model.ts'
import { COUNTRY, within } from './units.ts'

// Indicator values from the roll-ups (never from the raw applications): the
// rows of a period and a unit (or of the units directly below it) become
// records, records are grouped by the dimensions asked for, and each group
// gives the indicator's value and the count that decides its suppression.

type Source = 'flow' | 'durations' | 'persons' | 'backlog' | 'delivery' | 'lookups' | 'mobile' | 'coverage'

// `period` (the first day of the roll-up row's day or month) is there when
// the selection asked for it (`split`), for series read in one query.
export type RecordDims = Partial<Record<Dimension | 'period', string>>

export interface StatsRecord {
  dims: RecordDims
  m: Record<string, number>
  h: Record<string, number[]>
}

interface Definition {
  source: Source
  // The figure of a group of records.
  value: (m: Record<string, number>, h: Record<string, number[]>) => number | null
  // The counts of people (or applications) a derived figure is made of: it
  // is suppressed when any of them is small, as a rate of 4 in 9 would give
  // both away. A count is its own part.
  parts?: (m: Record<string, number>, h: Record<string, number[]>) => number[]
  // Counts can be complemented: their groups add up to the total.
  additive: boolean
  // Needs rows by service whatever the breakdown (standard times differ by service).
  detail?: boolean
}

const total = (h: number[] | undefined) => (h ?? []).reduce((a, b) => a + b, 0)
const hours = (s: number | null) => (s === null ? null : s / 3600)
const ratio = (a: number, b: number, scale = 1) => (b === 0 ? null : (scale * a) / b)
const count = (source: Source, measure: string): Definition => ({ source, value: (m) => m[measure] ?? 0, additive: true })
const quantile = (source: Source, measure: string, q: number, unit: 'hours' | 'seconds'): Definition => ({
  source,
  value: (_, h) => (unit === 'hours' ? hours(quantileSeconds(h[measure] ?? [], q)) : quantileSeconds(h[measure] ?? [], q)),
  parts: (_, h) => [total(h[measure])],
  additive: false,
})

export const DEFINITIONS: Record<string, Definition> = {
  'applications.received': count('flow', 'received'),
  'applications.persons_served': count('persons', 'n'),
  'outcomes.delivered': count('flow', 'delivered'),
  'outcomes.approved': count('flow', 'approved'),
  'outcomes.rejected': count('flow', 'rejected'),
  'outcomes.failed': count('flow', 'failed'),
  'outcomes.approval_rate': {
    source: 'flow',
    value: (m) => ratio(m.approved ?? 0, (m.approved ?? 0) + (m.rejected ?? 0), 100),
    parts: (m) => [m.approved ?? 0, m.rejected ?? 0],
    additive: false,
  },
  'time.received_to_delivered.p50': quantile('durations', 'delivered', 0.5, 'hours'),
  'time.received_to_delivered.p90': quantile('durations', 'delivered', 0.9, 'hours'),
  'time.received_to_decided.p50': quantile('durations', 'decided', 0.5, 'hours'),
  'time.received_to_decided.p90': quantile('durations', 'decided', 0.9, 'hours'),
  'time.decided_within_standard': {
    source: 'durations',
    value: (m, h) => ratio(m.within ?? 0, total(h.decided), 100),
    parts: (m, h) => [m.within ?? 0, total(h.decided) - (m.within ?? 0)],
    additive: false,
    detail: true,
  },
  'backlog.open': count('backlog', 'open'),
  'backlog.overdue': count('backlog', 'overdue'),
  'delivery.attempts_per_delivery': { source: 'delivery', value: (m) => ratio(m.attempts ?? 0, m.delivered ?? 0), parts: (m) => [m.delivered ?? 0], additive: false },
  'delivery.dead_lettered_share': {
    source: 'delivery',
    value: (m) => ratio(m.dead_lettered ?? 0, (m.delivered ?? 0) + (m.dead_lettered ?? 0), 100),
    parts: (m) => [m.delivered ?? 0, m.dead_lettered ?? 0],
    additive: false,
  },
  'delivery.queue_time.p50': quantile('delivery', 'queue', 0.5, 'seconds'),
  'delivery.queue_time.p90': quantile('delivery', 'queue', 0.9, 'seconds'),
  'lookups.total': count('lookups', 'n'),
  'lookups.refused': count('lookups', 'refused'),
  'mobile.rounds_held': count('mobile', 'rounds'),
  'mobile.units_reached': count('mobile', 'bags'),
  'mobile.applications_per_round': { source: 'mobile', value: (m) => ratio(m.applications ?? 0, m.rounds ?? 0), parts: () => [], additive: false },
  'coverage.mandated_categories': { source: 'coverage', value: (m) => ratio(m.categories_complete ?? 0, m.oss ?? 0, 100), parts: () => [], additive: false },
  'coverage.standard_list': { source: 'coverage', value: (m) => ratio(m.list_complete ?? 0, m.oss ?? 0, 100), parts: () => [], additive: false },
}

export interface Selection {
  period: Period
  // The unit whose figures are asked ('' the country).
  unit: string
  // One record set per unit directly below `unit` instead of `unit` itself.
  children: boolean
  // Today in Mongolia, for stocks (backlog, coverage).
  today: string
  // Keep the roll-up rows' periods apart (see RecordDims).
  split?: boolean
  // Read rows by service and channel, not the unit's totals.
  detail?: boolean
  // With detail: false sums the channels, or the services, in the database.
  channels?: boolean
  services?: boolean
}

// The rows a breakdown by `dims` needs: by service for service, category and
// agency, by channel for channel; the unit's totals for anything else.
export function detailFor (dims: readonly string[]): Pick<Selection, 'detail' | 'channels' | 'services'> {
  if (!dims.some((d) => d !== 'unit')) return {}
  return { detail: true, channels: dims.includes('channel'), services: dims.some((d) => d === 'service' || d === 'category' || d === 'agency') }
}

// Sources whose rows carry their period, so a series is one query.
const SPLITTABLE: ReadonlySet<Source> = new Set(['flow', 'durations', 'persons', 'delivery', 'lookups'])

interface Deps {
  db: Database
  catalogue: () => Snapshot
}

function addInto (target: StatsRecord, m: Record<string, number>, h: Record<string, number[]> = {}): void {
  for (const [k, v] of Object.entries(m)) target.m[k] = (target.m[k] ?? 0) + v
  for (const [k, hist] of Object.entries(h)) {
    const into = target.h[k] ?? (target.h[k] = emptyHistogram())
    hist.forEach((n, i) => { into[i] = (into[i] ?? 0) + n })
  }
}

const FLOW_MEASURES = ['received', 'retried', 'delivered', 'decided', 'approved', 'rejected', 'failed'] as const

// Rows keyed by their dimension values, merged.
class Records {
  private readonly map = new Map<string, StatsRecord>()
  add (dims: RecordDims, m: Record<string, number>, h?: Record<string, number[]>): void {
    // Every record of one set has the same dimensions, in the same order.
    const key = Object.values(dims).join('\u0001')
    let r = this.map.get(key)
    if (r === undefined) {
      r = { dims, m: {}, h: {} }
      this.map.set(key, r)
    }
    addInto(r, m, h)
  }

  list (): StatsRecord[] { return [...this.map.values()] }
}

// The roll-up rows a period reads: months for months and years, days for
// days and weeks.
function grainRows (period: Period): { grain: 'day' | 'month' } {
  return { grain: period.grain === 'day' || period.grain === 'week' ? 'day' : 'month' }
}

export function createStatsReader (deps: Deps) {
  const { db } = deps
  const unitFilter = (sel: Selection, first: number) => (sel.children ? `parent = $${first}` : `unit = $${first}`)
  let coverageOf: { digest: string, answers: Map<string, StatsRecord[]> } = { digest: '', answers: new Map() }
  const split = (sel: Selection) => (sel.split === true ? 'period::text AS period,' : '')
  const splitGroup = (sel: Selection) => (sel.split === true ? 'period,' : '')
  const rowsOf = (sel: Selection) => (sel.detail === true ? "service <> ''" : "service = ''")
  // The service and channel columns, and whether rows are grouped by them.
  const channelOf = (sel: Selection) => (sel.detail !== true || sel.channels !== false ? { col: 'channel', group: ', channel' } : { col: "'' AS channel", group: '' })
  const serviceOf = (sel: Selection) => (sel.detail !== true || sel.services !== false ? { col: 'service', group: ', service' } : { col: "'' AS service", group: '' })
  const at = (period: unknown): RecordDims => (period === undefined || period === null ? {} : { period: String(period) })

  // A service's category and agency, once per catalogue version: answers
  // look them up for every roll-up row.
  let servicesOf: { digest: string, dims: Map<string, Partial<Record<Dimension, string>>> } = { digest: '', dims: new Map() }
  function serviceDims (snap: Snapshot, service: string): Partial<Record<Dimension, string>> {
    if (servicesOf.digest !== snap.digest) servicesOf = { digest: snap.digest, dims: new Map() }
    let dims = servicesOf.dims.get(service)
    if (dims === undefined) {
      const s = snap.service(service)
      dims = { service, category: s?.category ?? 'unknown', agency: s?.agency ?? 'unknown' }
      servicesOf.dims.set(service, dims)
    }
    return dims
  }

  const sources: Record<Source, (sel: Selection) => Promise<StatsRecord[]>> = {
    async flow (sel) {
      const snap = deps.catalogue()
      const { rows } = await db.query<Record<string, string | number>>(
        `SELECT ${split(sel)} unit, ${serviceOf(sel).col}, ${channelOf(sel).col}, sum(received)::int AS received, sum(retried)::int AS retried, sum(delivered)::int AS delivered,
           sum(decided)::int AS decided, sum(approved)::int AS approved, sum(rejected)::int AS rejected, sum(failed)::int AS failed
         FROM stats_flow WHERE grain = $1 AND period >= $2 AND period < $3 AND ${unitFilter(sel, 4)} AND ${rowsOf(sel)}
         GROUP BY ${splitGroup(sel)} unit${serviceOf(sel).group}${channelOf(sel).group}`, [grainRows(sel.period).grain, sel.period.from, sel.period.to, sel.unit])
      // The database grouped them: one record per row.
      return rows.map((r) => {
        const m: Record<string, number> = {}
        for (const c of FLOW_MEASURES) m[c] = r[c] as number
        return { dims: { ...at(r.period), unit: String(r.unit), channel: String(r.channel), ...serviceDims(snap, String(r.service)) }, m, h: {} }
      })
    },

    async durations (sel) {
      const snap = deps.catalogue()
      const { rows } = await db.query<{ period?: string, unit: string, service: string, channel: string, measure: string, bucket: number, n: number }>(
        `SELECT ${split(sel)} unit, ${serviceOf(sel).col}, ${channelOf(sel).col}, measure, bucket, sum(n)::int AS n
         FROM stats_durations WHERE grain = $1 AND period >= $2 AND period < $3 AND ${unitFilter(sel, 4)} AND measure <> 'queue' AND ${rowsOf(sel)}
         GROUP BY ${splitGroup(sel)} unit${serviceOf(sel).group}${channelOf(sel).group}, measure, bucket`, [grainRows(sel.period).grain, sel.period.from, sel.period.to, sel.unit])
      // Per service first: "within the standard time" depends on the service.
      const perService = new Records()
      for (const r of rows) {
        const h = emptyHistogram()
        h[r.bucket] = r.n
        perService.add({ ...at(r.period), unit: r.unit, channel: r.channel, service: r.service }, {}, { [r.measure]: h })
      }
      const out = new Records()
      for (const r of perService.list()) {
        const days = snap.service(r.dims.service!)?.guide.processingDays
        const within = days === undefined || r.h.decided === undefined ? 0 : countWithinDays(r.h.decided, days)
        out.add({ ...at(r.dims.period), unit: r.dims.unit!, channel: r.dims.channel!, ...serviceDims(snap, r.dims.service!) }, { within }, r.h)
      }
      return out.list()
    },

    async persons (sel) {
      if (sel.period.grain !== 'month' && sel.period.grain !== 'year') return []
      const { rows } = await db.query<{ period: string, unit: string, sex: string, age_band: string, n: number }>(
        `SELECT period::text, unit, sex, age_band, n FROM stats_persons WHERE grain = $1 AND period >= $2 AND period < $3 AND ${unitFilter(sel, 4)}`,
        [sel.period.grain, sel.period.from, sel.period.to, sel.unit])
      const out = new Records()
      for (const r of rows) out.add({ ...(sel.split === true ? { period: r.period } : {}), unit: r.unit, sex: r.sex, age_band: r.age_band }, { n: r.n })
      return out.list()
    },

    async backlog (sel) {
      const snap = deps.catalogue()
      // Received on `cohort`, due `days` later (the same day for 0): overdue
      // after that day. Summed in the database, cohorts never leave it.
      const services = snap.document.services
      const detail = sel.detail === true
      const channels = detail && sel.channels !== false
      const byService = detail && sel.services !== false
      const { rows } = await db.query<{ unit: string, service: string, channel: string, open: number, overdue: number }>(
        `SELECT b.unit, ${byService ? 'b.service' : "'' AS service"}, ${channels ? 'b.channel' : "'' AS channel"}, sum(b.open)::int AS open,
           coalesce(sum(b.open) FILTER (WHERE b.cohort < $2::date - greatest(coalesce(s.days, 0), 0)), 0)::int AS overdue
         FROM stats_backlog b LEFT JOIN unnest($3::text[], $4::int[]) AS s (service, days) ON s.service = b.service
         WHERE ${unitFilter(sel, 1).replace(/^(\w+)/, 'b.$1')} AND b.open <> 0
         GROUP BY b.unit${byService ? ', b.service' : ''}${channels ? ', b.channel' : ''}`,
        [sel.unit, sel.today, services.map((x) => x.code), services.map((x) => x.guide.processingDays)])
      const out = new Records()
      for (const r of rows) out.add({ unit: r.unit, channel: r.channel, ...serviceDims(snap, r.service) }, { open: r.open, overdue: r.overdue })
      return out.list()
    },

    async delivery (sel) {
      const snap = deps.catalogue()
      const grain = grainRows(sel.period).grain
      const args = [grain, sel.period.from, sel.period.to]
      const { rows } = await db.query<{ period?: string, service: string, attempts: number, delivered: number, dead_lettered: number }>(
        `SELECT ${split(sel)} service, sum(attempts)::int AS attempts, sum(delivered)::int AS delivered, sum(dead_lettered)::int AS dead_lettered
         FROM stats_delivery WHERE grain = $1 AND period >= $2 AND period < $3 GROUP BY ${splitGroup(sel)} service`, args)
      const { rows: hist } = await db.query<{ period?: string, service: string, bucket: number, n: number }>(
        `SELECT ${split(sel)} service, bucket, sum(n)::int AS n FROM stats_durations
         WHERE grain = $1 AND period >= $2 AND period < $3 AND unit = '' AND measure = 'queue' GROUP BY ${splitGroup(sel)} service, bucket`, args)
      const out = new Records()
      for (const r of rows) out.add({ ...at(r.period), unit: COUNTRY, ...serviceDims(snap, r.service) }, { attempts: r.attempts, delivered: r.delivered, dead_lettered: r.dead_lettered })
      for (const r of hist) {
        const h = emptyHistogram()
        h[r.bucket] = r.n
        out.add({ ...at(r.period), unit: COUNTRY, ...serviceDims(snap, r.service) }, {}, { queue: h })
      }
      return out.list()
    },

    async lookups (sel) {
      const args = [grainRows(sel.period).grain, sel.period.from, sel.period.to, sel.unit]
      const where = `grain = $1 AND period >= $2 AND period < $3 AND ${unitFilter(sel, 4)}`
      const out = new Records()
      if (sel.detail !== true) {
        // The unit's totals: a unit's look-ups by purpose, agency and result are many rows.
        const { rows } = await db.query<{ period?: string, unit: string, n: number, refused: number }>(
          `SELECT ${split(sel)} unit, sum(n)::int AS n, coalesce(sum(n) FILTER (WHERE result = 'denied'), 0)::int AS refused FROM stats_lookups
           WHERE ${where} GROUP BY ${splitGroup(sel)} unit`, args)
        for (const r of rows) out.add({ ...at(r.period), unit: r.unit }, { n: r.n, refused: r.refused })
        return out.list()
      }
      const { rows } = await db.query<{ period?: string, unit: string, purpose: string, agency: string, result: string, n: number }>(
        `SELECT ${split(sel)} unit, purpose, agency, result, sum(n)::int AS n FROM stats_lookups
         WHERE ${where} GROUP BY ${splitGroup(sel)} unit, purpose, agency, result`, args)
      for (const r of rows) out.add({ ...at(r.period), unit: r.unit, purpose: r.purpose, agency: r.agency, result: r.result }, { n: r.n, refused: r.result === 'denied' ? r.n : 0 })
      return out.list()
    },

    // Rounds come from the published catalogue; applications from the roll-ups.
    async mobile (sel) {
      const snap = deps.catalogue()
      const last = new Date(Date.parse(`${sel.period.to}T00:00:00Z`) - 86400_000).toISOString().slice(0, 10)
      const out = new Records()
      const key = (unit: string) => (sel.children ? unit.slice(0, sel.unit.length + 2) : sel.unit)
      const bags = new Map<string, Set<string>>()
      for (const r of snap.document.mobileRounds) {
        if (!within(r.unit, sel.unit) || r.from > last || r.to < sel.period.from) continue
        const k = key(r.unit)
        out.add({ unit: k }, { rounds: 1 })
        const set = bags.get(k) ?? new Set<string>()
        for (const b of r.bags) set.add(b)
        bags.set(k, set)
      }
      for (const [k, set] of bags) out.add({ unit: k }, { bags: set.size })
      for (const r of await sources.flow({ ...sel, detail: true, channels: true, services: false })) {
        if (r.dims.channel === 'mobile_oss') out.add({ unit: r.dims.unit! }, { applications: r.m.received ?? 0 })
      }
      return out.list()
    },

    // The consistency report of the published catalogue: a stock, as of
    // now, the same for every request until the catalogue changes.
    async coverage (sel) {
      const snap = deps.catalogue()
      if (coverageOf.digest !== snap.digest) coverageOf = { digest: snap.digest, answers: new Map() }
      const key = `${sel.unit}|${sel.children}`
      const known = coverageOf.answers.get(key)
      if (known !== undefined) return known
      const report = consistencyReport(snap, () => true, sel.unit === COUNTRY ? {} : { unit: sel.unit })
      const gaps = new Map<string, { category: boolean, list: boolean }>()
      for (const f of report.findings) {
        if (f.unit === null) continue
        const g = gaps.get(f.unit) ?? { category: false, list: false }
        if (f.kind === 'missing_mandated_category' || f.kind === 'no_service') g.category = true
        if (f.kind === 'missing_standard_service' || f.kind === 'no_service') g.list = true
        gaps.set(f.unit, g)
      }
      const out = new Records()
      for (const u of snap.document.units) {
        if (!within(u.code, sel.unit) || u.code === sel.unit && sel.children) continue
        const k = sel.children ? u.code.slice(0, sel.unit.length + 2) : sel.unit
        const g = gaps.get(u.code)
        out.add({ unit: k }, { oss: 1, categories_complete: g?.category === true ? 0 : 1, list_complete: g?.list === true ? 0 : 1 })
      }
      // A unit and its children per unit of the catalogue, at most.
      if (coverageOf.answers.size < 2 * snap.document.units.length + 2) coverageOf.answers.set(key, out.list())
      return out.list()
    },
  }

  function read (memo: Map<string, Promise<StatsRecord[]>> | null) {
    return {
      async records (indicator: string, sel: Selection): Promise<StatsRecord[]> {
        const def = DEFINITIONS[indicator]
        if (def === undefined) throw new RangeError(`no indicator ${indicator}`)
        // Rows by service this indicator needs anyway, channels summed unless asked for.
        if (def.detail === true && (sel.detail !== true || sel.services === false)) sel = { ...sel, detail: true, services: true, channels: sel.detail === true && sel.channels !== false }
        if (memo === null) return sources[def.source](sel)
        // Indicators of one source read the same rows.
        const key = `${def.source}|${JSON.stringify(sel)}`
        let found = memo.get(key)
        if (found === undefined) {
          found = sources[def.source](sel)
          memo.set(key, found)
        }
        return found
      },
      // Whether a series of this indicator can be read in one query (split).
      splittable (indicator: string): boolean {
        const def = DEFINITIONS[indicator]
        return def !== undefined && SPLITTABLE.has(def.source)
      },
      // Periods of `grain` from `from` to `to` (dates), at most `max`.
      periods (grain: Grain, from: string, to: string, max: number): Period[] {
        return periodsBetween(grain, from, to, max)
      },
      // The same reader, remembering what it read: one answer (a report
      // asks for the same rows many times) reads each only once.
      memo () {
        return read(new Map())
      },
    }
  }
  return read(null)
}

export type StatsReader = ReturnType<typeof createStatsReader>

export interface Cell {
  key: RecordDims
  value: number | null
  parts: number[]
}

// Groups records by `by` and evaluates the indicator per group; also the total.
export function evaluate (indicator: string, records: StatsRecord[], by: Array<Dimension | 'period'>): { cells: Cell[], total: Cell } {
  const def = DEFINITIONS[indicator]
  if (def === undefined) throw new RangeError(`no indicator ${indicator}`)
  const groups = new Map<string, StatsRecord>()
  const all: StatsRecord = { dims: {}, m: {}, h: {} }
  for (const r of records) {
    addInto(all, r.m, r.h)
    if (by.length === 0) continue
    const key = Object.fromEntries(by.map((d) => [d, r.dims[d] ?? 'unknown'])) as RecordDims
    const k = JSON.stringify(by.map((d) => key[d]))
    let g = groups.get(k)
    if (g === undefined) {
      g = { dims: key, m: {}, h: {} }
      groups.set(k, g)
    }
    addInto(g, r.m, r.h)
  }
  const cell = (r: StatsRecord): Cell => {
    const value = def.value(r.m, r.h)
    return { key: r.dims, value, parts: def.parts === undefined ? [value ?? 0] : def.parts(r.m, r.h) }
  }
  return { cells: [...groups.values()].map(cell), total: cell(all) }
}

export function isAdditive (indicator: string): boolean {
  return DEFINITIONS[indicator]?.additive === true
}
