import { canonicalNames } from '../src/adapters/mapping.ts'
import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<{ regnum: string }> = {
  operation: 'civil.getIdCard',
  provider: 'civil',
  kind: 'read',
  transport: 'rest',
  service: 'MN/GOV/GASR/civil/getIdCard',
  timeoutMs: 2000,
  summary: 'Identity card of a citizen',
  toBus: (request) => ({ regnum: request.regnum }),
  fromBus: (body) => canonicalNames(body),
}
