import type { FastifyInstance } from 'fastify'

// Operations figures for admins (delivery health per agency, callbacks).
export async function operationsApiRoutes (_app: FastifyInstance): Promise<void> {
}
