import type { Database, Queryable } from '../db/index.ts'
import { isoTime, whereClause } from '../db/database.ts'
import { hashRecord, type AuditEntry, type AuditRecord } from './record.ts'

// Writes audit records in small groups: entries that arrive within
// `batchWindowMs` share one transaction, and each caller's promise settles
// only once its record is committed. Every write moves the chain head row
// on from the head it chained onto, so the chain is serialised in the
// database, across processes.

export interface AuditLogOptions {
  batchWindowMs?: number
  maxBatch?: number
}

interface Pending {
  entry: AuditEntry
  resolve: (record: AuditRecord) => void
  reject: (err: unknown) => void
}

const COLUMNS = `seq, record_type AS "recordType", at, request_id AS "requestId", actor, actor_unit AS "actorUnit",
  actor_agency AS "actorAgency", purpose, case_ref AS "caseRef", citizen, sources_asked AS "sourcesAsked",
  sources_answered AS "sourcesAnswered", result, client_ip AS "clientIp", details, prev_hash AS "prevHash", hash`

export function rowToRecord (r: Record<string, unknown>): AuditRecord {
  return {
    ...(r as unknown as AuditRecord),
    seq: Number(r.seq),
    at: isoTime(r.at),
  }
}

export interface AuditQuery {
  citizen?: string
  actor?: string
  unit?: string
  from?: string
  to?: string
  recordType?: string
  beforeSeq?: number
  limit: number
}

export interface ChainPoint { seq: number, hash: string }
export type VerifyResult = {
  ok: boolean
  records: number
  // The last record that verified, to write down and check against later.
  last: ChainPoint | null
  brokenAt?: number
  reason?: string
  checkpoint?: ChainPoint & { matches: boolean }
}

const INSERT_COLUMNS = `seq, record_type, at, request_id, actor, actor_unit, actor_agency, purpose, case_ref, citizen,
  sources_asked, sources_answered, result, client_ip, details, prev_hash, hash`
// Parameters in a VALUES list under SELECT take no type from the columns.
const TYPES = ['bigint', 'text', 'timestamptz', 'text', 'text', 'text', 'text', 'text', 'text', 'text',
  'text[]', 'text[]', 'text', 'text', 'jsonb', 'text', 'text']
// A writer that keeps losing the race to others gives up (its callers get the error).
const MAX_ATTEMPTS = 50

export function createAuditLog (db: Database, options: AuditLogOptions = {}) {
  const windowMs = options.batchWindowMs ?? 2
  const maxBatch = options.maxBatch ?? 128
  let queue: Pending[] = []
  let timer: NodeJS.Timeout | null = null
  let flushing: Promise<void> = Promise.resolve()

  // Hashes a group onto the chain after `head`; the rows' values as parameters.
  function chain (head: ChainPoint, batch: Array<Pick<Pending, 'entry'>>) {
    let { seq, hash: prevHash } = head
    const records: AuditRecord[] = []
    for (const { entry } of batch) {
      seq++
      const hash = hashRecord(seq, prevHash, entry)
      records.push({ ...entry, seq, prevHash, hash })
      prevHash = hash
    }
    const params: unknown[] = []
    const values = records.map((r) => {
      const cols = [r.seq, r.recordType, r.at, r.requestId, r.actor, r.actorUnit, r.actorAgency, r.purpose, r.caseRef, r.citizen,
        r.sourcesAsked, r.sourcesAnswered, r.result, r.clientIp, r.details === null ? null : JSON.stringify(r.details), r.prevHash, r.hash]
      const start = params.length
      params.push(...cols)
      return `(${cols.map((_c, i) => `$${start + i + 1}::${TYPES[i]}`).join(', ')})`
    })
    return { records, head: { seq, hash: prevHash }, params, values }
  }

  // Inside a transaction that holds the chain head row.
  async function insert (tx: Queryable, batch: Array<Pick<Pending, 'entry'>>): Promise<AuditRecord[]> {
    const { rows } = await tx.query<{ seq: number, hash: string }>("SELECT seq, hash FROM audit_chain_head WHERE chain = 'main' FOR UPDATE")
    const { records, head, params, values } = chain({ seq: Number(rows[0]!.seq), hash: rows[0]!.hash }, batch)
    await tx.query(`INSERT INTO audit_log (${INSERT_COLUMNS}) VALUES ${values.join(', ')}`, params)
    await tx.query("UPDATE audit_chain_head SET seq = $1, hash = $2 WHERE chain = 'main'", [head.seq, head.hash])
    return records
  }

  // The last head this process wrote or read. A group is one statement that
  // moves the head on only from there and inserts only when it did: one round
  // trip and one commit, no lock held between round trips. When another
  // process (or a catalogue change) moved the head meanwhile, nothing is
  // written; the head is read again and the group re-chained. The head row's
  // lock still orders the writers, so records commit in sequence order.
  let known: ChainPoint | null = null
  async function appendGroup (batch: Pending[]): Promise<AuditRecord[]> {
    for (let attempt = 1; ; attempt++) {
      if (known === null) {
        const { rows } = await db.query<{ seq: number, hash: string }>("SELECT seq, hash FROM audit_chain_head WHERE chain = 'main'")
        known = { seq: Number(rows[0]!.seq), hash: rows[0]!.hash }
      }
      const { records, head, params, values } = chain(known, batch)
      const n = params.length
      params.push(head.seq, head.hash, known.seq, known.hash)
      const res = await db.query(`WITH moved AS (
          UPDATE audit_chain_head SET seq = $${n + 1}, hash = $${n + 2} WHERE chain = 'main' AND seq = $${n + 3} AND hash = $${n + 4} RETURNING 1)
        INSERT INTO audit_log (${INSERT_COLUMNS}) SELECT * FROM (VALUES ${values.join(', ')}) AS v WHERE EXISTS (SELECT 1 FROM moved)`, params)
      if (res.rowCount === batch.length) {
        known = head
        return records
      }
      known = null
      if (attempt >= MAX_ATTEMPTS) throw new Error(`the audit chain head moved ${attempt} times while a group of ${batch.length} records was written`)
    }
  }

  function flush (): void {
    timer = null
    const batch = queue
    queue = []
    if (batch.length === 0) return
    flushing = flushing.then(async () => {
      try {
        const records = await appendGroup(batch)
        batch.forEach((p, i) => p.resolve(records[i]!))
      } catch (err) {
        for (const p of batch) p.reject(err)
      }
    })
  }

  return {
    // Inside a caller's transaction, so the records commit or roll back with
    // the change they describe (catalogue writes).
    async appendWithin (tx: Queryable, entries: AuditEntry[]): Promise<AuditRecord[]> {
      return entries.length === 0 ? [] : insert(tx, entries.map((entry) => ({ entry })))
    },

    // Resolves once the record is durable; rejects if it could not be written.
    append (entry: AuditEntry): Promise<AuditRecord> {
      return new Promise((resolve, reject) => {
        queue.push({ entry, resolve, reject })
        if (queue.length >= maxBatch) {
          if (timer !== null) clearTimeout(timer)
          flush()
        } else if (timer === null) {
          timer = setTimeout(flush, windowMs)
        }
      })
    },

    async query (q: AuditQuery): Promise<AuditRecord[]> {
      const { where, params } = whereClause([
        ['citizen = ?', q.citizen],
        ['actor = ?', q.actor],
        ['actor_unit = ?', q.unit],
        ['at >= ?', q.from],
        ['at < ?', q.to],
        ['record_type = ?', q.recordType],
        ['seq < ?', q.beforeSeq],
      ])
      params.push(q.limit)
      const { rows } = await db.query<Record<string, unknown>>(
        `SELECT ${COLUMNS} FROM audit_log ${where} ORDER BY seq DESC LIMIT $${params.length}`, params)
      return rows.map(rowToRecord)
    },

    // Recomputes every hash and link, in order, a page at a time, and names
    // the last record and its hash: an auditor who writes them down can pass
    // them back later as `checkpoint`, which holds only if that record still
    // has that hash (nothing up to it changed) and the chain still verifies.
    async verify (checkpoint?: ChainPoint): Promise<VerifyResult> {
      let prevHash = 'genesis'
      let expected = 1
      let checked = 0
      let seen: string | undefined
      const broken = (brokenAt: number, reason: string): VerifyResult =>
        ({ ok: false, records: checked, last: checked === 0 ? null : { seq: checked, hash: prevHash }, brokenAt, reason })
      for (;;) {
        const { rows } = await db.query<Record<string, unknown>>(`SELECT ${COLUMNS} FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT 1000`, [expected])
        if (rows.length === 0) break
        for (const row of rows.map(rowToRecord)) {
          if (row.seq !== expected) return broken(expected, `record ${expected} is missing`)
          if (row.prevHash !== prevHash) return broken(row.seq, 'does not link to the record before it')
          const { seq, prevHash: _p, hash, ...entry } = row
          if (hashRecord(seq, prevHash, entry) !== hash) return broken(row.seq, 'its content does not match its hash')
          if (seq === checkpoint?.seq) seen = hash
          prevHash = hash
          expected++
          checked++
        }
      }
      const { rows } = await db.query<{ seq: number, hash: string }>("SELECT seq, hash FROM audit_chain_head WHERE chain = 'main'")
      if (Number(rows[0]?.seq) !== checked || rows[0]?.hash !== prevHash) {
        return broken(checked + 1, 'the chain head does not match the last record (records were removed)')
      }
      const last = checked === 0 ? null : { seq: checked, hash: prevHash }
      if (checkpoint !== undefined) {
        const matches = seen === checkpoint.hash
        const point = { ...checkpoint, matches }
        if (!matches) {
          const reason = seen === undefined ? `the chain has no record ${checkpoint.seq}` : `record ${checkpoint.seq} no longer has the hash written down`
          return { ok: false, records: checked, last, brokenAt: checkpoint.seq, reason, checkpoint: point }
        }
        return { ok: true, records: checked, last, checkpoint: point }
      }
      return { ok: true, records: checked, last }
    },

    async close (): Promise<void> {
      if (timer !== null) {
        clearTimeout(timer)
        flush()
      }
      await flushing
    },
  }
}

export type AuditLog = ReturnType<typeof createAuditLog>
