import type { FastifyInstance } from 'fastify'

// The OSS desk for officers.
export async function deskConsoleRoutes (_app: FastifyInstance): Promise<void> {
}
