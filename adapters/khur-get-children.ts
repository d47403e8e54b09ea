import { arrayOf } from '../src/bus/xyp-client.ts'
import { xypAuth } from '../src/adapters/mapping.ts'
import type { XypAdapter } from '../src/adapters/types.ts'

// KHUR XYP WS100120: the children of the consenting citizen in auth.citizen.
export const adapter: XypAdapter<{ regnum: string }> = {
  operation: 'khur.getChildren',
  provider: 'civil',
  kind: 'read',
  transport: 'xyp',
  endpoint: '/xyp/citizen-1.5.0/ws',
  service: 'WS100120_childrenInfo',
  timeoutMs: 2000,
  summary: 'Children of a citizen, through KHUR XYP',
  toBus: (request, ctx) => ({
    auth: xypAuth(request.regnum, ctx.userId),
    fields: {},
  }),
  // One child comes back as an element, several as a list.
  fromBus: (r) => ({
    children: arrayOf(r.listData).map((c: any) => ({
      regnum: c.regnum,
      patronymic: c.lastname,
      givenName: c.firstname,
      birthDate: String(c.sendDate ?? '').slice(0, 10),
      birthCertificateNumber: c.birthCertificateNumber ?? null,
      alive: c.state !== 'нас барсан',
    })),
  }),
}
