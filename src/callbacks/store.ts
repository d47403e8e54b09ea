import type { Database } from '../db/index.ts'
import { isoTime } from '../db/database.ts'

// Where each portal wants its status callbacks, and the status changes still
// to be sent. The body says what changed, by ids only: the portal knows its
// applicant, and nothing personal travels in a callback.

export interface PortalCallback { portal: string, url: string, updatedBy: string, updatedAt: string }

export interface StatusChange {
  type: 'application.status'
  // Increases with every change: a portal orders callbacks by it, and drops repeats.
  eventId: number
  applicationId: string
  packageId: string | null
  service: string
  status: string
  decision: string | null
  agencyReference: string | null
  reason: string | null
  attempt: number | null
  at: string
}

const CALLBACK_COLUMNS = 'portal, url, updated_by AS "updatedBy", updated_at AS "updatedAt"'
const toCallback = (r: Record<string, unknown>): PortalCallback => ({ ...(r as unknown as PortalCallback), updatedAt: isoTime(r.updatedAt) })

export function createCallbackStore (db: Database) {
  return {
    async set (portal: string, url: string, actor: string): Promise<PortalCallback> {
      const { rows } = await db.query<Record<string, unknown>>(
        `INSERT INTO portal_callbacks (portal, url, updated_by) VALUES ($1, $2, $3)
         ON CONFLICT (portal) DO UPDATE SET url = $2, updated_by = $3, updated_at = now()
         RETURNING ${CALLBACK_COLUMNS}`, [portal, url, actor])
      return toCallback(rows[0]!)
    },

    async get (portal: string): Promise<PortalCallback | null> {
      const { rows } = await db.query<Record<string, unknown>>(`SELECT ${CALLBACK_COLUMNS} FROM portal_callbacks WHERE portal = $1`, [portal])
      return rows[0] === undefined ? null : toCallback(rows[0])
    },

    async remove (portal: string): Promise<boolean> {
      return ((await db.query('DELETE FROM portal_callbacks WHERE portal = $1', [portal])).rowCount ?? 0) > 0
    },

    // Changes to send that are not yet queued.
    async pending (limit: number): Promise<number[]> {
      const { rows } = await db.query<{ id: string }>('SELECT id FROM application_events WHERE notify AND notify_due_at IS NULL ORDER BY id LIMIT $1', [limit])
      return rows.map((r) => Number(r.id))
    },

    // Queued: they stay `notify` until settled; the reconciler looks for
    // their job if they are still unsettled `dueInMs` from now.
    async markQueued (ids: number[], dueInMs: number): Promise<void> {
      await db.query("UPDATE application_events SET notify_due_at = now() + ($2::float8 * interval '1 millisecond') WHERE id = ANY($1::bigint[])", [ids, dueInMs])
    },

    // Sent, refused for good, or with nowhere to go: nothing more to do.
    async settle (eventId: number): Promise<void> {
      await db.query('UPDATE application_events SET notify = false, notify_due_at = NULL WHERE id = $1', [eventId])
    },

    async unsettled (eventId: number): Promise<boolean> {
      const { rows } = await db.query<{ notify: boolean }>('SELECT notify FROM application_events WHERE id = $1', [eventId])
      return rows[0]?.notify === true
    },

    // The reconciler's share of unsettled callbacks past their due time,
    // claimed by moving it on (see ApplicationStore.claimOverdue).
    async claimOverdue (limit: number, dueInMs: number): Promise<number[]> {
      const { rows } = await db.query<{ id: string }>(
        `WITH due AS (
           SELECT id FROM application_events WHERE notify AND notify_due_at <= now() ORDER BY notify_due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         UPDATE application_events e SET notify_due_at = now() + ($2::float8 * interval '1 millisecond') FROM due WHERE e.id = due.id RETURNING e.id`, [limit, dueInMs])
      return rows.map((r) => Number(r.id))
    },

    // Redis forgot everything: every queued, unsettled callback is due now.
    async allDueNow (): Promise<number> {
      const { rowCount } = await db.query('UPDATE application_events SET notify_due_at = now() WHERE notify AND notify_due_at > now()')
      return rowCount
    },

    // The change and where it goes; null when the portal has no callback.
    async change (eventId: number): Promise<{ url: string, portal: string, body: StatusChange } | null> {
      const { rows } = await db.query<Record<string, unknown>>(
        `SELECT c.url, c.portal, e.id, e.at, e.status, e.attempt, a.id AS "applicationId", a.package_id AS "packageId", a.service,
           a.decision, a.agency_reference AS "agencyReference", a.reason
         FROM application_events e JOIN applications a ON a.id = e.application_id JOIN portal_callbacks c ON c.portal = a.portal
         WHERE e.id = $1`, [eventId])
      const r = rows[0]
      if (r === undefined) return null
      const final = r.status === 'decided' || r.status === 'failed' || r.status === 'delivered'
      return {
        url: String(r.url),
        portal: String(r.portal),
        body: {
          type: 'application.status',
          eventId: Number(r.id),
          applicationId: String(r.applicationId),
          packageId: (r.packageId as string | null) ?? null,
          service: String(r.service),
          status: String(r.status),
          // The application's current outcome, once it has one.
          decision: r.status === 'decided' ? (r.decision as string | null) : null,
          agencyReference: final ? (r.agencyReference as string | null) : null,
          reason: r.status === 'failed' || r.status === 'decided' ? (r.reason as string | null) : null,
          attempt: (r.attempt as number | null) ?? null,
          at: isoTime(r.at),
        },
      }
    },
  }
}

export type CallbackStore = ReturnType<typeof createCallbackStore>
