import { canonicalJson, COLLECTION_FIELDS, COLLECTIONS, type CatalogueDocument, type CollectionName } from './document.ts'

export interface CollectionDiff {
  added: string[]
  removed: string[]
  changed: Array<{ key: string, before: unknown, after: unknown }>
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
      else if (canonicalJson(old) !== canonicalJson(entity)) diff.changed.push({ key, before: old, after: entity })
    }
    for (const key of before.keys()) if (!after.has(key)) diff.removed.push(key)
    if (diff.added.length + diff.removed.length + diff.changed.length > 0) out[name] = diff
  }
  return out
}
