import { createHash } from 'node:crypto'
import type { Database, Queryable } from '../db/index.ts'
import { parseRegnum } from '../domain/regnum.ts'
import { bucketOf } from './buckets.ts'
import { monthStart, mongolianDate, yearStart } from './calendar.ts'
import type { AGE_BANDS } from './model.ts'
import { ancestry, within } from './units.ts'

// The fold: application events and audit records into the roll-up tables of
// migration 0011, a batch per transaction, the cursor moved in the same
// transaction. Replaying from an empty cursor (`rebuild`) gives the same
// tables, because every roll-up is a sum of per-event contributions.

// The figures, and with them the fold's own bookkeeping.
export const ROLLUP_TABLES = ['stats_flow', 'stats_durations', 'stats_delivery', 'stats_backlog', 'stats_persons_seen', 'stats_persons', 'stats_lookups'] as const
export const STATS_TABLES = [...ROLLUP_TABLES, 'stats_folded_ahead'] as const

interface EventRow {
  id: string
  xid: string
  // Epoch milliseconds.
  at: number
  status: string
  first: boolean
  service: string
  unit: string
  channel: string
  deliverable: boolean
  top: boolean
  decision: string | null
  created_at: number
  regnum: string | null
  // The application's status before this event (null for its first).
  prev: string | null
}

interface AuditRow {
  seq: string
  at: Date | string
  record_type: string
  actor_unit: string | null
  actor_agency: string | null
  purpose: string | null
  result: string
}

type AgeBand = typeof AGE_BANDS[number]

export function ageBand (age: number): AgeBand {
  return age < 18 ? '0-17' : age < 35 ? '18-34' : age < 60 ? '35-59' : '60+'
}

// Sex and age band from the registration number alone, no look-up; age on `date`.
export function personProfile (regnum: string, date: string): { sex: 'female' | 'male', ageBand: AgeBand } | null {
  const parsed = parseRegnum(regnum, new Date(`${date}T23:59:59Z`))
  if (!parsed.ok) return null
  const [y, m, d] = parsed.birthDate.split('-').map(Number) as [number, number, number]
  const [ty, tm, td] = date.split('-').map(Number) as [number, number, number]
  const age = ty - y - (tm < m || (tm === m && td < d) ? 1 : 0)
  return { sex: parsed.sex, ageBand: ageBand(age) }
}

function personKey (regnum: string): string {
  const h = createHash('sha256').update(regnum).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

const seconds = (from: number, to: number) => (to - from) / 1000

// The Mongolian date (UTC+8) of epoch milliseconds, remembered per day: the
// fold asks for it twice an event.
const DAY_MS = 86_400_000
const dates = new Map<number, string>()
function dayOf (ms: number): string {
  const day = Math.floor((ms + 8 * 3_600_000) / DAY_MS)
  let text = dates.get(day)
  if (text === undefined) {
    text = new Date(day * DAY_MS).toISOString().slice(0, 10)
    if (dates.size > 4096) dates.clear()
    dates.set(day, text)
  }
  return text
}

// Sums keyed by the joined key columns.
class Sums<V extends number[]> {
  readonly rows = new Map<string, { key: unknown[], values: V }>()
  private readonly width: number
  constructor (width: number) { this.width = width }
  add (key: unknown[], index: number, by = 1): void {
    this.row(key).values[index]! += by
  }

  // Adds a whole row of values.
  addAll (key: unknown[], values: readonly number[]): void {
    const row = this.row(key)
    for (let i = 0; i < values.length; i++) row.values[i]! += values[i]!
  }

  private row (key: unknown[]): { key: unknown[], values: V } {
    // Key parts are codes, dates and numbers; null (no parent) only where no code is.
    const k = key.join('\u0001')
    let row = this.rows.get(k)
    if (row === undefined) {
      row = { key, values: new Array(this.width).fill(0) as V }
      this.rows.set(k, row)
    }
    return row
  }

  // Column arrays for unnest, as array literals: key columns, then value columns.
  columns (): string[] {
    const rows = [...this.rows.values()]
    const keyWidth = rows[0]?.key.length ?? 0
    return [
      ...Array.from({ length: keyWidth }, (_, i) => arrayLiteral(rows.map((r) => r.key[i]))),
      ...Array.from({ length: this.width }, (_, i) => arrayLiteral(rows.map((r) => r.values[i]))),
    ]
  }
}

// A PostgreSQL array literal ({a,"",NULL}). The driver would quote and
// escape every element; codes, dates and numbers need neither, and the fold
// sends tens of thousands of them a batch.
const PLAIN = /^[A-Za-z0-9._:+-]+$/
export function arrayLiteral (values: readonly unknown[]): string {
  const parts = new Array<string>(values.length)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (v === null || v === undefined) {
      parts[i] = 'NULL'
      continue
    }
    if (typeof v === 'number') {
      parts[i] = String(v)
      continue
    }
    const text = String(v)
    parts[i] = PLAIN.test(text) && text.toUpperCase() !== 'NULL' ? text : `"${text.replace(/[\\"]/g, '\\$&')}"`
  }
  return `{${parts.join(',')}}`
}

const ENDED = new Set(['decided', 'failed'])

// The service and channel of a unit's total row (see migration 0011).
export const TOTAL = ''

const FLOW = ['received', 'retried', 'delivered', 'decided', 'approved', 'rejected', 'failed'] as const

export interface FoldResult { events: number, audit: number }

interface Cursor { eventXid: string, eventId: string, auditSeq: string }

export interface RollupOptions {
  batchSize: number
  // How long the horizon may stand still before the fold takes committed
  // events above it (see foldBatch).
  aheadAfterMs: number
  // ANALYZE the roll-ups after this many folded events (0: never). The
  // embedded store has no autovacuum to keep the planner's statistics.
  analyzeEveryEvents?: number
  now?: () => number
}

export function createRollup (db: Database, options: RollupOptions) {
  // Events, and what the fold needs of their application; `where` uses $1.. of `params`.
  // Times as epoch milliseconds: numbers, not dates to parse.
  const EVENTS = `SELECT e.id::text, e.xid::text, (extract(epoch FROM e.at) * 1000)::float8 AS at, e.status, (e.status = 'received' AND e.detail IS NULL) AS first,
      a.service, a.unit, a.channel, a.adapter IS NOT NULL AS deliverable, a.package_id IS NULL AS top, a.decision,
      (extract(epoch FROM a.created_at) * 1000)::float8 AS created_at,
      CASE WHEN e.status = 'received' AND e.detail IS NULL AND a.package_id IS NULL THEN a.applicant_regnum END AS regnum,
      CASE WHEN a.package_id IS NULL THEN (
        SELECT p.status FROM application_events p WHERE p.application_id = e.application_id AND p.id < e.id ORDER BY p.id DESC LIMIT 1) END AS prev
    FROM application_events e JOIN applications a ON a.id = e.application_id`
  const NOT_AHEAD = 'NOT EXISTS (SELECT 1 FROM stats_folded_ahead f WHERE f.event_id = e.id)'

  // Events below the horizon (every transaction older than it has ended)
  // are final: the cursor walks through them in (xid, id) order. Committed
  // events above it are taken too when `ahead` (a long transaction holds the
  // horizon back): they are remembered, so the walk skips them later.
  async function foldBatch (tx: Queryable, cursor: Cursor, ahead: boolean): Promise<FoldResult & { cursor: Cursor }> {
    const { rows: [h] } = await tx.query<{ horizon: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon')
    const horizon = h!.horizon
    const { rows: below } = await tx.query<EventRow>(
      `${EVENTS} WHERE (e.xid, e.id) > ($1::xid8, $2::bigint) AND e.xid < $3::xid8 AND ${NOT_AHEAD} ORDER BY e.xid, e.id LIMIT $4`,
      [cursor.eventXid, cursor.eventId, horizon, options.batchSize])
    const drained = below.length < options.batchSize
    let events = below
    if (drained) {
      // Nothing is left below the horizon: what was taken ahead of it is behind the cursor now.
      await tx.query('DELETE FROM stats_folded_ahead WHERE xid < $1::xid8', [horizon])
      if (ahead) {
        const { rows: early } = await tx.query<EventRow>(`${EVENTS} WHERE e.xid >= $1::xid8 AND ${NOT_AHEAD} ORDER BY e.xid, e.id LIMIT $2`,
          [horizon, options.batchSize - below.length])
        if (early.length > 0) {
          await tx.query('INSERT INTO stats_folded_ahead (event_id, xid) SELECT * FROM unnest($1::bigint[], $2::xid8[])', [early.map((e) => e.id), early.map((e) => e.xid)])
        }
        events = [...below, ...early]
      }
    }
    const { rows: audit } = await tx.query<AuditRow>(
      `SELECT seq::text, at, record_type, actor_unit, actor_agency, purpose, result FROM audit_log
       WHERE seq > $1::bigint ORDER BY seq LIMIT $2`, [cursor.auditSeq, options.batchSize])

    const flow = new Sums<number[]>(FLOW.length)
    const durations = new Sums<number[]>(1)
    const delivery = new Sums<number[]>(3)
    const backlog = new Sums<number[]>(1)
    const lookups = new Sums<number[]>(1)
    // Per person and year, where the batch saw them apply, in order.
    const seen = new Map<string, { year: string, person: string, arrivals: Array<{ month: string, unit: string, sex: string, ageBand: string }> }>()

    // Flows and durations by the application's own unit, service and channel
    // first; spread to every unit above and to the totals once per cell below.
    const leafFlow = new Sums<number[]>(FLOW.length)
    const leafDurations = new Sums<number[]>(1)

    for (const e of events) {
      const date = dayOf(e.at)
      const leaves = (grain: 'day' | 'month') => [grain, grain === 'day' ? date : monthStart(date), e.unit, e.service, e.channel]
      if (e.deliverable) {
        for (const grain of ['day', 'month'] as const) {
          const key = [grain, grain === 'day' ? date : monthStart(date), e.service]
          if (e.status === 'delivering') delivery.add(key, 0)
          if (e.status === 'delivered') {
            delivery.add(key, 1)
            durations.add([key[0], key[1], '', null, e.service, '', 'queue', bucketOf(seconds(e.created_at, e.at))], 0)
          }
          if (e.status === 'failed') delivery.add(key, 2)
        }
      }
      if (!e.top) continue
      const add = (column: typeof FLOW[number]) => {
        for (const grain of ['day', 'month'] as const) leafFlow.add(leaves(grain), FLOW.indexOf(column))
      }
      const received = dayOf(e.created_at)
      const cohort = (by: 1 | -1) => {
        for (const a of ancestry(e.unit)) backlog.add([a.unit, a.parent, e.service, e.channel, received], 0, by)
      }
      // Open from its receipt, and again from any step out of failed (a
      // package comes back queued, not received); closed when decided or failed.
      if (ENDED.has(e.status)) cohort(-1)
      else if (e.prev === null || ENDED.has(e.prev)) {
        cohort(1)
        if (e.prev !== null) add('retried')
      }
      switch (e.status) {
        case 'received':
          if (e.first) add('received')
          if (e.first && e.regnum !== null) {
            const profile = personProfile(e.regnum, date)
            const person = personKey(e.regnum)
            const arrival = { month: date.slice(5, 7), unit: e.unit, sex: profile?.sex ?? 'unknown', ageBand: profile?.ageBand ?? 'unknown' }
            const year = yearStart(date)
            const k = `${year}|${person}`
            const entry = seen.get(k)
            if (entry === undefined) seen.set(k, { year, person, arrivals: [arrival] })
            else entry.arrivals.push(arrival)
          }
          break
        case 'delivered':
          add('delivered')
          for (const grain of ['day', 'month'] as const) leafDurations.add([...leaves(grain), 'delivered', bucketOf(seconds(e.created_at, e.at))], 0)
          break
        case 'decided':
          add('decided')
          if (e.decision === 'approved') add('approved')
          if (e.decision === 'rejected') add('rejected')
          for (const grain of ['day', 'month'] as const) leafDurations.add([...leaves(grain), 'decided', bucketOf(seconds(e.created_at, e.at))], 0)
          break
        case 'failed':
          add('failed')
          break
      }
    }

    // Each unit's cell, and its total over services and channels.
    for (const { key: [grain, period, unit, service, channel], values } of leafFlow.rows.values()) {
      for (const a of ancestry(unit as string)) {
        flow.addAll([grain, period, a.unit, a.parent, service, channel], values)
        flow.addAll([grain, period, a.unit, a.parent, TOTAL, TOTAL], values)
      }
    }
    for (const { key: [grain, period, unit, service, channel, measure, bucket], values } of leafDurations.rows.values()) {
      for (const a of ancestry(unit as string)) {
        durations.addAll([grain, period, a.unit, a.parent, service, channel, measure, bucket], values)
        durations.addAll([grain, period, a.unit, a.parent, TOTAL, TOTAL, measure, bucket], values)
      }
    }

    for (const r of audit) {
      if (r.record_type !== 'citizen_lookup') continue
      const date = mongolianDate(new Date(r.at))
      for (const grain of ['day', 'month'] as const) {
        for (const a of ancestry(r.actor_unit ?? '')) {
          lookups.add([grain, grain === 'day' ? date : monthStart(date), a.unit, a.parent, r.purpose ?? '', r.actor_agency ?? '', r.result], 0)
        }
      }
    }

    if (flow.rows.size > 0) {
      await tx.query(
        `INSERT INTO stats_flow (grain, period, unit, parent, service, channel, ${FLOW.join(', ')})
         SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[], $9::int[], $10::int[], $11::int[], $12::int[], $13::int[])
         ON CONFLICT (grain, period, unit, service, channel) DO UPDATE SET ${FLOW.map((c) => `${c} = stats_flow.${c} + EXCLUDED.${c}`).join(', ')}`,
        flow.columns())
    }
    if (durations.rows.size > 0) {
      await tx.query(
        `INSERT INTO stats_durations (grain, period, unit, parent, service, channel, measure, bucket, n)
         SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::smallint[], $9::int[])
         ON CONFLICT (grain, period, unit, service, channel, measure, bucket) DO UPDATE SET n = stats_durations.n + EXCLUDED.n`,
        durations.columns())
    }
    if (delivery.rows.size > 0) {
      await tx.query(
        `INSERT INTO stats_delivery (grain, period, service, attempts, delivered, dead_lettered)
         SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::int[], $5::int[], $6::int[])
         ON CONFLICT (grain, period, service) DO UPDATE SET attempts = stats_delivery.attempts + EXCLUDED.attempts,
           delivered = stats_delivery.delivered + EXCLUDED.delivered, dead_lettered = stats_delivery.dead_lettered + EXCLUDED.dead_lettered`,
        delivery.columns())
    }
    if (backlog.rows.size > 0) {
      const { rows: settled } = await tx.query<{ unit: string, service: string, channel: string, cohort: string, open: number }>(
        `INSERT INTO stats_backlog (unit, parent, service, channel, cohort, open)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::int[])
         ON CONFLICT (unit, service, channel, cohort) DO UPDATE SET open = stats_backlog.open + EXCLUDED.open
         RETURNING unit, service, channel, cohort::text, open`, backlog.columns())
      const gone = settled.filter((r) => r.open === 0)
      if (gone.length > 0) {
        // A cohort at 0 adds nothing to the backlog; dropping it keeps the table to what is open.
        await tx.query(
          `DELETE FROM stats_backlog b USING unnest($1::text[], $2::text[], $3::text[], $4::date[]) AS g (unit, service, channel, cohort)
           WHERE b.unit = g.unit AND b.service = g.service AND b.channel = g.channel AND b.cohort = g.cohort AND b.open = 0`,
          [gone.map((r) => r.unit), gone.map((r) => r.service), gone.map((r) => r.channel), gone.map((r) => r.cohort)])
      }
    }
    if (seen.size > 0) {
      const keys = [...seen.values()]
      const { rows: known } = await tx.query<{ year: string, person: string, seen: string[] }>(
        `SELECT s.year::text, s.person::text, s.seen FROM unnest($1::date[], $2::uuid[]) AS k (year, person)
         JOIN stats_persons_seen s USING (year, person)`,
        [arrayLiteral(keys.map((r) => r.year)), arrayLiteral(keys.map((r) => r.person))])
      const before = new Map(known.map((r) => [`${r.year}|${r.person}`, r.seen]))
      const persons = new Sums<number[]>(1)
      const changed: Array<{ year: string, person: string, seen: string[] }> = []
      for (const [k, entry] of seen) {
        // "MM:unit": where the person applied in a month of the year.
        const entries = [...(before.get(k) ?? [])]
        const length = entries.length
        for (const a of entry.arrivals) {
          const here = `${a.month}:${a.unit}`
          if (entries.includes(here)) continue
          const inMonth = entries.filter((x) => x.startsWith(`${a.month}:`)).map((x) => x.slice(3))
          const inYear = entries.map((x) => x.slice(3))
          // New to every unit above where none of the person's earlier units lies.
          for (const up of ancestry(a.unit)) {
            if (!inMonth.some((u) => within(u, up.unit))) persons.add(['month', `${entry.year.slice(0, 4)}-${a.month}-01`, up.unit, up.parent, a.sex, a.ageBand], 0)
            if (!inYear.some((u) => within(u, up.unit))) persons.add(['year', entry.year, up.unit, up.parent, a.sex, a.ageBand], 0)
          }
          entries.push(here)
        }
        if (entries.length > length) changed.push({ year: entry.year, person: entry.person, seen: entries.sort() })
      }
      if (changed.length > 0) {
        // Entries are digits and a colon: a comma-joined list passes as one text per row.
        await tx.query(
          `INSERT INTO stats_persons_seen (year, person, seen)
           SELECT year, person, string_to_array(seen, ',') FROM unnest($1::date[], $2::uuid[], $3::text[]) AS c (year, person, seen)
           ON CONFLICT (year, person) DO UPDATE SET seen = EXCLUDED.seen`,
          [arrayLiteral(changed.map((r) => r.year)), arrayLiteral(changed.map((r) => r.person)), arrayLiteral(changed.map((r) => r.seen.join(',')))])
      }
      if (persons.rows.size > 0) {
        await tx.query(
          `INSERT INTO stats_persons (grain, period, unit, parent, sex, age_band, n)
           SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[])
           ON CONFLICT (grain, period, unit, sex, age_band) DO UPDATE SET n = stats_persons.n + EXCLUDED.n`, persons.columns())
      }
    }
    if (lookups.rows.size > 0) {
      await tx.query(
        `INSERT INTO stats_lookups (grain, period, unit, parent, purpose, agency, result, n)
         SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[])
         ON CONFLICT (grain, period, unit, purpose, agency, result) DO UPDATE SET n = stats_lookups.n + EXCLUDED.n`, lookups.columns())
    }

    const last = below.at(-1)
    const next = drained
      ? { eventXid: horizon, eventId: '0', auditSeq: audit.at(-1)?.seq ?? cursor.auditSeq }
      : { eventXid: last!.xid, eventId: last!.id, auditSeq: audit.at(-1)?.seq ?? cursor.auditSeq }
    return { events: events.length, audit: audit.length, cursor: next }
  }

  const now = options.now ?? Date.now
  let moved = { xid: '', at: now() }
  const saveCursor = (tx: Queryable, c: Cursor) => tx.query('UPDATE stats_cursor SET event_xid = $1::xid8, event_id = $2::bigint, audit_seq = $3::bigint, folded_at = now()',
    [c.eventXid, c.eventId, c.auditSeq])
  const more = (r: FoldResult) => r.events >= options.batchSize || r.audit >= options.batchSize

  // One batch in one transaction; null when another process holds the
  // cursor and `wait` is off.
  async function step (wait: boolean, ahead: boolean): Promise<FoldResult | null> {
    return db.transaction(async (tx) => {
      const { rows } = await tx.query<{ event_xid: string, event_id: string, audit_seq: string }>(
        `SELECT event_xid::text, event_id::text, audit_seq::text FROM stats_cursor FOR UPDATE ${wait ? '' : 'SKIP LOCKED'}`)
      const row = rows[0]
      if (row === undefined) return null
      const done = await foldBatch(tx, { eventXid: row.event_xid, eventId: row.event_id, auditSeq: row.audit_seq }, ahead)
      await saveCursor(tx, done.cursor)
      if (done.cursor.eventXid !== moved.xid) moved = { xid: done.cursor.eventXid, at: now() }
      return { events: done.events, audit: done.audit }
    })
  }

  let sinceAnalyze = 0
  async function analyze (): Promise<void> {
    sinceAnalyze = 0
    for (const table of ROLLUP_TABLES) await db.query(`ANALYZE ${table}`)
  }

  async function fold (how: { wait?: boolean, ahead?: boolean } = {}): Promise<FoldResult> {
    const total = { events: 0, audit: 0 }
    // The horizon has not moved for a while: a long transaction holds it.
    const ahead = how.ahead ?? now() - moved.at >= options.aheadAfterMs
    for (;;) {
      const r = await step(how.wait === true, ahead)
      if (r !== null) {
        total.events += r.events
        total.audit += r.audit
      }
      if (r === null || !more(r)) break
    }
    sinceAnalyze += total.events
    const every = options.analyzeEveryEvents ?? 0
    if (every > 0 && sinceAnalyze >= every) await analyze()
    return total
  }

  return {
    // Folds until nothing finished is left; returns what it folded. Without
    // `wait`, it leaves the work to a process already folding.
    fold,

    // Folds everything committed before the call, now: what a long
    // transaction keeps above the horizon is taken ahead of it.
    catchUp (): Promise<FoldResult> {
      return fold({ wait: true, ahead: true })
    },

    // Empties the roll-ups and folds the whole history again, in one
    // transaction: readers see the old figures until it commits.
    async rebuild (): Promise<FoldResult> {
      const total = await db.transaction(async (tx) => {
        await tx.query('SELECT 1 FROM stats_cursor FOR UPDATE')
        for (const table of STATS_TABLES) await tx.query(`DELETE FROM ${table}`)
        let cursor: Cursor = { eventXid: '0', eventId: '0', auditSeq: '0' }
        const total = { events: 0, audit: 0 }
        for (;;) {
          const done = await foldBatch(tx, cursor, true)
          total.events += done.events
          total.audit += done.audit
          cursor = done.cursor
          if (!more(done)) break
        }
        await saveCursor(tx, cursor)
        return total
      })
      // Every row is new: the planner's statistics are not.
      await analyze()
      return total
    },

    // Refreshes the planner's statistics of the roll-ups (after a bulk load).
    analyze,

    // Where the fold stands: the roll-ups change only when this does.
    async position (): Promise<string> {
      const { rows } = await db.query<{ p: string }>("SELECT event_xid::text || '/' || event_id || '/' || audit_seq || '/' || coalesce(folded_at::text, '') AS p FROM stats_cursor")
      return rows[0]?.p ?? ''
    },

    // When the roll-ups were last brought up to date (null: never).
    async foldedAt (): Promise<string | null> {
      const { rows } = await db.query<{ folded_at: Date | string | null }>('SELECT folded_at FROM stats_cursor')
      const at = rows[0]?.folded_at
      return at === null || at === undefined ? null : new Date(at).toISOString()
    },
  }
}

export type Rollup = ReturnType<typeof createRollup>
