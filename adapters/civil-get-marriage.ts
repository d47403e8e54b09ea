import { canonicalNames } from '../src/adapters/mapping.ts'
import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<{ regnum: string }> = {
  operation: 'civil.getMarriage',
  provider: 'civil',
  kind: 'read',
  transport: 'rest',
  service: 'MN/GOV/GASR/civil/getMarriage',
  timeoutMs: 2000,
  summary: 'Marriage records',
  toBus: (request) => ({ regnum: request.regnum }),
  fromBus: (body) => canonicalNames(body),
}
