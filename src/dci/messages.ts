import { createHash } from 'node:crypto'
import { storeOutageOf, type Queryable } from '../db/database.ts'
import { createGrouper } from '../db/grouper.ts'
import type { DciEnvelope } from './service.ts'

// A message_id is used once per sender: the same message again gets the
// answer kept for it; another message under that id is a duplicate. An async
// request claims its id before it is stored and keeps its ACK after; a sync
// one is checked on arrival (with its partner, see partners.admission) and
// records its id and answer in one write once answered. The writes of one
// turn go in one statement each.

export type Claim = { fresh: true } | { replay: string } | { duplicate: true }

const GROUP_MAX = 200

const CLAIM_SQL = `
WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) AS i(sender_id, message_id, digest, n)),
ins AS (
  INSERT INTO dci_messages (sender_id, message_id, digest) SELECT sender_id, message_id, digest FROM input
  ON CONFLICT DO NOTHING RETURNING sender_id, message_id
)
SELECT i.n, ins.message_id IS NOT NULL AS fresh, m.digest, m.response
FROM input i
LEFT JOIN ins ON ins.sender_id = i.sender_id AND ins.message_id = i.message_id
LEFT JOIN dci_messages m ON ins.message_id IS NULL AND m.sender_id = i.sender_id AND m.message_id = i.message_id`

const KEEP_SQL = `
UPDATE dci_messages m SET response = v.response
FROM unnest($1::text[], $2::text[], $3::text[]) AS v(sender_id, message_id, response)
WHERE m.sender_id = v.sender_id AND m.message_id = v.message_id`

// A sync answer and its message_id, stored together once the answer is made
// (nothing is stored for a message that fails): new, or the answer to a claim
// left without one; a row that already has an answer stays as it is.
const RECORD_SQL = `
WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[]) AS i(sender_id, message_id, digest, response, n)),
ins AS (
  INSERT INTO dci_messages AS d (sender_id, message_id, digest, response) SELECT sender_id, message_id, digest, response FROM input
  ON CONFLICT (sender_id, message_id) DO UPDATE SET response = EXCLUDED.response
  WHERE d.digest = EXCLUDED.digest AND d.response IS NULL
  RETURNING d.sender_id, d.message_id
)
SELECT i.n, ins.message_id IS NOT NULL AS stored, m.digest, m.response
FROM input i
LEFT JOIN ins ON ins.sender_id = i.sender_id AND ins.message_id = i.message_id
LEFT JOIN dci_messages m ON ins.message_id IS NULL AND m.sender_id = i.sender_id AND m.message_id = i.message_id`

const KEPT_SQL = `
SELECT v.n, m.digest, m.response FROM unnest($1::text[], $2::text[], $3::int[]) AS v(sender_id, message_id, n)
JOIN dci_messages m ON m.sender_id = v.sender_id AND m.message_id = v.message_id`

// What makes a retry the same message: its action and message, not its
// signature or timestamps (a retry may be signed again).
export function messageDigest (envelope: Pick<DciEnvelope, 'header' | 'message'>): string {
  return createHash('sha256').update(envelope.header.action).update('\n').update(JSON.stringify(envelope.message)).digest('base64url')
}

// What a message_id already kept means for this message.
export function priorClaim (prior: { digest: string, response: string | null } | null, envelope: Pick<DciEnvelope, 'header' | 'message'>): Claim {
  if (prior === null) return { fresh: true }
  if (prior.digest !== messageDigest(envelope)) return { duplicate: true }
  return prior.response === null ? { fresh: true } : { replay: prior.response }
}

export function createMessageStore (db: Queryable) {
  const isolate = (err: unknown) => storeOutageOf(err) === undefined
  const claims = createGrouper<{ senderId: string, messageId: string, digest: string }, Claim>({
    maxGroup: GROUP_MAX,
    identity: (c) => `${c.senderId}\n${c.messageId}`,
    async write (group) {
      const { rows } = await db.query<{ n: number, fresh: boolean, digest: string | null, response: string | null }>(CLAIM_SQL, [
        group.map((c) => c.senderId), group.map((c) => c.messageId), group.map((c) => c.digest), group.map((_c, n) => n),
      ])
      const byN = new Map(rows.map((r) => [Number(r.n), r]))
      return group.map((c, n): Claim => {
        const r = byN.get(n)
        if (r === undefined || r.fresh) return { fresh: true }
        if (r.digest !== c.digest) return { duplicate: true }
        // Same message, answer not kept yet (in progress, or the first try failed): answer it again.
        return r.response === null ? { fresh: true } : { replay: r.response }
      })
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
  const records = createGrouper<{ senderId: string, messageId: string, digest: string, response: string }, Claim>({
    maxGroup: GROUP_MAX,
    identity: (r) => `${r.senderId}\n${r.messageId}`,
    async write (group) {
      const { rows } = await db.query<{ n: number, stored: boolean, digest: string | null, response: string | null }>(RECORD_SQL, [
        group.map((r) => r.senderId), group.map((r) => r.messageId), group.map((r) => r.digest), group.map((r) => r.response), group.map((_r, n) => n),
      ])
      const byN = new Map(rows.map((r) => [Number(r.n), r]))
      // A row committed by another process while this statement ran is not in
      // its snapshot: read again.
      const unseen = group.map((_r, n) => n).filter((n) => byN.get(n)?.stored !== true && byN.get(n)?.digest == null)
      if (unseen.length > 0) {
        const again = await db.query<{ n: number, digest: string, response: string | null }>(KEPT_SQL, [unseen.map((n) => group[n]!.senderId), unseen.map((n) => group[n]!.messageId), unseen])
        for (const r of again.rows) byN.set(Number(r.n), { n: r.n, stored: false, digest: r.digest, response: r.response })
      }
      return group.map((r, n): Claim => {
        const row = byN.get(n)
        if (row === undefined || row.stored) return { fresh: true }
        if (row.digest !== r.digest) return { duplicate: true }
        // Same message, answered first by another try: that answer stands.
        return row.response === null ? { fresh: true } : { replay: row.response }
      })
    },
    isolate,
  })
  return {
    // A sync answer: stored with its message_id ({ fresh }), or what another
    // try under the same id stored first.
    record: (senderId: string, envelope: Pick<DciEnvelope, 'header' | 'message'>, response: string): Promise<Claim> =>
      records.add({ senderId, messageId: envelope.header.message_id, digest: messageDigest(envelope), response }),
    claim: (senderId: string, envelope: Pick<DciEnvelope, 'header' | 'message'>): Promise<Claim> =>
      claims.add({ senderId, messageId: envelope.header.message_id, digest: messageDigest(envelope) }),
    keep: (senderId: string, messageId: string, response: string): Promise<void> => answers.add({ senderId, messageId, response }),
  }
}

export type MessageStore = ReturnType<typeof createMessageStore>
