// The catalogue from the command line, on the configured database:
//   npm run catalogue -- export FILE [--version draft|published|N]
//   npm run catalogue -- import FILE
// FILE ending in .yaml or .yml is YAML, anything else JSON; `-` is stdout.
import { readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { loadConfig } from '../config.ts'
import { openDatabase } from '../db/index.ts'
import { buildSeedDocument } from '../catalogue/seed.ts'
import { createCatalogueStore } from '../catalogue/store.ts'
import type { CatalogueDocument } from '../catalogue/document.ts'
import { ProblemError, ValidationProblem } from '../errors/problem-error.ts'

const isYaml = (file: string) => /\.ya?ml$/i.test(file)

export async function runCatalogueCli (argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { version: { type: 'string', default: 'draft' } } })
  const [command, file] = positionals
  if ((command !== 'export' && command !== 'import') || file === undefined) {
    console.error('usage: npm run catalogue -- export FILE [--version draft|published|N] | import FILE')
    return 64
  }
  const db = await openDatabase(loadConfig())
  try {
    const store = createCatalogueStore(db)
    await store.ensureSeeded(buildSeedDocument)
    if (command === 'export') {
      const which = values.version
      const row = which === 'draft' ? await store.draft() : which === 'published' ? await store.published() : await store.version(Number(which))
      if (row === null) throw new ProblemError('NOT_FOUND', 'nothing has been published')
      const text = isYaml(file) ? toYaml(row.document, { lineWidth: 0 }) : JSON.stringify(row.document, null, 2) + '\n'
      if (file === '-') process.stdout.write(text)
      else writeFileSync(file, text)
      console.error(`exported version ${row.version} (${row.status}) to ${file}`)
      return 0
    }
    const text = readFileSync(file, 'utf8')
    const document = (isYaml(file) ? parseYaml(text, { maxAliasCount: 100 }) : JSON.parse(text)) as CatalogueDocument
    // The operator at the console speaks for the draft as it is now.
    const row = await store.replaceDraft('cli', '*', document, 'import')
    console.error(`imported ${file} into draft version ${row.version}; publish it to make it current`)
    return 0
  } catch (err) {
    if (err instanceof ValidationProblem) {
      console.error(`the catalogue has ${err.errors.length} problem(s); nothing was changed:`)
      for (const e of err.errors) console.error(`  ${e.pointer || '/'}: ${e.detail}`)
      return 65
    }
    if (err instanceof ProblemError) {
      console.error(`error: ${err.detail}`)
      return 1
    }
    throw err
  } finally {
    await db.close()
  }
}

if (import.meta.main) process.exitCode = await runCatalogueCli(process.argv.slice(2))
