export interface QueryResult<T> {
  rows: T[]
  rowCount: number
}

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>
}

// The one storage interface: PostgreSQL through `pg` in production, PGlite
// embedded when no DATABASE_URL is set. Both speak the same SQL.
export interface Database extends Queryable {
  readonly kind: 'postgres' | 'embedded'
  readonly schema: string
  // Runs `fn` in one transaction; rolls back when it throws.
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>
  // Runs a multi-statement script without parameters.
  exec(sql: string): Promise<void>
  // Connections lost while idle (the server restarted, say): the store
  // replaces them; this only lets the owner log it.
  onConnectionError(listener: (err: Error) => void): void
  close(): Promise<void>
}

export class DatabaseError extends Error {
  readonly code: string
  constructor (code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'DatabaseError'
    this.code = code
  }
}

// The store cannot be reached: the connection was refused, lost or timed out,
// the server is shutting down, or the store was closed. Not a bug in the
// caller; the same request can succeed once the store is back.
export class StoreUnavailableError extends DatabaseError {
  constructor (cause: unknown) {
    super('STORE_UNAVAILABLE', `the database cannot be reached: ${(cause as Error)?.message ?? String(cause)}`, { cause })
    this.name = 'StoreUnavailableError'
  }
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])
// SQLSTATE: admin shutdown, crash shutdown, cannot connect now, too many connections.
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300'])
// Errors that pg and PGlite raise without a code.
const CONNECTION_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Cannot use a pool after calling end on the pool$/,
  /^PGlite is closed$/,
]

// Whether `err` says the store could not be reached, rather than that a
// statement failed; SQLSTATE class 08 is "connection exception".
export function isConnectionFailure (err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true
  if (!(err instanceof Error)) return false
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || UNAVAILABLE_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true
  // A host with several addresses fails with one error per address.
  if (err instanceof AggregateError) return err.errors.some(isConnectionFailure)
  return CONNECTION_MESSAGES.some((m) => m.test(err.message))
}

// What a store throws: connection-class failures as one StoreUnavailableError,
// anything else unchanged.
export function storeError (err: unknown): unknown {
  return err instanceof StoreUnavailableError || !isConnectionFailure(err) ? err : new StoreUnavailableError(err)
}

// The StoreUnavailableError behind `err`, if it is one or was caused by one.
export function storeOutageOf (err: unknown): StoreUnavailableError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof StoreUnavailableError) return e
  }
  return undefined
}

export function quoteIdent (name: string): string {
  return '"' + name.replaceAll('"', '""') + '"'
}

// A timestamp column as ISO 8601, whether the driver gave a Date or text.
export function isoTime (v: unknown): string {
  return v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString()
}

// A WHERE clause from optional filters: each `[sql with one ?, value]` whose
// value is set becomes a numbered parameter. The params array is returned so
// callers can append LIMIT and the like.
export function whereClause (filters: Array<[string, unknown]>): { where: string, params: unknown[] } {
  const parts: string[] = []
  const params: unknown[] = []
  for (const [sql, value] of filters) {
    if (value === undefined) continue
    params.push(value)
    parts.push(sql.replace('?', `$${params.length}`))
  }
  return { where: parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`, params }
}
