import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { Dispatcher } from 'undici'
import { callbackJobOptions, type CallbackSettings } from '../callbacks/delivery.ts'
import { postCallback } from '../callbacks/post.ts'
import { storeOutageOf } from '../db/database.ts'
import { createLimitedErrorLog } from '../errors/limited-log.ts'
import { callbackWorkerOptions } from '../queue/jobs.ts'
import { putOff } from '../queue/put-off.ts'
import type { NotifyRequest } from './events.ts'
import type { Partner, PartnerStore } from './partners.ts'
import type { DciEnvelope, DciService } from './service.ts'
import { loadDciSpec } from './spec.ts'
import { statusAnswer, statusMessage, type TxnStatusRequest } from './status.ts'
import type { SubscriptionStore } from './subscriptions.ts'
import type { DciTransaction, TransactionStore, TxnStatus } from './transactions.ts'

// Async DCI requests: a job per stored transaction answers it (bus calls and
// audit, once) and POSTs the signed answer to the partner's callback, with
// retries and full jitter, through the same SSRF guard as portal callbacks.
// Jobs carry the transaction id only.

export const DCI_QUEUE = 'dci-callbacks'
export interface DciJob { transactionId: number }
export type DciJobName = 'answer'
export const dciJobId = (transactionId: number) => `dci-${transactionId}`

const STORE_WAIT_MS = 1000

// The partner's endpoint for each answer: its callback base URL and the spec's path.
const CALLBACK_PATH: Record<string, string> = {
  search: '/registry/on-search',
  subscribe: '/registry/on-subscribe',
  unsubscribe: '/registry/on-unsubscribe',
  'txn-status': '/registry/txn/on-status',
  notify: '/registry/notify',
}
const CALLBACK_ACTION: Record<string, string> = { search: 'on-search', subscribe: 'on-subscribe', unsubscribe: 'on-unsubscribe', 'txn-status': 'txn-on-status', notify: 'notify' }

export function createDciQueue (connection: Redis, prefix: string): Queue<DciJob, unknown, DciJobName> {
  return new Queue<DciJob, unknown, DciJobName>(DCI_QUEUE, { connection, prefix })
}

// Retried as portal callbacks are (CALLBACK_ATTEMPTS, full jitter), and kept as long.
export const dciJobOptions = callbackJobOptions

export function callbackUrlOf (base: string, action: string): string {
  return base.replace(/\/+$/, '') + CALLBACK_PATH[action]!
}

export interface DciWorkerOptions {
  connection: Redis
  prefix: string
  transactions: TransactionStore
  partners: PartnerStore
  subscriptions: SubscriptionStore
  service: DciService
  dispatcher: Dispatcher
  settings: CallbackSettings
  concurrency: number
  lockDurationMs: number
  log: FastifyBaseLogger
}

export function createDciWorker (options: DciWorkerOptions): Worker<DciJob, unknown, DciJobName> {
  const { transactions, partners, service } = options

  async function handle (job: Job<DciJob, unknown, DciJobName>, token?: string): Promise<unknown> {
    try {
      return await answer(job)
    } catch (err) {
      // The database away costs time, never one of the attempts.
      if (storeOutageOf(err) !== undefined) return putOff(job, token, STORE_WAIT_MS + Math.floor(Math.random() * STORE_WAIT_MS))
      // Nothing more will be tried: say so where txn/status reads it.
      if (!(err instanceof UnrecoverableError) && job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) {
        await transactions.settle(job.data.transactionId, 'failed', (err as Error).message).catch(() => {})
      }
      throw err
    }
  }

  async function answer (job: Job<DciJob, unknown, DciJobName>): Promise<unknown> {
    const id = job.data.transactionId
    const tx = await transactions.get(id)
    if (tx === null || tx.callbackState !== 'pending') return { skipped: 'settled' }
    const giveUp = async (why: string): Promise<never> => {
      await transactions.settle(id, 'failed', why)
      throw new UnrecoverableError(why)
    }
    const partner = await partners.get(tx.partnerId)
    if (partner === null || !partner.active) return giveUp('the partner is no longer registered or active')

    let text = tx.answer
    if (text === null) {
      // Answered once: a resend is the same signed message, with the same message_id.
      const composed = await compose(tx, partner)
      if ('skipped' in composed) return giveUp(composed.skipped)
      const problems = loadDciSpec(tx.registry).validateRequest(CALLBACK_PATH[tx.action]!, composed.body)
      if (problems.length > 0) throw new Error(`the ${CALLBACK_ACTION[tx.action]} message does not match the DCI specification: ${problems.map((p) => `${p.pointer} ${p.message}`).join('; ')}`)
      text = JSON.stringify(composed.body)
      await transactions.answered(id, text, composed.status)
    }
    // Kept for txn/status; a partner without a callback URL asks for it there.
    if (partner.callbackUrl === null) {
      await transactions.settle(id, 'failed', 'the partner has no callback URL')
      return { skipped: 'no callback URL' }
    }
    const posted = await postCallback(callbackUrlOf(partner.callbackUrl, tx.action), { body: text, headers: {}, dispatcher: options.dispatcher, timeoutMs: options.settings.timeoutMs })
    switch (posted.outcome) {
      case 'sent':
        await transactions.settle(id, 'sent')
        return { status: posted.status }
      case 'refused': return giveUp(`the callback URL is refused: ${posted.reason}`)
      case 'rejected': return giveUp(`the partner answered ${posted.status}`)
      case 'retry': throw new Error(`the partner's callback: ${posted.reason}`)
    }
  }

  // The message the partner's callback receives for a transaction.
  async function compose (tx: DciTransaction, partner: Partner): Promise<{ body: Record<string, unknown>, status: TxnStatus } | { skipped: string }> {
    const request = JSON.parse(tx.request) as Record<string, unknown>
    const envelope = { header: { message_id: tx.messageId, action: tx.action }, message: request } as unknown as DciEnvelope
    const ctx = { requestId: `dci-${tx.id}`, clientIp: null }
    const action = CALLBACK_ACTION[tx.action]!
    const ids = { transaction_id: tx.transactionId, correlation_id: tx.correlationId }
    const done = (message: Record<string, unknown>, total: number, extra: { reason?: string, reasonMessage?: string } = {}) =>
      ({ body: service.envelope(partner.id, action, message, { status: 'succ', total, completed: total, ...extra }), status: 'succ' as const })
    switch (tx.action) {
      case 'search': {
        const items = await service.search(tx.registry, partner, envelope, ctx)
        return done({ ...ids, search_response: items }, items.length)
      }
      case 'subscribe': {
        const items = await service.subscribe(tx.registry, partner, envelope, tx.id, ctx)
        return done({ ...ids, subscribe_response: items }, items.length)
      }
      case 'unsubscribe': {
        const codes = request.subscription_codes as string[]
        return done({ ...ids, ...await service.unsubscribe(partner, codes) }, codes.length)
      }
      case 'txn-status': {
        const answer = await statusAnswer({ transactions, subscriptions: options.subscriptions }, tx.registry, partner.id, request.txnstatus_request as TxnStatusRequest)
        return done(statusMessage(tx.transactionId, answer), 1, { reasonMessage: answer.reasonMessage, ...(answer.reason === undefined ? {} : { reason: answer.reason }) })
      }
      case 'notify': {
        const notified = await service.notify(partner, request as unknown as NotifyRequest, tx.messageId)
        if ('skipped' in notified) return notified
        return done({ transaction_id: tx.transactionId, notify_event: notified.items }, notified.items.length)
      }
    }
    return { skipped: `${tx.action} is not answered by this registry` }
  }

  const worker = new Worker<DciJob, unknown, DciJobName>(DCI_QUEUE, handle, callbackWorkerOptions({ ...options, ...options.settings }))
  worker.on('error', createLimitedErrorLog(options.log, 'DCI worker error'))
  worker.on('failed', (job, err) => options.log.info({ transaction: job?.data.transactionId, attemptsMade: job?.attemptsMade, reason: err.message }, 'DCI answer not delivered'))
  return worker
}
