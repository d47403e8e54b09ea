import type { Database, Queryable } from '../db/index.ts'
import { isoTime, storeOutageOf, whereClause } from '../db/database.ts'
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

// Rows of another table written by the statement that appends the records
// they come with, on the same condition: they commit together or not at all,
// and one statement (one round trip, one commit) carries both. The DCI face
// stores a sync answer under its message_id this way, with the look-ups'
// records, before the answer leaves.
export interface AuditRider<T, R> {
  // A data-modifying statement writing the items of a group (items of one
  // rider in one statement), e.g. INSERT ... SELECT ... WHERE <guard> ...
  // RETURNING ...; it must write nothing unless `guard` holds (the records
  // were appended). `param` adds a parameter and returns its placeholder.
  // The text should depend on nothing but the rider (arrays, not a list of
  // rows): each text is a statement prepared on every connection.
  statement(items: T[], param: (value: unknown, type: string) => string, guard: string): string
  // One result per item, from the rows the statement returned.
  results(items: T[], rows: Array<Record<string, unknown>>): R[]
}

interface Pending {
  entries: AuditEntry[]
  rider: { rider: AuditRider<unknown, unknown>, item: unknown } | null
  resolve: (records: AuditRecord[], riderResult: unknown) => void
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
// "($1::bigint, ...), (...)": the rows of a group of n, parameters from $1.
const valuesText = new Map<number, string>()
function valuesOf (n: number): string {
  let text = valuesText.get(n)
  if (text === undefined) {
    text = Array.from({ length: n }, (_r, row) => `(${TYPES.map((type, i) => `$${row * TYPES.length + i + 1}::${type}`).join(', ')})`).join(', ')
    if (valuesText.size < 1024) valuesText.set(n, text)
  }
  return text
}

// A writer that keeps losing the race to others gives up (its callers get the error).
const MAX_ATTEMPTS = 50

export function createAuditLog (db: Database, options: AuditLogOptions = {}) {
  const windowMs = options.batchWindowMs ?? 2
  const maxBatch = options.maxBatch ?? 128
  let queue: Pending[] = []
  let queuedEntries = 0
  let timer: NodeJS.Timeout | null = null
  let flushing: Promise<void> = Promise.resolve()

  // Hashes a group onto the chain after `head`; the rows' values as parameters.
  function chain (head: ChainPoint, batch: AuditEntry[]) {
    let { seq, hash: prevHash } = head
    const records: AuditRecord[] = []
    for (const entry of batch) {
      seq++
      const hash = hashRecord(seq, prevHash, entry)
      records.push({ ...entry, seq, prevHash, hash })
      prevHash = hash
    }
    const params: unknown[] = []
    for (const r of records) {
      params.push(r.seq, r.recordType, r.at, r.requestId, r.actor, r.actorUnit, r.actorAgency, r.purpose, r.caseRef, r.citizen,
        r.sourcesAsked, r.sourcesAnswered, r.result, r.clientIp, r.details === null ? null : JSON.stringify(r.details), r.prevHash, r.hash)
    }
    return { records, head: { seq, hash: prevHash }, params, values: valuesOf(records.length) }
  }

  // Inside a transaction that holds the chain head row.
  async function insert (tx: Queryable, batch: AuditEntry[]): Promise<AuditRecord[]> {
    const { rows } = await tx.query<{ seq: number, hash: string }>("SELECT seq, hash FROM audit_chain_head WHERE chain = 'main' FOR UPDATE")
    const { records, head, params, values } = chain({ seq: Number(rows[0]!.seq), hash: rows[0]!.hash }, batch)
    await tx.query(`INSERT INTO audit_log (${INSERT_COLUMNS}) VALUES ${values}`, params)
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
  async function appendGroup (entries: AuditEntry[]): Promise<AuditRecord[]> {
    for (let attempt = 1; ; attempt++) {
      if (known === null) known = await readHead()
      const { records, head, params, values } = chain(known, entries)
      const n = params.length
      params.push(head.seq, head.hash, known.seq, known.hash)
      const res = await db.query(`WITH moved AS (
          UPDATE audit_chain_head SET seq = $${n + 1}, hash = $${n + 2} WHERE chain = 'main' AND seq = $${n + 3} AND hash = $${n + 4} RETURNING 1)
        INSERT INTO audit_log (${INSERT_COLUMNS}) SELECT * FROM (VALUES ${values}) AS v WHERE EXISTS (SELECT 1 FROM moved)`, params)
      if (res.rowCount === entries.length) {
        known = head
        return records
      }
      known = null
      if (attempt >= MAX_ATTEMPTS) throw new Error(`the audit chain head moved ${attempt} times while a group of ${entries.length} records was written`)
    }
  }

  async function readHead (): Promise<ChainPoint> {
    const { rows } = await db.query<{ seq: number, hash: string }>("SELECT seq, hash FROM audit_chain_head WHERE chain = 'main'")
    return { seq: Number(rows[0]!.seq), hash: rows[0]!.hash }
  }

  // A group with riders: the records and every rider's rows in one
  // statement, all written only when the head moved on from `known`. With no
  // records the head is "moved" onto itself: the riders still wait their turn
  // behind the head row's lock, and write only if nobody moved it meanwhile.
  async function appendRidden (entries: AuditEntry[], riders: Array<{ rider: AuditRider<unknown, unknown>, items: unknown[] }>): Promise<{ records: AuditRecord[], rows: Array<Array<Record<string, unknown>>> }> {
    const guard = 'EXISTS (SELECT 1 FROM moved)'
    for (let attempt = 1; ; attempt++) {
      if (known === null) known = await readHead()
      const { records, head, params, values } = chain(known, entries)
      const param = (value: unknown, type: string) => {
        params.push(value)
        return `$${params.length}::${type}`
      }
      let sql = `WITH moved AS (UPDATE audit_chain_head SET seq = ${param(head.seq, 'bigint')}, hash = ${param(head.hash, 'text')} ` +
        `WHERE chain = 'main' AND seq = ${param(known.seq, 'bigint')} AND hash = ${param(known.hash, 'text')} RETURNING 1)`
      if (entries.length > 0) sql += `, audited AS (INSERT INTO audit_log (${INSERT_COLUMNS}) SELECT * FROM (VALUES ${values}) AS v WHERE ${guard} RETURNING 1)`
      riders.forEach((r, i) => { sql += `, rider_${i} AS (${r.rider.statement(r.items, param, guard)})` })
      sql += ` SELECT (SELECT count(*) FROM moved)::int AS moved, ${entries.length > 0 ? '(SELECT count(*) FROM audited)::int' : '0'} AS audited` +
        riders.map((_r, i) => `, (SELECT coalesce(json_agg(rider_${i}), '[]'::json) FROM rider_${i}) AS rider_${i}`).join('')
      const { rows: [row] } = await db.query<Record<string, unknown>>(sql, params)
      if (row !== undefined && Number(row.moved) === 1) {
        if (Number(row.audited) !== entries.length) throw new Error(`the audit chain moved but ${String(row.audited)} of ${entries.length} records were written`)
        known = head
        return { records, rows: riders.map((_r, i) => row[`rider_${i}`] as Array<Record<string, unknown>>) }
      }
      known = null
      if (attempt >= MAX_ATTEMPTS) throw new Error(`the audit chain head moved ${attempt} times while a group of ${entries.length} records was written`)
    }
  }

  // Each caller's records, in the order its entries came; its rider's result.
  async function write (batch: Pending[]): Promise<void> {
    const entries = batch.length === 1 ? batch[0]!.entries : batch.flatMap((p) => p.entries)
    const byRider = new Map<AuditRider<unknown, unknown>, { rider: AuditRider<unknown, unknown>, items: unknown[], of: Pending[] }>()
    for (const p of batch) {
      if (p.rider === null) continue
      let r = byRider.get(p.rider.rider)
      if (r === undefined) byRider.set(p.rider.rider, r = { rider: p.rider.rider, items: [], of: [] })
      r.items.push(p.rider.item)
      r.of.push(p)
    }
    let records: AuditRecord[]
    const riderResults = new Map<Pending, unknown>()
    if (byRider.size === 0) records = await appendGroup(entries)
    else {
      const riders = [...byRider.values()]
      const written = await appendRidden(entries, riders)
      records = written.records
      riders.forEach((r, i) => {
        const results = r.rider.results(r.items, written.rows[i] ?? [])
        r.of.forEach((p, k) => riderResults.set(p, results[k]))
      })
    }
    let at = 0
    for (const p of batch) {
      p.resolve(records.slice(at, at + p.entries.length), riderResults.get(p))
      at += p.entries.length
    }
  }

  function flush (): void {
    timer = null
    const batch = queue
    queue = []
    queuedEntries = 0
    if (batch.length === 0) return
    flushing = flushing.then(async () => {
      try {
        await write(batch)
      } catch (err) {
        // A rider's rows must not fail the records of others in the group: each again alone.
        if (batch.length > 1 && batch.some((p) => p.rider !== null) && storeOutageOf(err) === undefined) {
          for (const p of batch) await write([p]).catch((e: unknown) => p.reject(e))
          return
        }
        for (const p of batch) p.reject(err)
      }
    })
  }

  function enqueue (pending: Pending): void {
    queue.push(pending)
    queuedEntries += pending.entries.length
    if (queuedEntries >= maxBatch || queue.length >= maxBatch) {
      if (timer !== null) clearTimeout(timer)
      flush()
    } else if (timer === null) {
      timer = setTimeout(flush, windowMs)
    }
  }

  return {
    // Inside a caller's transaction, so the records commit or roll back with
    // the change they describe (catalogue writes).
    async appendWithin (tx: Queryable, entries: AuditEntry[]): Promise<AuditRecord[]> {
      return entries.length === 0 ? [] : insert(tx, entries)
    },

    // Resolves once the record is durable; rejects if it could not be written.
    append (entry: AuditEntry): Promise<AuditRecord> {
      return new Promise((resolve, reject) => {
        enqueue({ entries: [entry], rider: null, resolve: (records) => resolve(records[0]!), reject })
      })
    },

    // The entries (none, or several, in order) and the rider's rows for
    // `item`, in one statement: resolves once both are durable, with the
    // rider's result for the item; rejects if they could not be written
    // (then neither was).
    appendWith<T, R> (entries: AuditEntry[], rider: AuditRider<T, R>, item: T): Promise<{ records: AuditRecord[], result: R }> {
      return new Promise((resolve, reject) => {
        enqueue({ entries, rider: { rider: rider as AuditRider<unknown, unknown>, item }, resolve: (records, result) => resolve({ records, result: result as R }), reject })
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
