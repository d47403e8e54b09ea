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

// How long fold() waits for transactions older than its call to end.
const FOLD_CATCH_UP_MS = 60_000

export interface StatsPluginOptions {
  foldIntervalMs: number
  foldBatch: number
  suppressionThreshold: number
}

export function createStatsService (app: FastifyInstance, options: StatsPluginOptions): StatsService {
  const rollup = createRollup(app.db, { batchSize: options.foldBatch })
  const indicators = loadIndicators()
  const answers = createStatsAnswers({
    reader: createStatsReader({ db: app.db, catalogue: () => app.catalogue.current() }),
    indicators,
    catalogue: () => app.catalogue.current(),
    today: () => app.catalogue.today(),
    threshold: checkThreshold(options.suppressionThreshold),
  })
  const fold = async () => {
    const done = await rollup.catchUp({ timeoutMs: FOLD_CATCH_UP_MS })
    if (!done.complete) throw new Error(`the roll-ups could not catch up within ${FOLD_CATCH_UP_MS} ms: an older transaction is still running on the database server`)
    return done
  }
  return { rollup, answers, indicators, fold }
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
