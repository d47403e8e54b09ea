import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { MemberKey } from '../bus/member-keys.ts'
import type { Config } from '../config.ts'
import { createPartnerStore, type PartnerStore } from '../dci/partners.ts'
import { loadDciPolicy, type DciPolicy } from '../dci/policy.ts'

declare module 'fastify' {
  interface FastifyInstance {
    dci: { partners: PartnerStore, policy: DciPolicy, signingKey: MemberKey, settings: Config['dci'] }
  }
}

export interface DciPluginOptions {
  settings: Config['dci']
  // The gateway's own key: it signs partner tokens and outgoing DCI messages.
  signingKey: MemberKey
}

// The DCI face's shared parts: registered partners and what they may be granted.
async function dciPlugin (app: FastifyInstance, options: DciPluginOptions): Promise<void> {
  app.decorate('dci', {
    partners: createPartnerStore(app.db),
    policy: loadDciPolicy(),
    signingKey: options.signingKey,
    settings: options.settings,
  })
}

export default fp(dciPlugin, { name: 'dci', fastify: '5.x', dependencies: ['storage'] })
