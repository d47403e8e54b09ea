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
}

export interface DciPolicy {
  recordTypes: Record<DciRegistry, string[]>
  purposes: Record<string, DciPurpose>
}

const schema = {
  type: 'object',
  required: ['record_types', 'purposes'],
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
    purposes: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[a-z_]+\\.[a-z_]+$' },
      additionalProperties: {
        type: 'object',
        required: ['name', 'registries'],
        additionalProperties: false,
        properties: {
          name: { type: 'object', required: ['mn', 'en'], additionalProperties: false, properties: { mn: { type: 'string', minLength: 1 }, en: { type: 'string', minLength: 1 } } },
          registries: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['social', 'crvs'] } },
        },
      },
    },
  },
}

export function loadDciPolicy (file: string = DCI_POLICY_FILE): DciPolicy {
  const doc = parseYaml(readFileSync(file, 'utf8')) as unknown
  const validate = new Ajv({ allErrors: true }).compile(schema)
  if (!validate(doc)) throw new Error(`${file}: ${validate.errors?.map((e) => `${e.instancePath} ${e.message}`).join('; ')}`)
  const raw = doc as { record_types: Record<DciRegistry, string[]>, purposes: Record<string, DciPurpose> }
  return { recordTypes: raw.record_types, purposes: raw.purposes }
}

// "spdci-extensions-dci:Person" and "Person" name the same record type.
export function bareRecordType (value: string): string {
  return value.slice(value.lastIndexOf(':') + 1)
}

export function allRecordTypes (policy: DciPolicy): string[] {
  return [...new Set(Object.values(policy.recordTypes).flat())]
}
