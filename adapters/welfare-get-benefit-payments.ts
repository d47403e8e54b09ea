import { canonicalNames } from '../src/adapters/mapping.ts'
import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<{ regnum: string }> = {
  operation: 'welfare.getBenefitPayments',
  provider: 'welfare',
  kind: 'read',
  transport: 'rest',
  service: 'MN/GOV/GOSW/welfare/getBenefitPayments',
  timeoutMs: 2000,
  summary: 'Benefit payments of the last six months',
  toBus: (request) => ({ regnum: request.regnum }),
  fromBus: (body) => canonicalNames(body),
}
