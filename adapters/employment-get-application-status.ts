import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<{ applicationId: string }> = {
  operation: 'employment.getApplicationStatus',
  provider: 'employment',
  kind: 'read',
  transport: 'rest',
  service: 'MN/GOV/GAEP/employment/getApplicationStatus',
  timeoutMs: 2000,
  summary: 'The status the agency gives an application delivered earlier',
  toBus: (request) => request,
  fromBus: (body) => body,
}
