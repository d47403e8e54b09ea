import { xypAuth } from '../src/adapters/mapping.ts'
import type { XypAdapter } from '../src/adapters/types.ts'

// KHUR XYP meta WS100008: texts the citizen a one-time code that, once
// checked (khur.checkOtp), is their consent to the listed citizen-1.5.0
// services. A write: each call texts a new code, so it is never retried.
export const adapter: XypAdapter<{ regnum: string, services: string[] }, { requestId: string, status: string }> = {
  operation: 'khur.registerOtp',
  provider: 'meta',
  kind: 'write',
  transport: 'xyp',
  endpoint: '/xyp/meta-1.5.0/ws',
  namespace: 'http://meta.xyp.gov.mn/',
  service: 'WS100008_registerOTPRequest',
  timeoutMs: 5000,
  summary: 'Text a citizen a one-time code for consent to KHUR services, through KHUR XYP',
  // By SMS to the phone on the register (phoneNum 0); fields in the WSDL's order.
  toBus: (request, ctx) => ({
    auth: xypAuth(undefined, ctx.userId),
    fields: {
      isApp: '0',
      isEmail: '0',
      isKiosk: '0',
      isSms: '1',
      jsonWSList: JSON.stringify(request.services),
      phoneNum: '0',
      regnum: request.regnum,
    },
  }),
  fromBus: (r, { requestId }) => ({ requestId, status: String(r.status) }),
}
