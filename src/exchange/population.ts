import { createHash } from 'node:crypto'
import { loadAdminUnits, type AdminUnits } from './admin-units.ts'
import { alternateLetters, composeRegnum, placeLetters } from './issue-regnum.ts'
import { CLAN_NAMES, FEMALE_NAMES, MALE_NAMES } from './names.ts'
import { createRandom, type Random } from './prng.ts'

// The synthetic population behind the emulated registries. The civil core
// (names, dates, families, home units) is generated eagerly in one pass: it is
// cheap (well under a second for 100,000 people) and families need it. Each
// agency's records are derived lazily per citizen from the seed and the
// citizen's index (see registries.ts), so start-up stays fast at any size.

const DAY_MS = 86_400_000

// The synthetic world is frozen at this date so that the same seed gives the
// same data on every machine, on every day. Every birth is before it.
export const REFERENCE_DATE = '2025-01-01'
export const REFERENCE_DAY = toDay(REFERENCE_DATE)

export type Sex = 'male' | 'female'

export interface Citizen {
  index: number
  regnum: string
  // KHUR's 12-digit civil identifier.
  civilId: string
  // Clan name (ургийн овог).
  surname: string
  // Father's or mother's given name (эцэг/эхийн нэр).
  lastname: string
  firstname: string
  sex: Sex
  birthDate: string
  // Soum or district where the birth was registered (gives the regnum letters).
  birthUnit: string
  // Bag or khoroo of residence.
  homeUnit: string
  household: number
  fatherIndex: number | null
  motherIndex: number | null
  spouseIndex: number | null
  marriageDate: string | null
  marriageCertificate: string | null
  childIndexes: number[]
  deathDate: string | null
}

export interface Population {
  seed: string
  size: number
  citizens: readonly Citizen[]
  units: AdminUnits
  byRegnum: (regnum: string) => Citizen | undefined
  // Living adults, in index order: handy for samples and tests.
  livingAdults: () => Citizen[]
}

export interface PopulationOptions {
  seed?: string
  citizens?: number
}

export const DEFAULT_SEED = 'oss-exchange'
export const DEFAULT_CITIZENS = 10_000
const YEAR = 365

export function toDay (iso: string): number {
  return Math.floor(Date.parse(`${iso}T00:00:00Z`) / DAY_MS)
}

export function fromDay (day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10)
}

export function ageOn (c: Citizen, day: number = REFERENCE_DAY): number {
  const b = c.birthDate
  const on = fromDay(day)
  let age = Number(on.slice(0, 4)) - Number(b.slice(0, 4))
  if (on.slice(5) < b.slice(5)) age--
  return age
}

interface Draft {
  sex: Sex
  birthDay: number
  firstname: string
  lastname: string
  surname: string
  birthUnit: string
  homeUnit: string
  role: 'father' | 'mother' | 'child'
  deathDay: number | null
}

function drawAdultBirth (rng: Random): number {
  return toDay(`${rng.int(1938, 2003)}-01-01`) + rng.int(0, 364)
}

export function generatePopulation (options: PopulationOptions = {}): Population {
  const seed = options.seed ?? DEFAULT_SEED
  const size = options.citizens ?? DEFAULT_CITIZENS
  if (!Number.isInteger(size) || size < 1 || size > 2_000_000) {
    throw new RangeError(`citizens must be an integer between 1 and 2,000,000, got ${size}`)
  }
  const units = loadAdminUnits()
  const letters = placeLetters(units)
  const middles = units.all.filter((u) => u.code.length === 4)
  const rng = createRandom(seed, 'population')
  const citizens: Citizen[] = []
  const index = new Map<string, number>()
  let household = 0
  let marriages = 0

  const issue = (d: Draft): string => {
    const base = letters.get(d.birthUnit) ?? 'УБ'
    const iso = fromDay(d.birthDay)
    const parity = d.sex === 'male' ? 1 : 0
    const first = rng.int(0, 4)
    // Collisions are rare (same place, day and sex); walk the sex digits, then
    // neighbouring place letters, in a fixed order so the result stays seeded.
    for (let step = 0; step < 29; step++) {
      const l = step === 0 ? base : alternateLetters(base, step)
      for (let k = 0; k < 5; k++) {
        const regnum = composeRegnum(l, iso, ((first + k) % 5) * 2 + parity)
        if (!index.has(regnum)) return regnum
      }
    }
    throw new Error('registration number space exhausted')
  }

  const homeOf = (): string => (rng.chance(0.5) ? rng.pick(units.khoroos) : rng.pick(units.bags)).code

  while (citizens.length < size) {
    household++
    const homeUnit = homeOf()
    const homeMiddle = units.chain(homeUnit).middle.code
    const clan = rng.pick(CLAN_NAMES)
    const r = rng.next()
    const kind = r < 0.62 ? 'couple' : r < 0.8 ? 'single-parent' : 'single'
    const drafts: Draft[] = []
    const adultBirthUnit = (): string => (rng.chance(0.7) ? homeMiddle : rng.pick(middles).code)
    const adult = (sex: Sex, birthDay: number): Draft => ({
      sex,
      birthDay,
      firstname: rng.pick(sex === 'male' ? MALE_NAMES : FEMALE_NAMES),
      lastname: rng.pick(rng.chance(0.9) ? MALE_NAMES : FEMALE_NAMES),
      surname: clan,
      birthUnit: adultBirthUnit(),
      homeUnit,
      role: sex === 'male' ? 'father' : 'mother',
      deathDay: null,
    })
    let father: Draft | undefined
    let mother: Draft | undefined
    let marriageDay: number | null = null
    if (kind === 'couple') {
      const hb = drawAdultBirth(rng)
      const wb = Math.min(hb + rng.int(-3 * YEAR, 6 * YEAR), toDay('2004-12-31'))
      father = adult('male', hb)
      mother = adult('female', wb)
      const candidate = Math.max(hb, wb) + (20 + rng.int(0, 10)) * YEAR + rng.int(0, 364)
      marriageDay = candidate < REFERENCE_DAY ? candidate : null
      drafts.push(father, mother)
    } else {
      const sex: Sex = kind === 'single-parent' ? (rng.chance(0.8) ? 'female' : 'male') : (rng.chance(0.5) ? 'female' : 'male')
      const single = adult(sex, drawAdultBirth(rng))
      if (sex === 'male') father = single
      else mother = single
      drafts.push(single)
    }
    if (kind !== 'single') {
      const w = rng.next()
      const wanted = w < 0.15 ? 0 : w < 0.4 ? 1 : w < 0.7 ? 2 : w < 0.9 ? 3 : 4
      const parentBirth = (mother ?? father)?.birthDay ?? REFERENCE_DAY
      let day = (marriageDay ?? parentBirth + 20 * YEAR) + rng.int(300, 900)
      const patronym = father?.firstname ?? mother?.firstname ?? ''
      for (let k = 0; k < wanted && day < REFERENCE_DAY && day < parentBirth + 44 * YEAR; k++) {
        const sex: Sex = rng.chance(0.51) ? 'male' : 'female'
        const grown = REFERENCE_DAY - day > 25 * YEAR && rng.chance(0.5)
        drafts.push({
          sex,
          birthDay: day,
          firstname: rng.pick(sex === 'male' ? MALE_NAMES : FEMALE_NAMES),
          lastname: patronym,
          surname: clan,
          birthUnit: homeMiddle,
          // Grown children have often moved out.
          homeUnit: grown ? homeOf() : homeUnit,
          role: 'child',
          deathDay: null,
        })
        day += rng.int(400, 1500)
      }
    }
    // A few of the older people have died (after their last child's birth).
    const lastChild = Math.max(0, ...drafts.filter((d) => d.role === 'child').map((d) => d.birthDay))
    for (const d of drafts) {
      if (d.role !== 'child' && d.birthDay < toDay('1965-01-01') && rng.chance(0.1)) {
        const from = Math.max(d.birthDay + 55 * YEAR, lastChild + 1)
        if (from < REFERENCE_DAY - 1) d.deathDay = rng.int(from, REFERENCE_DAY - 1)
      }
    }

    const room = size - citizens.length
    const kept = drafts.slice(0, room)
    const first = citizens.length
    const roleIndex = (role: Draft['role']): number | null => {
      const i = kept.findIndex((d) => d.role === role)
      return i < 0 ? null : first + i
    }
    const fatherIndex = roleIndex('father')
    const motherIndex = roleIndex('mother')
    const marriageCertificate = marriageDay !== null && fatherIndex !== null && motherIndex !== null
      ? `ГЭ${String(++marriages).padStart(8, '0')}`
      : null
    kept.forEach((d, i) => {
      const regnum = issue(d)
      const isParent = d.role !== 'child'
      const married = isParent && marriageCertificate !== null
      const c: Citizen = {
        index: first + i,
        regnum,
        civilId: `${fromDay(d.birthDay).slice(0, 4)}${String(first + i).padStart(8, '0')}`,
        surname: d.surname,
        lastname: d.lastname,
        firstname: d.firstname,
        sex: d.sex,
        birthDate: fromDay(d.birthDay),
        birthUnit: d.birthUnit,
        homeUnit: d.homeUnit,
        household,
        fatherIndex: isParent ? null : fatherIndex,
        motherIndex: isParent ? null : motherIndex,
        spouseIndex: married ? (d.role === 'father' ? motherIndex : fatherIndex) : null,
        marriageDate: married && marriageDay !== null ? fromDay(marriageDay) : null,
        marriageCertificate: married ? marriageCertificate : null,
        childIndexes: [],
        deathDate: d.deathDay === null ? null : fromDay(d.deathDay),
      }
      citizens.push(c)
      index.set(regnum, c.index)
    })
    for (const c of citizens.slice(first)) {
      for (const p of [c.fatherIndex, c.motherIndex]) {
        if (p !== null) citizens[p]?.childIndexes.push(c.index)
      }
    }
  }

  return {
    seed,
    size,
    citizens,
    units,
    byRegnum: (regnum) => {
      const i = index.get(regnum)
      return i === undefined ? undefined : citizens[i]
    },
    livingAdults: () => citizens.filter((c) => c.deathDate === null && ageOn(c) >= 18),
  }
}

// A SHA-256 over the civil core of every citizen, in index order.
export function coreDigest (population: Population): string {
  const hash = createHash('sha256')
  for (const c of population.citizens) hash.update(JSON.stringify(c)).update('\n')
  return hash.digest('hex')
}
