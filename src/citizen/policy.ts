import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { parse as parseYaml } from 'yaml'
import type { Text } from '../catalogue/document.ts'
import type { OfficerPrincipal } from '../auth/principal.ts'
import { ProblemError } from '../errors/problem-error.ts'

// The purposes table: which agency may look up which sources, and which
// fields of each, for what purpose.

export interface SourceDef {
  name: Text
  operation: string
  timeoutMs: number
}

// What the citizen must have agreed to before a look-up: nothing (a legal
// basis is named instead), a one-time code read out at the counter (KHUR
// WS100008/WS100009), or an approval in a portal where the citizen signed in.
export type ConsentLevel = 'none' | 'otp' | 'portal'
export const CONSENT_LEVELS: readonly ConsentLevel[] = ['none', 'otp', 'portal']

export interface ConsentRule {
  needs: ConsentLevel
  // The law that allows the look-up without consent; shown to the citizen.
  legalBasis?: Text
  // How long a consent given for this purpose lasts.
  validForHours?: number
  // Sources, or fields as "source.field", that need more than the purpose as a whole.
  stronger?: Record<string, Exclude<ConsentLevel, 'none'>>
}

export interface PurposeDef {
  name: Text
  agencies: string[]
  sources: Record<string, string[]>
  consent: ConsentRule
}

export interface Policies {
  sources: Record<string, SourceDef>
  purposes: Record<string, PurposeDef>
}

export const POLICIES_FILE = join(import.meta.dirname, '..', '..', 'seed', 'policies.yaml')

const text = { type: 'object', required: ['mn', 'en'], properties: { mn: { type: 'string' }, en: { type: 'string' } } }
const schema = {
  type: 'object',
  required: ['sources', 'purposes'],
  additionalProperties: false,
  properties: {
    sources: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['name', 'operation', 'timeoutMs'],
        additionalProperties: false,
        properties: { name: text, operation: { type: 'string' }, timeoutMs: { type: 'integer', minimum: 50, maximum: 30000 } },
      },
    },
    purposes: {
      type: 'object',
      propertyNames: { pattern: '^[a-z]+\\.[a-z_]+$' },
      additionalProperties: {
        type: 'object',
        required: ['name', 'agencies', 'sources', 'consent'],
        additionalProperties: false,
        properties: {
          name: text,
          agencies: { type: 'array', minItems: 1, items: { type: 'string' } },
          sources: { type: 'object', minProperties: 1, additionalProperties: { type: 'array', minItems: 1, items: { type: 'string' } } },
          consent: {
            type: 'object',
            required: ['needs'],
            additionalProperties: false,
            properties: {
              needs: { enum: CONSENT_LEVELS },
              legalBasis: text,
              validForHours: { type: 'integer', minimum: 1, maximum: 8784 },
              stronger: { type: 'object', additionalProperties: { enum: ['otp', 'portal'] } },
            },
            // No consent: the law that allows it is named. Any consent: how long it lasts.
            allOf: [
              { if: { properties: { needs: { const: 'none' } } }, then: { required: ['legalBasis'] }, else: { required: ['validForHours'] } },
              { if: { required: ['stronger'] }, then: { required: ['validForHours'] } },
            ],
          },
        },
      },
    },
  },
}

export function loadPolicies (file: string = POLICIES_FILE, operationExists: (op: string) => boolean = () => true): Policies {
  const doc = parseYaml(readFileSync(file, 'utf8')) as unknown
  const validate = new Ajv({ allErrors: true }).compile(schema)
  if (!validate(doc)) throw new Error(`${file}: ${validate.errors?.map((e) => `${e.instancePath} ${e.message}`).join('; ')}`)
  const policies = doc as unknown as Policies
  for (const [name, source] of Object.entries(policies.sources)) {
    if (!operationExists(source.operation)) throw new Error(`${file}: source ${name} uses ${source.operation}, which no adapter serves`)
  }
  for (const [code, purpose] of Object.entries(policies.purposes)) {
    for (const source of Object.keys(purpose.sources)) {
      if (policies.sources[source] === undefined) throw new Error(`${file}: purpose ${code} names an unknown source ${source}`)
    }
    for (const [key, level] of Object.entries(purpose.consent.stronger ?? {})) {
      const [source, field] = key.split('.') as [string, string | undefined]
      if (purpose.sources[source] === undefined || (field !== undefined && !purpose.sources[source]!.includes(field))) {
        throw new Error(`${file}: purpose ${code} asks consent for ${key}, which it does not read`)
      }
      if (rank(level) <= rank(purpose.consent.needs)) throw new Error(`${file}: purpose ${code}: ${key} needs ${level}, no stronger than the purpose`)
    }
  }
  return policies
}

// The sources this officer may see for this purpose, or a 403 naming why not.
export function authorise (policies: Policies, officer: OfficerPrincipal, purposeCode: string, asked: string[] | undefined): { purpose: PurposeDef, sources: string[] } {
  const purpose = policies.purposes[purposeCode]
  if (purpose === undefined) throw new ProblemError('VALIDATION_FAILED', `unknown purpose ${purposeCode}`)
  if (!purpose.agencies.includes(officer.agency)) {
    throw new ProblemError('PURPOSE_FORBIDDEN', `officers of ${officer.agency} may not use the purpose ${purposeCode}`, { extensions: { purpose: purposeCode } })
  }
  const allowed = Object.keys(purpose.sources)
  const sources = asked ?? allowed
  for (const source of sources) {
    if (!allowed.includes(source)) {
      throw new ProblemError('SOURCE_FORBIDDEN', `the purpose ${purposeCode} does not cover the source ${source}`, { extensions: { source, purpose: purposeCode } })
    }
  }
  return { purpose, sources }
}

// Only the fields the purpose needs leave the gateway.
export function minimise (data: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const f of fields) if (f in data) out[f] = data[f]
  return out
}

export function rank (level: ConsentLevel): number {
  return CONSENT_LEVELS.indexOf(level)
}

export interface ConsentNeed {
  level: ConsentLevel
  // What asks for more than the purpose as a whole ("land", "civil.idCard").
  because: string[]
}

// The consent a look-up of these sources under this purpose needs: the
// strongest of the purpose's own and those of the sources and fields read.
export function consentNeeded (purpose: PurposeDef, sources: string[]): ConsentNeed {
  let level = purpose.consent.needs
  const because: string[] = []
  for (const [key, needs] of Object.entries(purpose.consent.stronger ?? {})) {
    if (!sources.includes(key.split('.')[0]!)) continue
    because.push(key)
    if (rank(needs) > rank(level)) level = needs
  }
  return { level, because: level === purpose.consent.needs ? [] : because }
}
