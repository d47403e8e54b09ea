import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Database } from '../db/index.ts'
import { createLimitedErrorLog } from '../errors/limited-log.ts'

declare module 'fastify' {
  interface FastifyInstance {
    db: Database
  }
}

export interface StoragePluginOptions {
  // Opened and migrated by the composition root (src/server.ts or a test).
  db: Database
}

async function storagePlugin (app: FastifyInstance, { db }: StoragePluginOptions): Promise<void> {
  app.decorate('db', db)
  db.onConnectionError(createLimitedErrorLog(app.log, 'a database connection was lost; the pool replaces it'))
  app.addHook('onClose', async () => {
    await db.close()
  })
}

export default fp(storagePlugin, { name: 'storage', fastify: '5.x' })
