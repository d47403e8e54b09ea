import { join } from 'node:path'
import type { Config } from '../config.ts'
import type { Database } from './database.ts'
import { createEmbeddedDatabase } from './embedded.ts'
import { migrate } from './migrate.ts'
import { createPostgresDatabase } from './postgres.ts'

export type { Database, Queryable, QueryResult } from './database.ts'

// Opens the configured store and brings its schema up to date.
export async function openDatabase (config: Config): Promise<Database> {
  const db = config.database.url === undefined
    ? await createEmbeddedDatabase({ dataDir: join(config.dataDir, 'db'), schema: config.database.schema })
    : createPostgresDatabase({ url: config.database.url, schema: config.database.schema, poolMax: config.database.poolMax })
  try {
    await migrate(db)
  } catch (err) {
    await db.close().catch(() => {})
    throw err
  }
  return db
}
