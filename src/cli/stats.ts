// The statistics roll-ups from the command line:
//   npm run stats -- rebuild
//   npm run stats -- fold
//   npm run stats -- simulate --applications N [--months 12] [--seed S] [--end YYYY-MM] [--force] [--through-store]
//
// Each opens the configured database (DATABASE_URL, or the embedded store in
// DATA_DIR) and migrates it, as the gateway does. A gateway on the embedded
// store holds it: stop the gateway first, or use PostgreSQL. Each ends with
// the roll-ups up to date with everything written before it started (see
// foldAll).
import { parseArgs } from 'node:util'
import { ConfigError, loadConfig, type Config } from '../config.ts'
import { openDatabase, type Database } from '../db/index.ts'
import { createRollup, type FoldResult, type Rollup } from '../stats/rollup.ts'
import { currentMonth, hasRealApplications, simulate, SimulationConflict, SimulationInputError } from '../stats/simulate.ts'

export const USAGE = `usage: npm run stats -- <command> [options]

commands:
  rebuild     empty the statistics roll-ups and fold the whole history again
  fold        bring the roll-ups up to date (the gateway does this on its own
              every STATS_FOLD_INTERVAL_MS)
  simulate    fill the database with a made-up history (the rows the
              gateway's application store writes), then fold it:
                --applications N   how many applications (required)
                --months M         over how many months (default 12)
                --end YYYY-MM      the last month (default: this month, Mongolian time)
                --seed S           the random seed (default 1): the same seed
                                   gives the same figures
                --force            also into a database with real applications
                --through-store    every step through the gateway's application
                                   store, statement by statement (about 200
                                   applications/s on the embedded store);
                                   without it the same rows are written in bulk

  -h, --help  this text

Every figure of a simulated history is SYNTHETIC (seasons, population
weights, services, outcomes and processing times are invented); never
publish it as statistics.
`

// An expected failure: one line on stderr and this exit code, no stack.
class CliFailure extends Error {
  readonly exitCode: number
  constructor (message: string, exitCode = 1) {
    super(message)
    this.exitCode = exitCode
  }
}

export interface Io {
  out: (line: string) => void
  err: (line: string) => void
}

const standardIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
}

async function open (config: Config, command: string): Promise<Database> {
  try {
    return await openDatabase(config)
  } catch (err) {
    if ((err as { code?: string }).code === 'EMBEDDED_STORE_LOCKED') {
      const hint = command === 'fold'
        ? 'the running gateway folds the roll-ups itself every STATS_FOLD_INTERVAL_MS'
        : `stop the gateway (it holds the embedded store) and run \`npm run stats -- ${command}\` again`
      throw new CliFailure(`${(err as Error).message}; ${hint}`)
    }
    throw new CliFailure(`cannot open the database: ${(err as Error).message}`)
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`
const plural = (n: number, what: string) => `${n.toLocaleString('en-US')} ${what}${n === 1 ? '' : 's'}`

function positiveInt (name: string, text: string | undefined, fallback?: number): number {
  if (text === undefined) {
    if (fallback === undefined) throw new CliFailure(`simulate needs --${name}\n${USAGE}`, 64)
    return fallback
  }
  if (!/^[0-9]{1,9}$/.test(text) || Number(text) < 1) throw new CliFailure(`--${name} must be a positive whole number, not ${text}`, 64)
  return Number(text)
}

// A number as it is, anything else by its digest.
function seedOf (text: string): number {
  if (/^[0-9]{1,9}$/.test(text)) return Number(text)
  let h = 2166136261
  for (const ch of text) h = Math.imul(h ^ ch.codePointAt(0)!, 16777619) >>> 0
  return h
}

export async function runStats (argv: string[], env: Record<string, string | undefined> = process.env, io: Io = standardIo): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        applications: { type: 'string' },
        months: { type: 'string' },
        seed: { type: 'string' },
        end: { type: 'string' },
        force: { type: 'boolean' },
        'through-store': { type: 'boolean' },
      },
    })
  } catch (err) {
    io.err(`${(err as Error).message}\n${USAGE}`)
    return 64
  }
  const { positionals, values } = parsed
  if (values.help === true) {
    io.out(USAGE)
    return 0
  }
  const [command, ...extra] = positionals
  const simulating = command === 'simulate'
  const optionsGiven = values.applications !== undefined || values.months !== undefined || values.seed !== undefined || values.end !== undefined || values.force === true || values['through-store'] === true
  if ((command !== 'rebuild' && command !== 'fold' && !simulating) || extra.length > 0 || (!simulating && optionsGiven)) {
    io.err(USAGE)
    return 64 // EX_USAGE
  }

  let db: Database | undefined
  try {
    const config = loadConfig(env)
    let simulation
    if (simulating) {
      const applications = positiveInt('applications', values.applications)
      const months = positiveInt('months', values.months, 12)
      if (months > 120) throw new CliFailure('--months is at most 120', 64)
      const thisMonth = currentMonth()
      const end = values.end ?? thisMonth
      if (!/^[0-9]{4}-(0[1-9]|1[0-2])$/.test(end)) throw new CliFailure(`--end must be a month YYYY-MM, not ${end}`, 64)
      if (end > thisMonth) throw new CliFailure(`--end ${end} is after this month (${thisMonth}); a history cannot end in the future`, 64)
      simulation = { applications, months, end, seed: seedOf(values.seed ?? '1'), writer: values['through-store'] === true ? 'store' as const : 'bulk' as const }
    }

    db = await open(config, command)
    const rollup = createRollup(db, { batchSize: config.stats.foldBatch, aheadAfterMs: 0 })

    if (command === 'rebuild' || command === 'fold') {
      const started = performance.now()
      // A rebuild takes what is final; catching up takes what committed since.
      const first = command === 'rebuild' ? await rollup.rebuild() : { events: 0, audit: 0 }
      const more = await rollup.catchUp()
      const done = { events: first.events + more.events, audit: first.audit + more.audit }
      io.out(`${command === 'rebuild' ? 'rebuilt the statistics roll-ups: folded' : 'folded'} ${plural(done.events, 'application event')} and ${plural(done.audit, 'audit record')} in ${seconds(performance.now() - started)}`)
      return 0
    }

    const s = simulation!
    if (values.force !== true && await hasRealApplications(db)) {
      throw new CliFailure('the database holds applications the simulation did not write; a made-up history would mix with them in every figure (pass --force to do it anyway)')
    }
    const progress = process.stderr.isTTY && io === standardIo
    const result = await simulate(db, {
      ...s,
      delivery: config.delivery,
      ...(progress ? { onProgress: (done: number, total: number) => process.stderr.write(`\r  ${done}/${total} applications`) } : {}),
    })
    if (progress) process.stderr.write('\r\x1b[K')
    const foldStarted = performance.now()
    const folded = await rollup.catchUp()
    await rollup.analyze()
    const foldMs = performance.now() - foldStarted
    const pct = (n: number) => `${(100 * n / Math.max(1, result.applications)).toFixed(1)}%`
    const first = result.months[0]!
    const last = result.months.at(-1)!
    io.out(`simulated ${plural(result.applications, 'application')} (${plural(result.events, 'event')}, ${plural(result.persons, 'person')}) received ${first === last ? `in ${first}` : `from ${first} to ${last}`}, in ${result.seconds.toFixed(1)} s (${Math.round(result.applications / Math.max(result.seconds, 0.001))} applications/s ${s.writer === 'store' ? 'through the store' : 'in bulk'}, ${db.kind === 'embedded' ? 'embedded store' : 'PostgreSQL'})`)
    io.out(`  approved ${pct(result.approved)}, rejected ${pct(result.rejected)}, failed ${pct(result.failed)}, still open ${pct(result.open)}; ${plural(result.adminRetries, 'dead-letter')} retried by an admin`)
    io.out(`  folded ${plural(folded.events, 'event')} into the roll-ups in ${seconds(foldMs)}`)
    io.out('  the figures are SYNTHETIC: made up for demonstrations, never statistics')
    io.out('see a report (with the gateway running: npm start):')
    io.out(`  curl -H "Authorization: Bearer $(npm run --silent token -- admin)" "http://127.0.0.1:${config.port}/v1/stats/report?period=${last}&unit=62&format=html" > report-${last}-62.html`)
    return 0
  } catch (err) {
    if (err instanceof CliFailure) {
      io.err(err.exitCode === 64 ? err.message : `error: ${err.message}`)
      return err.exitCode
    }
    if (err instanceof SimulationInputError) {
      io.err(`error: ${err.message}`)
      return 64
    }
    if (err instanceof SimulationConflict) {
      io.err(`error: ${err.message}`)
      return 1
    }
    if (err instanceof ConfigError) {
      io.err(`error: ${err.message}`)
      return 78 // EX_CONFIG
    }
    // Anything else (the database going away mid-way, a bug): still one
    // line; the stack only when asked for.
    io.err(`error: ${(err as Error).message}`)
    if (env.LOG_LEVEL === 'debug' || env.LOG_LEVEL === 'trace') console.error(err)
    return 70 // EX_SOFTWARE
  } finally {
    await db?.close()
  }
}

if (import.meta.main) process.exitCode = await runStats(process.argv.slice(2))
