import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { changeRecord } from '../audit/record.ts'
import { mongoliaToday } from '../catalogue/offering.ts'
import { buildSeedDocument } from '../catalogue/seed.ts'
import { createSnapshot, type Snapshot } from '../catalogue/snapshot.ts'
import { createCatalogueStore, type CatalogueStore } from '../catalogue/store.ts'
import { ProblemError } from '../errors/problem-error.ts'

declare module 'fastify' {
  interface FastifyInstance {
    catalogue: CatalogueService
  }
}

export interface CatalogueService {
  store: CatalogueStore
  // The published version, from memory.
  current(): Snapshot
  // Reloads the published version if it changed (after a publish here, or
  // in another process: every instance also polls).
  refresh(): Promise<void>
  // Today's date (YYYY-MM-DD) in Mongolia: what "now" means for mobile rounds.
  today(): string
}

export interface CataloguePluginOptions {
  refreshMs: number
  // A fixed calendar for tests; Mongolia's today by default.
  today?: () => string
}

export async function createCatalogueService (app: FastifyInstance, options: { today?: () => string } = {}): Promise<CatalogueService> {
  const store = createCatalogueStore(app.db, {
    // Catalogue changes go into the audit chain, in the same transaction.
    onChanges: async (tx, version, actor, changes) => {
      await app.audit.appendWithin(tx, changes.map((c) => changeRecord('catalogue_change', {
        requestId: `catalogue-v${version}`,
        actor,
        result: c.action,
        details: { version, collection: c.collection, key: c.key, before: c.before ?? null, after: c.after ?? null },
      })))
    },
  })
  if (await store.ensureSeeded(buildSeedDocument)) app.log.info('loaded the seed catalogue as version 1')
  let snapshot: Snapshot | null = null
  const refresh = async () => {
    const head = await store.publishedDigest()
    if (head === null || (snapshot?.version === head.version && snapshot.digest === head.digest)) return
    const row = await store.published()
    if (row !== null) snapshot = createSnapshot(row.version, row.digest, row.document)
  }
  await refresh()
  return {
    store,
    current () {
      if (snapshot === null) throw new ProblemError('DEPENDENCY_UNAVAILABLE', 'no catalogue has been published')
      return snapshot
    },
    refresh,
    today: options.today ?? (() => mongoliaToday()),
  }
}

async function cataloguePlugin (app: FastifyInstance, options: CataloguePluginOptions): Promise<void> {
  const service = await createCatalogueService(app, options.today === undefined ? {} : { today: options.today })
  app.decorate('catalogue', service)
  // The public reads keep the snapshot in memory while the database is away.
  // One refresh at a time (a hung connect outlasts the interval); one line when
  // refreshing starts failing and one when it works again, not one per tick.
  let running = false
  let failing = false
  const timer = setInterval(() => {
    if (running) return
    running = true
    service.refresh().then(() => {
      if (failing) app.log.info('the published catalogue can be refreshed again')
      failing = false
    }, (err) => {
      if (!failing) app.log.warn({ err }, 'could not refresh the published catalogue; serving the one in memory')
      failing = true
    }).finally(() => { running = false })
  }, options.refreshMs)
  timer.unref()
  app.addHook('onClose', async () => clearInterval(timer))
}

export default fp(cataloguePlugin, { name: 'catalogue', fastify: '5.x', dependencies: ['storage', 'audit'] })
