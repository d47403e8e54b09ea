import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseError, quoteIdent, type Database } from './database.ts'

export const MIGRATIONS_DIR = join(import.meta.dirname, 'migrations')

export interface Migration {
  version: number
  name: string
  sql: string
  checksum: string
}

export function loadMigrations (dir: string = MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()
  return files.map((file) => {
    const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file)
    if (match === null) throw new DatabaseError('MIGRATION_NAME', `migration file ${file} must be named NNNN_name.sql`)
    const sql = readFileSync(join(dir, file), 'utf8')
    return {
      version: Number(match[1]),
      name: match[2] as string,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    }
  })
}

export interface MigrateResult {
  applied: number[]
  current: number
}

// Applies pending migrations in one transaction under an advisory lock, so two
// processes starting together apply each migration exactly once; the second
// one waits, then finds nothing to do. Edited applied migrations stop the start.
export async function migrate (db: Database, migrations: Migration[] = loadMigrations()): Promise<MigrateResult> {
  const schema = quoteIdent(db.schema)
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`oss-gateway:migrate:${db.schema}`])
    await tx.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
    await tx.query(`CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`)
    const { rows } = await tx.query<{ version: number, checksum: string }>(
      `SELECT version, checksum FROM ${schema}.schema_migrations ORDER BY version`)
    const done = new Map(rows.map((r) => [r.version, r.checksum]))
    const applied: number[] = []
    for (const m of migrations) {
      const seen = done.get(m.version)
      if (seen !== undefined) {
        if (seen !== m.checksum) {
          throw new DatabaseError('MIGRATION_CHANGED', `migration ${m.version}_${m.name} was changed after it was applied; add a new migration instead`)
        }
        continue
      }
      await tx.query(`SET LOCAL search_path TO ${schema}`)
      // One statement at a time keeps the extended protocol usable on both stores.
      for (const statement of splitStatements(m.sql)) await tx.query(statement)
      await tx.query(`INSERT INTO ${schema}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`, [m.version, m.name, m.checksum])
      applied.push(m.version)
    }
    const current = Math.max(0, ...migrations.map((m) => m.version), ...done.keys())
    return { applied, current }
  })
}

// Splits a migration script on semicolons outside quotes, comments and
// dollar-quoted bodies.
export function splitStatements (sql: string): string[] {
  const out: string[] = []
  let start = 0
  let i = 0
  while (i < sql.length) {
    const ch = sql[i]
    if (ch === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i)
      i = end === -1 ? sql.length : end + 1
    } else if (ch === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2)
      i = end === -1 ? sql.length : end + 2
    } else if (ch === "'" || ch === '"') {
      const end = sql.indexOf(ch, i + 1)
      i = end === -1 ? sql.length : end + 1
    } else if (ch === '$') {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i))
      if (tag === null) {
        i++
      } else {
        const end = sql.indexOf(tag[0], i + tag[0].length)
        i = end === -1 ? sql.length : end + tag[0].length
      }
    } else if (ch === ';') {
      out.push(sql.slice(start, i))
      start = ++i
    } else {
      i++
    }
  }
  out.push(sql.slice(start))
  return out.map((s) => s.trim()).filter((s) => s.replace(/--[^\n]*/g, '').trim() !== '')
}
