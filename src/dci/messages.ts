import { hash } from 'node:crypto'
import type { AuditLog, AuditRider } from '../audit/log.ts'
import type { AuditEntry } from '../audit/record.ts'
import { storeOutageOf, type Queryable } from '../db/database.ts'
import { createGrouper } from '../db/grouper.ts'
import type { DciEnvelope } from './service.ts'

// A message_id is used once per sender: the same message again gets the
// answer kept for it; another message under that id is a duplicate. An async
// request claims its id before it is stored and keeps its ACK after; a sync
// one is checked on arrival (with its partner, see partners.admission) and
// records its id and answer in one write once answered: the write that also
// appends the audit records of its look-ups (recordAudited). The writes of
// one turn go in one statement each.

export type Claim = { fresh: true } | { replay: string } | { duplicate: true }

const GROUP_MAX = 200

const CLAIM_SQL = `
INSERT INTO dci_messages (sender_id, message_id, digest)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
ON CONFLICT DO NOTHING RETURNING sender_id, message_id`

const KEEP_SQL = `
UPDATE dci_messages m SET response = v.response
FROM unnest($1::text[], $2::text[], $3::text[]) AS v(sender_id, message_id, response)
WHERE m.sender_id = v.sender_id AND m.message_id = v.message_id`

// A sync answer and its message_id, stored together once the answer is made
// (nothing is stored for a message that fails). A plain insert: the id taken
// meanwhile (another try, another message, or an async claim) is the rare case,
// read afterwards.
const RECORD_SQL = `
INSERT INTO dci_messages (sender_id, message_id, digest, response)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
ON CONFLICT DO NOTHING RETURNING sender_id, message_id`

interface Recorded { senderId: string, messageId: string, digest: string, response: string }
const recordKey = (r: Pick<Recorded, 'senderId' | 'messageId'>) => `${r.senderId}\n${r.messageId}`

// RECORD_SQL as the rider of an audit append: stored only with the records.
// Of two items under one id in a group only the first is written; the
// other is then taken (and read afterwards, as one taken meanwhile is).
// The rows go as one JSON parameter: the answers are long and full of
// quotes, which JSON.stringify escapes far faster than a text[] literal.
const recordRider: AuditRider<Recorded, boolean> = {
  statement (items, param, guard) {
    const seen = new Set<string>()
    const rows: Array<{ s: string, m: string, d: string, r: string }> = []
    for (const item of items) {
      const key = recordKey(item)
      if (seen.has(key)) continue
      seen.add(key)
      rows.push({ s: item.senderId, m: item.messageId, d: item.digest, r: item.response })
    }
    return 'INSERT INTO dci_messages (sender_id, message_id, digest, response) ' +
      `SELECT s, m, d, r FROM json_to_recordset(${param(JSON.stringify(rows), 'json')}) AS v(s text, m text, d text, r text) WHERE ${guard} ` +
      'ON CONFLICT DO NOTHING RETURNING sender_id, message_id'
  },
  results (items, rows) {
    const inserted = new Set(rows.map((r) => `${String(r.sender_id)}\n${String(r.message_id)}`))
    // delete: the first item under a key takes the row, a later one finds it taken.
    return items.map((r) => inserted.delete(recordKey(r)))
  },
}

// A key lookup each (LIMIT 1 keeps the planner from joining the table whole).
const KEPT_SQL = `
SELECT v.n, m.digest, m.response FROM unnest($1::text[], $2::text[], $3::int[]) AS v(sender_id, message_id, n)
CROSS JOIN LATERAL (SELECT digest, response FROM dci_messages WHERE sender_id = v.sender_id AND message_id = v.message_id LIMIT 1) m`

// What makes a retry the same message: its action and message, not its
// signature or timestamps (a retry may be signed again).
export function messageDigest (envelope: Pick<DciEnvelope, 'header' | 'message'>): string {
  return hash('sha256', `${envelope.header.action}\n${JSON.stringify(envelope.message)}`, 'base64url')
}

// What a message_id already kept means for this message.
export function priorClaim (prior: { digest: string, response: string | null } | null, envelope: Pick<DciEnvelope, 'header' | 'message'>): Claim {
  if (prior === null) return { fresh: true }
  if (prior.digest !== messageDigest(envelope)) return { duplicate: true }
  return prior.response === null ? { fresh: true } : { replay: prior.response }
}

export function createMessageStore (db: Queryable, audit?: Pick<AuditLog, 'appendWith'>) {
  const isolate = (err: unknown) => storeOutageOf(err) === undefined
  // The ids of a group already taken, with what is kept for each; a new
  // statement, so a row committed by another process meanwhile is seen.
  async function kept (group: Array<{ senderId: string, messageId: string }>, taken: number[]): Promise<Map<number, { digest: string, response: string | null }>> {
    const { rows } = await db.query<{ n: number, digest: string, response: string | null }>(KEPT_SQL, [taken.map((n) => group[n]!.senderId), taken.map((n) => group[n]!.messageId), taken])
    return new Map(rows.map((r) => [Number(r.n), { digest: r.digest, response: r.response }]))
  }
  async function insert (sql: string, group: Array<{ senderId: string, messageId: string }>, params: unknown[][]): Promise<number[]> {
    const { rows } = await db.query<{ sender_id: string, message_id: string }>(sql, [group.map((c) => c.senderId), group.map((c) => c.messageId), ...params])
    const inserted = new Set(rows.map((r) => `${r.sender_id}\n${r.message_id}`))
    return group.map((_c, n) => n).filter((n) => !inserted.has(`${group[n]!.senderId}\n${group[n]!.messageId}`))
  }

  const claims = createGrouper<{ senderId: string, messageId: string, digest: string }, Claim>({
    maxGroup: GROUP_MAX,
    identity: (c) => `${c.senderId}\n${c.messageId}`,
    async write (group) {
      const taken = await insert(CLAIM_SQL, group, [group.map((c) => c.digest)])
      const results = group.map((): Claim => ({ fresh: true }))
      if (taken.length === 0) return results
      for (const [n, k] of await kept(group, taken)) {
        // Same message, answer not kept yet (in progress, or the first try failed): answer it again.
        results[n] = k.digest !== group[n]!.digest ? { duplicate: true } : k.response === null ? { fresh: true } : { replay: k.response }
      }
      return results
    },
    isolate,
  })
  const answers = createGrouper<{ senderId: string, messageId: string, response: string }, void>({
    maxGroup: GROUP_MAX,
    identity: (a) => `${a.senderId}\n${a.messageId}`,
    async write (group) {
      await db.query(KEEP_SQL, [group.map((a) => a.senderId), group.map((a) => a.messageId), group.map((a) => a.response)])
      return group.map(() => undefined)
    },
    isolate,
  })
  // Records whose id was taken: what is kept there decides (results[n]
  // for group[n] in `taken`); a claim never answered takes this answer.
  async function settle (group: Recorded[], taken: number[], results: Claim[]): Promise<void> {
    const unanswered: number[] = []
    for (const [n, k] of await kept(group, taken)) {
      if (k.digest !== group[n]!.digest) results[n] = { duplicate: true }
      // Same message, answered first by another try: that answer stands.
      else if (k.response !== null) results[n] = { replay: k.response }
      // Claimed, never answered: this answer is kept.
      else unanswered.push(n)
    }
    if (unanswered.length > 0) {
      await db.query(KEEP_SQL, [unanswered.map((n) => group[n]!.senderId), unanswered.map((n) => group[n]!.messageId), unanswered.map((n) => group[n]!.response)])
    }
  }
  const records = createGrouper<Recorded, Claim>({
    maxGroup: GROUP_MAX,
    maxInFlight: 1,
    identity: recordKey,
    async write (group) {
      const taken = await insert(RECORD_SQL, group, [group.map((r) => r.digest), group.map((r) => r.response)])
      const results = group.map((): Claim => ({ fresh: true }))
      if (taken.length > 0) await settle(group, taken, results)
      return results
    },
    isolate,
  })
  return {
    // A sync answer: stored with its message_id ({ fresh }), or what another
    // try under the same id stored first.
    record: (senderId: string, envelope: Pick<DciEnvelope, 'header' | 'message'>, response: string): Promise<Claim> =>
      records.add({ senderId, messageId: envelope.header.message_id, digest: messageDigest(envelope), response }),
    // As record, in the statement that appends the audit records of the
    // answer's look-ups (none, or several): the answer is kept only with its
    // records, and neither is there until both are. Rejects if they could
    // not be written.
    async recordAudited (senderId: string, envelope: Pick<DciEnvelope, 'header' | 'message'>, response: string, entries: AuditEntry[]): Promise<Claim> {
      if (audit === undefined) throw new Error('this message store was made without the audit log')
      const item = { senderId, messageId: envelope.header.message_id, digest: messageDigest(envelope), response }
      const { result: stored } = await audit.appendWith(entries, recordRider, item)
      const results: Claim[] = [{ fresh: true }]
      if (!stored) await settle([item], [0], results)
      return results[0]!
    },
    claim: (senderId: string, envelope: Pick<DciEnvelope, 'header' | 'message'>): Promise<Claim> =>
      claims.add({ senderId, messageId: envelope.header.message_id, digest: messageDigest(envelope) }),
    keep: (senderId: string, messageId: string, response: string): Promise<void> => answers.add({ senderId, messageId, response }),
  }
}

export type MessageStore = ReturnType<typeof createMessageStore>
