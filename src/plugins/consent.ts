import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../config.ts'
import type { MemberKey } from '../bus/member-keys.ts'
import { createConsents, type Consents } from '../consent/consents.ts'
import { createSecretBox } from '../secrets/sealed.ts'
import { loadDciPolicy } from '../dci/policy.ts'

declare module 'fastify' {
  interface FastifyInstance {
    consents: Consents
  }
}

export interface ConsentPluginOptions {
  settings: Config['consent']
  // The one-time codes kept for XYP's auth.citizen are sealed with a key
  // derived from the member signing key; older keys still open what they sealed.
  signingKey: MemberKey
  memberKeys: MemberKey[]
  // Epoch milliseconds; tests move it.
  now?: () => number
}

// Citizens' consents: asked by officers (a KHUR one-time code, or a portal
// request), given or refused by citizens, checked by every look-up.
async function consentPlugin (app: FastifyInstance, options: ConsentPluginOptions): Promise<void> {
  const xyp = new Map(app.adapters.describe().filter((a) => a.transport === 'xyp').map((a) => [a.operation, a.service]))
  app.decorate('consents', createConsents({
    db: app.db,
    appendWithin: (tx, entries) => app.audit.appendWithin(tx, entries),
    invoke: (operation, body, ctx) => app.adapters.invoke(operation, body, ctx),
    xypServiceOf: (operation) => xyp.get(operation),
    policies: app.policies,
    partnerPurposes: loadDciPolicy().purposes,
    secrets: createSecretBox(options.signingKey, options.memberKeys),
    settings: options.settings,
    ...(options.now === undefined ? {} : { now: options.now }),
  }))
}

export default fp(consentPlugin, { name: 'consent', fastify: '5.x', dependencies: ['storage', 'audit', 'adapters', 'policies'] })
