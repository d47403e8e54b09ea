// Writes openapi.yaml from the route schemas: `npm run openapi`.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildApp } from '../app.ts'
import { loadConfig } from '../config.ts'
import { createEmbeddedDatabase } from '../db/embedded.ts'
import { migrate } from '../db/migrate.ts'
import { createRedisConnection } from '../redis/connection.ts'
import { createBusClients, ephemeralMemberKeys } from '../bus/index.ts'

export const OPENAPI_FILE = join(import.meta.dirname, '..', '..', 'openapi.yaml')

// Builds the app without touching any service: an in-memory store and a Redis
// connection that is never opened; only the routes are needed.
export async function generateOpenApi (): Promise<string> {
  const config = loadConfig({ LOG_LEVEL: 'silent', WORKER: 'off' })
  const db = await createEmbeddedDatabase({ schema: 'public' })
  await migrate(db)
  const redis = createRedisConnection({ url: config.redis.url, role: 'client' })
  // Port 9 (discard): nothing is ever sent there.
  const bus = createBusClients(config, 'http://127.0.0.1:9', ephemeralMemberKeys())
  const app = await buildApp({ config, db, redis, bus })
  try {
    await app.ready()
    return app.swagger({ yaml: true })
  } finally {
    await app.close()
  }
}

if (import.meta.main) {
  writeFileSync(OPENAPI_FILE, await generateOpenApi())
  console.log(`wrote ${OPENAPI_FILE}`)
}
