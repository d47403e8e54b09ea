import { xypAuth } from '../src/adapters/mapping.ts'
import type { XypAdapter } from '../src/adapters/types.ts'

// KHUR XYP WS100125: the civil registry's word on whether a number exists.
export const adapter: XypAdapter<{ regnum: string }> = {
  operation: 'khur.checkCitizenRegnum',
  provider: 'civil',
  kind: 'read',
  transport: 'xyp',
  endpoint: '/xyp/citizen-1.5.0/ws',
  service: 'WS100125_checkCitizenRegnum',
  timeoutMs: 2000,
  summary: 'Whether a registration number is registered, through KHUR XYP',
  toBus: (request, ctx) => ({
    auth: xypAuth(undefined, ctx.userId),
    fields: { regnum: request.regnum },
  }),
  fromBus: (r) => ({ valid: r.valid === 'true' }),
}
