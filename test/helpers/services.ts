import { randomBytes } from 'node:crypto'
import pg from 'pg'

// The machine's real PostgreSQL and Redis; override for other setups.
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

// A unique name per test file and run, so no test sees another's state.
export function uniqueName (prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`
}

export async function dropSchema (schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await client.connect()
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  } finally {
    await client.end()
  }
}

// The store and Redis settings of a process a test spawns: its own schema
// (dropped when the test ends), key prefix and data directory.
export function ownServices (tt: { testdir: () => string, teardown: (fn: () => unknown) => void }, prefix: string): Record<string, string> {
  const schema = uniqueName(prefix)
  tt.teardown(() => dropSchema(schema))
  return {
    DATA_DIR: tt.testdir(),
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: schema,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: `test:${schema}`,
  }
}

// A migrated store on the machine's PostgreSQL in a schema of its own,
// closed and dropped when the test ends.
export async function openTestDatabase (tt: { teardown: (fn: () => unknown) => void }): Promise<import('../../src/db/database.ts').Database> {
  const { createPostgresDatabase } = await import('../../src/db/postgres.ts')
  const { migrate } = await import('../../src/db/migrate.ts')
  const schema = uniqueName('t')
  const db = createPostgresDatabase({ url: TEST_DATABASE_URL, schema, poolMax: 2 })
  tt.teardown(async () => {
    await db.close()
    await dropSchema(schema)
  })
  await migrate(db)
  return db
}
