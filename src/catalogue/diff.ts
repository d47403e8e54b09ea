import { canonicalJson, COLLECTION_FIELDS, COLLECTIONS, type CatalogueDocument, type CollectionName } from './document.ts'

// One changed field, JSON Patch style (RFC 6902 op and path, within the
// entity) with the value before as well as after, so a reviewer sees both.
export interface FieldChange {
  op: 'add' | 'remove' | 'replace'
  path: string
  before?: unknown
  after?: unknown
}

export interface CollectionDiff {
  added: string[]
  removed: string[]
  changed: Array<{ key: string, fields: FieldChange[] }>
}

const pointerToken = (key: string | number) => String(key).replaceAll('~', '~0').replaceAll('/', '~1')
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

// The fields that differ between two versions of one entity. Objects are
// compared key by key, arrays item by item when their length is kept; a list
// that grew or shrank is replaced whole, which reads better than a run of
// shifted items.
export function diffFields (before: unknown, after: unknown, path = ''): FieldChange[] {
  if (canonicalJson(before) === canonicalJson(after)) return []
  if (isObject(before) && isObject(after)) {
    const out: FieldChange[] = []
    for (const key of Object.keys(before).sort()) {
      const p = `${path}/${pointerToken(key)}`
      if (!(key in after)) out.push({ op: 'remove', path: p, before: before[key] })
      else out.push(...diffFields(before[key], after[key], p))
    }
    for (const key of Object.keys(after).sort()) {
      if (!(key in before)) out.push({ op: 'add', path: `${path}/${pointerToken(key)}`, after: after[key] })
    }
    return out
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((item, i) => diffFields(item, after[i], `${path}/${i}`))
  }
  return [{ op: 'replace', path, before, after }]
}

// Entity by entity, what changed from one version to another.
export function diffDocuments (from: CatalogueDocument, to: CatalogueDocument): Partial<Record<CollectionName, CollectionDiff>> {
  const out: Partial<Record<CollectionName, CollectionDiff>> = {}
  for (const name of Object.keys(COLLECTIONS) as CollectionName[]) {
    const keyOf = COLLECTIONS[name].key as (e: unknown) => string
    const field = COLLECTION_FIELDS[name]
    const before = new Map((from[field] as unknown[]).map((e) => [keyOf(e), e]))
    const after = new Map((to[field] as unknown[]).map((e) => [keyOf(e), e]))
    const diff: CollectionDiff = { added: [], removed: [], changed: [] }
    for (const [key, entity] of after) {
      const old = before.get(key)
      if (old === undefined) diff.added.push(key)
      else {
        const fields = diffFields(old, entity)
        if (fields.length > 0) diff.changed.push({ key, fields })
      }
    }
    for (const key of before.keys()) if (!after.has(key)) diff.removed.push(key)
    if (diff.added.length + diff.removed.length + diff.changed.length > 0) out[name] = diff
  }
  return out
}
