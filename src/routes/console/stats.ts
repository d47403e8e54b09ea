import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { html, type Html } from '../../console/html.ts'
import { t, type Lang } from '../../console/messages.ts'
import type { ConsoleIdentity } from '../../console/sessions.ts'
import { hasBegun, RANK_INDICATORS, readFilters, seriesSpan, stepPeriod, type FilterProblem, type StatsFilters } from '../../console/stats-filters.ts'
import {
  chartSection, filterForm, headlineSection, messageOf, notesSection, STATS_PATH, unitLabel,
  type ChartBlock, type ChartRow, type FormOptions, type HeadlineCard, type ServiceOption, type UnitNode,
} from '../../console/stats-view.ts'
import { ProblemError, ValidationProblem } from '../../errors/problem-error.ts'
import { isErrorCode } from '../../errors/registry.ts'
import type { ApiAnswer } from '../../plugins/console.ts'
import type { RankingAnswer, Row, SeriesAnswer, TableAnswer } from '../../stats/answers.ts'
import type { IndicatorCatalogue } from '../../stats/indicators.ts'
import type { Dimension, Figure } from '../../stats/model.ts'
import { pageContext, sendPage } from './shared.ts'

// Monitoring and evaluation dashboards (analysts, admins, officers): the
// statistics API's figures for a period, a unit and optionally a service,
// drawn as charts with their tables, the printable report and the API's CSV
// files. Every figure comes from the API, called as the signed-in person:
// what they may see and which counts are suppressed is the API's decision,
// passed on as it is (a refusal included).

const READERS = { console: { roles: ['admin', 'analyst', 'officer'] as const } }
const COUNTRY = ''
const RECEIVED = 'applications.received'
const PERSONS = 'applications.persons_served'
const HEADLINE = [RECEIVED, PERSONS, 'outcomes.approval_rate', 'time.received_to_decided.p50'] as const
// Bags and khoroos are the lowest level: nothing to ask about below them.
const LEAF_LEVELS = new Set(['bag', 'khoroo'])
const CSV_KINDS = ['series', 'unit', 'channel', 'sex', 'age_band', 'ranking', 'report'] as const
type CsvKind = typeof CSV_KINDS[number]
const SCOPE_TREES_KEPT = 200

interface UnitView { code: string, level: string, parent: string | null, name: string }
interface UnitDetail { unit: UnitView, ancestors: UnitView[], children: UnitView[], version: number }
interface Page<T> { items: T[] }
interface Problem { code?: string | undefined, title?: string | undefined, detail?: string | undefined, errors?: unknown }
// The form's choices, and the indicator catalogue the page names things from.
interface DashboardOptions extends FormOptions { indicators: IndicatorCatalogue }

function query (params: Record<string, string | null | undefined>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') q.set(k, v)
  return q.toString()
}

// The problem+json the API answered, as far as it is one.
function parseProblem (body: string): Problem {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return {}
  }
  if (typeof parsed !== 'object' || parsed === null) return {}
  const text = (name: string) => {
    const value: unknown = Reflect.get(parsed, name)
    return typeof value === 'string' ? value : undefined
  }
  return { code: text('code'), title: text('title'), detail: text('detail'), errors: Reflect.get(parsed, 'errors') }
}

// The API call behind each chart that has a CSV file of its own: the same
// question in JSON for the page, in CSV for the download.
function apiTarget (kind: CsvKind, f: StatsFilters): { path: string, params: Record<string, string | null> } | null {
  const common = { period: f.period, unit: f.unit }
  const withService = (by: Dimension) => (f.service === null ? by : by === 'unit' ? 'unit,service' : `service,${by}`)
  switch (kind) {
    case 'series': {
      if (f.service !== null) return null
      const span = seriesSpan(f)
      return { path: '/v1/stats/series', params: { indicator: RECEIVED, unit: f.unit, grain: 'month', from: span.from, to: span.to } }
    }
    case 'unit': return { path: '/v1/stats/values', params: { ...common, indicator: RECEIVED, by: withService('unit') } }
    case 'channel': return { path: '/v1/stats/values', params: { ...common, indicator: RECEIVED, by: withService('channel') } }
    // Persons are not counted by service.
    case 'sex': return { path: '/v1/stats/values', params: { ...common, indicator: PERSONS, by: 'sex' } }
    case 'age_band': return { path: '/v1/stats/values', params: { ...common, indicator: PERSONS, by: 'age_band' } }
    case 'ranking': return { path: '/v1/stats/ranking', params: { ...common, indicator: f.rank } }
    case 'report': return { path: '/v1/stats/report', params: common }
  }
}

// The dashboard's own address for a set of filters.
function dashboardHref (f: StatsFilters, change: Partial<StatsFilters> = {}): string {
  const g = { ...f, ...change }
  return `${STATS_PATH}?${query({ period: g.period, unit: g.unit, service: g.service, rank: g.rank === RANK_INDICATORS[0] ? null : g.rank })}`
}

function csvHref (kind: CsvKind, f: StatsFilters): string | null {
  if (apiTarget(kind, f) === null) return null
  return `${STATS_PATH}/csv/${kind}?${query({ period: f.period, unit: f.unit, service: kind === 'ranking' || kind === 'report' ? null : f.service, rank: kind === 'ranking' ? f.rank : null })}`
}

export async function statsConsoleRoutes (app: FastifyInstance): Promise<void> {
  // The units each scope offers, per catalogue version: an aimag's soums and
  // bags take a call per soum to list.
  const scopeTrees = new Map<string, UnitNode>()

  function apiFor (identity: ConsoleIdentity, lang: Lang) {
    const raw = (url: string): Promise<ApiAnswer> => app.console.api(identity, { method: 'GET', url, lang })

    // A unit's name for a message, its code when even that cannot be had.
    async function nameOf (code: string): Promise<string> {
      if (code === COUNTRY) return t(lang, 'stats.country')
      const answer = await raw(`/v1/units/${encodeURIComponent(code)}?${query({ lang })}`)
      return answer.status === 200 ? unitLabel(answer.json<UnitDetail>().unit) : code
    }

    // The API's refusal as the console's error page: its code and status,
    // and the reason in the page's language.
    async function refusal (answer: ApiAnswer, asked: string): Promise<ProblemError> {
      const p = parseProblem(answer.body)
      const code = typeof p.code === 'string' && isErrorCode(p.code) ? p.code : answer.status >= 500 ? 'INTERNAL' : 'BAD_REQUEST'
      const extensions = p.errors === undefined ? {} : { errors: p.errors }
      if (code === 'STATS_SCOPE_FORBIDDEN') {
        const [unit, own] = await Promise.all([nameOf(asked), nameOf(identity.unit ?? COUNTRY)])
        return new ProblemError(code, messageOf(lang, asked === COUNTRY ? 'stats.err.scopeCountry' : 'stats.err.scope', { unit, own }), { extensions })
      }
      return new ProblemError(code, `${t(lang, 'stats.err.api')}: ${p.detail ?? p.title ?? `HTTP ${answer.status}`}`, { extensions })
    }

    async function get<T> (url: string, asked: string): Promise<T> {
      const answer = await raw(url)
      if (answer.status !== 200) throw await refusal(answer, asked)
      return answer.json<T>()
    }

    return { raw, get, refusal }
  }

  type Api = ReturnType<typeof apiFor>

  // The units a person may choose: an administrator the country and every
  // aimag and the capital (and, by following links, anything below);
  // analysts and officers their unit and every unit below it.
  async function scopeOf (api: Api, identity: ConsoleIdentity, lang: Lang): Promise<UnitNode> {
    const leaf = (u: UnitView): UnitNode => ({ code: u.code, name: u.name, children: [] })
    if (identity.role === 'admin' || identity.unit === undefined) {
      if (identity.role !== 'admin') return { code: COUNTRY, name: t(lang, 'stats.country'), children: [] }
      const levels = await Promise.all(['capital', 'aimag'].map((level) => api.get<Page<UnitView>>(`/v1/units?${query({ level, pageSize: '500', lang })}`, COUNTRY)))
      return { code: COUNTRY, name: t(lang, 'stats.country'), children: levels.flatMap((l) => l.items).sort((a, b) => a.code.localeCompare(b.code)).map(leaf) }
    }
    const own = identity.unit
    const detail = await api.get<UnitDetail>(`/v1/units/${encodeURIComponent(own)}?${query({ lang })}`, own)
    const key = `${own}|${lang}|${detail.version}`
    const known = scopeTrees.get(key)
    if (known !== undefined) return known
    const children = await Promise.all(detail.children.map(async (c) => {
      if (LEAF_LEVELS.has(c.level)) return leaf(c)
      const below = await api.get<Page<UnitView>>(`/v1/units?${query({ parent: c.code, pageSize: '500', lang })}`, own)
      return { ...leaf(c), children: below.items.map(leaf) }
    }))
    const tree = { code: own, name: detail.unit.name, children }
    // Oldest out first: a Map keeps insertion order.
    if (scopeTrees.size >= SCOPE_TREES_KEPT) scopeTrees.delete(scopeTrees.keys().next().value!)
    scopeTrees.set(key, tree)
    return tree
  }

  async function formOptions (api: Api, identity: ConsoleIdentity, lang: Lang, extra: FormOptions['extra']): Promise<DashboardOptions> {
    const [scope, services, indicators] = await Promise.all([
      scopeOf(api, identity, lang),
      api.get<Page<ServiceOption>>(`/v1/services?${query({ pageSize: '500', lang })}`, COUNTRY),
      api.get<IndicatorCatalogue>('/v1/stats/indicators', COUNTRY),
    ])
    const names = new Map(indicators.indicators.map((i) => [i.code, i.name[lang]]))
    const listed = (code: string) => code === scope.code || scope.children.some((c) => c.code === code || c.children.some((g) => g.code === code))
    return {
      scope,
      extra: extra === null || listed(extra.code) ? null : extra,
      services: services.items,
      rankBy: RANK_INDICATORS.map((code) => ({ code, name: names.get(code) ?? code })),
      today: app.catalogue.today(),
      indicators,
    }
  }

  // The filters as the page can use them, or the problems to show with the form.
  function filtersOf (request: FastifyRequest, identity: ConsoleIdentity) {
    return readFilters(request.query, { today: app.catalogue.today(), unit: identity.role === 'admin' ? COUNTRY : identity.unit ?? COUNTRY })
  }

  function validation (lang: Lang, problems: FilterProblem[]): ValidationProblem {
    return new ValidationProblem(problems.map((p) => ({ in: 'querystring', pointer: `/${p.field}`, detail: messageOf(lang, p.key, { code: p.value ?? '' }) })))
  }

  app.get(STATS_PATH, { config: READERS }, async (request, reply) => {
    const ctx = pageContext(request)
    const { lang } = ctx
    const identity = ctx.identity!
    const api = apiFor(identity, lang)
    const { filters, input, problems } = filtersOf(request, identity)

    // The chosen unit, with what is above and below it; null if there is none.
    const chosen = filters === null || problems.length > 0
      ? null
      : filters.unit === COUNTRY
        ? { unit: { code: COUNTRY, level: 'country', parent: null, name: t(lang, 'stats.country') }, ancestors: [], children: [], version: 0 }
        : await (async () => {
          const answer = await api.raw(`/v1/units/${encodeURIComponent(filters.unit)}?${query({ lang })}`)
          if (answer.status === 404) return null
          if (answer.status !== 200) throw await api.refusal(answer, filters.unit)
          return answer.json<UnitDetail>()
        })()
    if (filters !== null && chosen === null) problems.push({ field: 'unit', key: 'stats.err.unitUnknown', value: filters.unit })
    const options = await formOptions(api, identity, lang, chosen === null || chosen.unit.code === COUNTRY ? null : chosen.unit)
    const service = filters === null || filters.service === null ? null : options.services.find((s) => s.code === filters.service)
    if (filters !== null && filters.service !== null && service === undefined && !problems.some((p) => p.field === 'service')) {
      problems.push({ field: 'service', key: 'stats.err.service', value: filters.service })
    }
    if (filters === null || chosen === null || problems.length > 0) {
      return sendPage(request, reply, t(lang, 'stats.title'), filterForm(ctx, options, input, problems), 400)
    }

    // The country's children are the scope's when an administrator asks.
    const children = filters.unit === COUNTRY ? options.scope.children.map((c) => ({ code: c.code, name: c.name })) : chosen.children
    const body = await dashboard(api, filters, { unit: chosen.unit, ancestors: chosen.ancestors, children }, options, service ?? null, identity, lang)
    const title = `${t(lang, 'stats.title')}: ${unitLabel(chosen.unit)}, ${filters.period}`
    return sendPage(request, reply, title, html`${filterForm(ctx, options, input, [])}${body}`)
  })

  async function dashboard (
    api: Api, f: StatsFilters, where: { unit: UnitView, ancestors: UnitView[], children: Array<{ code: string, name: string }> },
    options: DashboardOptions, service: ServiceOption | null, identity: ConsoleIdentity, lang: Lang,
  ): Promise<Html> {
    const { indicators } = options
    const info = (code: string) => indicators.indicators.find((i) => i.code === code)
    const unitName = (code: string) => indicators.units[info(code)?.unit ?? 'count'][lang]
    const values = (indicator: string, period: string, by: string) =>
      api.get<TableAnswer>(`/v1/stats/values?${query({ indicator, period, unit: f.unit, by, lang })}`, f.unit)
    const json = async <T>(kind: CsvKind): Promise<T> => {
      const target = apiTarget(kind, f)!
      return api.get<T>(`${target.path}?${query({ ...target.params, lang })}`, f.unit)
    }
    const ofService = (rows: Row[]) => (service === null ? rows : rows.filter((r) => r.key.service === service.code))
    const byService = (code: string) => service !== null && info(code)?.dimensions.includes('service') === true
    // A count of nothing is 0; a rate or a time of nothing cannot be computed.
    const nothing = (code: string): Figure => (info(code)?.kind === 'derived' ? null : 0)
    const hasChildren = where.children.length > 0
    const span = seriesSpan(f)

    const [headline, series, byUnit, byChannel, bySex, byAge, ranking] = await Promise.all([
      Promise.all(HEADLINE.map(async (code) => {
        if (!byService(code)) return { code, answer: await values(code, f.period, '') }
        const answer = await values(code, f.period, 'service')
        return { code, answer: { ...answer, total: ofService(answer.rows)[0]?.value ?? nothing(code) } }
      })),
      service === null
        ? json<SeriesAnswer>('series').then((s) => s.points.map((p) => ({ period: p.period, value: p.value })))
        : Promise.all(span.months.map(async (m) => ({ period: m, value: ofService((await values(RECEIVED, m, 'service')).rows)[0]?.value ?? 0 }))),
      hasChildren ? json<TableAnswer>('unit') : null,
      json<TableAnswer>('channel'),
      json<TableAnswer>('sex'),
      json<TableAnswer>('age_band'),
      hasChildren ? json<RankingAnswer>('ranking') : null,
    ])

    const placeName = unitLabel(where.unit)
    const caption = (title: string, period = f.period) => `${title} — ${placeName}, ${period}`
    const received = info(RECEIVED)?.name[lang] ?? RECEIVED
    const persons = info(PERSONS)?.name[lang] ?? PERSONS
    const scoped = (title: string) => (service === null ? title : `${title} — ${service.name}`)
    const notByService = service === null ? [] : [t(lang, 'stats.notByService')]

    // Rows of a closed set (channels, sexes, age bands) in the catalogue's
    // order, 0 for a value the answer leaves out: the API lists every
    // count that is not zero and every hidden one.
    const closed = (answer: TableAnswer, dim: Dimension): ChartRow[] => {
      const rows = ofService(answer.rows)
      const known = Object.entries(indicators.dimensions[dim].values ?? {})
      const listed = known.map(([key, text]) => ({ label: text[lang], value: rows.find((r) => r.key[dim] === key)?.value ?? 0 }))
      const others = rows.filter((r) => !known.some(([key]) => key === r.key[dim])).map((r) => ({ label: r.labels[dim] ?? r.key[dim] ?? '', value: r.value }))
      return [...listed, ...others]
    }

    const blocks: ChartBlock[] = [
      {
        id: 'series',
        title: scoped(`${received}: ${t(lang, f.grain === 'year' ? 'stats.seriesYear' : 'stats.series')}`),
        kind: 'line',
        keyHeading: t(lang, 'stats.month'),
        unitLabel: unitName(RECEIVED),
        caption: caption(scoped(received), `${span.months[0]} – ${span.months.at(-1)}`),
        rows: series.map((p) => ({ label: p.period, value: p.value })),
        notes: [],
        csv: csvHref('series', f),
        empty: t(lang, 'stats.noData'),
      },
      {
        id: 'by-unit',
        title: scoped(`${received}: ${t(lang, 'stats.byUnit')}`),
        kind: 'bar',
        keyHeading: t(lang, 'stats.unit'),
        unitLabel: unitName(RECEIVED),
        caption: caption(scoped(`${received}, ${t(lang, 'stats.byUnit').toLowerCase()}`)),
        // Every unit below, 0 for those the answer leaves out.
        rows: byUnit === null
          ? []
          : [
              ...where.children.map((c) => ({ label: unitLabel(c), value: ofService(byUnit.rows).find((r) => r.key.unit === c.code)?.value ?? 0, href: dashboardHref(f, { unit: c.code }) })),
              ...ofService(byUnit.rows).filter((r) => !where.children.some((c) => c.code === r.key.unit)).map((r) => ({ label: r.labels.unit ?? r.key.unit ?? '', value: r.value })),
            ],
        notes: hasChildren ? [t(lang, 'stats.drill'), ...(service === null ? [] : [t(lang, 'stats.csvAllServices')])] : [],
        csv: hasChildren ? csvHref('unit', f) : null,
        empty: t(lang, 'stats.noChildren'),
      },
      {
        id: 'by-channel',
        title: scoped(`${received}: ${t(lang, 'stats.byChannel')}`),
        kind: 'bar',
        keyHeading: indicators.dimensions.channel.name[lang],
        unitLabel: unitName(RECEIVED),
        caption: caption(scoped(`${received}, ${t(lang, 'stats.byChannel').toLowerCase()}`)),
        rows: closed(byChannel, 'channel'),
        notes: service === null ? [] : [t(lang, 'stats.csvAllServices')],
        csv: csvHref('channel', f),
        empty: t(lang, 'stats.noData'),
      },
      {
        id: 'by-sex',
        title: `${persons}: ${t(lang, 'stats.bySex')}`,
        kind: 'bar',
        keyHeading: indicators.dimensions.sex.name[lang],
        unitLabel: unitName(PERSONS),
        caption: caption(`${persons}, ${t(lang, 'stats.bySex').toLowerCase()}`),
        rows: closed(bySex, 'sex'),
        notes: notByService,
        csv: csvHref('sex', f),
        empty: t(lang, 'stats.noData'),
      },
      {
        id: 'by-age',
        title: `${persons}: ${t(lang, 'stats.byAge')}`,
        kind: 'bar',
        keyHeading: indicators.dimensions.age_band.name[lang],
        unitLabel: unitName(PERSONS),
        caption: caption(`${persons}, ${t(lang, 'stats.byAge').toLowerCase()}`),
        rows: closed(byAge, 'age_band'),
        notes: notByService,
        csv: csvHref('age_band', f),
        empty: t(lang, 'stats.noData'),
      },
      {
        id: 'ranking',
        title: `${t(lang, 'stats.ranking')}: ${ranking?.indicator.name ?? info(f.rank)?.name[lang] ?? f.rank}`,
        kind: 'bar',
        keyHeading: t(lang, 'stats.unit'),
        unitLabel: unitName(f.rank),
        caption: caption(`${t(lang, 'stats.ranking')}: ${ranking?.indicator.name ?? f.rank}`),
        rows: ranking === null ? [] : ranking.rows.map((r) => ({ label: `${r.name} (${r.unit})`, value: r.value, rank: r.rank, href: dashboardHref(f, { unit: r.unit }) })),
        notes: hasChildren && service !== null ? [t(lang, 'stats.rankingAllServices')] : [],
        csv: hasChildren ? csvHref('ranking', f) : null,
        empty: hasChildren ? t(lang, 'stats.noData') : t(lang, 'stats.noChildren'),
        ranked: true,
      },
    ]

    const cards: HeadlineCard[] = headline.map(({ code, answer }) => ({
      name: answer.indicator.name,
      unit: answer.indicator.unit,
      value: answer.total,
      note: service !== null && !byService(code) ? t(lang, 'stats.notByService') : null,
    }))

    // The way up: each unit above that is the person's to see.
    const own = identity.role === 'admin' ? COUNTRY : identity.unit ?? COUNTRY
    const above = [
      ...(identity.role === 'admin' && f.unit !== COUNTRY ? [{ code: COUNTRY, name: t(lang, 'stats.country') }] : []),
      ...[...where.ancestors].reverse().filter((a) => a.code.startsWith(own)),
    ]
    const previous = stepPeriod(f, -1)
    const next = stepPeriod(f, 1)
    const figures = [...cards.map((c) => c.value), ...blocks.flatMap((b) => b.rows.map((r) => r.value))]

    return html`
${above.length === 0 ? '' : html`<nav aria-label="${t(lang, 'stats.path')}" class="noprint"><p>${above.map((a) => html`<a href="${dashboardHref(f, { unit: a.code })}">${unitLabel(a)}</a> › `)}<span aria-current="page">${placeName}</span></p></nav>`}
<nav aria-label="${t(lang, 'stats.periods')}" class="noprint"><p><a href="${dashboardHref(f, { period: previous })}" rel="prev">← ${t(lang, 'stats.previous')} (${previous})</a>${hasBegun(next, app.catalogue.today()) ? html` · <a href="${dashboardHref(f, { period: next })}" rel="next">${t(lang, 'stats.next')} (${next}) →</a>` : ''}</p></nav>
<section class="noprint" aria-labelledby="downloads-h">
<h2 id="downloads-h">${t(lang, 'stats.downloads')}</h2>
<p>${t(lang, 'stats.reportIntro')}</p>
<p><a class="button" href="${STATS_PATH}/report?${query({ period: f.period, unit: f.unit })}">${t(lang, 'stats.report')}</a> <a class="button secondary" href="${csvHref('report', f)}" download>${t(lang, 'stats.reportCsv')}</a></p>
</section>
${headlineSection(lang, cards)}
${blocks.map((b) => chartSection(lang, b))}
${notesSection(lang, figures)}`
  }

  // A download or the report: the filters checked as for the page, a bad
  // one a 400 naming it.
  async function forward (request: FastifyRequest, kind: CsvKind, format: 'csv' | 'html'): Promise<ApiAnswer> {
    const ctx = pageContext(request)
    const identity = ctx.identity!
    const { filters, problems } = filtersOf(request, identity)
    if (filters === null || problems.length > 0) throw validation(ctx.lang, problems)
    const target = apiTarget(kind, filters)
    if (target === null) throw validation(ctx.lang, [{ field: 'service', key: 'stats.err.seriesCsv' }])
    const api = apiFor(identity, ctx.lang)
    const answer = await api.raw(`${target.path}?${query({ ...target.params, lang: ctx.lang, format })}`)
    if (answer.status !== 200) throw await api.refusal(answer, filters.unit)
    return answer
  }

  function passOn (reply: FastifyReply, answer: ApiAnswer, names: string[]): FastifyReply {
    for (const name of names) {
      const value = answer.headers[name]
      if (typeof value === 'string') reply.header(name, value)
    }
    return reply.code(200).send(answer.body)
  }

  // The API's printable report as it is, with its own policy (it carries
  // its style inline, and fetches and runs nothing).
  app.get(`${STATS_PATH}/report`, { config: READERS }, async (request, reply) => {
    const answer = await forward(request, 'report', 'html')
    return passOn(reply, answer, ['content-type', 'content-security-policy'])
  })

  app.get<{ Params: { kind: CsvKind } }>(`${STATS_PATH}/csv/:kind`, {
    config: READERS,
    schema: { params: { type: 'object', required: ['kind'], properties: { kind: { type: 'string', enum: [...CSV_KINDS] } } } },
  }, async (request, reply) => {
    const answer = await forward(request, request.params.kind, 'csv')
    return passOn(reply, answer, ['content-type', 'content-disposition'])
  })
}
