import { canonicalNames } from '../src/adapters/mapping.ts'
import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<{ regnum: string }> = {
  operation: 'welfare.getEnrolments',
  provider: 'welfare',
  kind: 'read',
  transport: 'rest',
  service: 'MN/GOV/GOSW/welfare/getEnrolments',
  timeoutMs: 2000,
  summary: 'Enrolled welfare programmes',
  toBus: (request) => ({ regnum: request.regnum }),
  fromBus: (body) => canonicalNames(body),
}
