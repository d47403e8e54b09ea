import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import publicSchemas from '../../../schemas/catalogue-public.json' with { type: 'json' }
import { localize, type Snapshot } from '../../catalogue/snapshot.ts'
import type { Channel, Lang, Level, Service, Unit } from '../../catalogue/document.ts'
import { digest } from '../../catalogue/document.ts'
import { ProblemError } from '../../errors/problem-error.ts'

// The public, anonymous view of the published catalogue. Answers come from the
// in-memory snapshot and are memoised per version, URL and language, with
// ETags, so repeated reads cost a map look-up.

const CACHE_ENTRIES = 5000
const LEVELS = ['capital', 'aimag', 'district', 'soum', 'khoroo', 'bag']
const CHANNELS = ['oss_counter', 'mobile_oss', 'online']
const unitCode = { type: 'string', pattern: '^[0-9]{2}([0-9]{2}([0-9]{2})?)?$' }
const serviceCode = { type: 'string', pattern: '^[a-z][a-z0-9_.-]{1,63}$' }
const langParam = { type: 'string', enum: ['mn', 'en'] }
const paging = {
  page: { type: 'integer', minimum: 1, maximum: 100000, default: 1 },
  pageSize: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
}

function languageOf (request: FastifyRequest): Lang {
  const q = (request.query as { lang?: Lang }).lang
  if (q !== undefined) return q
  for (const part of (request.headers['accept-language'] ?? '').split(',')) {
    const tag = part.trim().slice(0, 2).toLowerCase()
    if (tag === 'mn' || tag === 'en') return tag
  }
  return 'mn'
}

function unitView (u: Unit, lang: Lang) {
  return { code: u.code, level: u.level, parent: u.parent, name: localize(u.name, lang) }
}

function serviceSummary (snap: Snapshot, s: Service, lang: Lang) {
  const category = snap.category(s.category)
  const agency = snap.agency(s.agency)
  return {
    code: s.code,
    name: localize(s.name, lang),
    category: { code: s.category, name: category === undefined ? s.category : localize(category.name, lang) },
    agency: { code: s.agency, name: agency === undefined ? s.agency : localize(agency.name, lang) },
    channels: s.channels,
    feeMnt: s.guide.feeMnt,
    processingDays: s.guide.processingDays,
  }
}

function today (): string {
  return new Date().toISOString().slice(0, 10)
}

// What a person living in `code` can get, where and how: the OSS of each
// level above them, the mobile rounds reaching their bag, and what is online.
export function servicesWhereYouLive (snap: Snapshot, code: string, lang: Lang, on: string = today()) {
  const unit = snap.unit(code)
  if (unit === undefined) throw new ProblemError('NOT_FOUND', `no administrative unit ${code}`)
  const ancestors = snap.ancestors(code)
  const entries: Array<Record<string, unknown>> = []
  const brief = (s: Service) => ({ code: s.code, name: localize(s.name, lang), category: s.category })
  for (const office of [unit, ...ancestors]) {
    for (const offer of snap.offers(office.code).values()) {
      if (!offer.channels.includes('oss_counter')) continue
      entries.push({
        service: brief(offer.service),
        channel: 'oss_counter',
        where: { kind: 'oss', unit: unitView(office, lang) },
        note: offer.note === null ? null : localize(offer.note, lang),
      })
    }
  }
  if (unit.level === 'bag') {
    for (const round of snap.roundsReaching(unit.code, on)) {
      const soum = snap.unit(round.unit)!
      for (const code of round.services) {
        const s = snap.service(code)
        if (s === undefined) continue
        entries.push({
          service: brief(s),
          channel: 'mobile_oss',
          where: { kind: 'mobile_oss', unit: unitView(soum, lang), round: { id: round.id, from: round.from, to: round.to } },
          note: round.note === undefined ? null : localize(round.note, lang),
        })
      }
    }
  }
  for (const s of snap.document.services) {
    if (s.channels.includes('online') && s.applicants.includes('citizen')) {
      entries.push({ service: brief(s), channel: 'online', where: { kind: 'online' }, note: null })
    }
  }
  return { unit: unitView(unit, lang), ancestors: ancestors.map((a) => unitView(a, lang)), entries, lang, version: snap.version }
}

function paginate<T> (items: T[], page: number, pageSize: number) {
  return { items: items.slice((page - 1) * pageSize, page * pageSize), page, pageSize, total: items.length }
}

export async function publicCatalogueRoutes (app: FastifyInstance): Promise<void> {
  app.addSchema(publicSchemas)
  const cache = new Map<string, { etag: string, body: string, lang: Lang }>()

  // Serves from the memo when it can; 304 when the client has this ETag.
  function cached (request: FastifyRequest, reply: FastifyReply, build: (snap: Snapshot, lang: Lang) => unknown): string | FastifyReply {
    const snap = app.catalogue.current()
    const lang = languageOf(request)
    const key = `${snap.version}|${lang}|${request.url}`
    let hit = cache.get(key)
    if (hit === undefined) {
      const body = JSON.stringify(build(snap, lang))
      hit = { etag: `"v${snap.version}-${digest(body).slice(0, 16)}"`, body, lang }
      if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value as string)
      cache.set(key, hit)
    }
    reply.header('etag', hit.etag)
      .header('cache-control', 'public, max-age=60')
      .header('vary', 'Accept-Language')
      .header('content-language', hit.lang)
    if (request.headers['if-none-match'] === hit.etag) return reply.code(304).send()
    reply.type('application/json; charset=utf-8')
    return hit.body
  }

  const common = () => ({ tags: ['catalogue'], security: [] })

  app.get('/v1/units', {
    schema: {
      ...common(),
      operationId: 'listUnits',
      summary: 'Administrative units, by level or parent',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { level: { type: 'string', enum: LEVELS }, parent: unitCode, lang: langParam, ...paging },
      },
      response: { 200: { $ref: 'CataloguePublic#/$defs/unitPage' } },
    },
  }, async (request, reply) => {
    const q = request.query as { level?: Level, parent?: string, page: number, pageSize: number }
    return cached(request, reply, (snap, lang) => ({
      ...paginate(snap.units(q).map((u) => unitView(u, lang)), q.page, q.pageSize),
      lang,
    }))
  })

  app.get('/v1/units/:code', {
    schema: {
      ...common(),
      operationId: 'getUnit',
      summary: 'A unit with its ancestors and children',
      params: { type: 'object', required: ['code'], properties: { code: unitCode } },
      querystring: { type: 'object', additionalProperties: false, properties: { lang: langParam } },
      response: { 200: { $ref: 'CataloguePublic#/$defs/unitDetail' } },
    },
  }, async (request, reply) => {
    const { code } = request.params as { code: string }
    return cached(request, reply, (snap, lang) => {
      const unit = snap.unit(code)
      if (unit === undefined) throw new ProblemError('NOT_FOUND', `no administrative unit ${code}`)
      return {
        unit: unitView(unit, lang),
        ancestors: snap.ancestors(code).map((u) => unitView(u, lang)),
        children: snap.children(code).map((u) => unitView(u, lang)),
        lang,
        version: snap.version,
      }
    })
  })

  app.get('/v1/units/:code/services', {
    schema: {
      ...common(),
      operationId: 'getServicesWhereYouLive',
      summary: 'What a person living in this unit can get: where, and through which channel',
      params: { type: 'object', required: ['code'], properties: { code: unitCode } },
      querystring: { type: 'object', additionalProperties: false, properties: { lang: langParam } },
      response: { 200: { $ref: 'CataloguePublic#/$defs/unitServices' } },
    },
  }, async (request, reply) => {
    const { code } = request.params as { code: string }
    return cached(request, reply, (snap, lang) => servicesWhereYouLive(snap, code, lang))
  })

  app.get('/v1/services', {
    schema: {
      ...common(),
      operationId: 'listServices',
      summary: 'Services, filtered by category, channel, unit and text (Mongolian or English, Cyrillic or Latin)',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          category: serviceCode,
          channel: { type: 'string', enum: CHANNELS },
          unit: unitCode,
          q: { type: 'string', minLength: 1, maxLength: 100 },
          lang: langParam,
          ...paging,
        },
      },
      response: { 200: { $ref: 'CataloguePublic#/$defs/servicePage' } },
    },
  }, async (request, reply) => {
    const q = request.query as { category?: string, channel?: Channel, unit?: string, q?: string, page: number, pageSize: number }
    return cached(request, reply, (snap, lang) => {
      let list = snap.document.services
      if (q.unit !== undefined) {
        const reachable = new Set((servicesWhereYouLive(snap, q.unit, lang).entries as Array<{ service: { code: string } }>).map((e) => e.service.code))
        list = list.filter((s) => reachable.has(s.code))
      }
      list = list.filter((s) => (q.category === undefined || s.category === q.category) &&
        (q.channel === undefined || s.channels.includes(q.channel)) &&
        (q.q === undefined || snap.matches(s, q.q)))
      return { ...paginate(list.map((s) => serviceSummary(snap, s, lang)), q.page, q.pageSize), lang }
    })
  })

  app.get('/v1/services/:code', {
    schema: {
      ...common(),
      operationId: 'getService',
      summary: 'A service\'s citizen guide: steps, documents, fee, time and the application form',
      params: { type: 'object', required: ['code'], properties: { code: serviceCode } },
      querystring: { type: 'object', additionalProperties: false, properties: { lang: langParam } },
      response: { 200: { $ref: 'CataloguePublic#/$defs/serviceGuide' } },
    },
  }, async (request, reply) => {
    const { code } = request.params as { code: string }
    return cached(request, reply, (snap, lang) => {
      const s = snap.service(code)
      if (s === undefined) throw new ProblemError('NOT_FOUND', `no service ${code}`)
      const summary = serviceSummary(snap, s, lang)
      return {
        code: s.code,
        name: summary.name,
        description: localize(s.description, lang),
        legalBasis: localize(s.legalBasis, lang),
        category: summary.category,
        agency: summary.agency,
        guide: {
          steps: s.guide.steps.map((t) => localize(t, lang)),
          documents: s.guide.documents.map((t) => localize(t, lang)),
          feeMnt: s.guide.feeMnt,
          processingDays: s.guide.processingDays,
        },
        channels: s.channels,
        applicants: s.applicants,
        formSchema: s.formSchema,
        lang,
        version: snap.version,
      }
    })
  })
}
