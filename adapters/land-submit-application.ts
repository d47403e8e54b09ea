import type { RestAdapter } from '../src/adapters/types.ts'

export const adapter: RestAdapter<Record<string, unknown>> = {
  operation: 'land.submitApplication',
  provider: 'land',
  kind: 'write',
  transport: 'rest',
  service: 'MN/GOV/ALAMGAC/land/submitApplication',
  timeoutMs: 5000,
  summary: 'Deliver an application to the agency; idempotent on X-Road-Id',
  toBus: (request) => request,
  fromBus: (body) => body,
}
