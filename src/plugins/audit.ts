import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createAuditLog, type AuditLog } from '../audit/log.ts'

declare module 'fastify' {
  interface FastifyInstance {
    audit: AuditLog
  }
}

export interface AuditPluginOptions {
  batchWindowMs: number
}

// The hash-chained audit log, with group commit.
async function auditPlugin (app: FastifyInstance, options: AuditPluginOptions): Promise<void> {
  const audit = createAuditLog(app.db, { batchWindowMs: options.batchWindowMs })
  app.decorate('audit', audit)
  // Before the database closes: records still waiting are written.
  app.addHook('preClose', async () => audit.close())
}

export default fp(auditPlugin, { name: 'audit', fastify: '5.x', dependencies: ['storage'] })
