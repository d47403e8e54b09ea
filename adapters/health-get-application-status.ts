import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<{ applicationId: string }> = {
  operation: 'health.getApplicationStatus',
  provider: 'health-insurance',
  kind: 'read',
  transport: 'rest',
  service: 'MN/GOV/GAHI/health-insurance/getApplicationStatus',
  timeoutMs: 2000,
  summary: 'The status the agency gives an application delivered earlier',
  toBus: (request) => request,
  fromBus: (body) => body,
}
