// The catalogue from the command line:
//   npm run catalogue -- export FILE [--version draft|published|N]
//   npm run catalogue -- import FILE
// FILE ending in .yaml or .yml is YAML, anything else JSON; `-` is stdout.
//
// While a gateway runs it holds the embedded store, so the command goes
// through the gateway's admin API when one answers at GATEWAY_URL (default:
// http://127.0.0.1:PORT), with the admin token in GATEWAY_TOKEN or, in
// development, one minted from DATA_DIR's development issuer. Otherwise, or
// with --direct, it opens the configured database itself.
import { readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { ConfigError, loadConfig, type Config } from '../config.ts'
import { openDatabase } from '../db/index.ts'
import { buildSeedDocument } from '../catalogue/seed.ts'
import { pointByKey } from '../catalogue/pointers.ts'
import { createCatalogueStore } from '../catalogue/store.ts'
import type { CatalogueDocument } from '../catalogue/document.ts'
import { ProblemError, ValidationProblem, type FieldError } from '../errors/problem-error.ts'
import { mintDevToken } from './token.ts'

const isYaml = (file: string) => /\.ya?ml$/i.test(file)
const USAGE = 'usage: npm run catalogue -- export FILE [--version draft|published|N] | import FILE [--direct] [--gateway URL]'
const API = '/v1/admin/catalogue'

// An expected failure: one line on stderr and this exit code, no stack.
class CliFailure extends Error {
  readonly exitCode: number
  constructor (message: string, exitCode = 1) {
    super(message)
    this.exitCode = exitCode
  }
}

interface Problem { code?: string, detail?: string, errors?: FieldError[] }

function reportProblems (errors: FieldError[]): number {
  console.error(`the catalogue has ${errors.length} problem(s); nothing was changed:`)
  for (const e of errors) console.error(`  ${e.pointer || '/'}: ${e.detail}`)
  return 65 // EX_DATAERR
}

function writeOut (file: string, document: unknown): void {
  const text = isYaml(file) ? toYaml(document, { lineWidth: 0 }) : JSON.stringify(document, null, 2) + '\n'
  if (file === '-') process.stdout.write(text)
  else writeFileSync(file, text)
}

function readIn (file: string): { text: string, document: CatalogueDocument } {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new CliFailure(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 66) // EX_NOINPUT
  }
  try {
    return { text, document: (isYaml(file) ? parseYaml(text, { maxAliasCount: 100 }) : JSON.parse(text)) as CatalogueDocument }
  } catch (err) {
    throw new CliFailure(`${file} is not valid ${isYaml(file) ? 'YAML' : 'JSON'}: ${(err as Error).message}`, 65)
  }
}

// The gateway at `base`, if one answers there.
async function gatewayAnswers (base: string): Promise<boolean> {
  try {
    const res = await fetch(`${base}/health/live`, { signal: AbortSignal.timeout(1500) })
    await res.body?.cancel()
    return res.ok
  } catch {
    return false
  }
}

async function adminToken (config: Config): Promise<string> {
  const given = process.env.GATEWAY_TOKEN
  if (given !== undefined && given !== '') return given
  return mintDevToken(config.dataDir, { role: 'admin', sub: 'catalogue-cli', ttlSeconds: 120 })
}

async function viaGateway (base: string, config: Config, command: 'export' | 'import', file: string, version: string): Promise<number> {
  const call = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${base}${API}${path}`, {
      ...init,
      headers: { ...init.headers as Record<string, string>, authorization: `Bearer ${await adminToken(config)}` },
      signal: AbortSignal.timeout(60_000),
    }).catch((err: Error) => { throw new CliFailure(`the gateway at ${base} did not answer: ${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ''}`) })
    if (res.ok) return res
    const problem = await res.json().catch(() => ({})) as Problem
    if (problem.code === 'VALIDATION_FAILED' && Array.isArray(problem.errors)) throw new ValidationProblem(problem.errors)
    const hint = res.status === 401 || res.status === 403
      ? '; set GATEWAY_TOKEN to an admin token from one of its issuers (a development token works only when the gateway runs in development mode on this DATA_DIR)'
      : ''
    throw new CliFailure(`the gateway at ${base} answered ${res.status}${problem.code === undefined ? '' : ` ${problem.code}`}: ${problem.detail ?? res.statusText}${hint}`)
  }
  if (command === 'export') {
    const res = await call(`/export?format=json&version=${encodeURIComponent(version)}`)
    const document = await res.json()
    writeOut(file, document)
    const n = /catalogue-v(\d+)\./.exec(res.headers.get('content-disposition') ?? '')?.[1]
    console.error(`exported version ${n ?? version} (${version}) to ${file} through the gateway at ${base}`)
    return 0
  }
  const { text } = readIn(file)
  // The operator at the console speaks for the draft as it is now.
  const res = await call('/import', { method: 'POST', body: text, headers: { 'content-type': isYaml(file) ? 'application/yaml' : 'application/json', 'if-match': '*' } })
  const row = await res.json() as { version: number }
  console.error(`imported ${file} into draft version ${row.version} through the gateway at ${base}; publish it to make it current`)
  return 0
}

async function direct (config: Config, command: 'export' | 'import', file: string, version: string, base: string, forced: boolean): Promise<number> {
  let db
  try {
    db = await openDatabase(config)
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'EMBEDDED_STORE_LOCKED') {
      const hint = forced ? 'leave out --direct to go through the running gateway' : `no gateway answers at ${base}: set GATEWAY_URL to the running gateway`
      throw new CliFailure(`${(err as Error).message}; or ${hint}`)
    }
    throw new CliFailure(`cannot open the database: ${(err as Error).message}`)
  }
  try {
    const store = createCatalogueStore(db)
    await store.ensureSeeded(buildSeedDocument)
    if (command === 'export') {
      const row = version === 'draft' ? await store.draft() : version === 'published' ? await store.published() : await store.version(Number(version))
      if (row === null) throw new ProblemError('NOT_FOUND', 'nothing has been published')
      writeOut(file, row.document)
      console.error(`exported version ${row.version} (${row.status}) to ${file}`)
      return 0
    }
    const { document } = readIn(file)
    try {
      // The operator at the console speaks for the draft as it is now.
      const row = await store.replaceDraft('cli', '*', document, 'import')
      console.error(`imported ${file} into draft version ${row.version}; publish it to make it current`)
    } catch (err) {
      if (err instanceof ValidationProblem) throw new ValidationProblem(pointByKey(document, err.errors), { cause: err })
      throw err
    }
    return 0
  } finally {
    await db.close()
  }
}

export async function runCatalogueCli (argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { version: { type: 'string', default: 'draft' }, direct: { type: 'boolean', default: false }, gateway: { type: 'string' } },
    })
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`)
    return 64
  }
  const { positionals, values } = parsed
  const [command, file] = positionals
  if ((command !== 'export' && command !== 'import') || file === undefined || !/^(draft|published|[0-9]{1,9})$/.test(values.version)) {
    console.error(USAGE)
    return 64 // EX_USAGE
  }
  try {
    const config = loadConfig()
    const base = (values.gateway ?? process.env.GATEWAY_URL ?? `http://127.0.0.1:${config.port}`).replace(/\/+$/, '')
    const explicit = values.gateway !== undefined || process.env.GATEWAY_URL !== undefined
    if (!values.direct && await gatewayAnswers(base)) return await viaGateway(base, config, command, file, values.version)
    if (!values.direct && explicit) throw new CliFailure(`no gateway answers at ${base}; leave GATEWAY_URL unset or pass --direct to open the database instead`)
    return await direct(config, command, file, values.version, base, values.direct)
  } catch (err) {
    if (err instanceof ValidationProblem) return reportProblems(err.errors)
    if (err instanceof CliFailure) {
      console.error(`error: ${err.message}`)
      return err.exitCode
    }
    if (err instanceof ProblemError || err instanceof ConfigError) {
      console.error(`error: ${err instanceof ProblemError ? err.detail : err.message}`)
      return err instanceof ConfigError ? 78 : 1
    }
    // Anything else (the database going away mid-way, a bug): still one
    // line; the stack only when asked for.
    console.error(`error: ${(err as Error).message}`)
    if (process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace') console.error(err)
    return 70 // EX_SOFTWARE
  }
}

if (import.meta.main) process.exitCode = await runCatalogueCli(process.argv.slice(2))
