import { canonicalNames } from '../src/adapters/mapping.ts'
import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<{ regnum: string }> = {
  operation: 'employment.getPlacements',
  provider: 'employment',
  kind: 'read',
  transport: 'rest',
  service: 'MN/GOV/GAEP/employment/getPlacements',
  timeoutMs: 2000,
  summary: 'Job placements',
  toBus: (request) => ({ regnum: request.regnum }),
  fromBus: (body) => canonicalNames(body),
}
