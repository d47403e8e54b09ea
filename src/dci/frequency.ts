import { Cron } from 'croner'

// A subscription's frequency.frequency: a Quartz cron expression, as the DCI
// specification's example shows ("0 0 0 5,15 * ? *": seconds first, '?',
// L, W and #, an optional year, Sunday = 1), read in Mongolian time. Events
// wait for the next time it names and leave together in one notify.

export const FREQUENCY_TIME_ZONE = 'Asia/Ulaanbaatar'

export interface Frequency {
  // The first time the expression names after `after`; null when it names none.
  next(after: Date): Date | null
}

// The schedule, or why the expression is not one.
export function frequencyOf (expression: string): Frequency | string {
  let cron: Cron
  try {
    cron = new Cron(expression.trim(), { timezone: FREQUENCY_TIME_ZONE, mode: '6-or-7-parts', alternativeWeekdays: true, sloppyRanges: true, paused: true })
  } catch (err) {
    return `frequency.frequency is not a cron expression of 6 or 7 fields (seconds first, as "0 0 0 5,15 * ? *"): ${(err as Error).message}`
  }
  return { next: (after) => cron.nextRun(after) }
}
