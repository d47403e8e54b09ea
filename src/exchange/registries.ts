import { ageOn, fromDay, REFERENCE_DAY, toDay, type Citizen, type Population } from './population.ts'
import { EMPLOYERS, NOTARIES, OCCUPATIONS, TRAINING_PROVIDERS, TRAININGS } from './names.ts'
import { createRandom, type Random } from './prng.ts'

// Agency records for one citizen, derived on demand from the seed and the
// citizen's index: the same seed gives the same records on every machine, and
// nothing is generated for citizens nobody asks about.

const YEAR = 365

function rngFor (population: Population, c: Citizen, registry: string): Random {
  return createRandom(population.seed, 'registry', registry, c.index)
}

function period (day: number): string {
  return fromDay(day).slice(0, 7)
}

function monthsBefore (day: number, months: number): number {
  const d = new Date(day * 86_400_000)
  d.setUTCDate(15)
  d.setUTCMonth(d.getUTCMonth() - months)
  return Math.floor(d.getTime() / 86_400_000)
}

export interface PersonRef {
  regnum: string
  lastname: string
  firstname: string
}

export function personRef (c: Citizen): PersonRef {
  return { regnum: c.regnum, lastname: c.lastname, firstname: c.firstname }
}

// ---- civil registration -------------------------------------------------

export function idCard (population: Population, c: Citizen) {
  const rng = rngFor(population, c, 'civil.idcard')
  const age = ageOn(c)
  // Cards are issued at 16 and renewed at 25 and 45; from 45 they do not expire.
  const renewals = [16, 25, 45].filter((a) => a <= age)
  const lastAge = renewals.at(-1) ?? 16
  const issueDay = toDay(`${Number(c.birthDate.slice(0, 4)) + lastAge}${c.birthDate.slice(4)}`) + rng.int(0, 200)
  const issue = Math.min(issueDay, REFERENCE_DAY - 1)
  const expiryDate = lastAge >= 45 ? null : fromDay(toDay(`${Number(c.birthDate.slice(0, 4)) + (lastAge === 16 ? 25 : 45)}${c.birthDate.slice(4)}`))
  const issued = age >= 16
  const status = c.deathDate !== null ? 'cancelled' : !issued ? 'not_issued' : expiryDate !== null && toDay(expiryDate) <= REFERENCE_DAY ? 'expired' : 'valid'
  return {
    regnum: c.regnum,
    civilId: c.civilId,
    surname: c.surname,
    lastname: c.lastname,
    firstname: c.firstname,
    sex: c.sex,
    birthDate: c.birthDate,
    nationality: 'Монгол',
    idCard: issued
      ? {
          cardNumber: `${String(rng.int(10_000_000, 99_999_999))}`,
          issueDate: fromDay(issue),
          expiryDate,
          issuingAuthority: 'Улсын бүртгэлийн ерөнхий газар',
          status,
        }
      : null,
  }
}

export function birth (population: Population, c: Citizen) {
  const { top, middle } = birthPlace(population, c)
  const father = c.fatherIndex === null ? undefined : population.citizens[c.fatherIndex]
  const mother = c.motherIndex === null ? undefined : population.citizens[c.motherIndex]
  return {
    regnum: c.regnum,
    surname: c.surname,
    lastname: c.lastname,
    firstname: c.firstname,
    sex: c.sex,
    birthDate: c.birthDate,
    certificateNumber: `ТГ${String(c.index + 1).padStart(8, '0')}`,
    birthPlace: {
      aimagCityCode: top.code,
      aimagCityName: top.name_mn,
      soumDistrictCode: middle.code,
      soumDistrictName: middle.name_mn,
    },
    father: father === undefined ? null : personRef(father),
    mother: mother === undefined ? null : personRef(mother),
  }
}

function birthPlace (population: Population, c: Citizen) {
  const middle = population.units.byCode.get(c.birthUnit)
  const top = middle?.parent == null ? undefined : population.units.byCode.get(middle.parent)
  if (middle === undefined || top === undefined) throw new Error(`unknown birth unit ${c.birthUnit}`)
  return { top, middle }
}

export function address (population: Population, c: Citizen) {
  const rng = rngFor(population, c, 'civil.address')
  const { top, middle, home } = population.units.chain(c.homeUnit)
  const urban = home.level === 'khoroo'
  const detail = urban
    ? `${rng.int(1, 120)}-р байр, ${rng.int(1, 96)} тоот`
    : `${rng.pick(['Төв', 'Баян', 'Их', 'Шинэ'])} гудамж, ${rng.int(1, 80)}-р хашаа`
  return {
    regnum: c.regnum,
    aimagCityCode: top.code,
    aimagCityName: top.name_mn,
    soumDistrictCode: middle.code,
    soumDistrictName: middle.name_mn,
    bagKhorooCode: home.code,
    bagKhorooName: home.name_mn,
    addressDetail: detail,
    fullAddress: `${top.name_mn}, ${middle.name_mn}, ${home.name_mn}, ${detail}`,
    registeredOn: fromDay(Math.max(toDay(c.birthDate), REFERENCE_DAY - rng.int(30, 15 * YEAR))),
  }
}

export function marriage (population: Population, c: Citizen) {
  const spouse = c.spouseIndex === null ? undefined : population.citizens[c.spouseIndex]
  const maritalStatus = spouse === undefined ? 'single' : spouse.deathDate !== null ? 'widowed' : 'married'
  return {
    regnum: c.regnum,
    maritalStatus,
    marriages: spouse === undefined || c.marriageDate === null || c.marriageCertificate === null
      ? []
      : [{ certificateNumber: c.marriageCertificate, marriageDate: c.marriageDate, spouse: personRef(spouse) }],
  }
}

export function children (population: Population, c: Citizen) {
  return {
    regnum: c.regnum,
    children: c.childIndexes.flatMap((i) => {
      const child = population.citizens[i]
      return child === undefined ? [] : [{ ...personRef(child), sex: child.sex, birthDate: child.birthDate }]
    }),
  }
}

export function death (population: Population, c: Citizen) {
  void population
  return c.deathDate === null
    ? { regnum: c.regnum, deceased: false, deathDate: null, certificateNumber: null }
    : { regnum: c.regnum, deceased: true, deathDate: c.deathDate, certificateNumber: `НГ${String(c.index + 1).padStart(8, '0')}` }
}

// ---- social insurance -----------------------------------------------------

interface InsuranceHistory {
  totalMonths: number
  employer: string | null
  employerRegister: string | null
  voluntary: boolean
  lastPaidDay: number | null
  wage: number
}

function insuranceHistory (population: Population, c: Citizen): InsuranceHistory {
  const rng = rngFor(population, c, 'insurance')
  const age = ageOn(c)
  const workingYears = Math.max(0, Math.min(age, 65) - 18)
  if (workingYears === 0 || rng.chance(0.12)) {
    return { totalMonths: 0, employer: null, employerRegister: null, voluntary: false, lastPaidDay: null, wage: 0 }
  }
  const totalMonths = rng.int(Math.floor(workingYears * 12 * 0.3), workingYears * 12)
  const employed = age < 65 && c.deathDate === null && rng.chance(0.7)
  const voluntary = !employed && age < 60 && rng.chance(0.2)
  const lastPaidDay = employed || voluntary
    ? monthsBefore(REFERENCE_DAY, rng.int(1, 2))
    : c.deathDate !== null ? toDay(c.deathDate) : monthsBefore(REFERENCE_DAY, rng.int(4, 60))
  const employer = employed ? rng.pick(EMPLOYERS) : null
  return {
    totalMonths,
    employer,
    employerRegister: employer === null ? null : String(rng.int(2_000_000, 6_999_999)),
    voluntary,
    lastPaidDay,
    wage: rng.int(660, 4500) * 1000,
  }
}

export function contributions (population: Population, c: Citizen) {
  const h = insuranceHistory(population, c)
  const months = []
  if (h.lastPaidDay !== null) {
    for (let m = 0; m < Math.min(12, h.totalMonths); m++) {
      const day = monthsBefore(h.lastPaidDay, m)
      const wage = h.voluntary ? 660_000 : h.wage
      months.push({
        period: period(day),
        employer: h.voluntary ? null : h.employer,
        employerRegister: h.voluntary ? null : h.employerRegister,
        wageMnt: wage,
        contributionMnt: Math.round(wage * (h.voluntary ? 0.125 : 0.238)),
      })
    }
  }
  return { regnum: c.regnum, totalMonths: h.totalMonths, months }
}

export function insuredStatus (population: Population, c: Citizen) {
  const h = insuranceHistory(population, c)
  const recent = h.lastPaidDay !== null && REFERENCE_DAY - h.lastPaidDay <= 92 && c.deathDate === null
  return {
    regnum: c.regnum,
    insured: recent,
    insuranceType: !recent ? 'none' : h.voluntary ? 'voluntary' : 'employee',
    lastContributionPeriod: h.lastPaidDay === null ? null : period(h.lastPaidDay),
  }
}

export function pension (population: Population, c: Citizen) {
  const h = insuranceHistory(population, c)
  const rng = rngFor(population, c, 'insurance.pension')
  const age = ageOn(c)
  const retirementAge = c.sex === 'male' ? 60 : 55
  if (c.deathDate !== null || age < retirementAge || h.totalMonths < 180) {
    return { regnum: c.regnum, receivesPension: false, pension: null }
  }
  return {
    regnum: c.regnum,
    receivesPension: true,
    pension: {
      type: 'old_age',
      monthlyAmountMnt: Math.round(550_000 + h.totalMonths * 1_100 + rng.int(0, 50) * 1000),
      since: fromDay(toDay(c.birthDate) + retirementAge * YEAR + 1),
    },
  }
}

// ---- social welfare -------------------------------------------------------

export const PROGRAMMES = {
  CHILD_MONEY: { name: 'Child Money Programme', nameMn: 'Хүүхдийн мөнгө', monthlyAmountMnt: 100_000 },
  SOCIAL_WELFARE_PENSION: { name: 'Social welfare pension', nameMn: 'Нийгмийн халамжийн тэтгэвэр', monthlyAmountMnt: 296_000 },
  CAREGIVER_ALLOWANCE: { name: 'Caregiver allowance', nameMn: 'Асран хамгаалагчийн тэтгэмж', monthlyAmountMnt: 190_000 },
  FOOD_STAMP: { name: 'Food stamp programme', nameMn: 'Хүнсний эрхийн бичиг', monthlyAmountMnt: 32_000 },
} as const

export type ProgrammeCode = keyof typeof PROGRAMMES

export function enrolments (population: Population, c: Citizen) {
  const rng = rngFor(population, c, 'welfare')
  const age = ageOn(c)
  const out: Array<{ programmeCode: ProgrammeCode, programmeName: string, programmeNameMn: string, enrolledOn: string, status: 'active' | 'ended', monthlyAmountMnt: number }> = []
  const add = (code: ProgrammeCode, enrolledDay: number, active: boolean): void => {
    const p = PROGRAMMES[code]
    out.push({ programmeCode: code, programmeName: p.name, programmeNameMn: p.nameMn, enrolledOn: fromDay(Math.min(enrolledDay, REFERENCE_DAY - 1)), status: active ? 'active' : 'ended', monthlyAmountMnt: p.monthlyAmountMnt })
  }
  const alive = c.deathDate === null
  if (age < 18) add('CHILD_MONEY', toDay(c.birthDate) + 30, alive)
  if (age >= 60 && pension(population, c).pension === null && rng.chance(0.4)) add('SOCIAL_WELFARE_PENSION', REFERENCE_DAY - rng.int(60, 8 * YEAR), alive)
  if (age >= 18 && age < 65 && rng.chance(0.04)) add('CAREGIVER_ALLOWANCE', REFERENCE_DAY - rng.int(60, 5 * YEAR), alive && rng.chance(0.8))
  if (age >= 18 && rng.chance(0.05)) add('FOOD_STAMP', REFERENCE_DAY - rng.int(60, 3 * YEAR), alive && rng.chance(0.7))
  return { regnum: c.regnum, enrolments: out }
}

export function benefitPayments (population: Population, c: Citizen) {
  const payments = []
  let n = 0
  for (const e of enrolments(population, c).enrolments) {
    if (e.status !== 'active') continue
    for (let m = 1; m <= 6; m++) {
      const day = monthsBefore(REFERENCE_DAY, m)
      if (day < toDay(e.enrolledOn)) break
      payments.push({
        paymentId: `PAY-${c.civilId}-${String(++n).padStart(3, '0')}`,
        programmeCode: e.programmeCode,
        period: period(day),
        amountMnt: e.monthlyAmountMnt,
        paidOn: fromDay(day + 10),
      })
    }
  }
  return { regnum: c.regnum, payments }
}

// ---- employment -----------------------------------------------------------

function employmentProfile (population: Population, c: Citizen) {
  const rng = rngFor(population, c, 'employment')
  const age = ageOn(c)
  const workingAge = age >= 18 && age < 60 && c.deathDate === null
  const registered = workingAge && !insuredStatus(population, c).insured && rng.chance(0.35)
  const registeredDay = REFERENCE_DAY - rng.int(20, 700)
  const occupation = rng.pick(OCCUPATIONS)
  const education = rng.pick(['secondary', 'vocational', 'bachelor', 'master'] as const)
  const trainings = []
  const placements = []
  if (workingAge) {
    const count = registered ? rng.int(0, 2) : (rng.chance(0.08) ? 1 : 0)
    for (let i = 0; i < count; i++) {
      const start = REFERENCE_DAY - rng.int(60, 6 * YEAR)
      trainings.push({
        trainingId: `TR-${c.civilId}-${i + 1}`,
        title: rng.pick(TRAININGS),
        provider: rng.pick(TRAINING_PROVIDERS),
        startDate: fromDay(start),
        endDate: fromDay(start + rng.int(30, 120)),
        completed: rng.chance(0.85),
      })
    }
    if (rng.chance(registered ? 0.1 : 0.06)) {
      placements.push({
        placementId: `PL-${c.civilId}-1`,
        employer: rng.pick(EMPLOYERS),
        position: rng.pick(OCCUPATIONS),
        startDate: fromDay(REFERENCE_DAY - rng.int(30, 4 * YEAR)),
        programme: rng.pick(['Хөдөлмөр эрхлэлтийг дэмжих хөтөлбөр', 'Залуучуудын хөдөлмөр эрхлэлтийг дэмжих хөтөлбөр']),
      })
    }
  }
  return { registered, registeredDay, occupation, education, trainings, placements }
}

export function jobSeeker (population: Population, c: Citizen) {
  const p = employmentProfile(population, c)
  return p.registered
    ? { regnum: c.regnum, registered: true, registeredOn: fromDay(p.registeredDay), desiredOccupation: p.occupation, educationLevel: p.education }
    : { regnum: c.regnum, registered: false, registeredOn: null, desiredOccupation: null, educationLevel: null }
}

export function trainings (population: Population, c: Citizen) {
  return { regnum: c.regnum, trainings: employmentProfile(population, c).trainings }
}

export function placements (population: Population, c: Citizen) {
  return { regnum: c.regnum, placements: employmentProfile(population, c).placements }
}

// ---- land -----------------------------------------------------------------

function landRecords (population: Population, c: Citizen) {
  const rng = rngFor(population, c, 'land')
  const age = ageOn(c)
  const plots: Array<{ parcelId: string, unitCode: string, unitName: string, areaM2: number, purpose: string, right: 'ownership' | 'possession', certificateNumber: string, issuedOn: string, validUntil: string | null }> = []
  if (age < 18) return plots
  const { middle, home } = population.units.chain(c.homeUnit)
  const urban = home.level === 'khoroo'
  // Every citizen may own one plot free of charge, once: 0.07 ha in the
  // capital, up to 0.5 ha in a soum.
  if (rng.chance(0.45)) {
    const issued = REFERENCE_DAY - rng.int(100, 20 * YEAR)
    plots.push({
      parcelId: `${middle.code}${String(rng.int(1, 99_999)).padStart(6, '0')}`,
      unitCode: home.code,
      unitName: `${middle.name_mn}, ${home.name_mn}`,
      areaM2: urban ? 700 : rng.pick([3500, 5000]),
      purpose: 'гэр бүлийн хэрэгцээнд',
      right: 'ownership',
      certificateNumber: `000${rng.int(1_000_000, 9_999_999)}`,
      issuedOn: fromDay(issued),
      validUntil: null,
    })
  }
  if (rng.chance(0.12)) {
    const issued = REFERENCE_DAY - rng.int(100, 15 * YEAR)
    plots.push({
      parcelId: `${middle.code}${String(rng.int(1, 99_999)).padStart(6, '0')}`,
      unitCode: home.code,
      unitName: `${middle.name_mn}, ${home.name_mn}`,
      areaM2: rng.int(2, 200) * 100,
      purpose: rng.pick(['үйлчилгээ', 'тариалан', 'өвөлжөө', 'хаваржаа']),
      right: 'possession',
      certificateNumber: `100${rng.int(1_000_000, 9_999_999)}`,
      issuedOn: fromDay(issued),
      validUntil: fromDay(issued + rng.pick([15, 25, 60]) * YEAR),
    })
  }
  return plots
}

export function possessionCertificates (population: Population, c: Citizen) {
  return {
    regnum: c.regnum,
    certificates: landRecords(population, c).filter((p) => p.right === 'possession')
      .map((p) => ({ certificateNumber: p.certificateNumber, parcelId: p.parcelId, issuedOn: p.issuedOn, validUntil: p.validUntil, purpose: p.purpose, areaM2: p.areaM2, unitCode: p.unitCode })),
  }
}

export function ownershipCertificates (population: Population, c: Citizen) {
  return {
    regnum: c.regnum,
    certificates: landRecords(population, c).filter((p) => p.right === 'ownership')
      .map((p) => ({ certificateNumber: p.certificateNumber, parcelId: p.parcelId, issuedOn: p.issuedOn, purpose: p.purpose, areaM2: p.areaM2, unitCode: p.unitCode })),
  }
}

export function plots (population: Population, c: Citizen) {
  return {
    regnum: c.regnum,
    plots: landRecords(population, c).map((p) => ({ parcelId: p.parcelId, unitCode: p.unitCode, unitName: p.unitName, areaM2: p.areaM2, purpose: p.purpose, right: p.right })),
  }
}

// ---- notary ---------------------------------------------------------------

export function powersOfAttorney (population: Population, c: Citizen) {
  const rng = rngFor(population, c, 'notary')
  const out = []
  if (ageOn(c) >= 18 && rng.chance(0.08)) {
    const count = rng.int(1, 2)
    for (let i = 0; i < count; i++) {
      // The agent is often a family member, otherwise anyone.
      const family = [c.spouseIndex, ...c.childIndexes].filter((x): x is number => x !== null)
      const agentIndex = family.length > 0 && rng.chance(0.6) ? rng.pick(family) : rng.int(0, population.size - 1)
      const agent = population.citizens[agentIndex === c.index ? (c.index + 1) % population.size : agentIndex]
      if (agent === undefined) continue
      const issued = REFERENCE_DAY - rng.int(10, 3 * YEAR)
      const validUntil = issued + rng.pick([180, 365, 3 * YEAR])
      out.push({
        number: `ИТ-${fromDay(issued).slice(0, 4)}-${rng.int(10_000, 99_999)}`,
        notaryName: rng.pick(NOTARIES),
        issuedOn: fromDay(issued),
        validUntil: fromDay(validUntil),
        agent: personRef(agent),
        scope: rng.pick(['үл хөдлөх хөрөнгө захиран зарцуулах', 'банкны данс удирдах', 'төрийн байгууллагад төлөөлөх', 'тээврийн хэрэгсэл захиран зарцуулах']),
        status: c.deathDate !== null || validUntil < REFERENCE_DAY ? 'expired' : 'valid',
      })
    }
  }
  return { regnum: c.regnum, powersOfAttorney: out }
}
