import { createHash } from 'node:crypto'
import { storeOutageOf, type Queryable } from '../db/database.ts'
import { createGrouper } from '../db/grouper.ts'
import type { DciEnvelope } from './service.ts'

// A message_id is used once per sender: the same message again gets the
// answer kept for it; another message under that id is a duplicate. Claims
// and kept answers of the messages of one turn go in one statement each.

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

// What makes a retry the same message: its action and message, not its
// signature or timestamps (a retry may be signed again).
export function messageDigest (envelope: Pick<DciEnvelope, 'header' | 'message'>): string {
  return createHash('sha256').update(envelope.header.action).update('\n').update(JSON.stringify(envelope.message)).digest('base64url')
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
  return {
    claim: (senderId: string, envelope: Pick<DciEnvelope, 'header' | 'message'>): Promise<Claim> =>
      claims.add({ senderId, messageId: envelope.header.message_id, digest: messageDigest(envelope) }),
    keep: (senderId: string, messageId: string, response: string): Promise<void> => answers.add({ senderId, messageId, response }),
  }
}

export type MessageStore = ReturnType<typeof createMessageStore>
