import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Queue, Worker } from 'bullmq'
import type { MemberKey } from '../bus/member-keys.ts'
import { callbackDispatcher } from '../callbacks/delivery.ts'
import type { Config } from '../config.ts'
import { createDciQueue, createDciWorker, dciJobId, dciJobOptions, type DciJob, type DciJobName } from '../dci/jobs.ts'
import { createDciClient, type DciClient } from '../dci/client.ts'
import { createMessageStore, type MessageStore } from '../dci/messages.ts'
import { createOutboundSearches, createOutboundStore, createOutboundSubscriptions, PARTNER_EVENTS_PER_PAGE, type OutboundSearches, type OutboundStore, type OutboundSubscriptions } from '../dci/outbound.ts'
import { createPartnerStore, type PartnerStore } from '../dci/partners.ts'
import { loadDciPolicy, type DciPolicy } from '../dci/policy.ts'
import { createEventFeed } from '../dci/events.ts'
import { createDciService, type DciService } from '../dci/service.ts'
import { createSubscriptionStore, type SubscriptionStore } from '../dci/subscriptions.ts'
import { createTransactionStore, type TransactionStore } from '../dci/transactions.ts'
import { createLimitedErrorLog } from '../errors/limited-log.ts'
import { closeQueue, closeWorker } from '../queue/close.ts'
import { removeFinished } from '../queue/jobs.ts'
import { createPeriodic } from '../queue/periodic.ts'
import { createRedisConnection } from '../redis/connection.ts'
import { createSecretBox, type SecretBox } from '../secrets/sealed.ts'

declare module 'fastify' {
  interface FastifyInstance {
    dci: {
      partners: PartnerStore
      // Seals what the gateway stores to present elsewhere (partner registries' client secrets).
      secrets: SecretBox
      transactions: TransactionStore
      subscriptions: SubscriptionStore
      messages: MessageStore
      policy: DciPolicy
      service: DciService
      signingKey: MemberKey
      settings: Config['dci']
      queue: Queue<DciJob, unknown, DciJobName>
      // Queues the job that answers a stored transaction (the relay retries if this fails).
      enqueue: (transactionId: number) => Promise<void>
      // The gateway as a client of partners' registries, and its requests there.
      client: DciClient
      outbound: OutboundStore
      searches: OutboundSearches
      // The gateway's subscriptions at partners' registries.
      partnerSubscriptions: OutboundSubscriptions
    }
  }
}

export interface DciPluginOptions {
  settings: Config['dci']
  // The gateway's own key: it signs partner tokens and outgoing DCI messages.
  signingKey: MemberKey
  // Every member signing key held: what an older one sealed still opens.
  memberKeys: MemberKey[]
  redisUrl: string
  callbacks: Config['callbacks']
  delivery: Pick<Config['delivery'], 'worker' | 'concurrency' | 'lockDurationMs' | 'reconcileGraceMs'>
}

// The DCI face's shared parts: registered partners, what they may be granted,
// the search service, and async requests with their queue, relay and worker
// (the worker with WORKER=on).
async function dciPlugin (app: FastifyInstance, options: DciPluginOptions): Promise<void> {
  const { delivery } = options
  const secrets = createSecretBox(options.signingKey, options.memberKeys)
  const partners = createPartnerStore(app.db, secrets)
  const transactions = createTransactionStore(app.db)
  const subscriptions = createSubscriptionStore(app.db)
  const policy = loadDciPolicy()
  const service = createDciService({
    appendAudit: (entry) => app.audit.append(entry),
    invoke: (operation, body, ctx) => app.adapters.invoke(operation, body, ctx),
    policy,
    settings: options.settings,
    signingKey: options.signingKey,
    subscriptions,
    consent: (input) => app.consents.usableByPartner(input),
  })
  const prefix = `${app.redisKeyPrefix}:bull`
  const queueConnection = createRedisConnection({ url: options.redisUrl, role: 'queue', connectionName: 'oss-gateway:dci' })
  queueConnection.on('error', createLimitedErrorLog(app.log, 'the DCI queue\'s Redis connection failed'))
  const queue = createDciQueue(queueConnection, prefix)
  queue.on('error', createLimitedErrorLog(app.log, 'DCI queue error'))

  // Stored transactions become jobs; one still unsettled a grace period after
  // it was queued gets its job again if Redis lost it (the job id is fixed,
  // so a job still there is not doubled).
  const relay = createPeriodic({
    what: 'DCI relay',
    intervalMs: options.callbacks.pollMs,
    log: app.log,
    async run () {
      for (;;) {
        const ids = await transactions.due(delivery.reconcileGraceMs, 500)
        if (ids.length === 0) return
        // Finished in Redis but not in the database: its end was lost; run it again.
        for (const id of ids) await removeFinished(queue, dciJobId(id))
        await queue.addBulk(ids.map((transactionId) => ({ name: 'answer' as const, data: { transactionId }, opts: { ...dciJobOptions(options.callbacks), jobId: dciJobId(transactionId) } })))
        await transactions.markQueued(ids)
        if (ids.length < 500) return
      }
    },
  })
  // Subscribed events become notify transactions, which the relay queues.
  const feed = createEventFeed({ db: app.db, policy, batchSize: 500, maxEventsPerNotify: options.settings.maxItemsPerMessage })
  const events = createPeriodic({
    what: 'DCI event feed',
    intervalMs: options.settings.eventsPollMs,
    log: app.log,
    async run () {
      const stored = await feed.feed()
      if (stored === 0) return
      app.log.info({ notifications: stored }, 'DCI notifications stored')
      relay.nudge()
    },
  })
  const agent = callbackDispatcher(app.callbacks.policy, options.callbacks)
  let worker: Worker<DciJob, unknown, DciJobName> | null = null
  let workerConnection: ReturnType<typeof createRedisConnection> | null = null

  async function enqueue (transactionId: number): Promise<void> {
    await queue.add('answer', { transactionId }, { ...dciJobOptions(options.callbacks), jobId: dciJobId(transactionId) })
    await transactions.markQueued([transactionId])
  }

  // Outbound requests go through the same SSRF-guarded agent as callbacks.
  const client = createDciClient({ partners, senderId: options.settings.senderId, signingKey: options.signingKey, dispatcher: agent, timeoutMs: options.callbacks.timeoutMs })
  const outbound = createOutboundStore(app.db)
  const searches = createOutboundSearches({ store: outbound, client, appendAudit: (entry) => app.audit.append(entry) })
  const partnerSubscriptions = createOutboundSubscriptions({ store: outbound, client, appendAudit: (entry) => app.audit.append(entry), eventsPerPage: PARTNER_EVENTS_PER_PAGE })
  // What the retention lets go: message ids, settled transactions, look-ups
  // in partners' registries and the message ids received from them.
  const expiry = createPeriodic({
    what: 'DCI message expiry',
    intervalMs: 3_600_000,
    log: app.log,
    async run () {
      const gone = await transactions.expire(options.settings.retentionDays) + await outbound.expire(options.settings.retentionDays)
      if (gone > 0) app.log.info({ gone, retentionDays: options.settings.retentionDays }, 'expired DCI message ids, settled transactions and look-ups in partners\' registries')
    },
  })
  app.decorate('dci', { partners, secrets, transactions, subscriptions, messages: createMessageStore(app.db, app.audit), policy, service, signingKey: options.signingKey, settings: options.settings, queue, enqueue, client, outbound, searches, partnerSubscriptions })
  app.addHook('onReady', async () => {
    const resealed = await partners.reseal()
    if (resealed > 0) app.log.info({ resealed }, 'partner registry client secrets sealed again with the current member key')
    relay.start()
    events.start()
    expiry.start()
    if (!delivery.worker) return
    workerConnection = createRedisConnection({ url: options.redisUrl, role: 'worker', connectionName: 'oss-gateway:dci-worker' })
    worker = createDciWorker({
      connection: workerConnection,
      prefix,
      transactions,
      partners,
      subscriptions,
      service,
      dispatcher: agent,
      settings: options.callbacks,
      concurrency: delivery.concurrency,
      lockDurationMs: delivery.lockDurationMs,
      log: app.log,
    })
  })
  app.addHook('onClose', async () => {
    const stopping = Promise.all([relay.stop(), events.stop(), expiry.stop()])
    if (worker !== null && workerConnection !== null) await closeWorker(worker, workerConnection, delivery.lockDurationMs)
    await stopping
    await closeQueue(queue, queueConnection, delivery.lockDurationMs)
    await agent.close()
  })
}

export default fp(dciPlugin, { name: 'dci', fastify: '5.x', dependencies: ['storage', 'redis', 'audit', 'adapters', 'callbacks', 'consent'] })
