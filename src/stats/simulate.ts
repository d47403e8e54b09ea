import { createHash } from 'node:crypto'
import { createRandom } from '../exchange/prng.ts'
import { loadAdapters } from '../adapters/load.ts'
import { createApplicationStore, IDEMPOTENCY_TTL_DAYS, requestHash, type Application, type ApplicationStatus, type ApplicationStore, type NewApplication } from '../applications/store.ts'
import type { CatalogueDocument, Channel, MobileRound, Service, Unit } from '../catalogue/document.ts'
import { buildSeedDocument } from '../catalogue/seed.ts'
import { createSnapshot, type Snapshot } from '../catalogue/snapshot.ts'
import type { Database, Queryable } from '../db/index.ts'
import { parseRegnum } from '../domain/regnum.ts'
import { loadAdminUnits } from '../exchange/admin-units.ts'
import { composeRegnum, placeLetters } from '../exchange/issue-regnum.ts'
import { REJECTION_REASONS, type Bilingual } from '../exchange/outcomes.ts'

// A synthetic history for the statistics: N applications over some months,
// each taking the steps the gateway takes (intake with an idempotency key,
// markQueued, startAttempt, transition to delivered, queued again or failed,
// jobGivenUp, an admin's retry, the agency's decision), with the details the
// delivery worker writes, at simulated times.
//
// Two writers, the same rows:
// - `store`: every step through the gateway's application store
//   (src/applications/store.ts), bound to the batch's transaction, then the
//   events and the applications moved to their simulated times, as
//   test/helpers/stats-history.ts does. About 200 applications/s on the
//   embedded store: PGlite takes 0.5-1 ms for each of the store's statements.
// - `bulk` (the default): the rows those steps leave, computed by a model of
//   the store (Model below), in three statements per batch; several thousand
//   applications/s. test/cli/stats.test.ts runs both on one seed and compares
//   every application, event and idempotency record, so the model cannot
//   drift from the store unnoticed.
// Either way, each batch is one transaction with its times already right, so
// a gateway folding at the same time never sees an event at the time it was
// written; nothing of it is left on its way anywhere (no outbox row, no
// due_at for the reconciler, no callback for a portal: `notify` is false).
//
// EVERYTHING HERE IS MADE UP. The shapes are plausible, not measured: the
// seasonal curve, the population weights, the service mix, the channel
// shares, the outcome rates and the processing times are invented for
// demonstrations and load, and must never be read as Mongolian statistics.
//
// Deterministic for a seed (and an `end` far enough in the past that every
// step has happened): the same rows and figures every time.

export interface SimulateOptions {
  applications: number
  months: number
  // The last month, YYYY-MM (Mongolian time).
  end: string
  seed: number
  // The clock: nothing is received on or after the current Mongolian day, and
  // steps later than this do not happen (those applications stay open).
  now?: number
  // Applications per transaction.
  batchSize?: number
  // The delivery settings of the configuration, so dead-letters and backoff
  // look like the worker's.
  delivery?: { attempts: number, backoffBaseMs: number, backoffMaxMs: number, lockDurationMs: number, reconcileGraceMs: number }
  document?: CatalogueDocument
  onProgress?: (done: number, total: number) => void
}

export interface SimulateResult {
  applications: number
  events: number
  months: string[]
  approved: number
  rejected: number
  failed: number
  open: number
  // Dead-lettered applications an admin sent again.
  adminRetries: number
  persons: number
  seconds: number
}

// Marks what the simulation wrote: every caller is `simulation:<subject>`.
export const SIMULATION_ISSUER = 'simulation'

const HOUR = 3600_000
const DAY = 24 * HOUR
const MNT = 8 * HOUR

// --- randomness ---------------------------------------------------------------


class Draw {
  readonly rnd: () => number
  constructor (rnd: () => number) { this.rnd = rnd }
  between (lo: number, hi: number): number { return lo + (hi - lo) * this.rnd() }
  int (lo: number, hi: number): number { return Math.floor(this.between(lo, hi + 1)) }
  chance (p: number): boolean { return this.rnd() < p }
  pick<T> (xs: readonly T[]): T { return xs[Math.floor(this.rnd() * xs.length)]! }
  normal (): number {
    const u = Math.max(this.rnd(), 1e-12)
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.rnd())
  }

  // Index drawn by cumulative weights (see cumulate).
  weighted (cum: Float64Array): number {
    const x = this.rnd() * cum[cum.length - 1]!
    let lo = 0
    let hi = cum.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cum[mid]! > x) hi = mid
      else lo = mid + 1
    }
    return lo
  }
}

function cumulate (weights: readonly number[]): Float64Array {
  const out = new Float64Array(weights.length)
  let sum = 0
  weights.forEach((w, i) => { sum += w; out[i] = sum })
  return out
}

class Weighted<T> {
  readonly items: readonly T[]
  readonly cum: Float64Array
  constructor (items: readonly T[], weight: (x: T) => number) {
    this.items = items
    this.cum = cumulate(items.map(weight))
  }

  get total (): number { return this.cum[this.cum.length - 1] ?? 0 }
  draw (d: Draw): T { return this.items[d.weighted(this.cum)]! }
}

// --- the made-up shapes -------------------------------------------------------

// Applications per month, relative (January: new-year health insurance and
// contribution statements; September: school start and child money; summer
// low: herders on summer pastures, Naadam). Synthetic.
const SEASON = [1.30, 0.95, 1.05, 1.0, 0.95, 0.80, 0.62, 0.75, 1.30, 1.10, 1.05, 0.95]

// Residents, in thousands, roughly as published for 2023 (rounded); rural
// residents lean more on the OSS, hence the factor. Synthetic weights.
const POPULATION: Readonly<Record<string, number>> = {
  11: 1690, 21: 82, 22: 63, 23: 80, 41: 97, 42: 18, 43: 111, 44: 72, 45: 110, 46: 72, 48: 47,
  61: 110, 62: 118, 63: 63, 64: 90, 65: 97, 67: 138, 81: 74, 82: 58, 83: 112, 84: 92, 85: 84,
}
const RURAL_USE = 1.35
const DISTRICTS: Readonly<Record<string, number>> = {
  1101: 29, 1104: 4.5, 1107: 230, 1110: 380, 1113: 40, 1116: 330, 1119: 150, 1122: 220, 1125: 160,
}

// How often a service is asked for, relative; the rest are 0.6. Synthetic.
const POPULARITY: Readonly<Record<string, number>> = {
  'welfare.child-money': 14,
  'insurance.health-insurance': 12,
  'civil.status-certificate': 11,
  'insurance.contribution-statement': 7,
  'civil.address-change': 5,
  'insurance.voluntary-insurance': 4,
  'employment.jobseeker-registration': 4,
  'notary.certified-copy': 4,
  'notary.power-of-attorney': 3,
  'land.cadastral-extract': 3,
  'civil.birth-registration': 2.5,
  'civil.id-card-replacement': 2.5,
  'insurance.old-age-pension': 2,
  'land.fee-statement': 2,
  'welfare.household-survey': 2,
  'civil.first-id-card': 1.5,
  'land.possession-extension': 1.5,
  'welfare.food-stamps': 1.5,
  'employment.career-counselling': 1.2,
  'welfare.social-pension': 1.2,
  'civil.death-registration': 1,
  'civil.marriage-registration': 1,
}

// Months (1-12) in which a service is asked for more (or less).
const SERVICE_SEASON: Readonly<Record<string, Readonly<Record<number, number>>>> = {
  'insurance.health-insurance': { 1: 1.8, 2: 1.2, 12: 1.2 },
  'insurance.contribution-statement': { 1: 1.4, 12: 1.3 },
  'welfare.child-money': { 9: 1.5, 1: 1.2 },
  'civil.first-id-card': { 9: 1.4, 8: 1.2 },
  'land.possession-extension': { 4: 1.4, 5: 1.4, 6: 1.3 },
  'land.ger-plot-ownership': { 4: 1.4, 5: 1.4, 6: 1.3 },
  'employment.public-works': { 4: 1.3, 5: 1.4, 6: 1.4, 7: 1.2, 8: 1.2, 12: 0.5, 1: 0.5 },
  'employment.jobseeker-registration': { 6: 1.3, 7: 1.2 },
  'land.pasture-camp': { 9: 1.5, 10: 1.5 },
  'civil.marriage-registration': { 6: 1.3, 7: 1.2, 8: 1.3, 9: 1.3 },
}

// Who applies: ages (inclusive) and the share of women. Default: adults with a
// young population's spread, women a little more often.
interface Profile { ages: [number, number], female: number, minors?: number }
const PROFILES: Readonly<Record<string, Profile>> = {
  'insurance.old-age-pension': { ages: [55, 72], female: 0.55 },
  'insurance.survivor-pension': { ages: [10, 85], female: 0.6 },
  'insurance.disability-pension': { ages: [20, 64], female: 0.45 },
  'insurance.maternity-benefit': { ages: [19, 44], female: 1 },
  'insurance.unemployment-benefit': { ages: [20, 59], female: 0.45 },
  'insurance.funeral-grant': { ages: [25, 80], female: 0.55 },
  'insurance.contribution-statement': { ages: [20, 64], female: 0.52 },
  'insurance.health-insurance': { ages: [18, 80], female: 0.52, minors: 0.12 },
  'welfare.child-money': { ages: [20, 49], female: 0.82 },
  'welfare.social-pension': { ages: [60, 90], female: 0.6 },
  'welfare.caregiver-allowance': { ages: [25, 75], female: 0.7 },
  'welfare.honoured-mothers': { ages: [40, 85], female: 1 },
  'welfare.mother-child-allowance': { ages: [18, 42], female: 1 },
  'welfare.elderly-sanatorium': { ages: [60, 90], female: 0.6 },
  'welfare.disabled-child-allowance': { ages: [22, 55], female: 0.75 },
  'employment.youth-internship': { ages: [18, 29], female: 0.5 },
  'employment.jobseeker-registration': { ages: [18, 59], female: 0.48 },
  'employment.vocational-training': { ages: [18, 45], female: 0.5 },
  'employment.public-works': { ages: [18, 59], female: 0.4 },
  'employment.herder-employment': { ages: [18, 59], female: 0.4 },
  'employment.self-employment-support': { ages: [20, 59], female: 0.55 },
  'employment.disability-employment': { ages: [18, 59], female: 0.45 },
  'employment.career-counselling': { ages: [16, 45], female: 0.55 },
  'civil.first-id-card': { ages: [16, 17], female: 0.5 },
  'civil.birth-registration': { ages: [18, 45], female: 0.75 },
  'civil.marriage-registration': { ages: [20, 45], female: 0.5 },
  'civil.divorce-registration': { ages: [24, 60], female: 0.55 },
  'civil.paternity-registration': { ages: [20, 55], female: 0.1 },
  'civil.status-certificate': { ages: [18, 90], female: 0.54, minors: 0.1 },
  'civil.address-change': { ages: [18, 90], female: 0.52, minors: 0.06 },
}
const ADULTS: Profile = { ages: [18, 90], female: 0.54 }

// Share of decided applications the agency rejects, relative by category.
const REJECTING: Readonly<Record<string, number>> = {
  social_insurance: 0.7, social_welfare: 1.3, employment: 1.0, land: 1.7, civil_registration: 0.45, bank_notary: 0.3,
}
const REJECTED_SHARE = 0.105 // of decided: ~10% of all applications
const REFUSED_SHARE = 0.01 // the agency refuses the submission itself (4xx): failed for good
const DEAD_SHARE = 0.03 // dead-lettered after the attempt budget
const ADMIN_RETRY_SHARE = 0.35 // of the dead-lettered, later retried by an admin
const TRANSIENT_SHARE = 0.06 // one to three failed attempts, then delivered
const BUS_WAIT_SHARE = 0.015 // the bus could not be reached for a while
const GIVEN_UP_SHARE = 0.003 // a worker stopped mid-delivery; the queue gave up on its job

const REFUSALS = [
  'the applicant is not registered with the agency',
  'the application duplicates one the agency already holds',
  'the form does not match the agency\'s records',
]

// Public holidays (no counter service): fixed dates, and Tsagaan Sar where known.
const HOLIDAYS = new Set(['01-01', '03-08', '06-01', '07-11', '07-12', '07-13', '07-14', '07-15', '11-26', '12-29'])
const TSAGAAN_SAR: Readonly<Record<number, string>> = { 2024: '2024-02-10', 2025: '2025-03-01', 2026: '2026-02-18', 2027: '2027-02-07' }

// --- Mongolian calendar helpers -----------------------------------------------

const mnDate = (ms: number) => new Date(ms + MNT).toISOString().slice(0, 10)
const mnDayStart = (date: string) => Date.parse(`${date}T00:00:00+08:00`)
const weekday = (date: string) => new Date(`${date}T00:00:00Z`).getUTCDay() // 0 Sunday

function isHoliday (date: string): boolean {
  if (HOLIDAYS.has(date.slice(5))) return true
  const ts = TSAGAAN_SAR[Number(date.slice(0, 4))]
  if (ts === undefined) return false
  const d = (Date.parse(`${date}T00:00:00Z`) - Date.parse(`${ts}T00:00:00Z`)) / DAY
  return d >= 0 && d < 3
}

// How busy a day is, by channel.
function counterDay (date: string): number {
  if (isHoliday(date)) return 0.02
  return [0.02, 1.15, 1.05, 1.0, 1.0, 0.9, 0.3][weekday(date)]!
}
function onlineDay (date: string): number {
  if (isHoliday(date)) return 0.5
  const w = weekday(date)
  return w === 0 || w === 6 ? 0.65 : 1
}
function mobileDay (date: string): number {
  if (isHoliday(date)) return 0.05
  return [0.3, 1, 1, 1, 1, 1, 0.6][weekday(date)]!
}

const workday = (date: string) => weekday(date) !== 0 && weekday(date) !== 6 && !isHoliday(date)

// The next moment an office works (Mon-Fri 09:00-18:00), from `ms`.
function workingMoment (ms: number, d: Draw): number {
  let t = ms
  for (let i = 0; i < 30; i++) {
    const date = mnDate(t)
    const start = mnDayStart(date)
    const hour = (t - start) / HOUR
    if (workday(date) && hour >= 9 && hour < 18) return t
    if (workday(date) && hour < 9) return start + 9 * HOUR + d.between(0, 2 * HOUR)
    t = start + DAY
  }
  return t
}

// Time of day a counter or a van takes an application (local hours).
function officeHour (d: Draw, saturday: boolean): number {
  if (saturday) return d.between(10, 14)
  // Busier late in the morning and mid-afternoon.
  const h = d.chance(0.55) ? 8.6 + Math.abs(d.normal()) * 1.8 : 14 + d.between(0, 3.4)
  return Math.min(17.45, Math.max(8.6, h))
}
const ONLINE_HOURS = cumulate([0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1, 1.6, 2.2, 2.6, 2.6, 2.2, 2.4, 2.4, 2.2, 2, 1.8, 1.7, 2, 2.4, 2.4, 1.6, 0.8])
function onlineHour (d: Draw): number {
  return d.weighted(ONLINE_HOURS) + d.rnd()
}

// --- the world: units, services, people --------------------------------------

interface Person {
  regnum: string
  birthMs: number
  female: boolean
  home: string
}

interface Area {
  top: string
  middles: Weighted<Unit>
  homes: Map<string, Weighted<Unit>>
}

interface World {
  snap: Snapshot
  deliverable: (s: Service) => boolean
  areas: Weighted<Area>
  memberId: Map<string, string>
  rejectShare: Map<string, number>
  rounds: MobileRound[]
  letters: ReadonlyMap<string, string>
  soums: readonly string[]
}

async function buildWorld (doc: CatalogueDocument, d: Draw): Promise<World> {
  const snap = createSnapshot(0, '', doc)
  const operations = new Set((await loadAdapters()).map((a) => a.operation))
  // As intake does: a service is taken only when its adapter is loaded.
  const deliverable = (s: Service) => s.adapter !== undefined && operations.has(s.adapter)

  const areas: Area[] = []
  for (const top of doc.units.filter((u) => u.parent === null).sort((a, b) => a.code.localeCompare(b.code))) {
    const middles = snap.children(top.code)
    const weight = (u: Unit) => top.level === 'capital' ? DISTRICTS[u.code] ?? 10 : (u.code.endsWith('01') ? 5 : d.between(0.6, 1.4))
    const homes = new Map<string, Weighted<Unit>>()
    for (const m of middles) {
      const below = snap.children(m.code)
      homes.set(m.code, new Weighted(below.length > 0 ? below : [m], () => d.between(0.5, 1.5)))
    }
    areas.push({ top: top.code, middles: new Weighted(middles, weight), homes })
  }
  const areaWeights = new Weighted(areas, (a) => (POPULATION[a.top] ?? 50) * (a.top === '11' ? 1 : RURAL_USE))

  const memberId = new Map(doc.agencies.map((a) => [a.code, a.memberId ?? a.code]))
  const offered = doc.services.filter(deliverable)
  const popularity = (s: Service) => POPULARITY[s.code] ?? 0.6
  const mean = offered.reduce((acc, s) => acc + popularity(s) * (REJECTING[s.category] ?? 1), 0) / offered.reduce((acc, s) => acc + popularity(s), 0)
  const rejectShare = new Map(offered.map((s) => [s.code, Math.min(0.6, REJECTED_SHARE * (REJECTING[s.category] ?? 1) / mean)]))
  const letters = placeLetters(loadAdminUnits())
  return { snap, deliverable, areas: areaWeights, memberId, rejectShare, rounds: doc.mobileRounds, letters, soums: [...letters.keys()].sort() }
}

// --- a plan per application ---------------------------------------------------

type Op =
  | { op: 'queued' }
  | { op: 'deliver' }
  | { op: 'retry_later', why: string }
  | { op: 'bus_wait', why: string }
  | { op: 'given_up' }
  | { op: 'refused', detail: string }
  | { op: 'dead', why: string }
  | { op: 'delivered', reference: string }
  | { op: 'decided', decision: 'approved' | 'rejected', reason?: Bilingual }
  | { op: 'admin_retry', actor: string }

// `bound`: happens right after the step before it (the relay, an attempt's
// answer), so a history is never cut between the two.
type Step = Op & { at: number, bound?: boolean }

interface Plan {
  key: string
  app: NewApplication
  body: Record<string, unknown>
  at: number
  steps: Step[]
}

function uuidOf (text: string): string {
  const h = createHash('sha256').update(text).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`
}

function monthsEnding (end: string, months: number): string[] {
  const [y, m] = end.split('-').map(Number) as [number, number]
  return Array.from({ length: months }, (_, i) => {
    const k = y * 12 + (m - 1) - (months - 1 - i)
    return `${Math.floor(k / 12)}-${String(k % 12 + 1).padStart(2, '0')}`
  })
}

// Whole numbers proportional to `weights`, summing to `total`.
function apportion (total: number, weights: number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0)
  const exact = weights.map((w) => sum === 0 ? 0 : total * w / sum)
  const out = exact.map(Math.floor)
  let left = total - out.reduce((a, b) => a + b, 0)
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1])
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) out[order[k]![1]]! += 1
  return out
}

function planHistory (world: World, options: Required<Pick<SimulateOptions, 'applications' | 'months' | 'end' | 'seed' | 'now'>> & { delivery: NonNullable<SimulateOptions['delivery']> }, d: Draw): Plan[] {
  const { snap } = world
  const months = monthsEnding(options.end, options.months)
  const today = mnDate(options.now)
  const budget = options.delivery.attempts
  const backoff = (spent: number) => Math.floor(d.rnd() * Math.min(options.delivery.backoffMaxMs, options.delivery.backoffBaseMs * 2 ** spent))

  // Days of each month before today, weighted.
  const days = months.map((ym) => {
    const list: string[] = []
    for (let t = mnDayStart(`${ym}-01`); mnDate(t).startsWith(ym) && mnDate(t) < today; t += DAY) list.push(mnDate(t))
    return new Weighted(list, (date) => 0.72 * counterDay(date) + 0.28 * onlineDay(date))
  })
  const perMonth = apportion(options.applications, months.map((ym, i) => SEASON[Number(ym.slice(5)) - 1]! * days[i]!.total))
  if (perMonth.some((n, i) => n > 0 && days[i]!.items.length === 0)) throw new SimulationInputError(`${options.months === 1 ? options.end : `the ${options.months} months to ${options.end}`} have no day before today to receive applications on`)

  const eligible = new Map<string, Service[]>()
  function servicesAt (unit: string, channel: Channel): Service[] {
    const key = channel === 'online' ? channel : `${channel}|${unit}`
    let list = eligible.get(key)
    if (list === undefined) {
      const offers = [...snap.offers(unit).values()]
      list = channel === 'online'
        ? snap.document.services.filter((s) => s.channels.includes('online') && s.applicants.includes('citizen') && world.deliverable(s))
        : offers.filter((o) => o.channels.includes(channel) && o.service.channels.includes(channel) && o.service.applicants.includes('officer') && world.deliverable(o.service)).map((o) => o.service)
      eligible.set(key, list)
    }
    return list
  }
  const weightedServices = new Map<string, Weighted<Service>>()
  function drawService (services: Service[], key: string, month: number): Service | undefined {
    if (services.length === 0) return undefined
    const k = `${key}|${month}`
    let w = weightedServices.get(k)
    if (w === undefined) {
      w = new Weighted(services, (s) => (POPULARITY[s.code] ?? 0.6) * (SERVICE_SEASON[s.code]?.[month] ?? 1))
      weightedServices.set(k, w)
    }
    return w.draw(d)
  }

  const roundsByDate = new Map<string, MobileRound[]>()
  const roundsOn = (date: string) => {
    let list = roundsByDate.get(date)
    if (list === undefined) {
      list = world.rounds.filter((r) => r.from <= date && date <= r.to)
      roundsByDate.set(date, list)
    }
    return list
  }

  const pools = new Map<string, Person[]>()
  const regnums = new Set<string>()
  function ageAt (p: Person, at: number): number {
    const [by, bm, bd] = new Date(p.birthMs).toISOString().slice(0, 10).split('-').map(Number) as [number, number, number]
    const [y, m, dd] = mnDate(at).split('-').map(Number) as [number, number, number]
    return y - by - (m < bm || (m === bm && dd < bd) ? 1 : 0)
  }
  function person (middle: string, home: string, service: Service, at: number): Person {
    const profile = PROFILES[service.code] ?? ADULTS
    const minor = profile.minors !== undefined && d.chance(profile.minors)
    const [lo, hi] = minor ? [0, 17] : profile.ages
    const pool = pools.get(middle) ?? []
    // Some people come back, for another service or the same one again.
    if (pool.length > 0 && d.chance(0.24)) {
      for (let i = 0; i < 4; i++) {
        const p = d.pick(pool)
        const age = ageAt(p, at)
        if (age >= lo && age <= hi && (profile.female === 1 ? p.female : profile.female === 0 ? !p.female : true)) return p
      }
    }
    let age: number
    if (minor || profile !== ADULTS) age = d.int(lo, hi)
    else {
      const band = d.rnd()
      age = band < 0.4 ? d.int(18, 34) : band < 0.82 ? d.int(35, 59) : Math.min(90, 60 + Math.floor(Math.abs(d.normal()) * 10))
    }
    const female = d.chance(profile.female)
    const birthMs = at - age * 365.2425 * DAY - d.between(2 * DAY, 360 * DAY)
    const birth = new Date(birthMs).toISOString().slice(0, 10)
    // Born where they live, mostly; a third of the capital's people elsewhere.
    const bornIn = d.chance(middle.startsWith('11') ? 0.6 : 0.8) && world.letters.has(middle) ? middle : d.pick(world.soums)
    const letters = world.letters.get(bornIn) ?? 'УБ'
    let regnum = ''
    for (let i = 0; i < 20; i++) {
      regnum = composeRegnum(letters, birth, female ? 2 * d.int(0, 4) : 2 * d.int(0, 4) + 1)
      if (!regnums.has(regnum)) break
    }
    const parsed = parseRegnum(regnum, new Date(at))
    if (!parsed.ok || parsed.sex !== (female ? 'female' : 'male')) throw new Error(`made an invalid registration number ${regnum}: ${parsed.ok ? 'sex' : parsed.message}`)
    regnums.add(regnum)
    const p = { regnum, birthMs, female, home }
    pool.push(p)
    pools.set(middle, pool)
    return p
  }

  const references = new Map<string, number>()
  const reference = (agency: string) => {
    const n = (references.get(agency) ?? 0) + 1
    references.set(agency, n)
    return `${agency}-${String(n).padStart(7, '0')}`
  }

  const plans: Plan[] = []
  let index = 0
  months.forEach((ym, mi) => {
    const month = Number(ym.slice(5))
    for (let k = 0; k < perMonth[mi]!; k++, index++) {
      const date = days[mi]!.draw(d)
      const dayStart = mnDayStart(date)
      const w = weekday(date)

      // Where and how: a catalogue round on that day takes some of the
      // mobile applications; otherwise the person's aimag, soum and bag.
      let channel: Channel = 'mobile_oss'
      let unit = ''
      let middle = ''
      let home = ''
      let service: Service | undefined
      const on = roundsOn(date)
      const round = on.length === 0 ? undefined : d.pick(on)
      if (round !== undefined && d.chance(0.06)) {
        channel = 'mobile_oss'
        middle = round.unit
        const dayOf = Math.round((Date.parse(`${date}T00:00:00Z`) - Date.parse(`${round.from}T00:00:00Z`)) / DAY)
        home = round.bags[Math.min(dayOf, round.bags.length - 1)]!
        unit = home
        const services = round.services.map((c) => snap.service(c)).filter((s): s is Service => s !== undefined && world.deliverable(s) && s.channels.includes('mobile_oss'))
        service = drawService(services, `round|${round.id}`, month)
      }
      if (service === undefined) {
        const area = world.areas.draw(d)
        const m = area.middles.draw(d)
        middle = m.code
        home = area.homes.get(m.code)!.draw(d).code
        const capital = area.top === '11'
        const summer = month >= 6 && month <= 8 ? 1.6 : [3, 10, 12].includes(month) ? 1.2 : 0.8
        const shares: Array<[Channel, number]> = [
          ['oss_counter', (capital ? 0.66 : 0.6) * counterDay(date)],
          ['online', (capital ? 0.34 : 0.2) * onlineDay(date)],
          ['mobile_oss', capital || home.length !== 6 ? 0 : 0.2 * summer * mobileDay(date)],
        ]
        channel = new Weighted(shares, (s) => s[1]).draw(d)[0]
        if (channel === 'oss_counter') {
          const r = d.rnd()
          // The aimag's (or capital's) own OSS, the soum's or district's, the bag's or khoroo's.
          const tries = r < 0.1 ? [area.top, middle, home] : r < 0.65 ? [middle, area.top] : [home, middle, area.top]
          unit = middle
          for (const u of tries) {
            service = drawService(servicesAt(u, channel), `${channel}|${u}`, month)
            if (service !== undefined) { unit = u; break }
          }
        } else if (channel === 'mobile_oss') {
          unit = home
          service = drawService(servicesAt(middle, channel), `${channel}|${middle}`, month)
        } else {
          unit = home
          service = drawService(servicesAt(home, channel), `${channel}|online`, month)
        }
        if (service === undefined) {
          channel = 'online'
          unit = home
          service = drawService(servicesAt(home, channel), `${channel}|online`, month)!
        }
      }
      const local = channel === 'online' ? onlineHour(d) : officeHour(d, w === 6)
      const at = Math.round(dayStart + local * HOUR)
      const who = person(middle, home, service, at)

      const id = uuidOf(`oss-simulation:${options.seed}:${options.end}:${options.months}:${options.applications}:${index}`)
      const key = `sim-${options.seed}-${options.end}-${options.months}-${options.applications}-${index}`
      const officer = `officer-${unit}-${1 + (index % 3)}`
      const citizen = channel === 'online'
      const form = (service.formSchema.examples as Array<Record<string, unknown>> | undefined)?.[0] ?? {}
      const body = { service: service.code, unit: unit, channel, applicant: { regnum: who.regnum }, form }
      const app: NewApplication = {
        id,
        service: service.code,
        adapter: service.adapter!,
        unit: unit,
        channel,
        applicantRegnum: who.regnum,
        form,
        submittedBy: `${SIMULATION_ISSUER}:${citizen ? who.regnum : officer}`,
        submittedRole: citizen ? 'citizen' : 'officer',
        portal: citizen ? 'e-mongolia' : null,
        packageId: null,
      }
      plans.push({ key, app, body, at, steps: deliverySteps(world, service, at, d, budget, backoff, reference) })
    }
  })
  return plans.sort((a, b) => a.at - b.at || a.app.id.localeCompare(b.app.id))
}

// The delivery and decision of one application, as the relay, the worker and
// the agency would make them.
function deliverySteps (world: World, service: Service, at: number, d: Draw, budget: number, backoff: (spent: number) => number, reference: (agency: string) => string): Step[] {
  const steps: Step[] = []
  const provider = world.memberId.get(service.agency) ?? service.agency
  let t = at + d.between(300, 2500)
  steps.push({ op: 'queued', at: t, bound: true })

  // Attempts until one is delivered (true) or the application fails (false).
  const round = (fate: 'deliver' | 'refuse' | 'dead'): boolean => {
    // Failed attempts counted against the round's budget, as the store counts them.
    let spent = 0
    const transient = fate === 'deliver' && budget > 1 && d.chance(TRANSIENT_SHARE / (1 - REFUSED_SHARE - DEAD_SHARE)) ? d.int(1, Math.min(3, budget - 1)) : 0
    if (fate === 'deliver' && d.chance(BUS_WAIT_SHARE)) {
      t += d.between(20, 600)
      steps.push({ op: 'deliver', at: t })
      t += d.between(200, 2000)
      steps.push({ op: 'bus_wait', why: `${provider} could not be reached`, at: t, bound: true })
      t += d.between(5_000, 40 * 60_000)
    }
    if (fate === 'deliver' && budget - transient > 1 && d.chance(GIVEN_UP_SHARE)) {
      t += d.between(20, 600)
      steps.push({ op: 'deliver', at: t })
      // The worker stopped; its job stalled and the queue gave up on it: it counts.
      t += d.between(60_000, 180_000)
      steps.push({ op: 'given_up', at: t })
      spent++
      t += d.between(500, 5_000)
    }
    let failures = 0
    for (;;) {
      t += d.between(20, 600)
      steps.push({ op: 'deliver', at: t })
      if (fate === 'refuse') {
        t += d.between(300, 3000)
        steps.push({ op: 'refused', detail: d.pick(REFUSALS), at: t, bound: true })
        return false
      }
      if (fate === 'deliver' && failures >= transient) {
        t += d.between(300, 4000)
        steps.push({ op: 'delivered', reference: reference(service.agency), at: t, bound: true })
        return true
      }
      const why = d.chance(0.7) ? `${provider} failed (${d.pick([500, 502, 503, 503, 504])})` : `${provider} did not answer within 10000 ms`
      t += why.includes('within') ? 10_000 : d.between(300, 3000)
      failures++
      spent++
      if (spent >= budget) {
        steps.push({ op: 'dead', why, at: t, bound: true })
        return false
      }
      steps.push({ op: 'retry_later', why, at: t, bound: true })
      t += backoff(spent) + d.between(5, 200)
    }
  }

  const r = d.rnd()
  let delivered: boolean
  if (r < REFUSED_SHARE) delivered = round('refuse')
  else if (r < REFUSED_SHARE + DEAD_SHARE) {
    delivered = round('dead')
    if (d.chance(ADMIN_RETRY_SHARE)) {
      // An admin sees the dead-letter and sends it again, in office hours.
      t = workingMoment(t + d.between(2 * HOUR, 5 * DAY), d)
      steps.push({ op: 'admin_retry', actor: `admin:admin-${1 + d.int(0, 2)}`, at: t })
      t += d.between(300, 2500)
      steps.push({ op: 'queued', at: t, bound: true })
      delivered = round('deliver')
    }
  } else delivered = round('deliver')
  if (!delivered) return steps

  // The agency decides around its standard processing time; some late.
  // Same-day and next-day services are mostly decided by the agency's own
  // systems, at any hour; longer ones by its staff, in office hours.
  const days = service.guide.processingDays
  const took = days === 0
    ? Math.min(2 * DAY, 1.5 * HOUR * Math.exp(0.9 * d.normal()))
    : Math.min(3 * days * DAY, Math.max(10 * 60_000, days * DAY * 0.58 * Math.exp(0.4 * d.normal())))
  t = days <= 1 ? t + took : workingMoment(t + took, d)
  const rejected = d.chance(world.rejectShare.get(service.code) ?? REJECTED_SHARE)
  steps.push(rejected ? { op: 'decided', decision: 'rejected', reason: d.pick(REJECTION_REASONS), at: t } : { op: 'decided', decision: 'approved', at: t })
  return steps
}

// --- what the store writes ----------------------------------------------------

// An application's row as the store leaves it, step by step: the same
// changes and the same events as the statements of
// src/applications/store.ts, for the bulk writer. The store writer checks
// that the store wrote as many events as the model says, and
// test/cli/stats.test.ts compares the two writers' tables, so a change to the
// store that this model misses fails there.
interface EventRow { status: string, attempt: number | null, detail: string | null }

class Model {
  status: string = 'received'
  decision: string | null = null
  agencyReference: string | null = null
  reason: string | null = null
  reasonMn: string | null = null
  attempts = 0
  roundAttempts = 0
  outbox = true
  readonly events: EventRow[] = [{ status: 'received', attempt: null, detail: null }]

  // What one step writes; its events, in order.
  apply (step: Step, budget: number): EventRow[] {
    const before = this.events.length
    const attempt = this.attempts
    const transition = (status: string, f: Parameters<ApplicationStore['transition']>[2]) => {
      if (!f.from.includes(this.status as ApplicationStatus)) throw new Error(`the model cannot go from ${this.status} to ${status}`)
      this.status = status
      this.attempts = Math.max(this.attempts, f.attempt ?? this.attempts)
      this.agencyReference = f.agencyReference ?? this.agencyReference
      this.reason = f.reason ?? this.reason
      this.decision = f.decision ?? this.decision
      this.roundAttempts += f.counted === true ? 1 : 0
      this.reasonMn = f.reasonMn ?? this.reasonMn
      this.events.push({ status, attempt: f.attempt ?? null, detail: f.detail ?? f.reason ?? null })
    }
    const fields = transitionFields(step, attempt, this.roundAttempts)
    switch (step.op) {
      case 'queued':
        this.outbox = false
        if (this.status === 'received') {
          this.status = 'queued'
          this.events.push({ status: 'queued', attempt: null, detail: null })
        }
        break
      case 'deliver': {
        if (!['received', 'queued', 'delivering'].includes(this.status)) throw new Error(`the model cannot deliver from ${this.status}`)
        const was = this.status
        this.status = 'delivering'
        this.attempts++
        this.roundAttempts += was === 'delivering' ? 1 : 0
        if (was === 'received') this.events.push({ status: 'queued', attempt: null, detail: null })
        this.events.push({ status: 'delivering', attempt: this.attempts, detail: was === 'delivering' ? 'the attempt before ended with no outcome; it counts' : null })
        break
      }
      case 'given_up': {
        if (!['received', 'queued', 'delivering'].includes(this.status)) throw new Error(`the model cannot give up from ${this.status}`)
        const dead = this.roundAttempts + 1 >= budget
        this.status = dead ? 'failed' : 'queued'
        if (dead) this.reason = `dead-lettered after ${this.roundAttempts + 1} attempts: the queue gave up on its job (its worker stopped during delivery)`
        this.roundAttempts++
        this.events.push({ status: this.status, attempt: null, detail: dead ? this.reason : 'the queue gave up on its job (its worker stopped during delivery); it counts, and the application is queued again' })
        break
      }
      case 'admin_retry':
        if (this.status !== 'failed') throw new Error(`the model cannot retry from ${this.status}`)
        this.status = 'received'
        this.reason = null
        this.reasonMn = null
        this.roundAttempts = 0
        this.outbox = true
        this.events.push({ status: 'received', attempt: null, detail: `retry requested by ${step.actor}` })
        break
      default:
        transition(fields!.status, fields!.fields)
    }
    return this.events.slice(before)
  }
}

// The transition a step makes, with the worker's fields (src/applications/delivery.ts).
function transitionFields (step: Step, attempt: number, roundAttempts: number): { status: ApplicationStatus, fields: Parameters<ApplicationStore['transition']>[2] } | undefined {
  switch (step.op) {
    case 'retry_later': return { status: 'queued', fields: { from: ['delivering'], attempt, counted: true, detail: `attempt ${attempt} failed, will retry: ${step.why}` } }
    case 'bus_wait': return { status: 'queued', fields: { from: ['delivering'], attempt, detail: `the bus could not be reached, no attempt spent: ${step.why}` } }
    case 'refused': return { status: 'failed', fields: { from: ['delivering'], attempt, reason: `rejected by the agency: ${step.detail}` } }
    case 'dead': return { status: 'failed', fields: { from: ['delivering'], attempt, counted: true, reason: `dead-lettered after ${roundAttempts + 1} attempts: ${step.why}` } }
    case 'delivered': return { status: 'delivered', fields: { from: ['delivering'], attempt, agencyReference: step.reference, detail: `agency reference ${step.reference}` } }
    case 'decided': return {
      status: 'decided',
      fields: { from: ['delivered'], decision: step.decision, ...(step.reason === undefined ? {} : { reason: step.reason.en, reasonMn: step.reason.mn }), detail: `the agency ${step.decision} it` },
    }
    default: return undefined
  }
}

// The steps that happen by `now`, at their times: a step bound to the one
// before it goes with it (at `now` at the latest), so no history stops with
// its outbox row waiting or its attempt unanswered.
function happened (plan: Plan, now: number): Step[] {
  const out: Step[] = []
  for (const step of plan.steps) {
    if (step.at > now && step.bound !== true) break
    out.push(step.at > now ? { ...step, at: now } : step)
  }
  return out
}

// --- writing it ---------------------------------------------------------------

export type Writer = 'bulk' | 'store'

interface Written {
  id: string
  plan: Plan
  model: Model
  // The time of each event, in order.
  times: number[]
}

// The database as one transaction sees it, for a store whose statements
// should all go into that transaction; its own transactions join it.
function boundTo (db: Database, tx: Queryable): Database {
  return {
    kind: db.kind,
    schema: db.schema,
    query: <T>(sql: string, params?: unknown[]) => tx.query<T>(sql, params),
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) => fn(tx),
    exec: () => Promise.reject(new Error('exec inside a bound transaction')),
    onConnectionError () {},
    close: async () => {},
  }
}

// The same simulation is already in the database.
export class SimulationConflict extends Error {
  readonly code = 'SIMULATION_CONFLICT'
}

// Options that leave nothing to simulate.
export class SimulationInputError extends Error {
  readonly code = 'SIMULATION_INPUT'
}

const respond = (a: Pick<Application, 'id' | 'service' | 'unit' | 'channel' | 'status'>) =>
  ({ status: 202, body: { id: a.id, service: a.service, unit: a.unit, channel: a.channel, status: a.status }, headers: { location: `/v1/applications/${a.id}` } })

function modelOf (plan: Plan, steps: Step[], budget: number): Written {
  const model = new Model()
  const times = [plan.at]
  for (const step of steps) for (const _ of model.apply(step, budget)) times.push(step.at)
  if (model.outbox) throw new Error(`application ${plan.app.id} would be left in the outbox`)
  return { id: plan.app.id, plan, model, times }
}

// Every step through the gateway's application store, bound to the batch's
// transaction: the statements the gateway runs, one by one.
async function throughStore (db: Database, tx: Queryable, batch: Written[], steps: Map<string, Step[]>, delivery: NonNullable<SimulateOptions['delivery']>, conflict: () => Error): Promise<void> {
  const store = createApplicationStore(boundTo(db, tx))
  const dueMs = delivery.lockDurationMs + delivery.reconcileGraceMs
  const check = (ok: unknown, what: string, id: string) => {
    if (ok === false || ok === null) throw new Error(`the store did not take step ${what} of application ${id}`)
  }
  for (const w of batch) {
    const { id } = w
    const { replay } = await store.intake(w.plan.app.submittedBy, w.plan.key, requestHash(w.plan.body), w.plan.app, respond)
    if (replay) throw conflict()
    let taken: Application | null = null
    for (const step of steps.get(id)!) {
      const attempt = taken?.attempts ?? 0
      const t = transitionFields(step, attempt, taken?.roundAttempts ?? 0)
      switch (step.op) {
        case 'queued': await store.markQueued([id], dueMs); break
        case 'deliver': taken = await store.startAttempt(id, dueMs); check(taken, step.op, id); break
        case 'given_up': check(await store.jobGivenUp(id, delivery.attempts, dueMs) ?? false, step.op, id); break
        case 'admin_retry': check(await store.retry(id, step.actor), step.op, id); break
        default: check(await store.transition(id, t!.status, { ...t!.fields, dueInMs: dueMs }), step.op, id)
      }
    }
  }
}

// The same rows in a few statements per batch.
async function inBulk (tx: Queryable, batch: Written[], conflict: () => Error): Promise<void> {
  const claimed = await tx.query(
    `INSERT INTO idempotency_keys (caller, key, request_hash, status, response, expires_at)
     SELECT r.caller, r.key, r.request_hash, 202, r.response, now() + interval '${IDEMPOTENCY_TTL_DAYS} days'
     FROM jsonb_to_recordset($1::jsonb) AS r (caller text, key text, request_hash text, response jsonb)
     ON CONFLICT (caller, key) DO NOTHING`,
    [JSON.stringify(batch.map((w) => ({
      caller: w.plan.app.submittedBy, key: w.plan.key, request_hash: requestHash(w.plan.body), response: respond({ ...w.plan.app, status: 'received' }),
    })))])
  if (claimed.rowCount !== batch.length) throw conflict()
  await tx.query(
    `INSERT INTO applications (id, service, adapter, unit, channel, applicant_regnum, form, submitted_by, submitted_role, portal, package_id,
       status, decision, agency_reference, reason, reason_mn, attempts, round_attempts, created_at, updated_at)
     SELECT r.id, r.service, r.adapter, r.unit, r.channel, r.applicant_regnum, r.form, r.submitted_by, r.submitted_role, r.portal, NULL,
       r.status, r.decision, r.agency_reference, r.reason, r.reason_mn, r.attempts, r.round_attempts, r.created_at, r.updated_at
     FROM jsonb_to_recordset($1::jsonb) AS r (id uuid, service text, adapter text, unit text, channel text, applicant_regnum text, form jsonb,
       submitted_by text, submitted_role text, portal text, status text, decision text, agency_reference text, reason text, reason_mn text,
       attempts int, round_attempts int, created_at timestamptz, updated_at timestamptz)`,
    [JSON.stringify(batch.map(({ plan: { app }, model: m, times }) => ({
      id: app.id, service: app.service, adapter: app.adapter, unit: app.unit, channel: app.channel, applicant_regnum: app.applicantRegnum, form: app.form,
      submitted_by: app.submittedBy, submitted_role: app.submittedRole, portal: app.portal, status: m.status, decision: m.decision,
      agency_reference: m.agencyReference, reason: m.reason, reason_mn: m.reasonMn, attempts: m.attempts, round_attempts: m.roundAttempts,
      created_at: new Date(times[0]!).toISOString(), updated_at: new Date(times.at(-1)!).toISOString(),
    })))])
  await tx.query(
    `INSERT INTO application_events (application_id, at, status, attempt, detail, notify)
     SELECT r.application_id, r.at, r.status, r.attempt, r.detail, false
     FROM jsonb_to_recordset($1::jsonb) AS r (n int, application_id uuid, at timestamptz, status text, attempt int, detail text)
     ORDER BY r.n`,
    [JSON.stringify(batch.flatMap((w) => w.model.events.map((e, i) => ({ application_id: w.id, at: new Date(w.times[i]!).toISOString(), ...e }))).map((e, n) => ({ n, ...e })))])
}

export async function simulate (db: Database, options: SimulateOptions & { writer?: Writer }): Promise<SimulateResult> {
  const started = performance.now()
  const now = options.now ?? Date.now()
  const delivery = options.delivery ?? { attempts: 12, backoffBaseMs: 1000, backoffMaxMs: 600_000, lockDurationMs: 30_000, reconcileGraceMs: 60_000 }
  const batchSize = options.batchSize ?? 1000
  const writer = options.writer ?? 'bulk'
  const d = new Draw(createRandom('simulate', options.seed).next)
  const world = await buildWorld(options.document ?? buildSeedDocument(), d)
  const plans = planHistory(world, { ...options, now, delivery }, d)
  const conflict = () => new SimulationConflict(`this simulation (seed ${options.seed}, ${options.months} months to ${options.end}, ${options.applications} applications) is already in the database; use another --seed`)

  const result: SimulateResult = {
    applications: 0, events: 0, months: monthsEnding(options.end, options.months), approved: 0, rejected: 0, failed: 0, open: 0, adminRetries: 0,
    persons: new Set(plans.map((p) => p.app.applicantRegnum)).size, seconds: 0,
  }
  for (let i = 0; i < plans.length; i += batchSize) {
    const steps = new Map<string, Step[]>()
    const batch = plans.slice(i, i + batchSize).map((plan) => {
      const s = happened(plan, now)
      steps.set(plan.app.id, s)
      return modelOf(plan, s, delivery.attempts)
    })
    await db.transaction(async (tx) => {
      if (writer === 'bulk') {
        await inBulk(tx, batch, conflict)
        return
      }
      await throughStore(db, tx, batch, steps, delivery, conflict)
      // The simulated times, in the same transaction, so a gateway folding
      // meanwhile never sees an event at the time it was written. Nothing of
      // a made-up history is on its way anywhere: no reconciler looks for its
      // jobs (due_at) and no portal is called back about it (notify).
      const apps = batch.map((w) => w.id)
      await tx.query(`UPDATE applications a SET created_at = u.created, updated_at = u.updated, due_at = NULL
        FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) AS u (id, created, updated) WHERE a.id = u.id`,
      [apps, batch.map((w) => new Date(w.times[0]!).toISOString()), batch.map((w) => new Date(w.times.at(-1)!).toISOString())])
      const events = batch.flatMap((w) => w.times.map((at, n) => ({ id: w.id, n: n + 1, at: new Date(at).toISOString() })))
      const moved = await tx.query(`WITH ev AS (
          SELECT id, application_id, row_number() OVER (PARTITION BY application_id ORDER BY id)::int AS n
          FROM application_events WHERE application_id = ANY($1::uuid[]))
        UPDATE application_events e SET at = u.at, notify = false, notify_due_at = NULL
        FROM ev JOIN unnest($2::uuid[], $3::int[], $4::timestamptz[]) AS u (app, n, at) ON u.app = ev.application_id AND u.n = ev.n
        WHERE e.id = ev.id`, [apps, events.map((e) => e.id), events.map((e) => e.n), events.map((e) => e.at)])
      // The store wrote what the model says, or the count tells.
      if (moved.rowCount !== events.length) throw new Error(`expected ${events.length} events in the batch, the store wrote ${moved.rowCount}`)
    })
    for (const w of batch) {
      result.applications++
      result.events += w.times.length
      result.adminRetries += steps.get(w.id)!.filter((s) => s.op === 'admin_retry').length
      if (w.model.status === 'decided') result[w.model.decision as 'approved' | 'rejected']++
      else if (w.model.status === 'failed') result.failed++
      else result.open++
    }
    options.onProgress?.(result.applications, plans.length)
  }
  // Fresh planner statistics for what was just written: PGlite has no
  // autovacuum, and without them the fold's scan of the events is a bitmap
  // scan and a sort of the whole table for every batch.
  await db.query('ANALYZE applications, application_events, idempotency_keys')
  result.seconds = (performance.now() - started) / 1000
  return result
}

// The current month in Mongolian time, YYYY-MM.
export function currentMonth (now: number = Date.now()): string {
  return mnDate(now).slice(0, 7)
}

// Whether the database holds applications the simulation did not write.
export async function hasRealApplications (db: Queryable): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM applications WHERE submitted_by NOT LIKE '${SIMULATION_ISSUER}:%' LIMIT 1`)
  return rows.length > 0
}
