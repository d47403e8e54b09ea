import { xypAuth } from '../src/adapters/mapping.ts'
import type { XypAdapter } from '../src/adapters/types.ts'

// KHUR XYP meta WS100009: whether the code the citizen was texted matches.
// A match uses the code up and starts the approval that citizenOtp then
// carries; a miss counts against it. A write, so never retried: a retry of a
// match that got through would answer false.
export const adapter: XypAdapter<{ regnum: string, otp: string }, { match: boolean, requestId: string }> = {
  operation: 'khur.checkOtp',
  provider: 'meta',
  kind: 'write',
  transport: 'xyp',
  endpoint: '/xyp/meta-1.5.0/ws',
  namespace: 'http://meta.xyp.gov.mn/',
  service: 'WS100009_checkOtp',
  timeoutMs: 2000,
  summary: 'Check the one-time code a citizen was texted, through KHUR XYP',
  toBus: (request, ctx) => ({
    auth: xypAuth(undefined, ctx.userId),
    fields: { otp: request.otp, regnum: request.regnum },
  }),
  fromBus: (r, { requestId }) => ({ match: r.match === 'true', requestId }),
}
