// The bus emulator on its own: `npm run exchange [-- --citizens N --seed S]`.
// `npm run --silent exchange -- sample N` prints N registration numbers of
// living adults, one per line, and nothing else.
//
// Environment: EXCHANGE_PORT (3100), EXCHANGE_HOST (127.0.0.1),
// EXCHANGE_CITIZENS (10000), EXCHANGE_SEED, EXCHANGE_DECISION_DELAY_MS (2000),
// EXCHANGE_ADMIN_TOKEN, EXCHANGE_MEMBERS_FILE (see members-file.ts),
// DATA_DIR (./data), EXCHANGE_LOG_LEVEL (warn; per-request logs are off).
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import closeWithGrace from 'close-with-grace'
import { pino } from 'pino'
import { DEFAULT_DECISION_DELAY_MS } from './app.ts'
import { startExchange } from './index.ts'
import type { MemberDefinition } from './members.ts'
import { defaultGatewayMember, loadMembersFile } from './members-file.ts'
import { DEFAULT_CITIZENS, DEFAULT_SEED, generatePopulation } from './population.ts'

class UsageError extends Error {
  readonly code = 'EXCHANGE_USAGE'
  constructor (message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

function positiveInt (value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback
  if (!/^[0-9]+$/.test(value)) throw new UsageError(`${name} must be a whole number, got ${value}`)
  return Number(value)
}

async function main (argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      citizens: { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help === true) {
    process.stdout.write('usage: exchange [--citizens N] [--seed S]\n       exchange sample N [--citizens N] [--seed S]\n')
    return
  }
  const env = process.env
  const citizens = positiveInt(values.citizens ?? env.EXCHANGE_CITIZENS, 'citizens', DEFAULT_CITIZENS)
  const seed = values.seed ?? (env.EXCHANGE_SEED === undefined || env.EXCHANGE_SEED === '' ? DEFAULT_SEED : env.EXCHANGE_SEED)

  if (positionals[0] === 'sample') {
    const n = positiveInt(positionals[1], 'sample N', 10)
    if (n > citizens) throw new UsageError(`sample ${n} is more than the ${citizens} citizens`)
    // The population is prefix-stable: the first people are the same at any size.
    const population = generatePopulation({ seed, citizens })
    const adults = population.livingAdults()
    const picked = (adults.length >= n ? adults : population.citizens).slice(0, n)
    process.stdout.write(picked.map((c) => c.regnum).join('\n') + (picked.length > 0 ? '\n' : ''))
    return
  }
  if (positionals.length > 0) throw new UsageError(`unknown command ${positionals[0] ?? ''}`)

  const log = pino({ name: 'exchange', level: 'info' })
  const dataDir = env.DATA_DIR ?? './data'
  let members: MemberDefinition[]
  if (env.EXCHANGE_MEMBERS_FILE !== undefined && env.EXCHANGE_MEMBERS_FILE !== '') {
    members = loadMembersFile(env.EXCHANGE_MEMBERS_FILE)
  } else {
    const { member, missing } = defaultGatewayMember(dataDir, env)
    members = [member]
    if (missing.length > 0) log.warn({ missing }, 'gateway member keys not found yet; start the gateway once to create them')
  }

  const started = performance.now()
  const running = await startExchange({
    citizens,
    seed,
    members,
    port: positiveInt(env.EXCHANGE_PORT, 'EXCHANGE_PORT', 3100),
    host: env.EXCHANGE_HOST === undefined || env.EXCHANGE_HOST === '' ? '127.0.0.1' : env.EXCHANGE_HOST,
    decisionDelayMs: positiveInt(env.EXCHANGE_DECISION_DELAY_MS, 'EXCHANGE_DECISION_DELAY_MS', DEFAULT_DECISION_DELAY_MS),
    ...(env.EXCHANGE_ADMIN_TOKEN === undefined || env.EXCHANGE_ADMIN_TOKEN === '' ? {} : { adminToken: env.EXCHANGE_ADMIN_TOKEN }),
    logger: { level: env.EXCHANGE_LOG_LEVEL ?? 'warn' },
  })
  const startupMs = Math.round(performance.now() - started)
  log.info({ url: running.url, citizens, seed, startupMs }, `exchange listening at ${running.url}`)

  closeWithGrace({ delay: 10_000, logger: log }, async ({ err, signal }) => {
    if (err !== undefined) log.error({ err }, 'exchange stopping after an error')
    else log.info({ signal }, 'exchange stopping')
    await running.close()
  })
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`exchange: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = err instanceof UsageError ? 2 : 1
})
