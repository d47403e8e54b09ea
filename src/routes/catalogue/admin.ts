import type { FastifyInstance, FastifyRequest } from 'fastify'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import catalogueSchema from '../../../schemas/catalogue.json' with { type: 'json' }
import { consistencyReport, reportCsv } from '../../catalogue/consistency.ts'
import { diffDocuments } from '../../catalogue/diff.ts'
import { COLLECTION_FIELDS, COLLECTIONS, etagOf, LEVELS, type CatalogueDocument, type CollectionName, type Level } from '../../catalogue/document.ts'
import { pointByKey } from '../../catalogue/pointers.ts'
import { createSnapshot } from '../../catalogue/snapshot.ts'
import { checkIfMatch, findEntity, type Change, type VersionRow } from '../../catalogue/store.ts'
import { ProblemError, ValidationProblem } from '../../errors/problem-error.ts'

// Catalogue administration: every write goes to the draft, names the ETag it
// replaces (If-Match, or If-None-Match: * to create), and is recorded with its
// before and after. Publishing makes the draft what the public API serves.

// A key of the seed catalogue per collection, as the OpenAPI examples.
const EXAMPLE_KEYS: Record<CollectionName, string> = {
  units: '832269',
  agencies: 'GASR',
  categories: 'social_welfare',
  services: 'welfare.child-money',
  'standard-lists': 'bag',
  availability: '8225/land.ger-plot-ownership',
  'mobile-rounds': 'deluun-2026-spring',
}

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

// What the OpenAPI document says about preconditions and answers, so that a
// request built from it alone is not refused for a reason it did not give.
const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } })
const IF_MATCH = (what: string) => ({
  type: 'object',
  properties: { 'if-match': { type: 'string', description: `The ETag of ${what} as you read it (its GET answers it in the ETag header); without it the write is refused with 428`, examples: ['"3q2-7wEPo2Lw0_6X4Xw2Vk1cCsbbOzk"'] } },
})
const PRECONDITIONS = {
  412: problem('The ETag in If-Match is not the current one (someone changed it since you read it), or If-None-Match: * names something that exists'),
  428: problem('If-Match (or If-None-Match: * to create) is missing'),
}
const INVALID = { 400: problem('The request or the catalogue it would make is not valid; every problem is listed with its JSON pointer') }
const NOT_FOUND = { 404: problem('No such entity or version') }
const IMPORT_TYPES = ['application/json', 'application/yaml', 'application/x-yaml', 'text/yaml']

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
  // Anything else is refused here, naming what is accepted (YAML too).
  app.addContentTypeParser('*', (request, _payload, done) => {
    done(new ProblemError('UNSUPPORTED_MEDIA_TYPE', `send the body as application/json or application/yaml, not ${request.headers['content-type'] ?? 'without a Content-Type'}`), undefined)
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

  const versionQuery = { type: 'string', pattern: '^(draft|published|[0-9]{1,9})$', examples: ['published'] }

  app.get(`${BASE}/draft`, {
    config: auth,
    schema: {
      tags: [...tags],
      operationId: 'getCatalogueDraft',
      summary: 'The draft: its version and ETag, and how it differs from what is published, field by field',
      description: 'changesSincePublished lists, per collection, the keys added and removed and, for each changed entity, its changed fields as JSON pointers (op add, remove or replace) with the value before and after.',
      response: { 200: { description: 'The draft; its ETag is the If-Match of publish, restore and import', headers: { etag: { type: 'string', description: 'The draft\'s ETag' } }, type: 'object', additionalProperties: true } },
    },
    links: {
      200: {
        publish: { operationId: 'publishCatalogue', parameters: { 'header.if-match': '$response.header.ETag' } },
        restore: { operationId: 'restoreCatalogueVersion', parameters: { 'header.if-match': '$response.header.ETag' } },
        import: { operationId: 'importCatalogue', parameters: { 'header.if-match': '$response.header.ETag' } },
      },
    },
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
    const [exampleUnit, exampleService] = EXAMPLE_KEYS[name].split('/')
    const keyParams = composite
      ? { type: 'object', required: ['unit', 'service'], properties: { unit: { type: 'string', pattern: '^[0-9]{2,6}$', examples: [exampleUnit] }, service: { type: 'string', maxLength: 64, examples: [exampleService] } } }
      : { type: 'object', required: ['key'], properties: { key: { type: 'string', minLength: 1, maxLength: 64, examples: [EXAMPLE_KEYS[name]] } } }
    // Answered as stored (already validated): documented, never re-serialised.
    const entitySchema = { type: 'object', additionalProperties: true, description: `A ${DEFS[name]}: Catalogue#/$defs/${DEFS[name]} in schemas/catalogue.json` }
    const keyLink = composite ? { unit: '$request.path.unit', service: '$request.path.service' } : { key: '$request.path.key' }
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
      schema: {
        tags: [...tags],
        operationId: `adminGet${opName[0]!.toUpperCase()}${opName.slice(1)}Entry`,
        summary: `One of the draft's ${name}, with its ETag`,
        params: keyParams,
        response: {
          200: { ...entitySchema, description: 'The entity; its ETag is the If-Match of its PUT and DELETE', headers: { etag: { type: 'string' } } },
          ...NOT_FOUND,
        },
      },
      links: {
        200: {
          replace: { operationId: `adminPut${opName[0]!.toUpperCase()}${opName.slice(1)}Entry`, parameters: { ...keyLink, 'header.if-match': '$response.header.ETag' }, requestBody: '$response.body' },
          remove: { operationId: `adminDelete${opName[0]!.toUpperCase()}${opName.slice(1)}Entry`, parameters: { ...keyLink, 'header.if-match': '$response.header.ETag' } },
        },
      },
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
        headers: {
          type: 'object',
          properties: {
            'if-match': IF_MATCH(`this ${DEFS[name]}`).properties['if-match'],
            'if-none-match': { type: 'string', description: 'To create: * (instead of If-Match)', examples: ['*'] },
          },
        },
        body: { $ref: `Catalogue#/$defs/${DEFS[name]}` },
        response: {
          200: { ...entitySchema, description: 'Replaced; the new ETag', headers: { etag: { type: 'string' } } },
          201: { ...entitySchema, description: 'Created; its ETag', headers: { etag: { type: 'string' } } },
          ...INVALID,
          ...PRECONDITIONS,
        },
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
        headers: IF_MATCH(`this ${DEFS[name]}`),
        response: {
          204: { type: 'null', description: 'Removed from the draft' },
          ...NOT_FOUND,
          409: problem('Something else in the catalogue still refers to it'),
          ...PRECONDITIONS,
        },
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
      headers: IF_MATCH('the draft'),
      body: { type: ['object', 'null'], additionalProperties: false, properties: { note: { type: 'string', maxLength: 500 } } },
      'x-oss-required-headers': ['if-match'],
      // No body is needed; a note is optional.
      'x-oss-request-body': {
        required: false,
        content: { 'application/json': { schema: { type: 'object', additionalProperties: false, properties: { note: { type: 'string', maxLength: 500 } }, examples: [{ note: 'Bag 625255 renamed' }] } } },
      },
      response: {
        200: { type: 'object', additionalProperties: true, description: 'The version now published' },
        ...INVALID,
        409: problem('The draft is the same as what is published: nothing to publish'),
        ...PRECONDITIONS,
      },
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
      summary: 'What changed between two versions: keys added and removed, and the changed fields of each entity (JSON pointers, before and after)',
      response: { 200: { type: 'object', additionalProperties: true, description: 'from, to, and the changes per collection' }, ...NOT_FOUND },
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
      params: { type: 'object', required: ['version'], properties: { version: { type: 'integer', minimum: 1, maximum: 2147483647, examples: [1] } } },
      headers: IF_MATCH('the draft'),
      'x-oss-required-headers': ['if-match'],
      response: {
        200: { type: 'object', additionalProperties: true, description: 'The draft, now a copy of that version; its new ETag in the ETag header', headers: { etag: { type: 'string' } } },
        ...INVALID,
        ...NOT_FOUND,
        409: problem('That version is the draft itself'),
        ...PRECONDITIONS,
      },
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
      response: {
        200: {
          description: 'The whole catalogue (schema Catalogue): JSON, or YAML with format=yaml; what POST /import takes back',
          headers: { etag: { type: 'string' }, 'content-disposition': { type: 'string' } },
          content: {
            'application/json': { schema: { $ref: 'Catalogue#' } },
            'application/yaml': { schema: { type: 'string', description: 'The same document as YAML' } },
          },
        },
        ...NOT_FOUND,
      },
    },
    links: { 200: { import: { operationId: 'importCatalogue', requestBody: '$response.body' } } },
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
      description: 'Problems point at an item by its key: /services/welfare.child-money/guide/feeMnt (a key with "/" is written "~1", as in /availability/8225~1land.ger-plot-ownership); an item without a usable or unique key keeps its index.',
      headers: IF_MATCH('the draft'),
      'x-oss-required-headers': ['if-match'],
      'x-oss-request-body': {
        required: true,
        description: 'A whole catalogue, as GET /export answers it',
        // Written as it appears in the document: markers bypass the $ref resolution.
        content: Object.fromEntries(IMPORT_TYPES.map((type) => [type, { schema: { $ref: '#/components/schemas/Catalogue' } }])),
      },
      response: {
        200: { type: 'object', additionalProperties: true, description: 'The draft, now the imported catalogue; its new ETag in the ETag header', headers: { etag: { type: 'string' } } },
        ...INVALID,
        ...PRECONDITIONS,
        413: problem('Larger than 16 MiB'),
        415: problem('Neither JSON nor YAML'),
      },
    },
  }, async (request, reply) => {
    let row: VersionRow
    try {
      row = await store.replaceDraft(actor(request), header(request, 'if-match'), request.body as CatalogueDocument, 'import')
    } catch (err) {
      if (err instanceof ValidationProblem) throw new ValidationProblem(pointByKey(request.body, err.errors), { cause: err })
      throw err
    }
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
      response: {
        200: {
          description: 'The report: counts by kind and by aimag, and every finding. As CSV (format=csv): the findings, then the counts by aimag',
          content: {
            'application/json': { schema: { type: 'object', additionalProperties: true } },
            'text/csv': { schema: { type: 'string' } },
          },
        },
        ...NOT_FOUND,
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
