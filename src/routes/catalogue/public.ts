import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import publicSchemas from '../../../schemas/catalogue-public.json' with { type: 'json' }
import { nextRoundWith, offeredThrough } from '../../catalogue/offering.ts'
import { localize, type Snapshot } from '../../catalogue/snapshot.ts'
import type { Channel, Lang, Level, Service, Unit } from '../../catalogue/document.ts'
import { languageOf } from '../language.ts'
import { digest } from '../../catalogue/document.ts'
import { ProblemError } from '../../errors/problem-error.ts'

// The public, anonymous view of the published catalogue. Answers come from the
// in-memory snapshot and are memoised per version, URL and language, with
// ETags, so repeated reads cost a map look-up.

const CACHE_ENTRIES = 5000
const LEVELS = ['capital', 'aimag', 'district', 'soum', 'khoroo', 'bag']
const CHANNELS = ['oss_counter', 'mobile_oss', 'online']
const unitCode = { type: 'string', pattern: '^[0-9]{2}([0-9]{2}([0-9]{2})?)?$', examples: ['832269'] }
const serviceCode = { type: 'string', pattern: '^[a-z][a-z0-9_.-]{1,63}$', examples: ['welfare.child-money'] }
const langParam = { type: 'string', enum: ['mn', 'en'] }
const dateParam = { type: 'string', format: 'date', description: 'The day asked about (YYYY-MM-DD); today in Mongolia by default' }
const paging = {
  page: { type: 'integer', minimum: 1, maximum: 100000, default: 1 },
  pageSize: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
}

function unitView (u: Unit, lang: Lang) {
  return { code: u.code, level: u.level, parent: u.parent, name: localize(u.name, lang) }
}

// A unit's OSS office in one language; `example` marks generated example data.
function officeView (u: Unit, lang: Lang) {
  if (u.office === undefined) return null
  const o = u.office
  return { address: localize(o.address, lang), phone: o.phone, hours: localize(o.hours, lang), languages: o.languages, example: o.example === true }
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

// What a person living in `code` can get, where and how: the OSS of each
// level above them, the mobile rounds reaching their bag (or soum), and what is
// online, each by the rule intake applies (catalogue/offering.ts) on `on`.
// A mobile service is shown with the soonest round that brings it.
export function servicesWhereYouLive (snap: Snapshot, code: string, lang: Lang, on: string) {
  const unit = snap.unit(code)
  if (unit === undefined) throw new ProblemError('NOT_FOUND', `no administrative unit ${code}`)
  const ancestors = snap.ancestors(code)
  const entries: Array<Record<string, unknown>> = []
  const brief = (s: Service) => ({ code: s.code, name: localize(s.name, lang), category: s.category })
  for (const office of [unit, ...ancestors]) {
    for (const offer of snap.offers(office.code).values()) {
      if (!offeredThrough(snap, offer.service, office.code, 'oss_counter', on)) continue
      entries.push({
        service: brief(offer.service),
        channel: 'oss_counter',
        where: { kind: 'oss', unit: unitView(office, lang) },
        note: offer.note === null ? null : localize(offer.note, lang),
      })
    }
  }
  const rounds = snap.roundsReaching(unit.code, on)
  for (const s of snap.document.services) {
    if (!offeredThrough(snap, s, unit.code, 'mobile_oss', on)) continue
    const round = nextRoundWith(snap, unit.code, s.code, on)!
    entries.push({
      service: brief(s),
      channel: 'mobile_oss',
      where: { kind: 'mobile_oss', unit: unitView(snap.unit(round.unit)!, lang), round: { id: round.id, from: round.from, to: round.to } },
      note: round.note === undefined ? null : localize(round.note, lang),
    })
  }
  for (const s of snap.document.services) {
    if (offeredThrough(snap, s, unit.code, 'online', on)) {
      entries.push({ service: brief(s), channel: 'online', where: { kind: 'online' }, note: null })
    }
  }
  const next = rounds[0]
  return {
    unit: unitView(unit, lang),
    ancestors: ancestors.map((a) => unitView(a, lang)),
    date: on,
    // The soonest mobile OSS round reaching the unit that is on or to come.
    nextRound: next === undefined
      ? null
      : { id: next.id, unit: unitView(snap.unit(next.unit)!, lang), from: next.from, to: next.to, services: next.services.length, note: next.note === undefined ? null : localize(next.note, lang) },
    entries,
    lang,
    version: snap.version,
  }
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
    const lang = languageOf(request, (request.query as { lang?: Lang }).lang)
    // Today is part of the key: answers about "now" (mobile rounds) change with the day.
    const key = `${snap.version}|${lang}|${app.catalogue.today()}|${request.url}`
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
      summary: 'Administrative units, by level, parent and name',
      description: '`q` searches the names, Mongolian or English, in Cyrillic or Latin (MNS 5217 transliteration), whatever the case; every word must match.',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { level: { type: 'string', enum: LEVELS }, parent: unitCode, q: { type: 'string', minLength: 1, maxLength: 100 }, lang: langParam, ...paging },
      },
      response: { 200: { $ref: 'CataloguePublic#/$defs/unitPage' } },
    },
  }, async (request, reply) => {
    const q = request.query as { level?: Level, parent?: string, q?: string, page: number, pageSize: number }
    return cached(request, reply, (snap, lang) => ({
      ...paginate(snap.units(q).filter((u) => q.q === undefined || snap.unitMatches(u, q.q)).map((u) => unitView(u, lang)), q.page, q.pageSize),
      lang,
    }))
  })

  app.get('/v1/units/:code', {
    schema: {
      ...common(),
      operationId: 'getUnit',
      summary: 'A unit with its OSS office, its ancestors and children',
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
        office: officeView(unit, lang),
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
      summary: 'What a person living in this unit can get on a day: where, and through which channel',
      description: 'The OSS counters of the unit and the units above it, the mobile OSS rounds reaching it that are on or still to come on `date` ' +
        '(each mobile service with the soonest round bringing it, and `nextRound`), and what is online.',
      params: { type: 'object', required: ['code'], properties: { code: unitCode } },
      querystring: { type: 'object', additionalProperties: false, properties: { date: dateParam, lang: langParam } },
      response: { 200: { $ref: 'CataloguePublic#/$defs/unitServices' } },
    },
  }, async (request, reply) => {
    const { code } = request.params as { code: string }
    const { date } = request.query as { date?: string }
    return cached(request, reply, (snap, lang) => servicesWhereYouLive(snap, code, lang, date ?? app.catalogue.today()))
  })

  app.get('/v1/services', {
    schema: {
      ...common(),
      operationId: 'listServices',
      summary: 'Services, filtered by category, channel, unit and text (Mongolian or English, Cyrillic or Latin)',
      description: 'With `unit` and `channel`: what can be submitted at that unit through that channel on `date` (today by default), by the same rule application intake applies. ' +
        'With `unit` alone: everything a person living in the unit can reach (its OSS and those above it, mobile rounds, online).',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          category: serviceCode,
          channel: { type: 'string', enum: CHANNELS },
          unit: unitCode,
          q: { type: 'string', minLength: 1, maxLength: 100 },
          date: dateParam,
          lang: langParam,
          ...paging,
        },
      },
      response: { 200: { $ref: 'CataloguePublic#/$defs/servicePage' } },
    },
  }, async (request, reply) => {
    const q = request.query as { category?: string, channel?: Channel, unit?: string, q?: string, date?: string, page: number, pageSize: number }
    return cached(request, reply, (snap, lang) => {
      const on = q.date ?? app.catalogue.today()
      let list = snap.document.services
      if (q.unit !== undefined && q.channel !== undefined) {
        if (snap.unit(q.unit) === undefined) throw new ProblemError('NOT_FOUND', `no administrative unit ${q.unit}`)
        list = list.filter((s) => offeredThrough(snap, s, q.unit!, q.channel!, on))
      } else if (q.unit !== undefined) {
        const reachable = new Set((servicesWhereYouLive(snap, q.unit, lang, on).entries as Array<{ service: { code: string } }>).map((e) => e.service.code))
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
