import { createHash } from 'node:crypto'
import type { Database, Queryable } from '../db/index.ts'
import { whereClause } from '../db/database.ts'
import { canonicalJson } from '../catalogue/document.ts'
import { ProblemError } from '../errors/problem-error.ts'

export type ApplicationStatus = 'received' | 'queued' | 'delivering' | 'delivered' | 'decided' | 'failed'

export interface NewApplication {
  id: string
  service: string
  adapter: string
  unit: string
  channel: string
  applicantRegnum: string
  form: Record<string, unknown>
  submittedBy: string
  submittedRole: string
  portal: string | null
}

export interface Application extends NewApplication {
  status: ApplicationStatus
  decision: 'approved' | 'rejected' | null
  agencyReference: string | null
  reason: string | null
  attempts: number
  createdAt: string
  updatedAt: string
}

export interface ApplicationEvent {
  at: string
  status: string
  attempt: number | null
  detail: string | null
}

const COLUMNS = `id, service, adapter, unit, channel, applicant_regnum AS "applicantRegnum", form, submitted_by AS "submittedBy",
  submitted_role AS "submittedRole", portal, status, decision, agency_reference AS "agencyReference", reason, attempts,
  created_at AS "createdAt", updated_at AS "updatedAt"`

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString())
function toApplication (r: Record<string, unknown>): Application {
  return { ...(r as unknown as Application), createdAt: iso(r.createdAt), updatedAt: iso(r.updatedAt) }
}

export interface StoredResponse { status: number, body: unknown, headers: Record<string, string> }

export const IDEMPOTENCY_TTL_DAYS = 7

export function requestHash (body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('base64url')
}

export function createApplicationStore (db: Database) {
  async function event (tx: Queryable, id: string, status: string, attempt: number | null, detail: string | null): Promise<void> {
    await tx.query('INSERT INTO application_events (application_id, status, attempt, detail) VALUES ($1, $2, $3, $4)', [id, status, attempt, detail])
  }

  return {
    // The application, its first event, its outbox row and the idempotency
    // record, in one transaction: a 202 means all of them are durable. A key
    // seen before returns the response stored with it.
    async intake (caller: string, key: string, hash: string, app: NewApplication, respond: (a: Application) => StoredResponse): Promise<{ replay: boolean, response: StoredResponse }> {
      return db.transaction(async (tx) => {
        const claimed = await tx.query(
          `INSERT INTO idempotency_keys (caller, key, request_hash, expires_at) VALUES ($1, $2, $3, now() + interval '${IDEMPOTENCY_TTL_DAYS} days')
           ON CONFLICT (caller, key) DO NOTHING RETURNING key`, [caller, key, hash])
        if (claimed.rowCount === 0) {
          const { rows } = await tx.query<{ request_hash: string, status: number, response: StoredResponse }>(
            'SELECT request_hash, status, response FROM idempotency_keys WHERE caller = $1 AND key = $2', [caller, key])
          const seen = rows[0]!
          if (seen.request_hash !== hash) {
            throw new ProblemError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was already used with a different request; use a new key for a new application')
          }
          return { replay: true, response: seen.response }
        }
        const { rows } = await tx.query<Record<string, unknown>>(
          `INSERT INTO applications (id, service, adapter, unit, channel, applicant_regnum, form, submitted_by, submitted_role, portal, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'received') RETURNING ${COLUMNS}`,
          [app.id, app.service, app.adapter, app.unit, app.channel, app.applicantRegnum, JSON.stringify(app.form), app.submittedBy, app.submittedRole, app.portal])
        await event(tx, app.id, 'received', null, null)
        await tx.query('INSERT INTO application_outbox (application_id) VALUES ($1)', [app.id])
        const response = respond(toApplication(rows[0]!))
        await tx.query('UPDATE idempotency_keys SET status = $1, response = $2 WHERE caller = $3 AND key = $4',
          [response.status, JSON.stringify(response), caller, key])
        return { replay: false, response }
      })
    },

    async get (id: string): Promise<Application | null> {
      const { rows } = await db.query<Record<string, unknown>>(`SELECT ${COLUMNS} FROM applications WHERE id = $1`, [id])
      return rows[0] === undefined ? null : toApplication(rows[0])
    },

    async history (id: string): Promise<ApplicationEvent[]> {
      const { rows } = await db.query<Record<string, unknown>>('SELECT at, status, attempt, detail FROM application_events WHERE application_id = $1 ORDER BY id', [id])
      return rows.map((r) => ({ at: iso(r.at), status: String(r.status), attempt: r.attempt as number | null, detail: r.detail as string | null }))
    },

    async list (filter: { applicant?: string, unit?: string, status?: string, limit: number }): Promise<Application[]> {
      const { where, params } = whereClause([
        ['applicant_regnum = ?', filter.applicant],
        ['unit = ?', filter.unit],
        ['status = ?', filter.status],
      ])
      params.push(filter.limit)
      const { rows } = await db.query<Record<string, unknown>>(
        `SELECT ${COLUMNS} FROM applications ${where} ORDER BY created_at DESC LIMIT $${params.length}`, params)
      return rows.map(toApplication)
    },

    async pendingOutbox (limit: number): Promise<Array<{ id: string, retry: boolean }>> {
      const { rows } = await db.query<{ id: string, retry: boolean }>('SELECT application_id AS id, retry FROM application_outbox ORDER BY created_at LIMIT $1', [limit])
      return rows
    },

    // An admin sends a failed application round again.
    async retry (id: string, actor: string): Promise<boolean> {
      return db.transaction(async (tx) => {
        const { rowCount } = await tx.query("UPDATE applications SET status = 'received', reason = NULL, updated_at = now() WHERE id = $1 AND status = 'failed'", [id])
        if (rowCount === 0) return false
        await tx.query('INSERT INTO application_outbox (application_id, retry) VALUES ($1, true) ON CONFLICT (application_id) DO UPDATE SET retry = true', [id])
        await event(tx, id, 'received', null, `retry requested by ${actor}`)
        return true
      })
    },

    async countPoll (id: string): Promise<number> {
      const { rows } = await db.query<{ polls: number }>('UPDATE applications SET polls = polls + 1 WHERE id = $1 RETURNING polls', [id])
      return rows[0]?.polls ?? 0
    },

    // After the job is in the queue: the row leaves the outbox, the status says so.
    async markQueued (id: string): Promise<void> {
      await db.transaction(async (tx) => {
        const gone = await tx.query('DELETE FROM application_outbox WHERE application_id = $1', [id])
        if (gone.rowCount === 0) return
        await tx.query("UPDATE applications SET status = 'queued', updated_at = now() WHERE id = $1 AND status = 'received'", [id])
        await event(tx, id, 'queued', null, null)
      })
    },

    async transition (id: string, status: ApplicationStatus, fields: { attempt?: number, detail?: string | null, agencyReference?: string, reason?: string, decision?: 'approved' | 'rejected' }): Promise<void> {
      await db.transaction(async (tx) => {
        await tx.query(`UPDATE applications SET status = $2, updated_at = now(),
          attempts = GREATEST(attempts, COALESCE($3, attempts)),
          agency_reference = COALESCE($4, agency_reference), reason = COALESCE($5, reason), decision = COALESCE($6, decision)
          WHERE id = $1`, [id, status, fields.attempt ?? null, fields.agencyReference ?? null, fields.reason ?? null, fields.decision ?? null])
        await event(tx, id, status, fields.attempt ?? null, fields.detail ?? fields.reason ?? null)
      })
    },
  }
}

export type ApplicationStore = ReturnType<typeof createApplicationStore>
