import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { DatabaseError, quoteIdent, storeError, StoreUnavailableError, type Database, type Queryable } from './database.ts'

export interface EmbeddedOptions {
  // Directory for the data files; omit for an in-memory store.
  dataDir?: string
  schema: string
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

// Lock files this process holds; a lock naming our own pid that is not in
// here was left by an earlier process that had the same pid (a container's).
const held = new Set<string>()

// PGlite is one Postgres backend inside this process: two processes on one
// directory would corrupt it, so a lock file keeps the second one out.
function acquireLock (lockPath: string): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
      held.add(lockPath)
      return () => {
        held.delete(lockPath)
        rmSync(lockPath, { force: true })
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const holder = Number(readFileSync(lockPath, 'utf8'))
      const ours = holder === process.pid
      if ((ours && held.has(lockPath)) || (!ours && Number.isInteger(holder) && holder > 0 && isAlive(holder))) {
        throw new DatabaseError('EMBEDDED_STORE_LOCKED',
          `the embedded store in ${lockPath.replace(/\/[^/]+$/, '')} is in use by process ${holder}; ` +
          'set DATABASE_URL to PostgreSQL to run several processes')
      }
      rmSync(lockPath, { force: true })
    }
  }
  throw new DatabaseError('EMBEDDED_STORE_LOCKED', `could not lock ${lockPath}`)
}

export async function createEmbeddedDatabase (options: EmbeddedOptions): Promise<Database> {
  let release = () => {}
  let dataDir: string | undefined
  if (options.dataDir !== undefined) {
    mkdirSync(options.dataDir, { recursive: true })
    release = acquireLock(join(options.dataDir, 'pglite.lock'))
    dataDir = join(options.dataDir, 'pglite')
  }
  let db: PGlite
  try {
    db = await PGlite.create(dataDir)
    await db.exec(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(options.schema)}; SET search_path TO ${quoteIdent(options.schema)}`)
  } catch (err) {
    release()
    throw new DatabaseError('EMBEDDED_STORE_FAILED', `could not open the embedded store: ${(err as Error).message}`, { cause: err })
  }

  // A closed store is an outage, whatever PGlite calls it; other failures pass unchanged.
  async function run<T> (work: () => Promise<T>): Promise<T> {
    try {
      return await work()
    } catch (err) {
      throw db.closed && !(err instanceof StoreUnavailableError) ? new StoreUnavailableError(err) : storeError(err)
    }
  }

  const asQueryable = (q: Pick<PGlite, 'query'>): Queryable => ({
    async query<T> (sql: string, params?: unknown[]) {
      const result = await run(() => q.query<T>(sql, params))
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length }
    },
  })

  return {
    kind: 'embedded',
    // In-process: there is no connection to lose.
    onConnectionError () {},
    schema: options.schema,
    ...asQueryable(db),
    async exec (sql: string) {
      await run(() => db.exec(sql))
    },
    async transaction<T> (fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return run(() => db.transaction((tx) => fn(asQueryable(tx))))
    },
    async close () {
      if (db.closed) return
      try {
        await db.close()
      } finally {
        release()
      }
    },
  }
}
