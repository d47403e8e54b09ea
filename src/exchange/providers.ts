import { REGNUM_PATTERN } from '../domain/regnum.ts'
import { ApplicationDesk, type SubmitBody } from './applications.ts'
import { ProviderError } from './errors.ts'
import type { Citizen, Population } from './population.ts'
import { RESULT_SCHEMA } from './outcomes.ts'
import * as reg from './registries.ts'

// The agencies behind the bus, as X-Road members with one subsystem each.
// Member codes (the `GOV` class):
//   GASR     General Authority for State Registration (УБЕГ): civil registration
//   GASI     General Authority for Social Insurance (НДЕГ)
//   GOSW     General Office for Social Welfare (ХХҮЕГ's welfare side)
//   GAEP     General Agency for Employment Promotion (ХХҮЕГ's employment side)
//   ALAMGAC  Agency for Land Administration and Management, Geodesy and Cartography (ГЗБГЗЗГ)
//   MNC      Mongolian Notaries' Chamber (Монголын Нотариатчдын Танхим)
//   GAHI     General Agency for Health Insurance (ЭМДЕГ): takes health
//            insurance applications on its own desk, so its references are its own
//   KHUR     the KHUR (ХУР) exchange platform's own XYP meta services: citizen
//            consent by one-time code (meta-1.5.0); no REST services, no desk work
// The subsystem code doubles as the provider's short name (`civil`, `land`…),
// used by the admin endpoints.

export type JsonSchema = Record<string, unknown>

export interface ServiceContext {
  population: Population
  desk: ApplicationDesk
  clientId: string
  xRoadId: string
  body: unknown
}

export interface ServiceDef {
  code: string
  kind: 'read' | 'write'
  summary: string
  request: JsonSchema
  response: JsonSchema
  handle: (ctx: ServiceContext) => unknown
}

export interface ProviderDef {
  name: string
  id: string
  memberCode: string
  subsystem: string
  title: string
  services: ReadonlyMap<string, ServiceDef>
  // KHUR XYP operations this provider serves (civil only), for access rights.
  xypOperations: readonly string[]
}

// ---- schema helpers ---------------------------------------------------------

const str = { type: 'string' }
const nstr = { type: ['string', 'null'] }
const int = { type: 'integer' }
const bool = { type: 'boolean' }
const date = { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' }
const ndate = { type: ['string', 'null'], pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' }
const month = { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}$' }
const regnum = { type: 'string', pattern: REGNUM_PATTERN }
const sex = { enum: ['male', 'female'] }
const code = (digits: number) => ({ type: 'string', pattern: `^[0-9]{${digits}}$` })

function obj (properties: Record<string, unknown>, optional: string[] = []): JsonSchema {
  return { type: 'object', additionalProperties: false, required: Object.keys(properties).filter((k) => !optional.includes(k)), properties }
}
function nobj (properties: Record<string, unknown>): JsonSchema {
  return { ...obj(properties), type: ['object', 'null'] }
}
function arr (items: unknown): JsonSchema {
  return { type: 'array', items }
}

const person = obj({ regnum, lastname: str, firstname: str })
export const READ_REQUEST = obj({ regnum })

const SUBMIT_REQUEST = obj({
  applicationId: { type: 'string', minLength: 1, maxLength: 100 },
  service: { type: 'string', minLength: 1, maxLength: 200 },
  unit: { type: 'string', minLength: 1, maxLength: 100 },
  channel: { type: 'string', minLength: 1, maxLength: 50 },
  applicant: obj({ regnum }),
  form: { type: 'object' },
})
const SUBMIT_RESPONSE = obj({ applicationId: str, agencyReference: str, status: { const: 'received' }, receivedAt: str, expectedDecisionAt: str }, ['expectedDecisionAt'])
const STATUS_REQUEST = obj({ applicationId: { type: 'string', minLength: 1, maxLength: 100 } })
const STATUS_RESPONSE = obj({
  applicationId: str,
  agencyReference: str,
  status: { enum: ['received', 'approved', 'rejected'] },
  // Why it was rejected, in both languages the agency answers citizens in.
  reason: obj({ mn: str, en: str }),
  decidedAt: str,
  // What the agency gives on approval.
  result: RESULT_SCHEMA,
  // Not decided yet: when the agency expects to have decided.
  expectedDecisionAt: str,
}, ['reason', 'decidedAt', 'result', 'expectedDecisionAt'])

// ---- building services ----------------------------------------------------------

function citizenOf (population: Population, body: unknown): Citizen {
  const value = (body as { regnum: string }).regnum
  const c = population.byRegnum(value)
  if (c === undefined) {
    throw new ProviderError('Provider.NotFound', 'No citizen with this registration number is registered', 'regnum not found in the register')
  }
  return c
}

function read (codeName: string, summary: string, response: JsonSchema, fn: (p: Population, c: Citizen) => unknown): ServiceDef {
  return {
    code: codeName,
    kind: 'read',
    summary,
    request: READ_REQUEST,
    response,
    handle: ({ population, body }) => fn(population, citizenOf(population, body)),
  }
}

function writeServices (): ServiceDef[] {
  return [
    {
      code: 'submitApplication',
      kind: 'write',
      summary: 'Receive an application. Idempotent on X-Road-Id and on applicationId.',
      request: SUBMIT_REQUEST,
      response: SUBMIT_RESPONSE,
      handle: ({ population, desk, clientId, xRoadId, body }) => {
        const b = body as SubmitBody
        if (population.byRegnum(b.applicant.regnum) === undefined) {
          throw new ProviderError('Provider.NotFound', 'The applicant is not registered', 'applicant.regnum not found in the register')
        }
        return desk.submit(clientId, xRoadId, b)
      },
    },
    {
      code: 'getApplicationStatus',
      kind: 'read',
      summary: 'The status of an application received earlier.',
      request: STATUS_REQUEST,
      response: STATUS_RESPONSE,
      handle: ({ desk, body }) => desk.status((body as { applicationId: string }).applicationId),
    },
  ]
}

const civilServices: ServiceDef[] = [
  read('getIdCard', 'Identity card of a citizen', obj({
    regnum, civilId: code(12), surname: str, lastname: str, firstname: str, sex, birthDate: date, nationality: str,
    idCard: nobj({ cardNumber: str, issueDate: date, expiryDate: ndate, issuingAuthority: str, status: { enum: ['valid', 'expired', 'cancelled', 'not_issued'] } }),
  }), reg.idCard),
  read('getBirth', 'Birth record', obj({
    regnum, surname: str, lastname: str, firstname: str, sex, birthDate: date, certificateNumber: str,
    birthPlace: obj({ aimagCityCode: code(2), aimagCityName: str, soumDistrictCode: code(4), soumDistrictName: str }),
    father: { anyOf: [person, { type: 'null' }] },
    mother: { anyOf: [person, { type: 'null' }] },
  }), reg.birth),
  read('getAddress', 'Registered home address', obj({
    regnum, aimagCityCode: code(2), aimagCityName: str, soumDistrictCode: code(4), soumDistrictName: str,
    bagKhorooCode: code(6), bagKhorooName: str, addressDetail: str, fullAddress: str, registeredOn: date,
  }), reg.address),
  read('getMarriage', 'Marriage records', obj({
    regnum, maritalStatus: { enum: ['single', 'married', 'widowed'] },
    marriages: arr(obj({ certificateNumber: str, marriageDate: date, spouse: person })),
  }), reg.marriage),
  read('getChildren', 'Children registered to the citizen as a parent', obj({
    regnum, children: arr(obj({ regnum, lastname: str, firstname: str, sex, birthDate: date })),
  }), reg.children),
  read('getDeath', 'Death record', obj({ regnum, deceased: bool, deathDate: ndate, certificateNumber: nstr }), reg.death),
  {
    code: 'checkRegnum',
    kind: 'read',
    summary: 'Whether a registration number is registered (the authority on validity)',
    request: READ_REQUEST,
    response: obj({ regnum: str, valid: bool }),
    handle: ({ population, body }) => {
      const value = (body as { regnum: string }).regnum
      return { regnum: value, valid: population.byRegnum(value) !== undefined }
    },
  },
]

const insuranceServices: ServiceDef[] = [
  read('getContributions', 'Social insurance contributions, last 12 paid months', obj({
    regnum, totalMonths: int,
    months: arr(obj({ period: month, employer: nstr, employerRegister: nstr, wageMnt: int, contributionMnt: int })),
  }), reg.contributions),
  read('getInsuredStatus', 'Whether the citizen is currently insured', obj({
    regnum, insured: bool, insuranceType: { enum: ['employee', 'voluntary', 'none'] }, lastContributionPeriod: { type: ['string', 'null'], pattern: '^[0-9]{4}-[0-9]{2}$' },
  }), reg.insuredStatus),
  read('getPension', 'Social insurance pension', obj({
    regnum, receivesPension: bool,
    pension: nobj({ type: str, monthlyAmountMnt: int, since: date }),
  }), reg.pension),
]

const welfareServices: ServiceDef[] = [
  read('getEnrolments', 'Enrolled welfare programmes', obj({
    regnum,
    enrolments: arr(obj({ programmeCode: { enum: Object.keys(reg.PROGRAMMES) }, programmeName: str, programmeNameMn: str, enrolledOn: date, status: { enum: ['active', 'ended'] }, monthlyAmountMnt: int })),
  }), reg.enrolments),
  read('getBenefitPayments', 'Benefit payments of the last six months', obj({
    regnum,
    payments: arr(obj({ paymentId: str, programmeCode: { enum: Object.keys(reg.PROGRAMMES) }, period: month, amountMnt: int, paidOn: date })),
  }), reg.benefitPayments),
]

const employmentServices: ServiceDef[] = [
  read('getJobSeeker', 'Job-seeker registration', obj({
    regnum, registered: bool, registeredOn: ndate, desiredOccupation: nstr, educationLevel: { enum: ['secondary', 'vocational', 'bachelor', 'master', null] },
  }), reg.jobSeeker),
  read('getTrainings', 'Vocational trainings', obj({
    regnum, trainings: arr(obj({ trainingId: str, title: str, provider: str, startDate: date, endDate: date, completed: bool })),
  }), reg.trainings),
  read('getPlacements', 'Job placements', obj({
    regnum, placements: arr(obj({ placementId: str, employer: str, position: str, startDate: date, programme: str })),
  }), reg.placements),
]

const landServices: ServiceDef[] = [
  read('getPossessionCertificates', 'Land possession certificates', obj({
    regnum, certificates: arr(obj({ certificateNumber: str, parcelId: str, issuedOn: date, validUntil: ndate, purpose: str, areaM2: int, unitCode: code(6) })),
  }), reg.possessionCertificates),
  read('getOwnershipCertificates', 'Land ownership certificates', obj({
    regnum, certificates: arr(obj({ certificateNumber: str, parcelId: str, issuedOn: date, purpose: str, areaM2: int, unitCode: code(6) })),
  }), reg.ownershipCertificates),
  read('getPlots', 'Land plots held', obj({
    regnum, plots: arr(obj({ parcelId: str, unitCode: code(6), unitName: str, areaM2: int, purpose: str, right: { enum: ['ownership', 'possession'] } })),
  }), reg.plots),
]

const notaryServices: ServiceDef[] = [
  read('getPowersOfAttorney', 'Notarised powers of attorney given by the citizen', obj({
    regnum,
    powersOfAttorney: arr(obj({ number: str, notaryName: str, issuedOn: date, validUntil: date, agent: person, scope: str, status: { enum: ['valid', 'expired'] } })),
  }), reg.powersOfAttorney),
]

export const XYP_CITIZEN_OPERATIONS = [
  'WS100101_getCitizenIDCardInfo',
  'WS100103_getCitizenAddressInfo',
  'WS100120_childrenInfo',
  'WS100125_checkCitizenRegnum',
] as const

// The KHUR platform's meta-1.5.0 operations the emulator serves.
export const XYP_META_OPERATIONS = [
  'WS100008_registerOTPRequest',
  'WS100009_checkOtp',
] as const

function provider (name: string, memberCode: string, title: string, services: ServiceDef[], xypOperations: readonly string[] = [], writes = true): ProviderDef {
  const all = writes ? [...services, ...writeServices()] : services
  return {
    name,
    id: `MN/GOV/${memberCode}/${name}`,
    memberCode,
    subsystem: name,
    title,
    services: new Map(all.map((s) => [s.code, s])),
    xypOperations,
  }
}

export const PROVIDERS: readonly ProviderDef[] = [
  provider('civil', 'GASR', 'General Authority for State Registration', civilServices, XYP_CITIZEN_OPERATIONS),
  provider('social-insurance', 'GASI', 'General Authority for Social Insurance', insuranceServices),
  provider('welfare', 'GOSW', 'General Office for Social Welfare', welfareServices),
  provider('employment', 'GAEP', 'General Agency for Employment Promotion', employmentServices),
  provider('land', 'ALAMGAC', 'Agency for Land Administration and Management, Geodesy and Cartography', landServices),
  provider('notary', 'MNC', "Mongolian Notaries' Chamber", notaryServices),
  provider('health-insurance', 'GAHI', 'General Agency for Health Insurance', []),
  // Takes no applications: it only sends and checks citizens' one-time codes.
  provider('meta', 'KHUR', 'KHUR data-exchange platform (XYP meta services)', [], XYP_META_OPERATIONS, false),
]

export function providerByName (name: string): ProviderDef | undefined {
  return PROVIDERS.find((p) => p.name === name || p.id === name)
}

export function providerById (id: string): ProviderDef | undefined {
  return PROVIDERS.find((p) => p.id === id)
}
