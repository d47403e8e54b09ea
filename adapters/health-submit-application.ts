import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<Record<string, unknown>> = {
  operation: 'health.submitApplication',
  provider: 'health-insurance',
  kind: 'write',
  transport: 'rest',
  service: 'MN/GOV/GAHI/health-insurance/submitApplication',
  timeoutMs: 5000,
  summary: 'Deliver an application to the agency; idempotent on X-Road-Id',
  toBus: (request) => request,
  fromBus: (body) => body,
}
