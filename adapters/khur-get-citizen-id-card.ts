import { xypAuth } from '../src/adapters/mapping.ts'
import type { XypAdapter } from '../src/adapters/types.ts'

// KHUR XYP WS100101: the citizen's identity card, address and birth place in one answer.
export const adapter: XypAdapter<{ regnum: string }> = {
  operation: 'khur.getCitizenIdCard',
  provider: 'civil',
  kind: 'read',
  transport: 'xyp',
  endpoint: '/xyp/citizen-1.5.0/ws',
  service: 'WS100101_getCitizenIDCardInfo',
  timeoutMs: 2000,
  summary: 'Identity card of a citizen, through KHUR XYP',
  toBus: (request, ctx) => ({
    auth: xypAuth(ctx.citizenRegnum ?? request.regnum, ctx.userId),
    fields: { regnum: request.regnum },
  }),
  fromBus: (r) => ({
    regnum: r.regnum,
    civilId: r.civilId,
    clanName: r.surname ?? null,
    patronymic: r.lastname,
    givenName: r.firstname,
    sex: r.gender === 'Эрэгтэй' ? 'male' : 'female',
    birthDate: r.birthDateAsText,
    birthPlace: r.birthPlace ?? null,
    nationality: r.nationality ?? null,
    address: {
      aimagCityCode: r.aimagCityCode,
      soumDistrictCode: r.soumDistrictCode,
      bagKhorooCode: r.bagKhorooCode,
      fullAddress: r.passportAddress ?? null,
    },
    idCard: r.passportNum === undefined
      ? null
      : { cardNumber: r.passportNum, issueDate: r.passportIssueDate ?? null, expiryDate: r.passportExpireDate ?? null },
  }),
}

