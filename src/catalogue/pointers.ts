import type { FieldError } from '../errors/problem-error.ts'
import { COLLECTION_FIELDS, COLLECTIONS, type CollectionName } from './document.ts'

// Problems in a whole catalogue point at an item by its key
// (/services/welfare.child-money/guide/feeMnt), which an administrator can
// find in the file, rather than by its place in the list (/services/32/…).
// An item whose key is missing, malformed or repeated keeps its index: only
// the index says which one it is.

const KEY_FIELDS: Readonly<Record<CollectionName, readonly string[]>> = {
  units: ['code'],
  agencies: ['code'],
  categories: ['code'],
  services: ['code'],
  'standard-lists': ['level'],
  availability: ['unit', 'service'],
  'mobile-rounds': ['id'],
}

const token = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1')

export function pointByKey (document: unknown, errors: FieldError[]): FieldError[] {
  if (document === null || typeof document !== 'object') return errors
  const doc = document as Record<string, unknown>
  const keysOf = new Map<string, Array<string | null>>()
  for (const name of Object.keys(COLLECTIONS) as CollectionName[]) {
    const field = COLLECTION_FIELDS[name]
    const list = doc[field]
    if (!Array.isArray(list)) continue
    const keyOf = COLLECTIONS[name].key as (e: unknown) => string
    const keys = list.map((e) => {
      if (e === null || typeof e !== 'object') return null
      const usable = KEY_FIELDS[name].every((k) => typeof (e as Record<string, unknown>)[k] === 'string' && (e as Record<string, string>)[k] !== '')
      return usable ? keyOf(e) : null
    })
    const counts = new Map<string, number>()
    for (const k of keys) if (k !== null) counts.set(k, (counts.get(k) ?? 0) + 1)
    keysOf.set(field, keys.map((k) => (k !== null && counts.get(k) === 1 ? k : null)))
  }
  return errors.map((e) => {
    const m = /^\/([A-Za-z]+)\/(\d+)(?=\/|$)/.exec(e.pointer)
    const key = m === null ? undefined : keysOf.get(m[1]!)?.[Number(m[2])]
    if (m === null || key === undefined || key === null) return e
    return { ...e, pointer: `/${m[1]}/${token(key)}${e.pointer.slice(m[0].length)}` }
  })
}
