import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createPeriodic } from '../queue/periodic.ts'
import { createStatsAnswers, type StatsAnswers } from '../stats/answers.ts'
import { loadIndicators, type IndicatorCatalogue } from '../stats/indicators.ts'
import { createStatsReader } from '../stats/query.ts'
import { createRollup, type FoldResult, type Rollup } from '../stats/rollup.ts'
import { checkThreshold } from '../stats/suppress.ts'

declare module 'fastify' {
  interface FastifyInstance {
    stats: StatsService
  }
}

export interface StatsService {
  rollup: Rollup
  answers: StatsAnswers
  indicators: IndicatorCatalogue
  // Brings the roll-ups up to date with everything written before the call
  // (tests); the periodic fold does it on its own.
  fold(): Promise<FoldResult>
}

// How long the fold's horizon may stand still (a long transaction somewhere
// on the server) before committed events above it are folded early.
const FOLD_AHEAD_AFTER_MS = 10_000
// The embedded store has no autovacuum: the fold refreshes the planner's
// statistics of the roll-ups itself, this often (PostgreSQL's does it).
const EMBEDDED_ANALYZE_EVERY_EVENTS = 20_000

export interface StatsPluginOptions {
  foldIntervalMs: number
  foldBatch: number
  suppressionThreshold: number
}

export function createStatsService (app: FastifyInstance, options: StatsPluginOptions): StatsService {
  const rollup = createRollup(app.db, {
    batchSize: options.foldBatch,
    aheadAfterMs: Math.max(FOLD_AHEAD_AFTER_MS, 5 * options.foldIntervalMs),
    analyzeEveryEvents: app.db.kind === 'embedded' ? EMBEDDED_ANALYZE_EVERY_EVENTS : 0,
  })
  const indicators = loadIndicators()
  const answers = createStatsAnswers({
    reader: createStatsReader({ db: app.db, catalogue: () => app.catalogue.current() }),
    indicators,
    catalogue: () => app.catalogue.current(),
    today: () => app.catalogue.today(),
    threshold: checkThreshold(options.suppressionThreshold),
  })
  return { rollup, answers, indicators, fold: () => rollup.catchUp() }
}

// Monitoring and evaluation: the roll-ups, folded now and then by whichever
// gateway process gets the cursor first, and the answers read from them.
async function statsPlugin (app: FastifyInstance, options: StatsPluginOptions): Promise<void> {
  const service = createStatsService(app, options)
  app.decorate('stats', service)
  if (options.foldIntervalMs === 0) return
  const periodic = createPeriodic({ run: async () => { await service.rollup.fold() }, intervalMs: options.foldIntervalMs, log: app.log, what: 'statistics fold' })
  app.addHook('onReady', async () => periodic.start())
  app.addHook('onClose', async () => periodic.stop())
}

export default fp(statsPlugin, { name: 'stats', fastify: '5.x', dependencies: ['storage', 'catalogue'] })
