import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Principal } from '../auth/principal.ts'
import { ProblemError } from '../errors/problem-error.ts'
import { StatsRequestError, type RankingAnswer, type SeriesAnswer, type TableAnswer } from '../stats/answers.ts'
import { PERIOD_PATTERN, periodOf, shiftMonths } from '../stats/calendar.ts'
import { INDICATOR_CODES } from '../stats/indicators.ts'
import type { Dimension, Figure, Grain, Lang, StatsReport } from '../stats/model.ts'
import { languageOf } from './language.ts'
import { renderReportHtml } from '../stats/report-html.ts'
import { COUNTRY, within } from '../stats/units.ts'

// Monitoring and evaluation: indicator values, time series, rankings and the
// report a unit files, read from the roll-ups. Admins see the country;
// analysts and officers their unit and the units below it; anyone the
// public summary per aimag. Counts of fewer people than the threshold are
// suppressed below national level and in every public answer.

const DIMENSIONS: Dimension[] = ['unit', 'service', 'category', 'agency', 'channel', 'sex', 'age_band', 'purpose', 'result']
const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } })
const ERRORS = {
  400: problem('A parameter is not valid; the problem names it'),
  403: problem('The unit asked for is outside your role\'s scope (STATS_SCOPE_FORBIDDEN), or your role may not read statistics'),
  422: problem('The indicator is not kept for that period or breakdown (STATS_NOT_AVAILABLE); the problem names the parameter'),
}
const READERS = { roles: ['admin', 'analyst', 'officer'] as const }

const indicator = { type: 'string', enum: INDICATOR_CODES, examples: ['applications.received'] }
const period = { type: 'string', pattern: PERIOD_PATTERN, description: 'A year (2026), month (2026-11), ISO week (2026-W48) or day (2026-11-30), in Mongolian time', examples: ['2026-11'] }
const unit = { type: 'string', pattern: '^[0-9]{2}([0-9]{2}([0-9]{2})?)?$', description: 'An administrative unit; the whole country when left out (admins only)', examples: ['62'] }
const lang = { type: 'string', enum: ['mn', 'en'], description: 'Language of names and labels; Accept-Language, then Mongolian, otherwise' }
const format = (formats: string[]) => ({ type: 'string', enum: formats, description: 'Instead of the Accept header' })
const by = { type: 'string', pattern: `^(${DIMENSIONS.join('|')})(,(${DIMENSIONS.join('|')}))?$`, description: 'Up to two dimensions, comma-separated', examples: ['channel'] }
const date = { type: 'string', format: 'date' }
const figure = { description: 'A number; "<5" (or "<N" for the configured threshold) for a count of too few people; "x" for a count hidden so that a small one cannot be worked out; null when it cannot be computed', oneOf: [{ type: 'number' }, { type: 'string' }, { type: 'null' }] }
const head = { type: 'object', properties: { code: { type: 'string' }, name: { type: 'string' }, unit: { type: 'string' } } }
const periodOut = { type: 'object', properties: { code: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } } }
const unitOut = { type: 'object', properties: { code: { type: ['string', 'null'] }, name: { type: 'string' } } }

const tableSchema = {
  type: 'object',
  properties: {
    indicator: head,
    period: periodOut,
    unit: unitOut,
    by: { type: 'array', items: { type: 'string' } },
    suppressed: { type: 'boolean', description: 'Whether small counts were suppressed in this answer' },
    rows: { type: 'array', items: { type: 'object', properties: { key: { type: 'object', additionalProperties: { type: 'string' } }, labels: { type: 'object', additionalProperties: { type: 'string' } }, value: figure } } },
    total: figure,
  },
}

type Format = 'json' | 'csv' | 'html'

function formatOf (request: FastifyRequest, q: { format?: Format }, allowed: Format[]): Format {
  if (q.format !== undefined) return q.format
  const accept = request.headers.accept ?? ''
  if (allowed.includes('html') && /text\/html/.test(accept)) return 'html'
  if (/text\/csv/.test(accept)) return 'csv'
  return 'json'
}

function csvCell (value: Figure | undefined): string {
  const text = value === null || value === undefined ? '' : String(value)
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

const csv = (rows: Array<Array<Figure | undefined>>) => rows.map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n'

function tableCsv (t: TableAnswer): string {
  // By unit, `unit` names each row's unit and `parent` the unit asked for.
  return csv([
    [...t.by.flatMap((d) => [d, `${d}_label`]), 'indicator', 'period', t.by.includes('unit') ? 'parent' : 'unit', 'value'],
    ...t.rows.map((r) => [...t.by.flatMap((d) => [r.key[d], r.labels[d]]), t.indicator.code, t.period.code, t.unit.code ?? '', r.value]),
    [...t.by.flatMap(() => ['', '']), t.indicator.code, t.period.code, t.unit.code ?? '', t.total],
  ])
}

function seriesCsv (s: SeriesAnswer): string {
  return csv([['period', 'from', 'to', 'indicator', 'unit', 'value'], ...s.points.map((p) => [p.period, p.from, p.to, s.indicator.code, s.unit.code ?? '', p.value])])
}

function rankingCsv (r: RankingAnswer): string {
  return csv([['rank', 'unit', 'name', 'indicator', 'period', 'value'], ...r.rows.map((x) => [x.rank, x.unit, x.name, r.indicator.code, r.period.code, x.value])])
}

function reportCsv (r: StatsReport): string {
  const rows: Array<Array<Figure | undefined>> = [['section', 'indicator', 'key', 'label', 'value']]
  for (const h of r.headline) rows.push(['headline', h.indicator, '', h.name, h.value])
  for (const s of r.series) for (const p of s.points) rows.push(['series', s.indicator, p.period, s.name, p.value])
  for (const b of r.breakdowns) for (const x of b.rows) rows.push([`by_${b.dimension}`, b.indicator, x.key, x.label, x.value])
  for (const x of r.ranking?.rows ?? []) rows.push(['ranking', r.ranking!.indicator, x.unit, x.label, x.value])
  return csv(rows)
}

// The body with a strong ETag of its bytes (or of `tag`, what it is made
// from); 304 when the client has it.
function send (request: FastifyRequest, reply: FastifyReply, body: string, type: string, filename?: string, tag: string = body): FastifyReply {
  const etag = `"${createHash('sha256').update(tag).digest('base64url').slice(0, 27)}"`
  reply.header('etag', etag).header('cache-control', 'private, no-cache').header('vary', 'accept, accept-language, authorization')
  if (filename !== undefined) reply.header('content-disposition', `attachment; filename="${filename}"`)
  const match = request.headers['if-none-match']
  if (match !== undefined && match.split(',').some((m) => m.trim().replace(/^W\//, '') === etag)) return reply.code(304).send()
  return reply.type(type).send(body)
}

// 400 naming the query parameter at fault.
function badQuery (pointer: string, message: string, detail: string): ProblemError {
  return new ProblemError('VALIDATION_FAILED', message, { extensions: { errors: [{ in: 'querystring', pointer, detail }] } })
}

// JSON, or CSV when asked for (format or Accept).
function sendJsonOrCsv (request: FastifyRequest, reply: FastifyReply, q: { format?: Format }, body: unknown, asCsv: () => string, filename: string): FastifyReply {
  return formatOf(request, q, ['json', 'csv']) === 'csv'
    ? send(request, reply, asCsv(), 'text/csv; charset=utf-8', filename)
    : send(request, reply, JSON.stringify(body), 'application/json; charset=utf-8')
}

// The unit a reader may ask about, or 403.
function scopeFor (app: FastifyInstance, principal: Principal | null, asked: string | undefined): string {
  const own = principal?.role === 'analyst' || principal?.role === 'officer' ? principal.unit : COUNTRY
  if (principal?.role !== 'admin' && own === COUNTRY) throw new ProblemError('ROLE_FORBIDDEN', 'statistics are for admins, analysts and officers')
  const unit = asked ?? own
  if (!within(unit, own)) {
    throw new ProblemError('STATS_SCOPE_FORBIDDEN', unit === COUNTRY
      ? `national figures are for admins; your token is for unit ${own} and the units below it`
      : `unit ${unit} is outside your scope: unit ${own} and the units below it`, { extensions: { errors: [{ in: 'querystring', pointer: '/unit', detail: `must be ${own} or a unit below it` }] } })
  }
  known(app, unit)
  return unit
}

function known (app: FastifyInstance, unit: string): void {
  if (unit !== COUNTRY && app.catalogue.current().unit(unit) === undefined) {
    throw badQuery('/unit', `there is no administrative unit ${unit} in the published catalogue`, 'not an administrative unit')
  }
}

async function answer<T> (work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (err) {
    if (err instanceof StatsRequestError) {
      throw new ProblemError('STATS_NOT_AVAILABLE', err.message, { cause: err, extensions: { errors: [{ in: 'querystring', pointer: err.pointer, detail: err.message }] } })
    }
    throw err
  }
}

export async function statsRoutes (app: FastifyInstance): Promise<void> {
  const tags = ['statistics']

  app.get('/v1/stats/indicators', {
    schema: {
      tags,
      operationId: 'getStatsIndicators',
      summary: 'The indicator catalogue: each indicator\'s code, names and definition in Mongolian and English, unit, dimensions and periods',
      security: [],
      response: { 200: { type: 'object', additionalProperties: true, description: 'seed/indicators.yaml as JSON; ETag for caching' } },
    },
  }, async (request, reply) => send(request, reply, JSON.stringify(app.stats.indicators), 'application/json; charset=utf-8'))

  app.get('/v1/stats/values', {
    config: { auth: READERS },
    schema: {
      tags,
      operationId: 'getStatsValues',
      summary: 'An indicator\'s value for a period and a unit, optionally broken down by up to two dimensions (unit breaks down into the units directly below)',
      querystring: {
        type: 'object',
        additionalProperties: false,
        required: ['indicator', 'period'],
        properties: { indicator, period, unit, by, lang, format: format(['json', 'csv']) },
      },
      response: { 200: { description: 'The values; CSV with format=csv or Accept: text/csv', content: { 'application/json': { schema: tableSchema }, 'text/csv': { schema: { type: 'string' } } } }, ...ERRORS },
    },
  }, async (request, reply) => {
    const q = request.query as { indicator: string, period: string, unit?: string, by?: string, lang?: Lang, format?: Format }
    const scope = scopeFor(app, request.principal, q.unit)
    const dims = q.by === undefined ? [] : [...new Set(q.by.split(',') as Dimension[])]
    const t = await answer(() => app.stats.answers.table({ indicator: q.indicator, period: q.period, unit: scope, by: dims, lang: languageOf(request, q.lang), protect: false }))
    return sendJsonOrCsv(request, reply, q, t, () => tableCsv(t), `${t.indicator.code}-${t.period.code}-${t.unit.code ?? 'MN'}.csv`)
  })

  app.get('/v1/stats/series', {
    config: { auth: READERS },
    schema: {
      tags,
      operationId: 'getStatsSeries',
      summary: 'An indicator as a time series: one value per day, week, month or year between two dates (the twelve months to today by default)',
      querystring: {
        type: 'object',
        additionalProperties: false,
        required: ['indicator'],
        properties: { indicator, unit, grain: { type: 'string', enum: ['day', 'week', 'month', 'year'], default: 'month' }, from: date, to: date, lang, format: format(['json', 'csv']) },
      },
      response: { 200: { description: 'The series', content: { 'application/json': { schema: { type: 'object', additionalProperties: true } }, 'text/csv': { schema: { type: 'string' } } } }, ...ERRORS },
    },
  }, async (request, reply) => {
    const q = request.query as { indicator: string, unit?: string, grain: Grain, from?: string, to?: string, lang?: Lang, format?: Format }
    const scope = scopeFor(app, request.principal, q.unit)
    const to = q.to ?? app.catalogue.today()
    const from = q.from ?? shiftMonths(periodOf('month', to).from, -11)
    if (from > to) throw badQuery('/from', '"from" is after "to"', 'must not be after to')
    // The calendar cannot place ISO weeks before the year 100 (nor is there anything to count then).
    for (const [name, value] of [['from', from], ['to', to]] as const) {
      if (value < '1000') throw badQuery(`/${name}`, `"${name}" is before the year 1000`, 'must be in the year 1000 or later')
    }
    const s = await answer(() => app.stats.answers.series({ indicator: q.indicator, unit: scope, grain: q.grain, from, to, lang: languageOf(request, q.lang), protect: false }))
    return sendJsonOrCsv(request, reply, q, s, () => seriesCsv(s), `${s.indicator.code}-${q.grain}.csv`)
  })

  app.get('/v1/stats/ranking', {
    config: { auth: READERS },
    schema: {
      tags,
      operationId: 'getStatsRanking',
      summary: 'The units directly below a unit, ranked by an indicator for a period (suppressed figures unranked, last)',
      querystring: {
        type: 'object',
        additionalProperties: false,
        required: ['indicator', 'period'],
        properties: { indicator, period, unit, lang, format: format(['json', 'csv']) },
      },
      response: { 200: { description: 'The ranking', content: { 'application/json': { schema: { type: 'object', additionalProperties: true } }, 'text/csv': { schema: { type: 'string' } } } }, ...ERRORS },
    },
  }, async (request, reply) => {
    const q = request.query as { indicator: string, period: string, unit?: string, lang?: Lang, format?: Format }
    const scope = scopeFor(app, request.principal, q.unit)
    const r = await answer(() => app.stats.answers.ranking({ indicator: q.indicator, period: q.period, unit: scope, lang: languageOf(request, q.lang) }))
    return sendJsonOrCsv(request, reply, q, r, () => rankingCsv(r), `ranking-${r.indicator.code}-${r.period.code}.csv`)
  })

  app.get('/v1/stats/report', {
    config: { auth: READERS },
    schema: {
      tags,
      operationId: 'getStatsReport',
      summary: 'The report a unit files for a month or a year: headline figures, twelve-month series, breakdowns and the ranking of the units below; JSON, CSV, or HTML with inline SVG charts that prints to PDF',
      querystring: {
        type: 'object',
        additionalProperties: false,
        required: ['period'],
        properties: { period: { ...period, description: 'A month (2026-11) or a year (2026)' }, unit, lang, format: format(['json', 'csv', 'html']) },
      },
      response: {
        200: {
          description: 'The report',
          content: { 'application/json': { schema: { type: 'object', additionalProperties: true } }, 'text/csv': { schema: { type: 'string' } }, 'text/html': { schema: { type: 'string' } } },
        },
        ...ERRORS,
      },
    },
  }, async (request, reply) => {
    const q = request.query as { period: string, unit?: string, lang?: Lang, format?: Format }
    const scope = scopeFor(app, request.principal, q.unit)
    const r = await answer(() => app.stats.answers.report({ period: q.period, unit: scope, lang: languageOf(request, q.lang), protect: false }))
    const name = `oss-report-${r.unit.code ?? 'MN'}-${r.period.code}`
    // generatedAt changes every time; the ETag is of the figures (and the format).
    const format = formatOf(request, q, ['json', 'csv', 'html'])
    const tag = `${format}\n${JSON.stringify({ ...r, generatedAt: undefined })}`
    switch (format) {
      case 'csv': return send(request, reply, reportCsv(r), 'text/csv; charset=utf-8', `${name}.csv`, tag)
      case 'html':
        // The document fetches nothing and runs nothing: a browser is told so too.
        reply.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
        return send(request, reply, renderReportHtml(r), 'text/html; charset=utf-8', undefined, tag)
      default: return send(request, reply, JSON.stringify(r), 'application/json; charset=utf-8', undefined, tag)
    }
  })

  // The public summary is the same for everyone until the roll-ups or the
  // catalogue change: anonymous callers share one computation.
  const publicAnswers = new Map<string, { body: string, type: string, filename?: string }>()
  const PUBLIC_ANSWERS_KEPT = 256

  app.get('/v1/stats/public', {
    schema: {
      tags,
      operationId: 'getStatsPublic',
      summary: 'The public summary: applications, persons served, approvals and time to decision per aimag and the capital for a month or a year, small counts suppressed',
      security: [],
      querystring: {
        type: 'object',
        additionalProperties: false,
        required: ['period'],
        properties: { period: { ...period, description: 'A month (2026-11) or a year (2026)' }, lang, format: format(['json', 'csv']) },
      },
      response: { 200: { description: 'One row per aimag', content: { 'application/json': { schema: { type: 'object', additionalProperties: true } }, 'text/csv': { schema: { type: 'string' } } } }, 400: ERRORS[400], 422: ERRORS[422] },
    },
  }, async (request, reply) => {
    const q = request.query as { period: string, lang?: Lang, format?: Format }
    const lang = languageOf(request, q.lang)
    if (!/^\d{4}(-\d{2})?$/.test(q.period)) {
      throw badQuery('/period', 'the public summary is for a month (2026-11) or a year (2026)', 'must be a month or a year')
    }
    const format = formatOf(request, q, ['json', 'csv'])
    const key = [await app.stats.rollup.position(), app.catalogue.current().digest, app.catalogue.today(), q.period, lang, format].join('|')
    const known = publicAnswers.get(key)
    if (known !== undefined) return send(request, reply, known.body, known.type, known.filename)
    const codes = ['applications.received', 'applications.persons_served', 'outcomes.approved', 'time.received_to_decided.p50'] as const
    const tables = await answer(async () => Promise.all(codes.map((indicator) => app.stats.answers.table({ indicator, period: q.period, unit: COUNTRY, by: ['unit'], lang, protect: true }))))
    // An aimag with nothing to count has 0; with no decisions, no median (null).
    const none = (code: string): Figure => (code.startsWith('time.') ? null : 0)
    const units = new Map<string, { unit: string, name: string, values: Record<string, Figure> }>()
    for (const [i, t] of tables.entries()) {
      for (const r of t.rows) {
        const u = units.get(r.key.unit!) ?? { unit: r.key.unit!, name: r.labels.unit!, values: Object.fromEntries(codes.map((c) => [c, none(c)])) }
        u.values[codes[i]!] = r.value
        units.set(u.unit, u)
      }
    }
    const rows = [...units.values()].sort((a, b) => a.unit.localeCompare(b.unit))
    const body = { period: tables[0]!.period, indicators: tables.map((t) => t.indicator), rows }
    const made = format === 'csv'
      ? { body: csv([['unit', 'name', ...codes], ...rows.map((r) => [r.unit, r.name, ...codes.map((c) => r.values[c])])]), type: 'text/csv; charset=utf-8', filename: `oss-public-${q.period}.csv` }
      : { body: JSON.stringify(body), type: 'application/json; charset=utf-8' }
    // Oldest first out: a Map keeps insertion order.
    if (publicAnswers.size >= PUBLIC_ANSWERS_KEPT) publicAnswers.delete(publicAnswers.keys().next().value!)
    publicAnswers.set(key, made)
    return send(request, reply, made.body, made.type, made.filename)
  })
}
