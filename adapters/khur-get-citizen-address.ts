import { xypAuth } from '../src/adapters/mapping.ts'
import type { XypAdapter } from '../src/adapters/types.ts'

// KHUR XYP WS100103: the registered home address.
export const adapter: XypAdapter<{ regnum: string }> = {
  operation: 'khur.getCitizenAddress',
  provider: 'civil',
  kind: 'read',
  transport: 'xyp',
  endpoint: '/xyp/citizen-1.5.0/ws',
  service: 'WS100103_getCitizenAddressInfo',
  timeoutMs: 2000,
  summary: 'Registered home address, through KHUR XYP',
  toBus: (request, ctx) => ({
    auth: xypAuth(ctx.citizenRegnum ?? request.regnum, ctx.userId),
    fields: { regnum: request.regnum },
  }),
  fromBus: (r) => ({
    regnum: r.regnum,
    aimagCityCode: r.aimagCityCode,
    aimagCityName: r.aimagCityName,
    soumDistrictCode: r.soumDistrictCode,
    soumDistrictName: r.soumDistrictName,
    bagKhorooCode: r.bagKhorooCode,
    bagKhorooName: r.bagKhorooName,
    addressDetail: r.addressDetail ?? null,
    fullAddress: r.fullAddress,
  }),
}
