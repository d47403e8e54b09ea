import { canonicalNames } from '../src/adapters/mapping.ts'
import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<{ regnum: string }> = {
  operation: 'land.getOwnershipCertificates',
  provider: 'land',
  kind: 'read',
  transport: 'rest',
  service: 'MN/GOV/ALAMGAC/land/getOwnershipCertificates',
  timeoutMs: 2000,
  summary: 'Land ownership certificates',
  toBus: (request) => ({ regnum: request.regnum }),
  fromBus: (body) => canonicalNames(body),
}
