import type { FastifyInstance } from 'fastify'

// Operations for admins: delivery health, adapters, audit log, callbacks.
export async function operationsConsoleRoutes (_app: FastifyInstance): Promise<void> {
}
