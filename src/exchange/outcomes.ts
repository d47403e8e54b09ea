import { createHash } from 'node:crypto'
import { composeRegnum, placeLetters } from './issue-regnum.ts'
import type { Population } from './population.ts'

// What an agency decides and gives back on approval, as a pure function of
// the application (so a desk answers the same every time it is asked).
// Results carry only what the applicant needs: a number, an amount.

export interface Bilingual { mn: string, en: string }

export type Outcome = 'approved' | 'rejected'

export type ApplicationResult =
  | { kind: 'registration', regnum: string, certificateNumber: string }
  | { kind: 'certificate', certificateNumber: string, validUntil?: string }
  | { kind: 'benefit', amountMnt: number, frequency: 'monthly' | 'once', period: { from: string, to: string | null } }

export const REJECTION_REASONS: readonly Bilingual[] = [
  { mn: 'Өргөдөл гаргагч шаардлага хангахгүй байна', en: 'The applicant does not meet the eligibility conditions' },
  { mn: 'Бүрдүүлэх баримт бичиг дутуу эсвэл бүрэн бус байна', en: 'Supporting documents are missing or incomplete' },
  { mn: 'Өргөдөл гаргагч энэ эрхийг аль хэдийн эдэлж байна', en: 'The applicant already holds this entitlement' },
]

function digestOf (...parts: string[]): Buffer {
  return createHash('sha256').update(parts.join('\u0000')).digest()
}

// Most applications are approved; the decision is a pure function of the id.
export function decide (applicationId: string): { status: Outcome, reason?: Bilingual } {
  const digest = digestOf(applicationId)
  if ((digest[0] ?? 0) < 218) return { status: 'approved' }
  return { status: 'rejected', reason: rejectionReason(applicationId) }
}

export function rejectionReason (applicationId: string): Bilingual {
  return REJECTION_REASONS[(digestOf(applicationId)[1] ?? 0) % REJECTION_REASONS.length]!
}

// Monthly amounts of the benefits the emulator's agencies grant, in MNT
// (2025 rates, rounded); one-off grants are `once`.
const BENEFITS: Readonly<Record<string, { amountMnt: number, frequency: 'monthly' | 'once' }>> = {
  'welfare.child-money': { amountMnt: 100_000, frequency: 'monthly' },
  'welfare.social-pension': { amountMnt: 345_000, frequency: 'monthly' },
  'welfare.caregiver-allowance': { amountMnt: 170_000, frequency: 'monthly' },
  'welfare.honoured-mothers': { amountMnt: 200_000, frequency: 'once' },
  'welfare.food-stamps': { amountMnt: 32_000, frequency: 'monthly' },
  'welfare.mother-child-allowance': { amountMnt: 50_000, frequency: 'monthly' },
  'welfare.disabled-child-allowance': { amountMnt: 170_000, frequency: 'monthly' },
  'insurance.old-age-pension': { amountMnt: 650_000, frequency: 'monthly' },
  'insurance.survivor-pension': { amountMnt: 550_000, frequency: 'monthly' },
  'insurance.disability-pension': { amountMnt: 600_000, frequency: 'monthly' },
  'insurance.maternity-benefit': { amountMnt: 2_400_000, frequency: 'once' },
  'insurance.unemployment-benefit': { amountMnt: 480_000, frequency: 'monthly' },
  'insurance.funeral-grant': { amountMnt: 500_000, frequency: 'once' },
}

const month = (ms: number) => new Date(ms).toISOString().slice(0, 7)
const addMonths = (ms: number, n: number) => { const d = new Date(ms); d.setUTCMonth(d.getUTCMonth() + n); return d }

export interface ResultContext {
  applicationId: string
  prefix: string
  service: string
  form: Record<string, unknown>
  decidedAtMs: number
  population?: Population
  // Registration numbers issued by this desk so far, so none is issued twice.
  issued: Set<string>
}

let letterCache: { population: Population, letters: ReadonlyMap<string, string> } | undefined

// A newborn's registration number, as the civil registry issues it: place
// letters of the birth soum or district, the birth date, a sex digit and the
// check digit; never one already in the register.
function newbornRegnum (ctx: ResultContext): string | undefined {
  const birthDate = ctx.form.birthDate
  const sex = ctx.form.sex
  if (typeof birthDate !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(birthDate) || (sex !== 'male' && sex !== 'female')) return undefined
  let letters = 'УБ'
  if (ctx.population !== undefined) {
    if (letterCache?.population !== ctx.population) letterCache = { population: ctx.population, letters: placeLetters(ctx.population.units) }
    letters = letterCache.letters.get(String(ctx.form.birthUnit ?? '').slice(0, 4)) ?? letters
  }
  const first = (digestOf(ctx.applicationId, 'regnum')[0] ?? 0) % 5
  for (let k = 0; k < 5; k++) {
    const regnum = composeRegnum(letters, birthDate, ((first + k) % 5) * 2 + (sex === 'male' ? 1 : 0))
    if (!ctx.issued.has(regnum) && ctx.population?.byRegnum(regnum) === undefined) return regnum
  }
  return undefined
}

function certificateNumber (ctx: ResultContext): string {
  const n = digestOf(ctx.applicationId, 'certificate').readUInt32BE(0) % 10_000_000
  return `${ctx.prefix}${new Date(ctx.decidedAtMs).getUTCFullYear()}${String(n).padStart(7, '0')}`
}

// What the agency gives back on approval of this service.
export function resultOf (ctx: ResultContext): ApplicationResult {
  if (ctx.service === 'civil.birth-registration') {
    const regnum = newbornRegnum(ctx)
    if (regnum !== undefined) {
      ctx.issued.add(regnum)
      return { kind: 'registration', regnum, certificateNumber: certificateNumber(ctx) }
    }
  }
  const benefit = BENEFITS[ctx.service]
  if (benefit !== undefined) {
    const from = month(addMonths(ctx.decidedAtMs, 1).getTime())
    return { kind: 'benefit', amountMnt: benefit.amountMnt, frequency: benefit.frequency, period: { from, to: benefit.frequency === 'once' ? from : null } }
  }
  if (ctx.service === 'insurance.health-insurance' || ctx.service.startsWith('land.possession')) {
    return { kind: 'certificate', certificateNumber: certificateNumber(ctx), validUntil: addMonths(ctx.decidedAtMs, 12).toISOString().slice(0, 10) }
  }
  return { kind: 'certificate', certificateNumber: certificateNumber(ctx) }
}

// The result's JSON Schema, as the agencies publish it in their status service.
export const RESULT_SCHEMA = {
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['kind', 'regnum', 'certificateNumber'],
      description: 'A registration (birth): the new registration number and its certificate',
      properties: { kind: { const: 'registration' }, regnum: { type: 'string', pattern: '^[АБВГДЕЁЖЗИЙКЛМНОӨПРСТУҮФХЦЧШЩЪЫЬЭЮЯ]{2}[0-9]{8}$' }, certificateNumber: { type: 'string' } },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['kind', 'certificateNumber'],
      description: 'A certificate, licence or registration card the agency issued',
      properties: { kind: { const: 'certificate' }, certificateNumber: { type: 'string' }, validUntil: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' } },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['kind', 'amountMnt', 'frequency', 'period'],
      description: 'A benefit granted: the amount in MNT, monthly or once, from which month (and to which, when it ends)',
      properties: {
        kind: { const: 'benefit' },
        amountMnt: { type: 'integer', minimum: 0 },
        frequency: { enum: ['monthly', 'once'] },
        period: {
          type: 'object',
          additionalProperties: false,
          required: ['from', 'to'],
          properties: { from: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}$' }, to: { type: ['string', 'null'], pattern: '^[0-9]{4}-[0-9]{2}$' } },
        },
      },
    },
  ],
} as const
