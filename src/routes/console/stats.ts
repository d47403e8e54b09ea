import type { FastifyInstance } from 'fastify'

// Monitoring and evaluation dashboards (analysts, admins, officers).
export async function statsConsoleRoutes (_app: FastifyInstance): Promise<void> {
}
