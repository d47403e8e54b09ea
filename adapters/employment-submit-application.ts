import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<Record<string, unknown>> = {
  operation: 'employment.submitApplication',
  provider: 'employment',
  kind: 'write',
  transport: 'rest',
  service: 'MN/GOV/GAEP/employment/submitApplication',
  timeoutMs: 5000,
  summary: 'Deliver an application to the agency; idempotent on X-Road-Id',
  toBus: (request) => request,
  fromBus: (body) => body,
}
