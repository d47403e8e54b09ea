import { canonicalNames } from '../src/adapters/mapping.ts'
import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<{ regnum: string }> = {
  operation: 'land.getPlots',
  provider: 'land',
  kind: 'read',
  transport: 'rest',
  service: 'MN/GOV/ALAMGAC/land/getPlots',
  timeoutMs: 2000,
  summary: 'Land plots held',
  toBus: (request) => ({ regnum: request.regnum }),
  fromBus: (body) => canonicalNames(body),
}
