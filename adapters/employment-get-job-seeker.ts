import { canonicalNames } from '../src/adapters/mapping.ts'
import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<{ regnum: string }> = {
  operation: 'employment.getJobSeeker',
  provider: 'employment',
  kind: 'read',
  transport: 'rest',
  service: 'MN/GOV/GAEP/employment/getJobSeeker',
  timeoutMs: 2000,
  summary: 'Job-seeker registration',
  toBus: (request) => ({ regnum: request.regnum }),
  fromBus: (body) => canonicalNames(body),
}
