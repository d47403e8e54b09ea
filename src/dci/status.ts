import { randomUUID } from 'node:crypto'
import type { DciRegistry } from './spec.ts'
import type { SubscriptionStore } from './subscriptions.ts'
import type { DciTransaction, TransactionStore } from './transactions.ts'

// txn/status (sync or async): the answer of an async transaction as it was
// (or will be) sent to the partner's callback, or its items pdng while it is
// being answered; the header's status_reason_message says whether the
// callback was delivered.

export interface TxnStatusRequest {
  txn_type: string
  attribute_type: 'transaction_id' | 'correlation_id' | 'reference_id_list' | 'subscription_code_list'
  attribute_value: string | string[]
}

export interface StatusAnswer {
  // The message's txnstatus_response.
  txnstatusResponse: { txn_type: string, txn_status: Record<string, unknown> }
  status: 'succ' | 'rjct'
  reason?: string
  reasonMessage: string
}

// What each registry's spec lets txn_type name.
const TXN_TYPES: Record<DciRegistry, string[]> = { social: ['search', 'subscribe'], crvs: ['search', 'subscribe', 'unsubscribe'] }

// The CRVS spec types reg_records as one object (a Person) in TxnStatusResponse,
// where its SearchResponse has an array: a search by UIN has at most one record.
function crvsStatusShape (message: Record<string, unknown>): Record<string, unknown> {
  const items = (message.search_response ?? []) as Array<Record<string, unknown> & { data?: { reg_records?: unknown[] } }>
  return {
    ...message,
    search_response: items.map((i) => i.data === undefined ? i : { ...i, data: { ...i.data, reg_records: i.data.reg_records?.[0] ?? {} } }),
  }
}

function delivery (tx: DciTransaction): string {
  if (tx.callbackState === 'sent') return 'the answer was delivered to the partner\'s callback'
  if (tx.callbackState === 'failed') return `the answer could not be delivered: ${tx.callbackError ?? 'unknown'}`
  return tx.answer === null ? `the ${tx.action} is being answered` : 'the answer is being delivered'
}

export async function statusAnswer (deps: { transactions: TransactionStore, subscriptions: SubscriptionStore }, registry: DciRegistry, partnerId: string, asked: TxnStatusRequest, now: () => number = Date.now): Promise<StatusAnswer> {
  const listed = asked.attribute_type === 'reference_id_list' || asked.attribute_type === 'subscription_code_list'
  // txnstatus_response is required even when nothing is found: then it lists nothing.
  const nothing = { transaction_id: asked.attribute_type === 'transaction_id' ? String(asked.attribute_value) : '', correlation_id: asked.attribute_type === 'correlation_id' ? String(asked.attribute_value) : '', search_response: [] }
  const refuse = (reasonMessage: string, reason?: string): StatusAnswer => ({ txnstatusResponse: { txn_type: asked.txn_type, txn_status: nothing }, status: 'rjct', reasonMessage, ...(reason === undefined ? {} : { reason }) })
  if (!TXN_TYPES[registry].includes(asked.txn_type)) return refuse(`${asked.txn_type} transactions are not kept by this registry`, 'rjct.action.not_supported')
  if (listed !== Array.isArray(asked.attribute_value)) return refuse('attribute_value must be a list exactly when attribute_type is reference_id_list or subscription_code_list')

  let found: DciTransaction[]
  if (asked.attribute_type === 'subscription_code_list') {
    if (asked.txn_type !== 'subscribe') return refuse('subscription codes name subscribe transactions')
    const subscriptions = await deps.subscriptions.byCodes(partnerId, asked.attribute_value as string[])
    const refs = [...new Set(subscriptions.map((s) => s.transactionRef))]
    found = (await Promise.all(refs.map((id) => deps.transactions.get(id)))).filter((t): t is DciTransaction => t !== null)
  } else {
    found = await deps.transactions.find(partnerId, asked.txn_type, asked.attribute_type, asked.attribute_value)
  }
  const tx = found.find((t) => t.registry === registry)
  if (tx === undefined) return refuse(`no ${asked.txn_type} transaction of this partner matches`)

  const at = new Date(now()).toISOString()
  const stored = tx.answer === null ? null : (JSON.parse(tx.answer) as { message: Record<string, unknown> }).message
  const request = JSON.parse(tx.request) as Record<string, unknown>
  const pendingItems = (key: string) => ((request[key] ?? []) as Array<{ reference_id: string }>).map((i) => ({ reference_id: i.reference_id, timestamp: at, status: 'pdng' }))
  let txnStatus: Record<string, unknown>
  switch (tx.action) {
    case 'search':
      txnStatus = stored === null
        ? { transaction_id: tx.transactionId, correlation_id: tx.correlationId, search_response: pendingItems('search_request') }
        : registry === 'crvs' ? crvsStatusShape(stored) : stored
      break
    case 'subscribe': {
      const answer = stored ?? { transaction_id: tx.transactionId, correlation_id: tx.correlationId, subscribe_response: pendingItems('subscribe_request') }
      // The Social Registry's TxnStatusResponse has no SubscribeResponse: its
      // items are listed as search_response items too.
      txnStatus = registry === 'crvs'
        ? answer
        : { ...answer, search_response: (answer.subscribe_response as Array<Record<string, unknown>>).map((i) => ({ reference_id: i.reference_id, timestamp: i.timestamp, status: i.status, ...(i.status_reason_message === undefined ? {} : { status_reason_message: i.status_reason_message }) })) }
      break
    }
    default:
      txnStatus = stored ?? { transaction_id: tx.transactionId, correlation_id: tx.correlationId, timestamp: at, status: 'pdng' }
  }
  return { txnstatusResponse: { txn_type: asked.txn_type, txn_status: txnStatus }, status: 'succ', reasonMessage: delivery(tx) }
}

// The txn/on-status message for a status answer.
export function statusMessage (transactionId: unknown, answer: StatusAnswer): Record<string, unknown> {
  return { transaction_id: transactionId, correlation_id: randomUUID(), txnstatus_response: answer.txnstatusResponse }
}
