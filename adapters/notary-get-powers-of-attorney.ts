import { canonicalNames } from '../src/adapters/mapping.ts'
import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<{ regnum: string }> = {
  operation: 'notary.getPowersOfAttorney',
  provider: 'notary',
  kind: 'read',
  transport: 'rest',
  service: 'MN/GOV/MNC/notary/getPowersOfAttorney',
  timeoutMs: 2000,
  summary: 'Notarised powers of attorney given by the citizen',
  toBus: (request) => ({ regnum: request.regnum }),
  fromBus: (body) => canonicalNames(body),
}
