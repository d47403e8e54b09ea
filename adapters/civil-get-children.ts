import { canonicalNames } from '../src/adapters/mapping.ts'
import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<{ regnum: string }> = {
  operation: 'civil.getChildren',
  provider: 'civil',
  kind: 'read',
  transport: 'rest',
  service: 'MN/GOV/GASR/civil/getChildren',
  timeoutMs: 2000,
  summary: 'Children registered to the citizen as a parent',
  toBus: (request) => ({ regnum: request.regnum }),
  fromBus: (body) => canonicalNames(body),
}
