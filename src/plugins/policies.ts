import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { loadPolicies, type Policies } from '../citizen/policy.ts'

declare module 'fastify' {
  interface FastifyInstance {
    policies: Policies
  }
}

// The purposes table (seed/policies.yaml), checked against the adapters at start.
async function policiesPlugin (app: FastifyInstance): Promise<void> {
  app.decorate('policies', loadPolicies(undefined, (op) => app.adapters.has(op)))
}

export default fp(policiesPlugin, { name: 'policies', fastify: '5.x', dependencies: ['adapters'] })
