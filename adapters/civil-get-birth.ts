import { canonicalNames } from '../src/adapters/mapping.ts'
import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<{ regnum: string }> = {
  operation: 'civil.getBirth',
  provider: 'civil',
  kind: 'read',
  transport: 'rest',
  service: 'MN/GOV/GASR/civil/getBirth',
  timeoutMs: 2000,
  summary: 'Birth record',
  toBus: (request) => ({ regnum: request.regnum }),
  fromBus: (body) => canonicalNames(body),
}
