import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { requestHash } from '../../src/applications/store.ts'
import { ROLLUP_TABLES } from '../../src/stats/rollup.ts'

// Writes application histories through the store's own functions, then moves
// each step's events to the time the test says, so periods and durations are
// known in advance.

// A gateway whose own relay, worker, reconciler and fold stay still, so the
// test is the only writer and folds when it says.
export const QUIET_ENV: Readonly<Record<string, string>> = { STATS_FOLD_INTERVAL_MS: '0', WORKER: 'off', RECONCILE_INTERVAL_MS: '0', OUTBOX_POLL_MS: '3600000' }

export interface Step {
  at: string
  status: 'queued' | 'delivering' | 'retry_later' | 'delivered' | 'approved' | 'rejected' | 'failed' | 'retried'
}

export interface HistorySpec {
  service: string
  unit: string
  channel: 'oss_counter' | 'mobile_oss' | 'online'
  regnum: string
  at: string
  steps?: Step[]
}

export function historyKit (app: FastifyInstance) {
  const store = app.applications.store
  const db = app.db

  async function stamp (id: string, after: number, at: string): Promise<void> {
    await db.query('UPDATE application_events SET at = $3 WHERE application_id = $1 AND id > $2', [id, after, at])
  }

  async function lastEvent (): Promise<number> {
    const { rows } = await db.query<{ n: string | null }>('SELECT max(id)::text AS n FROM application_events')
    return Number(rows[0]?.n ?? 0)
  }

  return {
    async add (spec: HistorySpec): Promise<string> {
      const id = randomUUID()
      const before = await lastEvent()
      const app0 = {
        id, service: spec.service, adapter: `${spec.service}.submit`, unit: spec.unit, channel: spec.channel, applicantRegnum: spec.regnum, form: {},
        submittedBy: 'officer-test', submittedRole: 'officer', portal: null, packageId: null,
      }
      await store.intake('history', id, requestHash(app0), app0, () => ({ status: 202, body: {}, headers: {} }))
      await db.query('UPDATE applications SET created_at = $2, updated_at = $2 WHERE id = $1', [id, spec.at])
      await stamp(id, before, spec.at)
      let attempt = 0
      for (const step of spec.steps ?? []) {
        const mark = await lastEvent()
        switch (step.status) {
          case 'queued': await store.markQueued([id], 60_000); break
          case 'delivering': attempt++; await store.startAttempt(id, 60_000); break
          case 'retry_later': await store.transition(id, 'queued', { from: ['delivering'], attempt, counted: true, detail: 'will retry', dueInMs: 60_000 }); break
          case 'delivered': await store.transition(id, 'delivered', { from: ['delivering'], attempt, agencyReference: `REF-${id.slice(0, 6)}`, dueInMs: 60_000 }); break
          case 'approved': await store.transition(id, 'decided', { from: ['delivered'], decision: 'approved' }); break
          case 'rejected': await store.transition(id, 'decided', { from: ['delivered'], decision: 'rejected', reason: 'not eligible' }); break
          case 'failed': await store.transition(id, 'failed', { from: ['delivering'], attempt, counted: true, reason: 'dead-lettered' }); break
          case 'retried': await store.retry(id, 'admin-test'); break
        }
        await stamp(id, mark, step.at)
      }
      return id
    },

    async lookup (entry: { at: string, unit: string | null, agency: string | null, purpose: string, result: string }): Promise<void> {
      await app.audit.append({
        recordType: 'citizen_lookup', at: entry.at, requestId: randomUUID(), actor: 'officer-test', actorUnit: entry.unit, actorAgency: entry.agency,
        purpose: entry.purpose, caseRef: 'CASE-1', citizen: 'УБ90051223', sourcesAsked: ['civil'], sourcesAnswered: entry.result === 'ok' ? ['civil'] : [],
        result: entry.result, clientIp: null, details: null,
      })
    },
  }
}

// Every roll-up table, sorted, for comparing two states.
export async function rollupTables (app: FastifyInstance): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {}
  for (const table of ROLLUP_TABLES) {
    const { rows } = await app.db.query(`SELECT * FROM ${table}`)
    out[table] = rows.map((r) => JSON.stringify(r, (_, v) => (v instanceof Date ? v.toISOString() : v))).sort()
  }
  return out
}

// Figures computed straight from the raw tables, for the whole country.
export async function rawFigures (app: FastifyInstance) {
  const local = "to_char((e.at AT TIME ZONE 'UTC') + interval '8 hours', 'YYYY-MM-01')"
  const flow = await app.db.query(`
    WITH ev AS (SELECT *, lag(status) OVER (PARTITION BY application_id ORDER BY id) AS prev FROM application_events)
    SELECT ${local} AS period, a.service, a.channel,
      count(*) FILTER (WHERE e.status = 'received' AND e.detail IS NULL)::int AS received,
      count(*) FILTER (WHERE e.status NOT IN ('decided', 'failed') AND e.prev IN ('decided', 'failed'))::int AS retried,
      count(*) FILTER (WHERE e.status = 'delivered')::int AS delivered,
      count(*) FILTER (WHERE e.status = 'decided')::int AS decided,
      count(*) FILTER (WHERE e.status = 'decided' AND a.decision = 'approved')::int AS approved,
      count(*) FILTER (WHERE e.status = 'decided' AND a.decision = 'rejected')::int AS rejected,
      count(*) FILTER (WHERE e.status = 'failed')::int AS failed
    FROM ev e JOIN applications a ON a.id = e.application_id WHERE a.package_id IS NULL GROUP BY 1, 2, 3`)
  const delivery = await app.db.query(`
    SELECT ${local} AS period, a.service,
      count(*) FILTER (WHERE e.status = 'delivering')::int AS attempts,
      count(*) FILTER (WHERE e.status = 'delivered')::int AS delivered,
      count(*) FILTER (WHERE e.status = 'failed')::int AS dead_lettered
    FROM application_events e JOIN applications a ON a.id = e.application_id WHERE a.adapter IS NOT NULL GROUP BY 1, 2`)
  const open = await app.db.query("SELECT service, count(*)::int AS open FROM applications WHERE package_id IS NULL AND status NOT IN ('decided', 'failed') GROUP BY 1")
  const persons = await app.db.query(`
    SELECT ${local} AS period, count(DISTINCT a.applicant_regnum)::int AS n
    FROM application_events e JOIN applications a ON a.id = e.application_id
    WHERE a.package_id IS NULL AND e.status = 'received' AND e.detail IS NULL GROUP BY 1`)
  // Groups with nothing to count have no roll-up row.
  const some = (rows: Array<Record<string, unknown>>) => rows.filter((r) => Object.entries(r).some(([c, v]) => c !== 'period' && typeof v === 'number' && v !== 0))
  return { flow: some(flow.rows), delivery: some(delivery.rows), open: open.rows, persons: persons.rows }
}

// The same figures from the roll-ups.
export async function foldedFigures (app: FastifyInstance) {
  const keep = (rows: Array<Record<string, unknown>>, zero: string[]) => rows.filter((r) => zero.some((k) => Number(r[k]) !== 0))
  const flow = await app.db.query(`SELECT period::text, service, channel, received, retried, delivered, decided, approved, rejected, failed
    FROM stats_flow WHERE grain = 'month' AND unit = '' AND service <> ''`)
  const delivery = await app.db.query("SELECT period::text, service, attempts, delivered, dead_lettered FROM stats_delivery WHERE grain = 'month'")
  const open = await app.db.query("SELECT service, sum(open)::int AS open FROM stats_backlog WHERE unit = '' GROUP BY 1 HAVING sum(open) <> 0")
  const persons = await app.db.query("SELECT period::text, sum(n)::int AS n FROM stats_persons WHERE grain = 'month' AND unit = '' GROUP BY 1")
  return {
    flow: keep(flow.rows, ['received', 'retried', 'delivered', 'decided', 'approved', 'rejected', 'failed']),
    delivery: keep(delivery.rows, ['attempts', 'delivered', 'dead_lettered']),
    open: open.rows,
    persons: persons.rows,
  }
}

export const sorted = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).sort()
