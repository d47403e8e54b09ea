import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<{ applicationId: string }> = {
  operation: 'land.getApplicationStatus',
  provider: 'land',
  kind: 'read',
  transport: 'rest',
  service: 'MN/GOV/ALAMGAC/land/getApplicationStatus',
  timeoutMs: 2000,
  summary: 'The status the agency gives an application delivered earlier',
  toBus: (request) => request,
  fromBus: (body) => body,
}
