import { canonicalNames } from '../src/adapters/mapping.ts'
import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<{ regnum: string }> = {
  operation: 'insurance.getContributions',
  provider: 'social-insurance',
  kind: 'read',
  transport: 'rest',
  service: 'MN/GOV/GASI/social-insurance/getContributions',
  timeoutMs: 2000,
  summary: 'Social insurance contributions, last 12 paid months',
  toBus: (request) => ({ regnum: request.regnum }),
  fromBus: (body) => canonicalNames(body),
}
