import { canonicalNames } from '../src/adapters/mapping.ts'
import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<{ regnum: string }> = {
  operation: 'employment.getTrainings',
  provider: 'employment',
  kind: 'read',
  transport: 'rest',
  service: 'MN/GOV/GAEP/employment/getTrainings',
  timeoutMs: 2000,
  summary: 'Vocational trainings',
  toBus: (request) => ({ regnum: request.regnum }),
  fromBus: (body) => canonicalNames(body),
}
