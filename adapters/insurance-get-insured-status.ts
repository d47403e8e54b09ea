import { canonicalNames } from '../src/adapters/mapping.ts'
import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<{ regnum: string }> = {
  operation: 'insurance.getInsuredStatus',
  provider: 'social-insurance',
  kind: 'read',
  transport: 'rest',
  service: 'MN/GOV/GASI/social-insurance/getInsuredStatus',
  timeoutMs: 2000,
  summary: 'Whether the citizen is currently insured',
  toBus: (request) => ({ regnum: request.regnum }),
  fromBus: (body) => canonicalNames(body),
}
