import type { FastifyInstance, FastifyRequest } from 'fastify'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import catalogueSchema from '../../../schemas/catalogue.json' with { type: 'json' }
import { consistencyReport, reportCsv } from '../../catalogue/consistency.ts'
import { diffDocuments } from '../../catalogue/diff.ts'
import { COLLECTION_FIELDS, COLLECTIONS, etagOf, LEVELS, type CatalogueDocument, type CollectionName, type Level } from '../../catalogue/document.ts'
import { createSnapshot } from '../../catalogue/snapshot.ts'
import { checkIfMatch, findEntity, type Change, type VersionRow } from '../../catalogue/store.ts'
import { ProblemError, ValidationProblem } from '../../errors/problem-error.ts'

// Catalogue administration: every write goes to the draft, names the ETag it
// replaces (If-Match, or If-None-Match: * to create), and is recorded with its
// before and after. Publishing makes the draft what the public API serves.

const DEFS: Record<CollectionName, string> = {
  units: 'unit',
  agencies: 'agency',
  categories: 'category',
  services: 'service',
  'standard-lists': 'standardList',
  availability: 'availability',
  'mobile-rounds': 'mobileRound',
}
const auth = { auth: { roles: ['admin'] as const } }
const tags = ['catalogue admin']
const BASE = '/v1/admin/catalogue'

function actor (request: FastifyRequest): string {
  return `admin:${request.principal!.sub}`
}

function header (request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name]
  return Array.isArray(v) ? v[0] : v
}

function versionParam (value: string | undefined): 'draft' | 'published' | number {
  if (value === undefined || value === 'draft' || value === 'published') return value ?? 'draft'
  return Number(value)
}

// Problems found in the whole document point into the body when they are
// about the entity being written.
function rebase (err: unknown, field: string, index: number): unknown {
  if (!(err instanceof ValidationProblem)) return err
  const prefix = `/${field}/${index}`
  return new ValidationProblem(err.errors.map((e) => e.pointer === prefix || e.pointer.startsWith(prefix + '/')
    ? { ...e, pointer: e.pointer.slice(prefix.length) }
    : { ...e, detail: `${e.detail} (at ${e.pointer} in the catalogue)`, pointer: '' }), { cause: err })
}

export async function adminCatalogueRoutes (app: FastifyInstance): Promise<void> {
  app.addSchema(catalogueSchema)
  const store = app.catalogue.store

  // Imports may come as YAML as well as JSON.
  app.addContentTypeParser(['application/yaml', 'application/x-yaml', 'text/yaml'], { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseYaml(body as string, { maxAliasCount: 100 }))
    } catch (err) {
      done(new ProblemError('MALFORMED_JSON', `the body is not valid YAML: ${(err as Error).message}`, { cause: err }), undefined)
    }
  })

  async function readVersion (which: 'draft' | 'published' | number): Promise<VersionRow> {
    if (which === 'draft') return store.draft()
    if (which === 'published') {
      const row = await store.published()
      if (row === null) throw new ProblemError('NOT_FOUND', 'nothing has been published')
      return row
    }
    return store.version(which)
  }

  const versionQuery = { type: 'string', pattern: '^(draft|published|[0-9]{1,9})$' }

  app.get(`${BASE}/draft`, {
    config: auth,
    schema: { tags: [...tags], operationId: 'getCatalogueDraft', summary: 'The draft: its version and ETag, and how it differs from what is published' },
  }, async (_request, reply) => {
    const draft = await store.draft()
    const published = await store.published()
    reply.header('etag', draft.etag)
    const { document, ...meta } = draft
    return { ...meta, changesSincePublished: published === null ? null : diffDocuments(published.document, document) }
  })

  for (const name of Object.keys(COLLECTIONS) as CollectionName[]) {
    const field = COLLECTION_FIELDS[name]
    const keyOf = COLLECTIONS[name].key as (e: unknown) => string
    const composite = name === 'availability'
    const path = composite ? `${BASE}/${name}/:unit/:service` : `${BASE}/${name}/:key`
    const keyParams = composite
      ? { type: 'object', required: ['unit', 'service'], properties: { unit: { type: 'string', pattern: '^[0-9]{2,6}$' }, service: { type: 'string', maxLength: 64 } } }
      : { type: 'object', required: ['key'], properties: { key: { type: 'string', minLength: 1, maxLength: 64 } } }
    const keyFrom = (request: FastifyRequest) => {
      const p = request.params as Record<string, string>
      return composite ? `${p.unit}/${p.service}` : p.key as string
    }
    const opName = name.replace(/-(.)/g, (_m, c: string) => c.toUpperCase())

    app.get(`${BASE}/${name}`, {
      config: auth,
      schema: {
        tags: [...tags],
        operationId: `adminList${opName[0]!.toUpperCase()}${opName.slice(1)}`,
        summary: `The draft's ${name}`,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { page: { type: 'integer', minimum: 1, maximum: 100000, default: 1 }, pageSize: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
        },
      },
    }, async (request, reply) => {
      const { page, pageSize } = request.query as { page: number, pageSize: number }
      const draft = await store.draft()
      reply.header('etag', draft.etag)
      const list = draft.document[field] as unknown[]
      return { version: draft.version, items: list.slice((page - 1) * pageSize, page * pageSize), page, pageSize, total: list.length }
    })

    app.get(path, {
      config: auth,
      schema: { tags: [...tags], operationId: `adminGet${opName[0]!.toUpperCase()}${opName.slice(1)}Entry`, summary: `One of the draft's ${name}, with its ETag`, params: keyParams },
    }, async (request, reply) => {
      const draft = await store.draft()
      const found = findEntity(draft.document, name, keyFrom(request))
      if (found === null) throw new ProblemError('NOT_FOUND', `the draft has no ${name} ${keyFrom(request)}`)
      reply.header('etag', etagOf(found.entity))
      return found.entity
    })

    app.put(path, {
      config: auth,
      schema: {
        tags: [...tags],
        operationId: `adminPut${opName[0]!.toUpperCase()}${opName.slice(1)}Entry`,
        summary: `Create (If-None-Match: *) or replace (If-Match: <ETag>) one of the draft's ${name}`,
        params: keyParams,
        headers: { type: 'object', properties: { 'if-match': { type: 'string' }, 'if-none-match': { type: 'string' } } },
        body: { $ref: `Catalogue#/$defs/${DEFS[name]}` },
      },
    }, async (request, reply) => {
      const key = keyFrom(request)
      if (keyOf(request.body) !== key) {
        throw new ProblemError('VALIDATION_FAILED', `the body's key ${keyOf(request.body)} does not match the URL's ${key}`, {
          extensions: { errors: [{ in: 'body', pointer: '', detail: `must have the key ${key}` }] },
        })
      }
      const ifMatch = header(request, 'if-match')
      const create = header(request, 'if-none-match') === '*'
      if (ifMatch === undefined && !create) {
        throw new ProblemError('PRECONDITION_REQUIRED', 'send If-Match with the ETag you read, or If-None-Match: * to create')
      }
      let index = -1
      let created = false
      try {
        await store.editDraft(actor(request), (doc) => {
          const list = doc[field] as unknown[]
          const found = findEntity(doc, name, key)
          if (found === null) {
            if (!create) throw new ProblemError('PRECONDITION_FAILED', `the draft has no ${name} ${key} to replace`)
            list.push(request.body)
            index = list.length - 1
            created = true
            return [{ action: 'create', collection: name, key, before: null, after: request.body } satisfies Change]
          }
          if (create) throw new ProblemError('PRECONDITION_FAILED', `${name} ${key} already exists`)
          checkIfMatch(ifMatch, etagOf(found.entity), `${name} ${key}`)
          list[found.index] = request.body
          index = found.index
          return [{ action: 'update', collection: name, key, before: found.entity, after: request.body }]
        })
      } catch (err) {
        throw rebase(err, field, index)
      }
      reply.header('etag', etagOf(request.body)).code(created ? 201 : 200)
      return request.body
    })

    app.delete(path, {
      config: auth,
      schema: {
        tags: [...tags],
        operationId: `adminDelete${opName[0]!.toUpperCase()}${opName.slice(1)}Entry`,
        summary: `Remove one of the draft's ${name} (If-Match: <ETag>)`,
        params: keyParams,
      },
    }, async (request, reply) => {
      const key = keyFrom(request)
      const ifMatch = header(request, 'if-match')
      if (ifMatch === undefined) throw new ProblemError('PRECONDITION_REQUIRED', 'send If-Match with the ETag you read')
      try {
        await store.editDraft(actor(request), (doc) => {
          const found = findEntity(doc, name, key)
          if (found === null) throw new ProblemError('NOT_FOUND', `the draft has no ${name} ${key}`)
          checkIfMatch(ifMatch, etagOf(found.entity), `${name} ${key}`)
          ;(doc[field] as unknown[]).splice(found.index, 1)
          return [{ action: 'delete', collection: name, key, before: found.entity, after: null }]
        })
      } catch (err) {
        // Deleting something others refer to leaves dangling references.
        if (err instanceof ValidationProblem) {
          throw new ProblemError('CONFLICT', `${name} ${key} is still referred to elsewhere in the catalogue`, { cause: err, extensions: { errors: err.errors } })
        }
        throw err
      }
      return reply.code(204).send()
    })
  }

  app.post(`${BASE}/publish`, {
    config: auth,
    schema: {
      tags: [...tags],
      operationId: 'publishCatalogue',
      summary: 'Make the draft the published catalogue (If-Match: the draft\'s ETag)',
      body: { type: ['object', 'null'], additionalProperties: false, properties: { note: { type: 'string', maxLength: 500 } } },
    },
  }, async (request) => {
    const body = request.body as { note?: string } | null
    const row = await store.publish(actor(request), header(request, 'if-match'), body?.note)
    await app.catalogue.refresh()
    const { document, ...meta } = row
    return meta
  })

  app.get(`${BASE}/versions`, {
    config: auth,
    schema: { tags: [...tags], operationId: 'listCatalogueVersions', summary: 'Every version, newest first' },
  }, async () => ({ versions: await store.versions() }))

  app.get(`${BASE}/diff`, {
    config: auth,
    schema: {
      tags: [...tags],
      operationId: 'diffCatalogueVersions',
      summary: 'What changed between two versions, entity by entity',
      querystring: { type: 'object', required: ['from'], additionalProperties: false, properties: { from: versionQuery, to: versionQuery } },
    },
  }, async (request) => {
    const q = request.query as { from: string, to?: string }
    const [from, to] = await Promise.all([readVersion(versionParam(q.from)), readVersion(versionParam(q.to))])
    return { from: from.version, to: to.version, changes: diffDocuments(from.document, to.document) }
  })

  app.post(`${BASE}/versions/:version/restore`, {
    config: auth,
    schema: {
      tags: [...tags],
      operationId: 'restoreCatalogueVersion',
      summary: 'Copy an earlier version into the draft (If-Match: the draft\'s ETag); publish to make it current',
      // catalogue_versions.version is an int4
      params: { type: 'object', required: ['version'], properties: { version: { type: 'integer', minimum: 1, maximum: 2147483647 } } },
    },
  }, async (request, reply) => {
    const { version } = request.params as { version: number }
    const source = await store.version(version)
    if (source.status === 'draft') throw new ProblemError('CONFLICT', `version ${version} is the draft itself`)
    const row = await store.replaceDraft(actor(request), header(request, 'if-match'), source.document, 'restore', version)
    reply.header('etag', row.etag)
    const { document, ...meta } = row
    return meta
  })

  app.get(`${BASE}/export`, {
    config: auth,
    schema: {
      tags: [...tags],
      operationId: 'exportCatalogue',
      summary: 'The whole catalogue as YAML or JSON',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { version: versionQuery, format: { type: 'string', enum: ['yaml', 'json'], default: 'json' } },
      },
    },
  }, async (request, reply) => {
    const q = request.query as { version?: string, format: 'yaml' | 'json' }
    const row = await readVersion(versionParam(q.version))
    reply.header('content-disposition', `attachment; filename="catalogue-v${row.version}.${q.format}"`).header('etag', row.etag)
    if (q.format === 'yaml') return reply.type('application/yaml; charset=utf-8').send(toYaml(row.document, { lineWidth: 0 }))
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(row.document))
  })

  app.post(`${BASE}/import`, {
    config: auth,
    bodyLimit: 16 * 1024 * 1024,
    schema: {
      tags: [...tags],
      operationId: 'importCatalogue',
      summary: 'Replace the draft with a whole catalogue (JSON or YAML; If-Match: the draft\'s ETag). All or nothing: every problem is reported with its path',
    },
  }, async (request, reply) => {
    const row = await store.replaceDraft(actor(request), header(request, 'if-match'), request.body as CatalogueDocument, 'import')
    reply.header('etag', row.etag)
    const { document, ...meta } = row
    return meta
  })

  app.get(`${BASE}/changes`, {
    config: auth,
    schema: {
      tags: [...tags],
      operationId: 'listCatalogueChanges',
      summary: 'Who changed what, when, with the entity before and after',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          collection: { type: 'string', enum: Object.keys(COLLECTIONS) },
          key: { type: 'string', maxLength: 100 },
          // catalogue_changes.id is bigserial; JS numbers are exact only up to 2^53 - 1
          before: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
          limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
        },
      },
    },
  }, async (request) => {
    const q = request.query as { collection?: string, key?: string, before?: number, limit: number }
    return { changes: await store.changes(q) }
  })

  app.get(`${BASE}/consistency`, {
    config: auth,
    schema: {
      tags: [...tags],
      operationId: 'catalogueConsistency',
      summary: 'Where OSSs depart from the mandated lists, compete, or point at missing adapters; counts by aimag; CSV with format=csv',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          level: { type: 'string', enum: LEVELS },
          unit: { type: 'string', pattern: '^[0-9]{2,6}$' },
          version: versionQuery,
          format: { type: 'string', enum: ['json', 'csv'], default: 'json' },
        },
      },
    },
  }, async (request, reply) => {
    const q = request.query as { level?: Level, unit?: string, version?: string, format: 'json' | 'csv' }
    const which = versionParam(q.version ?? 'published')
    const snapshot = which === 'published'
      ? app.catalogue.current()
      : await readVersion(which).then((r) => createSnapshot(r.version, r.digest, r.document))
    const report = consistencyReport(snapshot, (op) => app.adapters.has(op), { ...(q.level === undefined ? {} : { level: q.level }), ...(q.unit === undefined ? {} : { unit: q.unit }) })
    if (q.format === 'csv') {
      return reply.type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="consistency-v${report.version}.csv"`)
        .send(reportCsv(report))
    }
    return report
  })
}
