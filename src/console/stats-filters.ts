import { parsePeriod, shiftMonths } from '../stats/calendar.ts'
import type { MessageKey } from './messages.ts'

// The dashboard's filters, read from the query string and checked here, so
// that a mistyped period comes back as the form with the field marked
// (400), not as whatever the API would make of it.

// The indicators the units can be ranked by: kept per unit, by month and year.
export const RANK_INDICATORS = [
  'applications.received',
  'applications.persons_served',
  'outcomes.approved',
  'outcomes.approval_rate',
  'time.received_to_decided.p50',
  'time.decided_within_standard',
] as const

export type RankIndicator = typeof RANK_INDICATORS[number]
export type FilterField = 'period' | 'unit' | 'service' | 'rank'

export interface StatsFilters {
  period: string
  grain: 'month' | 'year'
  // '' is the whole country.
  unit: string
  service: string | null
  rank: RankIndicator
}

export interface FilterProblem {
  field: FilterField
  key: MessageKey
  // The value at fault, for messages that name it.
  value?: string
}

// What the person typed or chose, to fill the form in again.
export type FilterInput = Record<FilterField, string>

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/
const YEAR = /^\d{4}$/
const UNIT = /^[0-9]{2}([0-9]{2}([0-9]{2})?)?$/
const SERVICE = /^[a-z][a-z0-9_.-]{1,63}$/
const FIRST_YEAR = '2000'

function isRankIndicator (value: string): value is RankIndicator {
  return RANK_INDICATORS.some((r) => r === value)
}

// A parameter given once as text; a repeated one (?period=a&period=b) is
// not a value the form can have sent.
function text (query: unknown, name: string): string | null | undefined {
  if (typeof query !== 'object' || query === null || !(name in query)) return undefined
  const value: unknown = Reflect.get(query, name)
  return typeof value === 'string' ? value.trim() : null
}

// `defaults.unit` is the person's own unit ('' for an administrator: the
// country). An empty unit means the default too, so that an analyst's
// dashboard never silently stands for the country.
export function readFilters (query: unknown, defaults: { today: string, unit: string }): { filters: StatsFilters | null, input: FilterInput, problems: FilterProblem[] } {
  const problems: FilterProblem[] = []
  const currentMonth = defaults.today.slice(0, 7)
  const raw = (name: FilterField) => text(query, name)

  const periodText = raw('period')
  const period = periodText === undefined || periodText === '' ? currentMonth : periodText ?? ''
  const grain = MONTH.test(period) ? 'month' : YEAR.test(period) ? 'year' : null
  if (grain === null || period < FIRST_YEAR || period > (grain === 'year' ? currentMonth.slice(0, 4) : currentMonth)) {
    problems.push({ field: 'period', key: 'stats.err.period', value: period })
  }

  const unitText = raw('unit')
  const unit = unitText === undefined || unitText === '' ? defaults.unit : unitText ?? ''
  if (unitText === null || (unit !== defaults.unit && !UNIT.test(unit))) problems.push({ field: 'unit', key: 'stats.err.unit', value: unit })

  const serviceText = raw('service')
  const service = serviceText === undefined || serviceText === '' ? null : serviceText ?? ''
  if (service !== null && !SERVICE.test(service)) problems.push({ field: 'service', key: 'stats.err.service', value: service })

  const rankText = raw('rank')
  const rank = rankText === undefined || rankText === '' ? RANK_INDICATORS[0] : rankText ?? ''
  if (!isRankIndicator(rank)) problems.push({ field: 'rank', key: 'stats.err.rank', value: rank })

  const input: FilterInput = { period, unit, service: service ?? '', rank }
  if (problems.length > 0 || grain === null || !isRankIndicator(rank)) return { filters: null, input, problems }
  return { filters: { period, grain, unit, service, rank }, input, problems }
}

function dayBefore (date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) - 86400_000).toISOString().slice(0, 10)
}

// The months the time series covers: the twelve up to a month, or a year's
// twelve; first and last day, as the series API takes them.
export function seriesSpan (f: Pick<StatsFilters, 'period' | 'grain'>): { from: string, to: string, months: string[] } {
  const from = f.grain === 'year' ? `${f.period}-01-01` : shiftMonths(`${f.period}-01`, -11)
  const months = Array.from({ length: 12 }, (_, i) => shiftMonths(from, i).slice(0, 7))
  return { from, to: dayBefore(parsePeriod(f.period)!.to), months }
}

// The period before or after, of the same grain.
export function stepPeriod (f: Pick<StatsFilters, 'period' | 'grain'>, by: -1 | 1): string {
  return f.grain === 'year' ? String(Number(f.period) + by).padStart(4, '0') : shiftMonths(`${f.period}-01`, by).slice(0, 7)
}

// Whether a period has begun by `today`: later ones are not offered.
export function hasBegun (period: string, today: string): boolean {
  return period <= (YEAR.test(period) ? today.slice(0, 4) : today.slice(0, 7))
}

// Recent months and years, offered as suggestions in the period field.
export function recentPeriods (today: string): string[] {
  const month = `${today.slice(0, 7)}-01`
  const months = Array.from({ length: 24 }, (_, i) => shiftMonths(month, -i).slice(0, 7))
  const years = Array.from({ length: 5 }, (_, i) => String(Number(today.slice(0, 4)) - i))
  return [...months, ...years]
}
