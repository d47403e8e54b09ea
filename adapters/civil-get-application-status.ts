import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<{ applicationId: string }> = {
  operation: 'civil.getApplicationStatus',
  provider: 'civil',
  kind: 'read',
  transport: 'rest',
  service: 'MN/GOV/GASR/civil/getApplicationStatus',
  timeoutMs: 2000,
  summary: 'The status the agency gives an application delivered earlier',
  toBus: (request) => request,
  fromBus: (body) => body,
}
