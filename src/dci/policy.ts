import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv } from 'ajv'
import { parse as parseYaml } from 'yaml'
import type { DciRegistry } from './spec.ts'

// What partners may be granted: purposes and record types per registry
// (seed/dci.yaml). Registrations name entries of these lists only.

export const DCI_POLICY_FILE = join(import.meta.dirname, '..', '..', 'seed', 'dci.yaml')

export interface DciPurpose {
  name: { mn: string, en: string }
  registries: DciRegistry[]
  // What the citizen must have agreed to: nothing (the law is named), or a
  // standing consent given from a portal, for this purpose (and partner).
  consent: { needs: 'none' | 'portal', legalBasis?: { mn: string, en: string }, validForHours?: number }
}

export type EventSubject = 'newborn' | 'deceased' | 'applicant'

// An event partners may subscribe to: an approval of one of `services`.
export interface DciEvent {
  services: string[]
  subject: EventSubject
  recordTypes: string[]
}

export interface DciPolicy {
  recordTypes: Record<DciRegistry, string[]>
  purposes: Record<string, DciPurpose>
  // Per registry, by reg_event_type (bare).
  events: Record<DciRegistry, Record<string, DciEvent>>
}

const schema = {
  type: 'object',
  required: ['record_types', 'purposes', 'events'],
  additionalProperties: false,
  properties: {
    record_types: {
      type: 'object',
      required: ['social', 'crvs'],
      additionalProperties: false,
      properties: {
        social: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', pattern: '^[A-Za-z]+$' } },
        crvs: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', pattern: '^[A-Za-z]+$' } },
      },
    },
    events: {
      type: 'object',
      required: ['social', 'crvs'],
      additionalProperties: false,
      properties: { social: { $ref: '#/$defs/events' }, crvs: { $ref: '#/$defs/events' } },
    },
    purposes: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[a-z_]+\\.[a-z_]+$' },
      additionalProperties: {
        type: 'object',
        required: ['name', 'registries', 'consent'],
        additionalProperties: false,
        properties: {
          name: { $ref: '#/$defs/text' },
          registries: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['social', 'crvs'] } },
          consent: {
            type: 'object',
            required: ['needs'],
            additionalProperties: false,
            properties: {
              // A partner system cannot stand at a counter: a citizen's consent is given from a portal.
              needs: { enum: ['none', 'portal'] },
              legalBasis: { $ref: '#/$defs/text' },
              validForHours: { type: 'integer', minimum: 1, maximum: 87840 },
            },
            if: { properties: { needs: { const: 'none' } } },
            then: { required: ['legalBasis'] },
            else: { required: ['validForHours'] },
          },
        },
      },
    },
  },
  $defs: {
    text: { type: 'object', required: ['mn', 'en'], additionalProperties: false, properties: { mn: { type: 'string', minLength: 1 }, en: { type: 'string', minLength: 1 } } },
    events: {
      type: 'object',
      propertyNames: { pattern: '^[A-Za-z]+$' },
      additionalProperties: {
        type: 'object',
        required: ['services', 'subject', 'record_types'],
        additionalProperties: false,
        properties: {
          services: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', pattern: '^[a-z_]+\\.[a-z0-9-]+$' } },
          subject: { enum: ['newborn', 'deceased', 'applicant'] },
          record_types: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', pattern: '^[A-Za-z]+$' } },
        },
      },
    },
  },
}

export function loadDciPolicy (file: string = DCI_POLICY_FILE): DciPolicy {
  const doc = parseYaml(readFileSync(file, 'utf8')) as unknown
  const validate = new Ajv({ allErrors: true }).compile(schema)
  if (!validate(doc)) throw new Error(`${file}: ${validate.errors?.map((e) => `${e.instancePath} ${e.message}`).join('; ')}`)
  type RawEvent = Omit<DciEvent, 'recordTypes'> & { record_types: string[] }
  const raw = doc as { record_types: Record<DciRegistry, string[]>, purposes: Record<string, DciPurpose>, events: Record<DciRegistry, Record<string, RawEvent>> }
  const events = (registry: DciRegistry) => Object.fromEntries(Object.entries(raw.events[registry]).map(([type, e]) => {
    const stray = e.record_types.filter((r) => !raw.record_types[registry].includes(r))
    if (stray.length > 0) throw new Error(`${file}: /events/${registry}/${type}: ${stray.join(', ')} is not a record type of the ${registry} registry`)
    return [type, { services: e.services, subject: e.subject, recordTypes: e.record_types }]
  }))
  return { recordTypes: raw.record_types, purposes: raw.purposes, events: { social: events('social'), crvs: events('crvs') } }
}

// "spdci-extensions-dci:Person" and "Person" name the same record type.
export function bareRecordType (value: string): string {
  return value.slice(value.lastIndexOf(':') + 1)
}

export function allRecordTypes (policy: DciPolicy): string[] {
  return [...new Set(Object.values(policy.recordTypes).flat())]
}
