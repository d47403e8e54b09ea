import { createHash } from 'node:crypto'
import pg from 'pg'
import { isConnectionFailure, quoteIdent, storeError, type Database, type Queryable, type QueryResult } from './database.ts'

export interface PostgresOptions {
  url: string
  schema: string
  poolMax: number
  connectionTimeoutMs?: number
  idleTimeoutMs?: number
  statementTimeoutMs?: number
  applicationName?: string
}

// int8 and numeric counts come back as numbers, as they do from PGlite, so
// code above this layer sees one shape whichever store runs.
const types = {
  getTypeParser (oid: number, format?: 'text' | 'binary') {
    if (oid === 20) return (value: string) => Number(value)
    return pg.types.getTypeParser(oid, format as 'text')
  },
}

// Statements with parameters are prepared once per connection and named by
// their text: PostgreSQL then parses and plans the hot ones (intake, each
// delivery step) once, not on every call. The texts are the code's own, so
// the set of names stays small.
const names = new Map<string, string>()
function prepared (text: string, values: unknown[] | undefined): pg.QueryConfig {
  if (values === undefined || values.length === 0) return { text }
  let name = names.get(text)
  if (name === undefined) {
    name = `s_${createHash('sha256').update(text).digest('base64url').slice(0, 22)}`
    names.set(text, name)
  }
  return { name, text, values }
}

function wrap<T> (result: pg.QueryResult): QueryResult<T> {
  return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 }
}

export function createPostgresDatabase (options: PostgresOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30000,
    application_name: options.applicationName ?? 'oss-gateway',
    // search_path per connection keeps each deployment (or test run) in its schema.
    options: `-c search_path=${quoteIdent(options.schema)}`,
    statement_timeout: options.statementTimeoutMs ?? 30000,
    types,
  })
  // An idle client losing its connection must not crash the process before
  // anyone listens (onConnectionError); the pool replaces it and readiness
  // shows the outage.
  const idleErrors = (err: Error) => connectionListeners.forEach((l) => l(err))
  const connectionListeners: Array<(err: Error) => void> = []
  pool.on('error', idleErrors)

  // Connection-class failures leave here as StoreUnavailableError (see database.ts).
  async function run<T> (work: Promise<T>): Promise<T> {
    try {
      return await work
    } catch (err) {
      throw storeError(err)
    }
  }

  return {
    kind: 'postgres',
    schema: options.schema,
    onConnectionError (listener) {
      connectionListeners.push(listener)
    },
    async query<T> (sql: string, params?: unknown[]) {
      return wrap<T>(await run(pool.query(prepared(sql, params))))
    },
    async exec (sql: string) {
      await run(pool.query(sql))
    },
    async transaction<T> (fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await run(pool.connect())
      // A checked-out client reports a lost connection as an 'error' event;
      // unheard, that event would crash the process.
      let broken: Error | undefined
      const onError = (err: Error) => { broken ??= err }
      client.on('error', onError)
      try {
        await run(client.query('BEGIN'))
        const tx: Queryable = {
          async query<R> (sql: string, params?: unknown[]) {
            return wrap<R>(await run(client.query(prepared(sql, params))))
          },
        }
        const result = await fn(tx)
        await run(client.query('COMMIT'))
        return result
      } catch (err) {
        if (broken === undefined && isConnectionFailure(err)) broken = err as Error
        if (broken === undefined) {
          await client.query('ROLLBACK').catch((rollbackErr: Error) => { broken = rollbackErr })
        }
        throw err
      } finally {
        client.off('error', onError)
        // With an error the pool destroys the client instead of reusing it.
        client.release(broken)
      }
    },
    async close () {
      // Idempotent: a second close (shutdown after a failure) is a no-op.
      if (!pool.ending) await pool.end()
    },
  }
}
