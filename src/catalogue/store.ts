import type { Database, Queryable } from '../db/index.ts'
import { whereClause } from '../db/database.ts'
import { ProblemError, ValidationProblem } from '../errors/problem-error.ts'
import { COLLECTION_FIELDS, COLLECTIONS, digest, etagOf, validateDocument, type CatalogueDocument, type CollectionName } from './document.ts'

export interface VersionMeta {
  version: number
  status: 'draft' | 'published' | 'archived'
  digest: string
  basedOn: number | null
  createdAt: string
  createdBy: string
  publishedAt: string | null
  publishedBy: string | null
  note: string | null
}

export interface VersionRow extends VersionMeta {
  document: CatalogueDocument
  etag: string
}

export interface Change {
  action: 'create' | 'update' | 'delete' | 'import' | 'restore' | 'publish' | 'seed'
  collection: CollectionName | null
  key: string | null
  before: unknown
  after: unknown
}

export interface ChangeRecord extends Change {
  id: number
  version: number
  at: string
  actor: string
}

const META = `version, status, digest, based_on AS "basedOn", created_at AS "createdAt", created_by AS "createdBy",
  published_at AS "publishedAt", published_by AS "publishedBy", note`

function toRow (r: VersionMeta & { document: CatalogueDocument | string }): VersionRow {
  const document = typeof r.document === 'string' ? JSON.parse(r.document) as CatalogueDocument : r.document
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v === null ? null : String(v))
  return {
    ...r,
    createdAt: iso(r.createdAt) as string,
    publishedAt: iso(r.publishedAt),
    document,
    etag: `"${r.digest.slice(0, 27)}"`,
  }
}

function checkIfMatch (ifMatch: string | undefined, etag: string, what: string): void {
  if (ifMatch === undefined) {
    throw new ProblemError('PRECONDITION_REQUIRED', `send If-Match with the ETag of the ${what} you are changing`)
  }
  if (ifMatch !== etag && ifMatch !== '*') {
    throw new ProblemError('PRECONDITION_FAILED', `the ${what} has changed since you read it; fetch it again (current ETag ${etag})`)
  }
}

export interface CatalogueStoreOptions {
  // Called inside each write's transaction with what it changed, so the
  // audit log records the change atomically with it.
  onChanges?: (tx: Queryable, version: number, actor: string, changes: Change[]) => Promise<void>
}

// Versions of the catalogue in the database. Every write takes the draft row
// FOR UPDATE, so concurrent admins (in any process) are serialised, and is
// validated whole before it is stored.
export function createCatalogueStore (db: Database, options: CatalogueStoreOptions = {}) {
  async function selectOne (q: Queryable, where: string, params: unknown[] = [], lock = false): Promise<VersionRow | null> {
    const { rows } = await q.query<VersionMeta & { document: CatalogueDocument }>(
      `SELECT ${META}, document FROM catalogue_versions WHERE ${where} ${lock ? 'FOR UPDATE' : ''}`, params)
    return rows[0] === undefined ? null : toRow(rows[0])
  }

  async function record (q: Queryable, version: number, actor: string, changes: Change[]): Promise<void> {
    for (const c of changes) {
      await q.query(
        'INSERT INTO catalogue_changes (version, actor, action, collection, key, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [version, actor, c.action, c.collection, c.key, c.before === undefined ? null : JSON.stringify(c.before), c.after === undefined ? null : JSON.stringify(c.after)])
    }
    await options.onChanges?.(q, version, actor, changes)
  }

  async function writeDraft (q: Queryable, draft: VersionRow, document: CatalogueDocument): Promise<VersionRow> {
    const d = digest(document)
    await q.query('UPDATE catalogue_versions SET document = $1, digest = $2 WHERE version = $3', [JSON.stringify(document), d, draft.version])
    return { ...draft, document, digest: d, etag: `"${d.slice(0, 27)}"` }
  }

  function assertValid (document: CatalogueDocument): void {
    const problems = validateDocument(document)
    if (problems.length > 0) throw new ValidationProblem(problems)
  }

  return {
    // Loads the seed as version 1 (published) and opens version 2 as the
    // draft, once, even when several processes start together.
    async ensureSeeded (seed: () => CatalogueDocument): Promise<boolean> {
      return db.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`oss-gateway:catalogue-seed:${db.schema}`])
        const { rows } = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM catalogue_versions')
        if ((rows[0]?.n ?? 0) > 0) return false
        const document = seed()
        assertValid(document)
        const d = digest(document)
        const json = JSON.stringify(document)
        await tx.query(`INSERT INTO catalogue_versions (version, status, document, digest, created_by, published_at, published_by, note)
          VALUES (1, 'published', $1, $2, 'seed', now(), 'seed', 'seed catalogue')`, [json, d])
        await tx.query(`INSERT INTO catalogue_versions (version, status, document, digest, based_on, created_by)
          VALUES (2, 'draft', $1, $2, 1, 'seed')`, [json, d])
        await record(tx, 1, 'seed', [{ action: 'seed', collection: null, key: null, before: null, after: { digest: d } }])
        return true
      })
    },

    async published (): Promise<VersionRow | null> {
      return selectOne(db, "status = 'published'")
    },

    async publishedDigest (): Promise<{ version: number, digest: string } | null> {
      const { rows } = await db.query<{ version: number, digest: string }>("SELECT version, digest FROM catalogue_versions WHERE status = 'published'")
      return rows[0] ?? null
    },

    async draft (): Promise<VersionRow> {
      const row = await selectOne(db, "status = 'draft'")
      if (row === null) throw new ProblemError('NOT_FOUND', 'the catalogue has no draft')
      return row
    },

    async version (version: number): Promise<VersionRow> {
      const row = await selectOne(db, 'version = $1', [version])
      if (row === null) throw new ProblemError('NOT_FOUND', `the catalogue has no version ${version}`)
      return row
    },

    async versions (): Promise<VersionMeta[]> {
      const { rows } = await db.query<VersionMeta>(`SELECT ${META} FROM catalogue_versions ORDER BY version DESC`)
      return rows.map((r) => {
        const { document: _document, etag: _etag, ...meta } = toRow({ ...r, document: '{}' })
        return meta
      })
    },

    // One entity of the draft changed. `mutate` gets the draft document to
    // change in place and returns what it changed; the result must validate.
    async editDraft (actor: string, mutate: (doc: CatalogueDocument) => Change[]): Promise<VersionRow> {
      return db.transaction(async (tx) => {
        const draft = await selectOne(tx, "status = 'draft'", [], true)
        if (draft === null) throw new ProblemError('NOT_FOUND', 'the catalogue has no draft')
        const document = structuredClone(draft.document)
        const changes = mutate(document)
        assertValid(document)
        const saved = await writeDraft(tx, draft, document)
        await record(tx, draft.version, actor, changes)
        return saved
      })
    },

    // Replaces the whole draft: an import or a restore. Atomic; a bad
    // document changes nothing and every problem is reported.
    async replaceDraft (actor: string, ifMatch: string | undefined, document: CatalogueDocument, action: 'import' | 'restore', from?: number): Promise<VersionRow> {
      return db.transaction(async (tx) => {
        const draft = await selectOne(tx, "status = 'draft'", [], true)
        if (draft === null) throw new ProblemError('NOT_FOUND', 'the catalogue has no draft')
        checkIfMatch(ifMatch, draft.etag, 'draft')
        assertValid(document)
        const saved = await writeDraft(tx, draft, document)
        await record(tx, draft.version, actor, [{
          action, collection: null, key: null,
          before: { digest: draft.digest },
          after: { digest: saved.digest, ...(from === undefined ? {} : { fromVersion: from }) },
        }])
        return saved
      })
    },

    async publish (actor: string, ifMatch: string | undefined, note?: string): Promise<VersionRow> {
      return db.transaction(async (tx) => {
        const draft = await selectOne(tx, "status = 'draft'", [], true)
        if (draft === null) throw new ProblemError('NOT_FOUND', 'the catalogue has no draft')
        checkIfMatch(ifMatch, draft.etag, 'draft')
        const current = await selectOne(tx, "status = 'published'", [], true)
        if (current !== null && current.digest === draft.digest) {
          throw new ProblemError('CONFLICT', `the draft is the same as published version ${current.version}; nothing to publish`)
        }
        assertValid(draft.document)
        if (current !== null) await tx.query("UPDATE catalogue_versions SET status = 'archived' WHERE version = $1", [current.version])
        await tx.query("UPDATE catalogue_versions SET status = 'published', published_at = now(), published_by = $1, note = $2 WHERE version = $3",
          [actor, note ?? null, draft.version])
        await tx.query(`INSERT INTO catalogue_versions (version, status, document, digest, based_on, created_by)
          VALUES ($1, 'draft', $2, $3, $4, $5)`, [draft.version + 1, JSON.stringify(draft.document), draft.digest, draft.version, actor])
        await record(tx, draft.version, actor, [{ action: 'publish', collection: null, key: null, before: current === null ? null : { version: current.version }, after: { version: draft.version, digest: draft.digest } }])
        return (await selectOne(tx, 'version = $1', [draft.version]))!
      })
    },

    async changes (filter: { collection?: string, key?: string, limit: number, before?: number }): Promise<ChangeRecord[]> {
      const { where, params } = whereClause([
        ['collection = ?', filter.collection],
        ['key = ?', filter.key],
        ['id < ?', filter.before],
      ])
      params.push(filter.limit)
      const { rows } = await db.query<Omit<ChangeRecord, 'at'> & { at: unknown }>(
        `SELECT id, version, at, actor, action, collection, key, before, after FROM catalogue_changes
         ${where} ORDER BY id DESC LIMIT $${params.length}`, params)
      return rows.map((r) => ({ ...r, id: Number(r.id), at: r.at instanceof Date ? r.at.toISOString() : String(r.at) }))
    },
  }
}

export type CatalogueStore = ReturnType<typeof createCatalogueStore>

// Entity helpers for the admin API.
export function findEntity (doc: CatalogueDocument, collection: CollectionName, key: string): { index: number, entity: unknown } | null {
  const list = doc[COLLECTION_FIELDS[collection]] as unknown[]
  const keyOf = COLLECTIONS[collection].key as (e: unknown) => string
  const index = list.findIndex((e) => keyOf(e) === key)
  return index === -1 ? null : { index, entity: list[index] }
}

export { checkIfMatch, etagOf }
