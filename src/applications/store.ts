import { createHash } from 'node:crypto'
import type { Database, Queryable } from '../db/index.ts'
import { isoTime, storeOutageOf, whereClause } from '../db/database.ts'
import { createGrouper } from '../db/grouper.ts'
import { canonicalJson } from '../catalogue/document.ts'
import { ProblemError } from '../errors/problem-error.ts'

export type ApplicationStatus = 'received' | 'queued' | 'delivering' | 'delivered' | 'decided' | 'failed'

export interface NewApplication {
  id: string
  service: string
  // null for a package: its parts are delivered, each by its own adapter.
  adapter: string | null
  unit: string
  channel: string
  applicantRegnum: string
  form: Record<string, unknown>
  submittedBy: string
  submittedRole: string
  portal: string | null
  packageId: string | null
}

export interface Application extends NewApplication {
  status: ApplicationStatus
  decision: 'approved' | 'rejected' | null
  agencyReference: string | null
  reason: string | null
  // The agency's reason in Mongolian, when it gave one (`reason` is English).
  reasonMn: string | null
  // What the agency gave on approval, as its status service's result schema defines it.
  result: Record<string, unknown> | null
  attempts: number
  // Attempts counted against this round's budget (see migration 0009).
  roundAttempts: number
  createdAt: string
  updatedAt: string
}

// An application the reconciler found overdue: enough to find its job.
export interface OverdueApplication {
  id: string
  status: ApplicationStatus
  adapter: string | null
  polls: number
  roundAttempts: number
}

// Statuses in which an application is still on its way to the agency.
export const ON_THE_WAY: readonly ApplicationStatus[] = ['received', 'queued', 'delivering']

export interface ApplicationEvent {
  at: string
  status: string
  attempt: number | null
  detail: string | null
}

const COLUMNS = `id, service, adapter, unit, channel, applicant_regnum AS "applicantRegnum", form, submitted_by AS "submittedBy",
  submitted_role AS "submittedRole", portal, status, decision, agency_reference AS "agencyReference", reason, reason_mn AS "reasonMn", result, attempts,
  round_attempts AS "roundAttempts", created_at AS "createdAt", updated_at AS "updatedAt", package_id AS "packageId"`

// `due_at` this many milliseconds from now ($n a number of milliseconds).
const dueIn = (param: string) => `now() + (${param}::float8 * interval '1 millisecond')`

function toApplication (r: Record<string, unknown>): Application {
  return { ...(r as unknown as Application), createdAt: isoTime(r.createdAt), updatedAt: isoTime(r.updatedAt) }
}

export interface StoredResponse { status: number, body: unknown, headers: Record<string, string> }

export const IDEMPOTENCY_TTL_DAYS = 7

export function requestHash (body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('base64url')
}

// A package's status follows its parts: delivered when all are delivered or
// decided, failed when the others are settled and at least one failed.
export function packageStatus (parts: Array<{ status: ApplicationStatus }>): ApplicationStatus {
  const n = (s: ApplicationStatus) => parts.filter((p) => p.status === s).length
  if (n('decided') === parts.length) return 'decided'
  if (n('delivered') + n('decided') === parts.length) return 'delivered'
  if (n('failed') > 0 && n('failed') + n('delivered') + n('decided') === parts.length) return 'failed'
  if (n('delivering') > 0) return 'delivering'
  if (n('received') === parts.length) return 'received'
  return 'queued'
}

// An event's `notify`, from its application's row: a change of a portal's
// application is also a callback to send (see src/callbacks/).
const NOTIFY = 'portal IS NOT NULL'

interface PlainIntake {
  caller: string
  key: string
  hash: string
  app: NewApplication
  createdAt: string
  response: StoredResponse
}

interface TransitionRow {
  id: string
  status: ApplicationStatus
  attempt: number | null
  agencyReference: string | null
  reason: string | null
  decision: string | null
  detail: string | null
  // The statuses it may move from, comma-separated (unnest takes no ragged arrays).
  from: string
  counted: number
  due: number | null
  reasonMn: string | null
  result: string | null
}

const DELIVERY_GROUP_MAX = 100
// Each row moves only from one of its `from` statuses; an event for each that moved.
const TRANSITION_GROUP_SQL = `WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::float8[],
      $11::text[], $12::jsonb[], $13::int[])
      AS i (id, status, attempt, agency_reference, reason, decision, detail, from_statuses, counted, due_ms, reason_mn, result, n)),
  changed AS (
    UPDATE applications a SET status = i.status, updated_at = now(),
      attempts = GREATEST(a.attempts, COALESCE(i.attempt, a.attempts)),
      agency_reference = COALESCE(i.agency_reference, a.agency_reference), reason = COALESCE(i.reason, a.reason), decision = COALESCE(i.decision, a.decision),
      round_attempts = a.round_attempts + i.counted,
      due_at = CASE WHEN i.due_ms IS NULL THEN NULL ELSE ${dueIn('i.due_ms')} END,
      reason_mn = COALESCE(i.reason_mn, a.reason_mn), result = COALESCE(i.result, a.result)
    FROM input i WHERE a.id = i.id AND a.status = ANY(string_to_array(i.from_statuses, ','))
    RETURNING a.id, a.package_id, a.portal, i.status AS new_status, i.attempt, i.detail, i.n),
  event AS (
    INSERT INTO application_events (application_id, status, attempt, detail, notify)
    SELECT id, new_status, attempt, detail, ${NOTIFY} FROM changed ORDER BY n)
  SELECT n, package_id FROM changed`

// startAttempt for many: rows locked in id order, so groups running side by
// side cannot deadlock.
const START_ATTEMPT_GROUP_SQL = `WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::float8[], $3::int[]) AS i (id, due_ms, n)),
  prev AS (
    SELECT a.id AS pid, a.status AS was, i.due_ms, i.n FROM applications a JOIN input i ON a.id = i.id
    WHERE a.adapter IS NOT NULL AND a.status IN ('received', 'queued', 'delivering') ORDER BY a.id FOR UPDATE OF a),
  taken AS (
    UPDATE applications SET status = 'delivering', attempts = attempts + 1, updated_at = now(),
      round_attempts = round_attempts + (prev.was = 'delivering')::int, due_at = ${dueIn('prev.due_ms')}
    FROM prev WHERE id = prev.pid RETURNING ${COLUMNS}, prev.was, prev.n),
  event AS (
    INSERT INTO application_events (application_id, status, attempt, detail, notify)
    SELECT id, e.status, e.attempt, e.detail, ${NOTIFY} FROM taken CROSS JOIN LATERAL (VALUES
      (1, 'queued', NULL::int, NULL::text),
      (2, 'delivering', attempts, CASE WHEN was = 'delivering' THEN 'the attempt before ended with no outcome; it counts' END)
    ) AS e (k, status, attempt, detail)
    WHERE e.k = 2 OR was = 'received' ORDER BY taken.n, e.k)
  SELECT * FROM taken`

const INTAKE_GROUP_MAX = 200
// Arrays, one per column, so the statement's text is the same for any group.
const INTAKE_GROUP_SQL = `WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::jsonb[], $6::uuid[], $7::text[], $8::text[], $9::text[], $10::text[],
      $11::text[], $12::jsonb[], $13::text[], $14::text[], $15::text[], $16::timestamptz[])
      AS i (caller, key, request_hash, status, response, id, service, adapter, unit, channel, applicant_regnum, form, submitted_by, submitted_role, portal, created_at)),
  claim AS (
    INSERT INTO idempotency_keys (caller, key, request_hash, status, response, expires_at)
    SELECT caller, key, request_hash, status, response, now() + interval '${IDEMPOTENCY_TTL_DAYS} days' FROM input
    ON CONFLICT (caller, key) DO NOTHING RETURNING caller, key),
  app AS (
    INSERT INTO applications (id, service, adapter, unit, channel, applicant_regnum, form, submitted_by, submitted_role, portal, package_id, status, created_at, updated_at)
    SELECT i.id, i.service, i.adapter, i.unit, i.channel, i.applicant_regnum, i.form, i.submitted_by, i.submitted_role, i.portal, NULL, 'received', i.created_at, i.created_at
    FROM input i JOIN claim c ON c.caller = i.caller AND c.key = i.key RETURNING id, portal, created_at),
  event AS (INSERT INTO application_events (application_id, at, status, notify) SELECT id, created_at, 'received', ${NOTIFY} FROM app),
  outbox AS (INSERT INTO application_outbox (application_id) SELECT id FROM app)
  SELECT caller, key FROM claim`

export function createApplicationStore (db: Database) {
  async function event (tx: Queryable, id: string, status: string, attempt: number | null, detail: string | null): Promise<void> {
    await tx.query(`INSERT INTO application_events (application_id, status, attempt, detail, notify)
      SELECT $1, $2, $3, $4, ${NOTIFY} FROM applications WHERE id = $1`, [id, status, attempt, detail])
  }

  async function insert (tx: Queryable, app: NewApplication, createdAt: string): Promise<void> {
    await tx.query(
      `INSERT INTO applications (id, service, adapter, unit, channel, applicant_regnum, form, submitted_by, submitted_role, portal, package_id, status, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'received', $12, $12)`,
      [app.id, app.service, app.adapter, app.unit, app.channel, app.applicantRegnum, JSON.stringify(app.form), app.submittedBy, app.submittedRole, app.portal, app.packageId, createdAt])
    await event(tx, app.id, 'received', null, null)
  }

  // The answer first given for this key, or 422 when the key came with another request.
  async function replayOf (q: Queryable, caller: string, key: string, hash: string): Promise<StoredResponse> {
    const { rows } = await q.query<{ request_hash: string, response: StoredResponse }>(
      'SELECT request_hash, response FROM idempotency_keys WHERE caller = $1 AND key = $2', [caller, key])
    const seen = rows[0]!
    if (seen.request_hash !== hash) {
      throw new ProblemError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was already used with a different request; use a new key for a new application')
    }
    return seen.response
  }

  // Brings a package in line with its parts, under a lock on the package row
  // (taken after the part's, always in that order). Returns its status.
  async function settle (tx: Queryable, packageId: string): Promise<ApplicationStatus> {
    const { rows: [pkg] } = await tx.query<{ status: ApplicationStatus }>('SELECT status FROM applications WHERE id = $1 FOR UPDATE', [packageId])
    const { rows: parts } = await tx.query<{ service: string, status: ApplicationStatus, decision: string | null, reason: string | null, attempts: number }>(
      'SELECT service, status, decision, reason, attempts FROM applications WHERE package_id = $1 ORDER BY service', [packageId])
    const status = packageStatus(parts)
    if (pkg === undefined || pkg.status === status) return status
    const failed = parts.filter((p) => p.status === 'failed')
    const decisions = new Set(parts.map((p) => p.decision))
    const reason = status === 'failed' ? `${failed.length} of ${parts.length} parts failed: ${failed.map((p) => `${p.service} (${p.reason ?? 'no reason given'})`).join('; ')}` : null
    const decision = status === 'decided' && decisions.size === 1 ? [...decisions][0] ?? null : null
    // Once settled, a package has nothing left on its way: its parts poll
    // for their own decisions.
    await tx.query(`UPDATE applications SET status = $2, reason = $3, decision = $4, updated_at = now(),
      due_at = CASE WHEN $2 IN ('delivered', 'decided', 'failed') THEN NULL ELSE due_at END,
      attempts = (SELECT COALESCE(max(attempts), 0) FROM applications WHERE package_id = $1) WHERE id = $1`, [packageId, status, reason, decision])
    const summary = ['received', 'queued', 'delivering', 'delivered', 'decided', 'failed']
      .map((s) => [s, parts.filter((p) => p.status === s).length] as const).filter(([, k]) => k > 0).map(([s, k]) => `${k} ${s}`).join(', ')
    await event(tx, packageId, status, null, `parts: ${summary}`)
    return status
  }

  // After a part changed, in a transaction of its own; were that lost to a
  // crash, the package's flow parent or the reconciler settles it.
  async function followPackage (packageId: string | null | undefined): Promise<void> {
    if (packageId !== null && packageId !== undefined) await db.transaction((tx) => settle(tx, packageId))
  }

  // Deliveries finishing together (a worker runs many at once) move their
  // applications on in one statement, as intake does (src/db/grouper.ts).
  const isolate = (err: unknown) => storeOutageOf(err) === undefined
  const transitions = createGrouper<TransitionRow, { packageId: string | null } | false>({
    maxGroup: DELIVERY_GROUP_MAX,
    identity: (t) => t.id,
    async write (group) {
      const col = <T>(f: (t: TransitionRow) => T) => group.map(f)
      const { rows } = await db.query<{ n: number, package_id: string | null }>(TRANSITION_GROUP_SQL, [
        col((t) => t.id), col((t) => t.status), col((t) => t.attempt), col((t) => t.agencyReference), col((t) => t.reason), col((t) => t.decision),
        col((t) => t.detail), col((t) => t.from), col((t) => t.counted), col((t) => t.due), col((t) => t.reasonMn), col((t) => t.result), group.map((_t, n) => n),
      ])
      const changed = new Map(rows.map((r) => [Number(r.n), r.package_id]))
      return group.map((_t, n) => changed.has(n) ? { packageId: changed.get(n) ?? null } : false)
    },
    isolate,
  })
  const attempts = createGrouper<{ id: string, dueInMs: number }, Application | null>({
    maxGroup: DELIVERY_GROUP_MAX,
    identity: (a) => a.id,
    async write (group) {
      const { rows } = await db.query<Record<string, unknown>>(START_ATTEMPT_GROUP_SQL, [group.map((a) => a.id), group.map((a) => a.dueInMs), group.map((_a, n) => n)])
      const taken = new Map(rows.map((r) => [Number(r.n), toApplication(r)]))
      return group.map((_a, n) => taken.get(n) ?? null)
    },
    isolate,
  })

  // Plain applications that arrive together are written together: one
  // statement (and one commit) for all of them, each claimed only if its
  // idempotency key was new. A key twice in one group would insert twice, so
  // a repeat waits for the next group; a group that fails for anything but
  // the store being away is written again one application at a time, so one
  // bad row cannot fail its neighbours.
  const intakeGroups = createGrouper<PlainIntake, boolean>({
    maxGroup: INTAKE_GROUP_MAX,
    identity: (e) => `${e.caller}\n${e.key}`,
    async write (group) {
      const col = <T>(f: (e: PlainIntake) => T) => group.map(f)
      const { rows } = await db.query<{ caller: string, key: string }>(INTAKE_GROUP_SQL, [
        col((e) => e.caller), col((e) => e.key), col((e) => e.hash), col((e) => e.response.status), col((e) => JSON.stringify(e.response)),
        col((e) => e.app.id), col((e) => e.app.service), col((e) => e.app.adapter), col((e) => e.app.unit), col((e) => e.app.channel),
        col((e) => e.app.applicantRegnum), col((e) => JSON.stringify(e.app.form)), col((e) => e.app.submittedBy), col((e) => e.app.submittedRole),
        col((e) => e.app.portal), col((e) => e.createdAt),
      ])
      const claimed = new Set(rows.map((r) => `${r.caller}\n${r.key}`))
      return group.map((e) => claimed.has(`${e.caller}\n${e.key}`))
    },
    isolate: (err) => storeOutageOf(err) === undefined,
  })

  return {
    // The application, its first event, its outbox row and the idempotency
    // record, atomically: a 202 means all of them are durable, and a key seen
    // before returns the response stored with it. The response is made before
    // the insert (the row is fully known: its times are ours), so plain
    // applications are one statement, with those that arrived alongside; a
    // package and its parts are one transaction.
    async intake (caller: string, key: string, hash: string, app: NewApplication, respond: (a: Application) => StoredResponse, parts: NewApplication[] = []): Promise<{ replay: boolean, response: StoredResponse }> {
      const createdAt = new Date().toISOString()
      const response = respond({ ...app, status: 'received', decision: null, agencyReference: null, reason: null, reasonMn: null, result: null, attempts: 0, roundAttempts: 0, createdAt, updatedAt: createdAt })
      if (parts.length === 0) {
        const claimed = await intakeGroups.add({ caller, key, hash, app, createdAt, response })
        return claimed ? { replay: false, response } : { replay: true, response: await replayOf(db, caller, key, hash) }
      }
      return db.transaction(async (tx) => {
        const claimed = await tx.query(`INSERT INTO idempotency_keys (caller, key, request_hash, status, response, expires_at)
          VALUES ($1, $2, $3, $4, $5, now() + interval '${IDEMPOTENCY_TTL_DAYS} days') ON CONFLICT (caller, key) DO NOTHING RETURNING key`,
        [caller, key, hash, response.status, JSON.stringify(response)])
        if (claimed.rowCount === 0) return { replay: true, response: await replayOf(tx, caller, key, hash) }
        await insert(tx, app, createdAt)
        for (const part of parts) await insert(tx, { ...part, packageId: app.id }, createdAt)
        await tx.query('INSERT INTO application_outbox (application_id) VALUES ($1)', [app.id])
        return { replay: false, response }
      })
    },

    async get (id: string): Promise<Application | null> {
      const { rows } = await db.query<Record<string, unknown>>(`SELECT ${COLUMNS} FROM applications WHERE id = $1`, [id])
      return rows[0] === undefined ? null : toApplication(rows[0])
    },

    async history (id: string): Promise<ApplicationEvent[]> {
      const { rows } = await db.query<Record<string, unknown>>('SELECT at, status, attempt, detail FROM application_events WHERE application_id = $1 ORDER BY id', [id])
      return rows.map((r) => ({ at: isoTime(r.at), status: String(r.status), attempt: r.attempt as number | null, detail: r.detail as string | null }))
    },

    async parts (packageId: string): Promise<Application[]> {
      const { rows } = await db.query<Record<string, unknown>>(`SELECT ${COLUMNS} FROM applications WHERE package_id = $1 ORDER BY service`, [packageId])
      return rows.map(toApplication)
    },

    // topLevel leaves out the parts of packages (they show inside their package).
    async list (filter: { applicant?: string, unit?: string, unitWithin?: string, status?: string, topLevel?: boolean, limit: number }): Promise<Application[]> {
      const { where, params } = whereClause([
        ['applicant_regnum = ?', filter.applicant],
        ['unit = ?', filter.unit],
        // A unit and every unit beneath it: codes are hierarchical prefixes (digits only).
        ['unit LIKE ?', filter.unitWithin === undefined ? undefined : `${filter.unitWithin}%`],
        ['status = ?', filter.status],
        ['(package_id IS NULL) = ?', filter.topLevel],
      ])
      params.push(filter.limit)
      const { rows } = await db.query<Record<string, unknown>>(
        `SELECT ${COLUMNS} FROM applications ${where} ORDER BY created_at DESC LIMIT $${params.length}`, params)
      return rows.map(toApplication)
    },

    async pendingOutbox (limit: number): Promise<OutboxRow[]> {
      const { rows } = await db.query<OutboxRow>(
        `SELECT o.application_id AS id, o.retry, a.adapter,
           CASE WHEN a.adapter IS NULL THEN ARRAY(
             SELECT json_build_object('id', p.id, 'adapter', p.adapter) FROM applications p WHERE p.package_id = a.id ORDER BY p.service) END AS parts
         FROM application_outbox o JOIN applications a ON a.id = o.application_id ORDER BY o.created_at LIMIT $1`, [limit])
      return rows
    },

    // An admin sends a failed application round again, with a new attempt
    // budget. For a package, its failed parts go again and the parts already
    // delivered are left alone.
    async retry (id: string, actor: string): Promise<boolean> {
      return db.transaction(async (tx) => {
        const { rows: failedParts } = await tx.query<{ id: string }>("SELECT id FROM applications WHERE package_id = $1 AND status = 'failed' ORDER BY id FOR UPDATE", [id])
        const ids = failedParts.length > 0 ? failedParts.map((r) => r.id) : [id]
        const { rows } = await tx.query<{ id: string, package_id: string | null }>(
          `UPDATE applications SET status = 'received', reason = NULL, reason_mn = NULL, round_attempts = 0, due_at = NULL, updated_at = now()
           WHERE id = ANY($1::uuid[]) AND status = 'failed' AND adapter IS NOT NULL RETURNING id, package_id`,
          [ids])
        if (rows.length === 0) return false
        for (const r of rows) {
          await tx.query('INSERT INTO application_outbox (application_id, retry) VALUES ($1, true) ON CONFLICT (application_id) DO UPDATE SET retry = true', [r.id])
          await event(tx, r.id, 'received', null, `retry requested by ${actor}`)
        }
        const pkg = rows[0]!.package_id
        if (pkg !== null) await settle(tx, pkg)
        return true
      })
    },

    // A job of a failed application ran again: an operator retried it from
    // the queue dashboard (the gateway fails the job when it gives up). That
    // is a new round, as an admin's retry is. Returns whether it reopened.
    async reopen (id: string, actor: string): Promise<boolean> {
      const { rows } = await db.query<{ package_id: string | null }>(
        `WITH changed AS (
           UPDATE applications SET status = 'received', reason = NULL, reason_mn = NULL, round_attempts = 0, due_at = NULL, updated_at = now()
           WHERE id = $1 AND status = 'failed' AND adapter IS NOT NULL RETURNING id, package_id, portal)
         INSERT INTO application_events (application_id, status, detail, notify)
         SELECT id, 'received', $2, ${NOTIFY} FROM changed RETURNING (SELECT package_id FROM changed)`, [id, `retry requested by ${actor}`])
      if (rows.length === 0) return false
      await followPackage(rows[0]!.package_id)
      return true
    },

    async settlePackage (id: string): Promise<ApplicationStatus> {
      return db.transaction((tx) => settle(tx, id))
    },

    async countPoll (id: string): Promise<number> {
      const { rows } = await db.query<{ polls: number }>('UPDATE applications SET polls = polls + 1 WHERE id = $1 RETURNING polls', [id])
      return rows[0]?.polls ?? 0
    },

    // When the reconciler should next look for this application's job; null
    // when nothing more is on its way.
    async setDue (id: string, dueInMs: number | null): Promise<void> {
      await db.query(`UPDATE applications SET due_at = CASE WHEN $2::float8 IS NULL THEN NULL ELSE ${dueIn('$2')} END WHERE id = $1`, [id, dueInMs])
    },

    // After their jobs are in the queue: the rows leave the outbox and the
    // applications (a package's parts with it) say so, in one statement; the
    // reconciler looks for their jobs if nothing happens by `dueInMs`.
    async markQueued (ids: string[], dueInMs: number): Promise<void> {
      const { rows } = await db.query<{ package_id: string }>(
        `WITH gone AS (DELETE FROM application_outbox WHERE application_id = ANY($1::uuid[]) RETURNING application_id),
         own AS (
           UPDATE applications SET status = 'queued', updated_at = now(), due_at = ${dueIn('$2')}
           WHERE id IN (SELECT application_id FROM gone) AND status = 'received' AND adapter IS NOT NULL RETURNING id, package_id, portal),
         pkg AS (
           UPDATE applications SET due_at = ${dueIn('$2')} WHERE id IN (SELECT application_id FROM gone) AND adapter IS NULL),
         parts AS (
           UPDATE applications SET status = 'queued', updated_at = now(), due_at = ${dueIn('$2')}
           WHERE package_id IN (SELECT application_id FROM gone) AND status = 'received' RETURNING id, package_id, portal),
         queued AS (SELECT * FROM own UNION ALL SELECT * FROM parts),
         event AS (INSERT INTO application_events (application_id, status, notify) SELECT id, 'queued', ${NOTIFY} FROM queued)
         SELECT DISTINCT package_id FROM queued WHERE package_id IS NOT NULL`, [ids, dueInMs])
      for (const r of rows) await followPackage(r.package_id)
    },

    // The change and its event in one statement, only from the statuses in
    // `from` (so a delivery finished twice, by a worker that lost its lock and
    // the one that took over, is recorded once); a part's package follows.
    // `dueInMs` sets when the reconciler looks next; failed and decided
    // applications have nothing on its way. Returns whether it changed.
    async transition (id: string, status: ApplicationStatus, fields: {
      from: readonly ApplicationStatus[]
      attempt?: number
      detail?: string | null
      agencyReference?: string
      reason?: string
      reasonMn?: string
      result?: Record<string, unknown>
      decision?: 'approved' | 'rejected'
      // This attempt counts against the round's budget.
      counted?: boolean
      dueInMs?: number | null
    }): Promise<boolean> {
      const due = status === 'failed' || status === 'decided' ? null : fields.dueInMs ?? null
      const changed = await transitions.add({
        id, status, attempt: fields.attempt ?? null, agencyReference: fields.agencyReference ?? null, reason: fields.reason ?? null,
        decision: fields.decision ?? null, detail: fields.detail ?? fields.reason ?? null, from: fields.from.join(','),
        counted: fields.counted === true ? 1 : 0, due, reasonMn: fields.reasonMn ?? null, result: fields.result === undefined ? null : JSON.stringify(fields.result),
      })
      if (changed === false) return false
      await followPackage(changed.packageId)
      return true
    },

    // Takes an application for one more delivery attempt, if it is still on
    // its way: the row, counted and marked delivering, or null. Found already
    // delivering, the attempt before ended with no outcome (its worker
    // stopped): that one counts against the budget. Found still received (a
    // worker took the job before the relay recorded it queued), it passes
    // through queued, so every history and every portal sees the same steps.
    async startAttempt (id: string, dueInMs: number): Promise<Application | null> {
      const app = await attempts.add({ id, dueInMs })
      if (app === null) return null
      await followPackage(app.packageId)
      return app
    },

    // The reconciler's share: up to `limit` applications whose due time has
    // passed, claimed by moving their due time `dueInMs` on, so processes
    // running side by side each take their own.
    async claimOverdue (limit: number, dueInMs: number): Promise<OverdueApplication[]> {
      const { rows } = await db.query<OverdueApplication>(
        `WITH due AS (
           SELECT id FROM applications WHERE due_at <= now() ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         UPDATE applications a SET due_at = ${dueIn('$2')} FROM due WHERE a.id = due.id
         RETURNING a.id, a.status, a.adapter, a.polls, a.round_attempts AS "roundAttempts"`, [limit, dueInMs])
      return rows
    },

    // Redis forgot everything: every application on its way to the agency
    // is due now. A decision poll lost with it is found at its own time.
    async allDueNow (): Promise<number> {
      const { rowCount } = await db.query("UPDATE applications SET due_at = now() WHERE due_at > now() AND status IN ('received', 'queued', 'delivering')")
      return rowCount
    },

    // BullMQ gave up on a job the database still has on its way (it stalled
    // past its limit, or failed for a reason of ours): that counts as an
    // attempt; the application goes round again, or is dead-lettered when
    // the budget is spent. Returns the new status, or null if it had moved on.
    async jobGivenUp (id: string, budget: number, dueInMs: number): Promise<'queued' | 'failed' | null> {
      const { rows } = await db.query<{ status: 'queued' | 'failed', package_id: string | null }>(
        `WITH changed AS (
           UPDATE applications SET round_attempts = round_attempts + 1, updated_at = now(),
             status = CASE WHEN round_attempts + 1 >= $2 THEN 'failed' ELSE 'queued' END,
             reason = CASE WHEN round_attempts + 1 >= $2 THEN 'dead-lettered after ' || (round_attempts + 1) || ' attempts: the queue gave up on its job (its worker stopped during delivery)' ELSE reason END,
             due_at = CASE WHEN round_attempts + 1 >= $2 THEN NULL ELSE ${dueIn('$3')} END
           WHERE id = $1 AND adapter IS NOT NULL AND status IN ('received', 'queued', 'delivering') RETURNING id, status, reason, package_id, portal)
         INSERT INTO application_events (application_id, status, detail, notify)
         SELECT id, status, CASE WHEN status = 'failed' THEN reason ELSE 'the queue gave up on its job (its worker stopped during delivery); it counts, and the application is queued again' END, ${NOTIFY}
         FROM changed RETURNING status, (SELECT package_id FROM changed)`, [id, budget, dueInMs])
      const row = rows[0]
      if (row === undefined) return null
      await followPackage(row.package_id)
      return row.status
    },
  }
}

export type ApplicationStore = ReturnType<typeof createApplicationStore>

export interface OutboxRow {
  id: string
  retry: boolean
  adapter: string | null
  // A package's parts, each delivered by its own adapter.
  parts: Array<{ id: string, adapter: string }> | null
}
