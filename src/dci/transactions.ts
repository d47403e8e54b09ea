import type { Queryable } from '../db/database.ts'
import type { DciRegistry } from './spec.ts'

// Async DCI requests, the source of truth for their answers and callbacks:
// Redis only carries the jobs that work on them.

export type TxnStatus = 'rcvd' | 'pdng' | 'succ' | 'rjct'
export type CallbackState = 'pending' | 'sent' | 'failed'

export interface DciTransaction {
  id: number
  partnerId: string
  registry: DciRegistry
  action: string
  messageId: string
  transactionId: string
  correlationId: string
  // The message as received (JSON text).
  request: string
  status: TxnStatus
  answer: string | null
  callbackState: CallbackState
  callbackError: string | null
  createdAt: string
  updatedAt: string
}

const COLUMNS = `id::int AS id, partner_id AS "partnerId", registry, action, message_id AS "messageId", transaction_id AS "transactionId",
  correlation_id AS "correlationId", request, status, answer, callback_state AS "callbackState", callback_error AS "callbackError",
  created_at AS "createdAt", updated_at AS "updatedAt"`

function toTransaction (r: Record<string, unknown>): DciTransaction {
  return { ...(r as unknown as DciTransaction), createdAt: new Date(r.createdAt as string).toISOString(), updatedAt: new Date(r.updatedAt as string).toISOString() }
}

export type NewTransaction = Pick<DciTransaction, 'partnerId' | 'registry' | 'action' | 'messageId' | 'transactionId' | 'correlationId' | 'request'>

export function createTransactionStore (db: Queryable) {
  return {
    // The stored transaction of this message: created now, or the one a
    // retry of the same message_id created before.
    async create (t: NewTransaction): Promise<{ transaction: DciTransaction, created: boolean }> {
      const { rows } = await db.query<Record<string, unknown>>(
        `INSERT INTO dci_transactions (partner_id, registry, action, message_id, transaction_id, correlation_id, request)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (partner_id, message_id) DO NOTHING RETURNING ${COLUMNS}`,
        [t.partnerId, t.registry, t.action, t.messageId, t.transactionId, t.correlationId, t.request])
      if (rows[0] !== undefined) return { transaction: toTransaction(rows[0]), created: true }
      const { rows: seen } = await db.query<Record<string, unknown>>(`SELECT ${COLUMNS} FROM dci_transactions WHERE partner_id = $1 AND message_id = $2`, [t.partnerId, t.messageId])
      return { transaction: toTransaction(seen[0]!), created: false }
    },

    async get (id: number): Promise<DciTransaction | null> {
      const { rows } = await db.query<Record<string, unknown>>(`SELECT ${COLUMNS} FROM dci_transactions WHERE id = $1`, [id])
      return rows[0] === undefined ? null : toTransaction(rows[0])
    },

    async answered (id: number, answer: string, status: TxnStatus): Promise<void> {
      await db.query('UPDATE dci_transactions SET answer = $2, status = $3, updated_at = now() WHERE id = $1 AND answer IS NULL', [id, answer, status])
    },

    async settle (id: number, state: Exclude<CallbackState, 'pending'>, error: string | null = null): Promise<void> {
      await db.query('UPDATE dci_transactions SET callback_state = $2, callback_error = $3, updated_at = now() WHERE id = $1', [id, state, error])
    },

    // Not yet queued, or queued longer ago than `graceMs` and still unsettled
    // (its job may have been lost with Redis).
    async due (graceMs: number, limit: number): Promise<number[]> {
      const { rows } = await db.query<{ id: number }>(
        `SELECT id::int AS id FROM dci_transactions WHERE callback_state = 'pending'
           AND (queued_at IS NULL OR queued_at < now() - ($1::float8 * interval '1 millisecond')) ORDER BY id LIMIT $2`, [graceMs, limit])
      return rows.map((r) => r.id)
    },

    async markQueued (ids: number[]): Promise<void> {
      await db.query('UPDATE dci_transactions SET queued_at = now() WHERE id = ANY($1::bigint[])', [ids])
    },

    // Message ids and settled transactions older than the retention; what is
    // still being answered or delivered stays whatever its age.
    async expire (retentionDays: number): Promise<number> {
      const cut = "now() - ($1::int * interval '1 day')"
      const messages = await db.query(`DELETE FROM dci_messages WHERE received_at < ${cut}`, [retentionDays])
      const settled = await db.query(`DELETE FROM dci_transactions WHERE callback_state <> 'pending' AND updated_at < ${cut}`, [retentionDays])
      return (messages.rowCount ?? 0) + (settled.rowCount ?? 0)
    },

    // A partner's transactions of one action found by what a txn/status request names.
    async find (partnerId: string, action: string, attributeType: 'transaction_id' | 'correlation_id' | 'reference_id_list', value: string | string[]): Promise<DciTransaction[]> {
      const where = attributeType === 'transaction_id'
        ? 'transaction_id = $3'
        : attributeType === 'correlation_id'
          ? 'correlation_id = $3'
          // Reference ids are inside the stored requests.
          : `EXISTS (SELECT 1 FROM jsonb_array_elements(request::jsonb -> (action || '_request')) i WHERE i ->> 'reference_id' = ANY($3::text[]))`
      const { rows } = await db.query<Record<string, unknown>>(`SELECT ${COLUMNS} FROM dci_transactions WHERE partner_id = $1 AND action = $2 AND ${where} ORDER BY id LIMIT 100`, [partnerId, action, value])
      return rows.map(toTransaction)
    },
  }
}

export type TransactionStore = ReturnType<typeof createTransactionStore>
