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
