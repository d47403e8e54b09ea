import { mongoliaToday } from '../catalogue/offering.ts'
import type { Grain } from './model.ts'

// Periods are Mongolian calendar periods (UTC+8, no daylight saving).

export function mongolianDate (at: string | Date): string {
  return mongoliaToday(typeof at === 'string' ? Date.parse(at) : at.getTime())
}

export function monthStart (date: string): string {
  return `${date.slice(0, 7)}-01`
}

export function yearStart (date: string): string {
  return `${date.slice(0, 4)}-01-01`
}

function addDays (date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86400_000).toISOString().slice(0, 10)
}

function addMonths (date: string, months: number): string {
  const y = Number(date.slice(0, 4))
  const m = Number(date.slice(5, 7)) - 1 + months
  return `${String(y + Math.floor(m / 12)).padStart(4, '0')}-${String(((m % 12) + 12) % 12 + 1).padStart(2, '0')}-01`
}

// Monday of ISO week 1 of `year`: the week with the year's first Thursday.
function isoWeekOne (year: number): string {
  const jan4 = new Date(Date.UTC(year, 0, 4))
  const dow = (jan4.getUTCDay() + 6) % 7
  return addDays(jan4.toISOString().slice(0, 10), -dow)
}

export interface Period {
  // As asked: 2026, 2026-11, 2026-W48, 2026-11-30.
  code: string
  grain: Grain
  // First day, and the day after the last.
  from: string
  to: string
}

const PATTERNS: Array<[RegExp, Grain]> = [
  [/^\d{4}$/, 'year'],
  [/^\d{4}-(0[1-9]|1[0-2])$/, 'month'],
  [/^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$/, 'week'],
  [/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, 'day'],
]

export const PERIOD_PATTERN = '^(\\d{4}|\\d{4}-(0[1-9]|1[0-2])|\\d{4}-W(0[1-9]|[1-4]\\d|5[0-3])|\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01]))$'

// Null when the text names no period (a 31st of a short month, week 53 of a
// 52-week year).
export function parsePeriod (code: string): Period | null {
  const grain = PATTERNS.find(([re]) => re.test(code))?.[1]
  switch (grain) {
    case 'year': return { code, grain, from: `${code}-01-01`, to: `${Number(code) + 1}-01-01` }
    case 'month': return { code, grain, from: `${code}-01`, to: addMonths(`${code}-01`, 1) }
    case 'day': {
      const d = new Date(`${code}T00:00:00Z`)
      return Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== code ? null : { code, grain, from: code, to: addDays(code, 1) }
    }
    case 'week': {
      const year = Number(code.slice(0, 4))
      const from = addDays(isoWeekOne(year), (Number(code.slice(6)) - 1) * 7)
      if (from >= isoWeekOne(year + 1)) return null
      return { code, grain, from, to: addDays(from, 7) }
    }
    default: return null
  }
}

// The period of `grain` that holds `date`.
export function periodOf (grain: Grain, date: string): Period {
  switch (grain) {
    case 'day': return parsePeriod(date)!
    case 'month': return parsePeriod(date.slice(0, 7))!
    case 'year': return parsePeriod(date.slice(0, 4))!
    case 'week': {
      // The ISO year may differ from the calendar year near 1 January.
      for (const year of [Number(date.slice(0, 4)) + 1, Number(date.slice(0, 4)), Number(date.slice(0, 4)) - 1]) {
        const one = isoWeekOne(year)
        if (date >= one) {
          const week = Math.floor((Date.parse(`${date}T00:00:00Z`) - Date.parse(`${one}T00:00:00Z`)) / (7 * 86400_000)) + 1
          return parsePeriod(`${year}-W${String(week).padStart(2, '0')}`)!
        }
      }
      throw new RangeError(`no ISO week for ${date}`)
    }
  }
}

// The periods of `grain` from the one holding `from` to the one holding `to`.
export function periodsBetween (grain: Grain, from: string, to: string, max: number): Period[] {
  const out: Period[] = []
  for (let p = periodOf(grain, from); p.from <= to && out.length < max; p = periodOf(grain, p.to)) out.push(p)
  return out
}

export const shiftMonths = addMonths
