// What the monitoring and evaluation answers are made of. Counts leave the
// gateway as numbers, or as the suppression mark when they count too few
// people to publish (see suppress.ts); a figure that cannot be computed (a
// rate with nothing to divide by) is null.

export type Lang = 'mn' | 'en'

export type Figure = number | string | null

// Dimensions an indicator can be broken down by.
export type Dimension = 'unit' | 'service' | 'category' | 'agency' | 'channel' | 'sex' | 'age_band' | 'purpose' | 'result'

export type Grain = 'day' | 'week' | 'month' | 'year'

export const SEXES = ['female', 'male'] as const
export const AGE_BANDS = ['0-17', '18-34', '35-59', '60+'] as const
export const CHANNELS = ['oss_counter', 'mobile_oss', 'online'] as const

export interface LabelledFigure {
  key: string
  label: string
  value: Figure
}

// One document an aimag (or the ministry, or an OSS head) can file.
export interface StatsReport {
  lang: Lang
  period: { code: string, from: string, to: string }
  // code null: the whole country.
  unit: { code: string | null, name: string, level: string }
  generatedAt: string
  catalogueVersion: number
  suppressionThreshold: number
  // The mark a suppressed count carries, e.g. "<5".
  suppressionMark: string
  headline: Array<{ indicator: string, name: string, unit: string, value: Figure }>
  // The twelve months up to the report's period.
  series: Array<{ indicator: string, name: string, unit: string, points: Array<{ period: string, value: Figure }> }>
  breakdowns: Array<{ indicator: string, name: string, unit: string, dimension: Dimension, dimensionName: string, rows: LabelledFigure[] }>
  // The units directly below the report's unit, best first; null at the lowest level.
  ranking: { indicator: string, name: string, unit: string, rows: Array<{ rank: number | null, unit: string, label: string, value: Figure }> } | null
  notes: string[]
}
