import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { parse } from 'yaml'
import type { Text } from '../catalogue/document.ts'
import { SEED_DIR } from '../catalogue/seed.ts'
import { AGE_BANDS, CHANNELS, SEXES } from './model.ts'
import type { Dimension, Grain, Lang } from './model.ts'

// The indicator catalogue (seed/indicators.yaml): what each figure of the
// statistics API means, in both languages. The computations are written to
// these definitions, so the file is checked against the code list below when
// it is loaded: a definition without a computation, or a computation without
// a definition, is refused rather than published.

export const INDICATORS_FILE = join(SEED_DIR, 'indicators.yaml')

export const INDICATOR_CODES = [
  'applications.received',
  'applications.persons_served',
  'outcomes.delivered',
  'outcomes.approved',
  'outcomes.rejected',
  'outcomes.failed',
  'outcomes.approval_rate',
  'time.received_to_delivered.p50',
  'time.received_to_delivered.p90',
  'time.received_to_decided.p50',
  'time.received_to_decided.p90',
  'time.decided_within_standard',
  'backlog.open',
  'backlog.overdue',
  'delivery.attempts_per_delivery',
  'delivery.dead_lettered_share',
  'delivery.queue_time.p50',
  'delivery.queue_time.p90',
  'lookups.total',
  'lookups.refused',
  'mobile.rounds_held',
  'mobile.units_reached',
  'mobile.applications_per_round',
  'coverage.mandated_categories',
  'coverage.standard_list',
] as const

export type IndicatorCode = typeof INDICATOR_CODES[number]

export const MEASURE_UNITS = ['count', 'persons', 'percent', 'hours', 'seconds', 'ratio'] as const
export type MeasureUnit = typeof MEASURE_UNITS[number]

// flow: events within the period; stock: state at the time of the answer;
// derived: computed from other figures of the period.
export const INDICATOR_KINDS = ['flow', 'stock', 'derived'] as const
export type IndicatorKind = typeof INDICATOR_KINDS[number]

// Results of a citizen look-up as the audit log records them.
export const LOOKUP_RESULTS = ['ok', 'partial', 'failed', 'denied'] as const

// Records rather than lists so the compiler says when model.ts gains a
// dimension or grain this file does not know.
const DIMENSION_VALUES: Record<Dimension, readonly string[] | null> = {
  unit: null,
  service: null,
  category: null,
  agency: null,
  channel: CHANNELS,
  sex: SEXES,
  age_band: AGE_BANDS,
  purpose: null,
  result: LOOKUP_RESULTS,
}
const DIMENSIONS = Object.keys(DIMENSION_VALUES) as Dimension[]
const GRAIN_SET: Record<Grain, true> = { day: true, week: true, month: true, year: true }
const GRAINS = Object.keys(GRAIN_SET) as Grain[]

export interface Indicator {
  code: IndicatorCode
  name: Text
  definition: Text
  unit: MeasureUnit
  kind: IndicatorKind
  dimensions: Dimension[]
  grains: Grain[]
  computation: Text
  sdg: string | null
  suppressed: boolean
}

export interface DimensionDef {
  name: Text
  // Labels of a closed set's values; open dimensions take theirs from the
  // catalogue or the purposes table.
  values?: Record<string, Text>
}

export interface IndicatorCatalogue {
  format: 'oss-indicators/1'
  version: number
  published: string
  indicators: Indicator[]
  dimensions: Record<Dimension, DimensionDef>
  units: Record<MeasureUnit, Text>
  grains: Record<Grain, Text>
}

const nonEmpty = { type: 'string', minLength: 1 }
const text = { type: 'object', required: ['mn', 'en'], additionalProperties: false, properties: { mn: nonEmpty, en: nonEmpty } }
const labels = (keys: readonly string[]) => ({
  type: 'object',
  required: [...keys],
  additionalProperties: false,
  properties: Object.fromEntries(keys.map((k) => [k, text])),
})

const dimensionSchema = (values: readonly string[] | null) => values === null
  ? { type: 'object', required: ['name'], additionalProperties: false, properties: { name: text } }
  : { type: 'object', required: ['name', 'values'], additionalProperties: false, properties: { name: text, values: labels(values) } }

const indicatorSchema = {
  type: 'object',
  required: ['code', 'name', 'definition', 'unit', 'kind', 'dimensions', 'grains', 'computation', 'sdg', 'suppressed'],
  additionalProperties: false,
  properties: {
    code: { type: 'string', pattern: '^[a-z_]+(\\.[a-z0-9_]+)+$' },
    name: text,
    definition: text,
    unit: { enum: MEASURE_UNITS },
    kind: { enum: INDICATOR_KINDS },
    dimensions: { type: 'array', uniqueItems: true, items: { enum: DIMENSIONS } },
    grains: { type: 'array', uniqueItems: true, items: { enum: GRAINS } },
    computation: text,
    sdg: { type: ['string', 'null'], minLength: 1 },
    suppressed: { type: 'boolean' },
  },
  // A stock is the state at the time of the answer: it has no periods to
  // be asked by. Everything else must be askable by some period.
  if: { type: 'object', properties: { kind: { const: 'stock' } } },
  then: { type: 'object', properties: { grains: { type: 'array', maxItems: 0 } } },
  else: { type: 'object', properties: { grains: { type: 'array', minItems: 1 } } },
}

const schema = {
  type: 'object',
  required: ['format', 'version', 'published', 'dimensions', 'units', 'grains', 'indicators'],
  additionalProperties: false,
  properties: {
    format: { const: 'oss-indicators/1' },
    version: { type: 'integer', minimum: 1 },
    published: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
    dimensions: {
      type: 'object',
      required: DIMENSIONS,
      additionalProperties: false,
      properties: Object.fromEntries(DIMENSIONS.map((d) => [d, dimensionSchema(DIMENSION_VALUES[d])])),
    },
    units: labels(MEASURE_UNITS),
    grains: labels(GRAINS),
    indicators: { type: 'array', minItems: 1, items: indicatorSchema },
  },
}

// Not allErrors: the loader reports the first problem, and stopping there
// keeps that one meaningful.
const validate: ValidateFunction = new Ajv({ allErrors: false, allowUnionTypes: true }).compile(schema)

const escapeToken = (token: string) => token.replaceAll('~', '~0').replaceAll('/', '~1')

// The pointer of the problem itself: for a missing or unexpected property,
// the property's place rather than its parent's.
function pointerOf (error: ErrorObject): string {
  const params = error.params as { missingProperty?: string, additionalProperty?: string }
  const property = params.missingProperty ?? params.additionalProperty
  return property === undefined ? error.instancePath : `${error.instancePath}/${escapeToken(property)}`
}

function refuse (file: string, pointer: string, message: string): never {
  throw new Error(`${file}: invalid indicator catalogue at ${pointer === '' ? '(root)' : pointer}: ${message}`)
}

export function loadIndicators (file: string = INDICATORS_FILE): IndicatorCatalogue {
  const doc = parse(readFileSync(file, 'utf8')) as unknown
  if (!validate(doc)) {
    const first = validate.errors![0]!
    refuse(file, pointerOf(first), first.message ?? 'invalid')
  }
  const catalogue = doc as IndicatorCatalogue
  // What JSON Schema cannot say: codes are unique, and exactly the ones
  // the computations implement.
  const known = new Set<string>(INDICATOR_CODES)
  const seen = new Set<string>()
  catalogue.indicators.forEach((indicator, i) => {
    if (seen.has(indicator.code)) refuse(file, `/indicators/${i}/code`, `duplicate code ${indicator.code}`)
    if (!known.has(indicator.code)) refuse(file, `/indicators/${i}/code`, `${indicator.code} is not an indicator the gateway computes`)
    seen.add(indicator.code)
  })
  const missing = INDICATOR_CODES.filter((c) => !seen.has(c))
  if (missing.length > 0) refuse(file, '/indicators', `missing ${missing.join(', ')}`)
  return catalogue
}

export function indicatorByCode (catalogue: IndicatorCatalogue, code: string): Indicator | undefined {
  return catalogue.indicators.find((i) => i.code === code)
}

export function label (text: Text, lang: Lang): string {
  return text[lang]
}
