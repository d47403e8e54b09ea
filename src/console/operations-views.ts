import { CONSOLE_PATH, csrfField, html, type Html, type PageContext } from './html.ts'
import { t, type Lang, type MessageKey } from './messages.ts'

// The operations pages' markup, from what the admin API answered
// (src/routes/admin/operations.ts, audit.ts, adapters.ts); the routes in
// src/routes/console/operations.ts make the calls.

export const OPERATIONS_PATH = `${CONSOLE_PATH}/operations`
export const PERIOD_HOURS = [1, 24, 168, 720] as const
export type PeriodHours = typeof PERIOD_HOURS[number]

export interface Notice { ok: boolean, text: string }

export interface QueueCounts { name: string, available: boolean, waiting: number, active: number, delayed: number, failed: number, completed: number }
interface DeliveryCounts { queued: number, delivering: number, delivered: number, attempts: number, attemptsPerDelivery: number | null, failed: number, deadLettered: number }
export interface FailedApplication {
  id: string
  service: string
  agency: string | null
  adapter: string
  unit: string
  packageId: string | null
  kind: 'dead_lettered' | 'rejected' | 'failed'
  reason: { mn: string, en: string } | null
  attempts: number
  failedAt: string
}
export interface DeliveryHealth {
  hours: number
  since: string
  queues: QueueCounts[]
  outbox: number
  agencies: Array<DeliveryCounts & { agency: string | null, agencyName: { mn: string, en: string } | null, provider: string, adapter: string }>
  totals: DeliveryCounts
  failedApplications: FailedApplication[]
}
export interface Breakers {
  providers: Array<{ provider: string, state: 'closed' | 'open' | 'half-open', retryAfterMs: number, calls: number, failures: number }>
  adapters: Array<{ operation: string, provider: string, kind: 'read' | 'write', calls: number, failures: number }>
}
export interface AdapterInfo { operation: string, provider: string, transport: string, kind: 'read' | 'write', latencyMs: { count: number, p50: number | null, p95: number | null } }
export interface AuditRecord {
  seq: number
  recordType: string
  at: string
  actor: string
  actorUnit: string | null
  actorAgency: string | null
  purpose: string | null
  caseRef: string | null
  citizen: string | null
  sourcesAsked: string[]
  result: string
  details: Record<string, unknown> | null
  hash: string
}
export interface ChainPoint { seq: number, hash: string }
export interface Verification { ok: boolean, records: number, last: ChainPoint | null, brokenAt?: number, reason?: string, checkpoint?: ChainPoint & { matches: boolean } }
export interface CallbackHealth {
  queue: QueueCounts
  portals: Array<{
    portal: string
    registered: boolean
    url: string | null
    updatedBy: string | null
    updatedAt: string | null
    unsettled: number
    waitingForQueue: number
    oldestUnsettledAt: string | null
    recent: { sent: number, skipped: number, failed: number, lastSentAt: string | null, lastFailedAt: string | null, lastFailure: string | null }
  }>
}

export const AUDIT_TYPES = ['citizen_lookup', 'catalogue_change', 'partner_change'] as const

// Puts values into a message's `{name}` places.
export function fill (text: string, values: Record<string, string | number>): string {
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole))
}

// Times as Ulaanbaatar reads them (UTC+8, no daylight saving), machine-readable in datetime.
const UB_TIME = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Ulaanbaatar', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
export function ubTime (iso: string): string {
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? iso : UB_TIME.format(d)
}
function when (iso: string | null): Html | string {
  return iso === null ? '—' : html`<time datetime="${iso}">${ubTime(iso)}</time>`
}

const FORMATS: Record<Lang, Intl.NumberFormat> = { mn: new Intl.NumberFormat('mn-MN'), en: new Intl.NumberFormat('en-GB') }
const num = (lang: Lang, n: number | null) => (n === null ? '—' : FORMATS[lang].format(n))

// A hash in groups of eight, easier to read out and copy by hand; the
// check form takes it back with or without the spaces.
export function groupedHash (hash: string): string {
  return hash.match(/.{1,8}/g)?.join(' ') ?? hash
}

// A dotted name (an adapter, a service) that may wrap after its dots, so a
// table of them fits a tablet's width.
function dotted (name: string): Html {
  return html`<code>${name.split('.').map((part, i) => (i === 0 ? part : html`.<wbr>${part}`))}</code>`
}

function noticeBlock (notice: Notice | null): Html | string {
  if (notice === null) return ''
  return notice.ok ? html`<div class="notice ok" role="status">${notice.text}</div>` : html`<div class="notice bad" role="alert">${notice.text}</div>`
}

const SECTIONS: ReadonlyArray<{ key: MessageKey, href: string }> = [
  { key: 'ops.nav.deliveries', href: OPERATIONS_PATH },
  { key: 'ops.nav.adapters', href: `${OPERATIONS_PATH}/adapters` },
  { key: 'ops.nav.audit', href: `${OPERATIONS_PATH}/audit` },
  { key: 'ops.nav.callbacks', href: `${OPERATIONS_PATH}/callbacks` },
  { key: 'nav.queues', href: '/admin/queues' },
]

export function sectionNav (ctx: PageContext, current: string): Html {
  return html`<nav class="subnav noprint" aria-label="${t(ctx.lang, 'ops.sections')}"><ul>${SECTIONS.map((s) => html`<li><a href="${s.href}"${s.href === current ? html` aria-current="page"` : ''}>${t(ctx.lang, s.key)}</a></li>`)}</ul></nav>`
}

function queueTable (lang: Lang, queues: QueueCounts[]): Html {
  const cols = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const
  return html`<div class="scroll"><table><thead><tr><th scope="col">${t(lang, 'ops.queue')}</th>${cols.map((c) => html`<th scope="col" class="num">${t(lang, `ops.q.${c}`)}</th>`)}</tr></thead><tbody>
${queues.map((q) => html`<tr><th scope="row">${queueName(lang, q.name)} <code class="muted">${q.name}</code></th>${q.available
    ? cols.map((c) => html`<td class="num">${num(lang, q[c])}</td>`)
    : html`<td colspan="${cols.length}" class="muted">${t(lang, 'ops.unavailable')}</td>`}</tr>`)}
</tbody></table></div>`
}

function queueName (lang: Lang, name: string): string {
  return name === 'applications-delivery' || name === 'applications-callbacks' ? t(lang, `ops.queue.${name}`) : name
}

// ---- Delivery health ----

export function deliveriesPage (ctx: PageContext, data: DeliveryHealth, hours: PeriodHours, notice: Notice | null): Html {
  const { lang } = ctx
  const countCols = (c: DeliveryCounts) => html`<td class="num">${num(lang, c.queued)}</td><td class="num">${num(lang, c.delivering)}</td><td class="num">${num(lang, c.delivered)}</td><td class="num">${c.attemptsPerDelivery === null ? '—' : FORMATS[lang].format(c.attemptsPerDelivery)}</td><td class="num">${num(lang, c.failed)}</td><td class="num">${num(lang, c.deadLettered)}</td>`
  const failedTotal = data.totals.failed + data.totals.deadLettered
  return html`
${sectionNav(ctx, OPERATIONS_PATH)}
${noticeBlock(notice)}
<p>${t(lang, 'ops.del.intro')}</p>
<form method="get" action="${OPERATIONS_PATH}" class="noprint">
<div class="pair"><div><label for="hours">${t(lang, 'ops.del.period')}</label>
<select id="hours" name="hours">${PERIOD_HOURS.map((h) => html`<option value="${h}"${h === hours ? html` selected` : ''}>${t(lang, `ops.del.hours${h}`)}</option>`)}</select></div></div>
<p><button type="submit">${t(lang, 'ops.show')}</button></p>
</form>

<h2 id="queues">${t(lang, 'ops.del.queues')}</h2>
${queueTable(lang, data.queues)}
<p>${t(lang, 'ops.del.outbox')}: <strong>${num(lang, data.outbox)}</strong> · <a href="/admin/queues">${t(lang, 'ops.del.dashboard')}</a></p>

<h2 id="agencies">${t(lang, 'ops.del.byAgency')}</h2>
${data.agencies.length === 0
    ? html`<p class="notice">${t(lang, 'ops.del.noAgencies')}</p>`
    : html`<div class="scroll"><table><thead><tr><th scope="col">${t(lang, 'ops.agency')} · ${t(lang, 'ops.adapter')}</th>
<th scope="col" class="num">${t(lang, 'ops.c.queued')}</th><th scope="col" class="num">${t(lang, 'ops.c.delivering')}</th><th scope="col" class="num">${t(lang, 'ops.c.delivered')}</th>
<th scope="col" class="num">${t(lang, 'ops.c.attemptsPer')}</th><th scope="col" class="num">${t(lang, 'ops.c.failed')}</th><th scope="col" class="num">${t(lang, 'ops.c.deadLettered')}</th></tr></thead><tbody>
${data.agencies.map((a) => html`<tr><th scope="row">${a.agencyName === null ? '—' : a.agencyName[lang]}${a.agency === null ? '' : html` <span class="muted">(${a.agency})</span>`}<br>${dotted(a.adapter)}</th>${countCols(a)}</tr>`)}
</tbody><tfoot><tr><th scope="row">${t(lang, 'ops.total')}</th>${countCols(data.totals)}</tr></tfoot></table></div>`}
<p class="muted">${t(lang, 'ops.del.period')}: ${t(lang, `ops.del.hours${hours}`)} (${ubTime(data.since)} —). ${t(lang, 'ops.timeNote')}</p>

<h2 id="failed">${t(lang, 'ops.del.failedTitle')} (${num(lang, failedTotal)})</h2>
${data.failedApplications.length === 0
    ? html`<p class="notice">${t(lang, 'ops.del.noFailed')}</p>`
    : html`<p>${t(lang, 'ops.del.failedIntro')}</p>
${failedTotal > data.failedApplications.length ? html`<p class="muted">${fill(t(lang, 'ops.del.failedShown'), { shown: num(lang, data.failedApplications.length), total: num(lang, failedTotal) })}</p>` : ''}
<div class="scroll"><table><thead><tr><th scope="col">${t(lang, 'ops.application')} · ${t(lang, 'ops.service')}</th><th scope="col">${t(lang, 'ops.del.what')}</th>
<th scope="col" class="num">${t(lang, 'ops.attempts')}</th><th scope="col">${t(lang, 'ops.del.when')}</th><th scope="col">${t(lang, 'ops.del.action')}</th></tr></thead><tbody>
${data.failedApplications.map((f) => html`<tr id="app-${f.id}"><td><code>${f.id}</code><br>${dotted(f.service)}
<br><span class="muted">${f.agency ?? f.adapter} · ${t(lang, 'ops.unit')} ${f.unit}${f.packageId === null ? '' : html` · ${t(lang, 'ops.del.part')}`}</span></td>
<td><strong>${t(lang, `ops.kind.${f.kind}`)}</strong>${f.reason === null ? '' : html`<br>${f.reason[lang]}`}</td>
<td class="num">${num(lang, f.attempts)}</td><td>${when(f.failedAt)}</td>
<td><form method="post" action="${OPERATIONS_PATH}/deliveries/${f.id}/retry" class="inline">${csrfField(ctx)}<input type="hidden" name="hours" value="${hours}"><button type="submit" aria-label="${fill(t(lang, 'ops.del.retryLabel'), { id: f.id })}">${t(lang, 'ops.del.retry')}</button></form></td></tr>`)}
</tbody></table></div>`}`
}

// ---- Adapters and breakers ----

export function adaptersPage (ctx: PageContext, breakers: Breakers, adapters: AdapterInfo[]): Html {
  const { lang } = ctx
  const info = new Map(adapters.map((a) => [a.operation, a]))
  const ms = (v: number | null | undefined) => (v === null || v === undefined ? '—' : FORMATS[lang].format(Math.round(v)))
  return html`
${sectionNav(ctx, `${OPERATIONS_PATH}/adapters`)}
<p>${t(lang, 'ops.ad.intro')}</p>
<h2 id="providers">${t(lang, 'ops.ad.providers')}</h2>
<div class="scroll"><table><thead><tr><th scope="col">${t(lang, 'ops.provider')}</th><th scope="col">${t(lang, 'ops.ad.breaker')}</th><th scope="col" class="num">${t(lang, 'ops.ad.resumeIn')}</th>
<th scope="col" class="num">${t(lang, 'ops.ad.calls')}</th><th scope="col" class="num">${t(lang, 'ops.ad.failures')}</th></tr></thead><tbody>
${breakers.providers.map((p) => html`<tr><th scope="row"><code>${p.provider}</code></th><td>${p.state === 'closed' ? t(lang, 'ops.breaker.closed') : html`<strong>${t(lang, `ops.breaker.${p.state}`)}</strong>`}</td>
<td class="num">${p.retryAfterMs === 0 ? '—' : FORMATS[lang].format(Math.ceil(p.retryAfterMs / 1000))}</td><td class="num">${num(lang, p.calls)}</td><td class="num">${num(lang, p.failures)}</td></tr>`)}
</tbody></table></div>
<p class="muted">${t(lang, 'ops.ad.failuresNote')}</p>
<h2 id="adapters">${t(lang, 'ops.ad.adapters')}</h2>
<div class="scroll"><table><thead><tr><th scope="col">${t(lang, 'ops.adapter')}</th><th scope="col">${t(lang, 'ops.ad.kind')}</th><th scope="col">${t(lang, 'ops.ad.transport')}</th>
<th scope="col" class="num">${t(lang, 'ops.ad.calls')}</th><th scope="col" class="num">${t(lang, 'ops.ad.failures')}</th><th scope="col" class="num">${t(lang, 'ops.ad.latency')}</th></tr></thead><tbody>
${breakers.adapters.map((a) => {
    const more = info.get(a.operation)
    return html`<tr><th scope="row"><code>${a.operation}</code></th><td>${t(lang, `ops.ad.kind.${a.kind}`)}</td><td>${more?.transport.toUpperCase() ?? '—'}</td>
<td class="num">${num(lang, a.calls)}</td><td class="num">${num(lang, a.failures)}</td><td class="num">${ms(more?.latencyMs.p50)} / ${ms(more?.latencyMs.p95)}</td></tr>`
  })}
</tbody></table></div>`
}

// ---- Audit log ----

export interface AuditFilters { type: string, actor: string }

function auditQuery (filters: AuditFilters, before?: number): string {
  const q = new URLSearchParams()
  if (filters.type !== '') q.set('type', filters.type)
  if (filters.actor !== '') q.set('actor', filters.actor)
  if (before !== undefined) q.set('before', String(before))
  const s = q.toString()
  return s === '' ? '' : `?${s}`
}

function headPanel (lang: Lang, head: ChainPoint, titleKey: MessageKey, introKey: MessageKey): Html {
  return html`<section class="card head" aria-labelledby="head-title">
<h2 id="head-title">${t(lang, titleKey)}</h2>
<p>${t(lang, introKey)}</p>
<dl class="chain-point">
<dt>${t(lang, 'ops.au.seq')}</dt><dd><strong class="seq" id="head-seq">${head.seq}</strong></dd>
<dt>${t(lang, 'ops.au.hash')}</dt><dd><code class="hash" id="head-hash" data-hash="${head.hash}">${groupedHash(head.hash)}</code></dd>
</dl>
</section>`
}

function auditWhat (lang: Lang, r: AuditRecord): Html {
  if (r.recordType === 'citizen_lookup') {
    return html`${t(lang, 'ops.au.purpose')}: <code>${r.purpose ?? '—'}</code>${r.caseRef === null ? '' : html` · ${t(lang, 'ops.au.case')}: ${r.caseRef}`}
<br>${t(lang, 'ops.au.citizen')}: ${r.citizen ?? '—'} · ${t(lang, 'ops.au.sources')}: ${r.sourcesAsked.join(', ') || '—'}`
  }
  const d = r.details ?? {}
  const named = ['collection', 'key', 'partner', 'version'].filter((k) => d[k] !== undefined && d[k] !== null).map((k) => `${k}: ${String(d[k])}`)
  if (named.length > 0) return html`${named.join(' · ')}`
  const json = JSON.stringify(d)
  return html`<code>${json.length > 200 ? `${json.slice(0, 199)}…` : json}</code>`
}

export function auditPage (ctx: PageContext, records: AuditRecord[], next: number | null, filters: AuditFilters, before: number | undefined, head: ChainPoint | null): Html {
  const { lang } = ctx
  const typeLabel = (type: string) => (AUDIT_TYPES as readonly string[]).includes(type) ? t(lang, `ops.au.type.${type as typeof AUDIT_TYPES[number]}`) : type
  return html`
${sectionNav(ctx, `${OPERATIONS_PATH}/audit`)}
${head === null ? html`<p class="notice">${t(lang, 'ops.au.empty')}</p>` : headPanel(lang, head, 'ops.au.head', 'ops.au.headIntro')}
<p><a class="button" href="${OPERATIONS_PATH}/audit/verify">${t(lang, 'ops.au.verify')}</a></p>

<form method="get" action="${OPERATIONS_PATH}/audit" class="noprint"><fieldset><legend>${t(lang, 'ops.au.filters')}</legend>
<div class="pair"><div><label for="type">${t(lang, 'ops.au.type')}</label><select id="type" name="type"><option value="">${t(lang, 'ops.au.allTypes')}</option>
${AUDIT_TYPES.map((type) => html`<option value="${type}"${filters.type === type ? html` selected` : ''}>${typeLabel(type)}</option>`)}</select></div>
<div><label for="actor">${t(lang, 'ops.au.actor')}</label><input id="actor" name="actor" value="${filters.actor}" maxlength="200" autocomplete="off"></div></div>
<p><button type="submit">${t(lang, 'ops.au.filter')}</button></p></fieldset></form>

<h2 id="records">${t(lang, 'ops.au.records')}</h2>
${records.length === 0
    ? html`<p class="notice">${t(lang, 'ops.au.noRecords')}</p>`
    : html`<div class="scroll"><table><thead><tr><th scope="col" class="num">${t(lang, 'ops.au.seq')}</th><th scope="col">${t(lang, 'ops.au.time')}</th><th scope="col">${t(lang, 'ops.au.type')}</th>
<th scope="col">${t(lang, 'ops.au.who')}</th><th scope="col">${t(lang, 'ops.au.what')}</th><th scope="col">${t(lang, 'ops.au.result')}</th></tr></thead><tbody>
${records.map((r) => html`<tr><th scope="row" class="num">${r.seq}<br><code class="muted">${r.hash.slice(0, 12)}…</code></th><td>${when(r.at)}</td><td>${typeLabel(r.recordType)}</td>
<td>${r.actor}${r.actorUnit === null && r.actorAgency === null ? '' : html`<br><span class="muted">${[r.actorAgency, r.actorUnit].filter((v) => v !== null).join(' · ')}</span>`}</td>
<td>${auditWhat(lang, r)}</td><td><code>${r.result}</code></td></tr>`)}
</tbody></table></div>`}
<nav aria-label="${t(lang, 'ops.au.paging')}" class="noprint"><p>
${before === undefined ? '' : html`<a href="${OPERATIONS_PATH}/audit${auditQuery(filters)}">${t(lang, 'ops.au.newest')}</a>`}
${before !== undefined && next !== null ? ' · ' : ''}
${next === null ? '' : html`<a href="${OPERATIONS_PATH}/audit${auditQuery(filters, next)}" rel="next">${t(lang, 'ops.au.older')}</a>`}
</p></nav>
<p class="muted">${t(lang, 'ops.timeNote')}</p>`
}

// ---- Verification ----

// The API's reasons (src/audit/log.ts) said in Mongolian.
const REASONS_MN: ReadonlyArray<[RegExp, (m: RegExpExecArray) => string]> = [
  [/^record (\d+) is missing$/, (m) => `бичлэг №${m[1]} алга болсон`],
  [/^does not link to the record before it$/, () => 'өмнөх бичлэгтэйгээ холбогдохгүй байна'],
  [/^its content does not match its hash$/, () => 'агуулга нь хэштэйгээ таарахгүй байна'],
  [/^the chain head does not match the last record/, () => 'гинжний төгсгөл сүүлийн бичлэгтэй таарахгүй байна (бичлэг устгагдсан)'],
  [/^the chain has no record (\d+)$/, (m) => `гинжид №${m[1]} бичлэг байхгүй`],
  [/^record (\d+) no longer has the hash written down$/, (m) => `бичлэг №${m[1]}-ийн хэш тэмдэглэснээс өөр болсон`],
]

export function reasonText (lang: Lang, reason: string | undefined): string {
  if (reason === undefined) return ''
  if (lang === 'en') return reason
  for (const [pattern, mn] of REASONS_MN) {
    const m = pattern.exec(reason)
    if (m !== null) return mn(m)
  }
  return reason
}

export interface CheckForm { seq: string, hash: string }

export function verifyPage (ctx: PageContext, result: Verification, checkedAt: string, form: CheckForm, errors: Partial<Record<'seq' | 'hash', string>>): Html {
  const { lang } = ctx
  // A checkpoint in the answer means the chain itself verified (src/audit/log.ts);
  // without one, not ok means the chain is broken.
  const chainBroken = !result.ok && result.checkpoint === undefined
  const invalid = (field: 'seq' | 'hash') => errors[field] === undefined ? html`` : html` aria-invalid="true" aria-describedby="${field}-error"`
  const errorText = (field: 'seq' | 'hash') => errors[field] === undefined ? '' : html`<p class="field-error" id="${field}-error">${errors[field]}</p>`
  const checkNotice = result.checkpoint === undefined
    ? ''
    : result.checkpoint.matches
      ? html`<div class="notice ok" role="status" id="check-result">${fill(t(lang, 'ops.ve.matches'), { seq: result.checkpoint.seq })}</div>`
      : html`<div class="notice bad" role="alert" id="check-result">${fill(t(lang, 'ops.ve.differs'), { seq: result.checkpoint.seq, reason: reasonText(lang, result.reason) })}</div>`
  return html`
${sectionNav(ctx, `${OPERATIONS_PATH}/audit`)}
${chainBroken
    ? html`<div class="notice bad" role="alert" id="chain-result">${fill(t(lang, 'ops.ve.broken'), { at: result.brokenAt ?? '?', reason: reasonText(lang, result.reason) })}</div>`
    : html`<div class="notice ok" role="status" id="chain-result">${fill(t(lang, 'ops.ve.ok'), { records: num(lang, result.records) })}</div>`}
${checkNotice}
${Object.keys(errors).length === 0 ? '' : html`<div class="notice bad" role="alert">${t(lang, 'ops.ve.notChecked')}</div>`}
${result.last === null ? html`<p class="notice">${t(lang, 'ops.au.empty')}</p>` : chainBroken ? '' : headPanel(lang, result.last, 'ops.ve.writeDown', 'ops.ve.writeDownIntro')}
<p class="muted">${t(lang, 'ops.ve.checkedAt')}: <time datetime="${checkedAt}">${ubTime(checkedAt)}</time> · ${t(lang, 'ops.ve.records')}: ${num(lang, result.records)}. ${t(lang, 'ops.timeNote')}</p>

<h2 id="check">${t(lang, 'ops.ve.check')}</h2>
<form method="get" action="${OPERATIONS_PATH}/audit/verify" novalidate>
<p>${t(lang, 'ops.ve.checkIntro')}</p>
<div><label for="seq">${t(lang, 'ops.au.seq')}</label><input id="seq" name="seq" value="${form.seq}" inputmode="numeric" autocomplete="off" maxlength="20"${invalid('seq')}>${errorText('seq')}</div>
<div><label for="hash">${t(lang, 'ops.au.hash')}</label><input id="hash" name="hash" value="${form.hash}" autocomplete="off" spellcheck="false" maxlength="200"${invalid('hash')}>${errorText('hash')}</div>
<p><button type="submit">${t(lang, 'ops.ve.checkButton')}</button></p>
</form>
<p><a href="${OPERATIONS_PATH}/audit">${t(lang, 'ops.ve.back')}</a></p>`
}

// ---- Portal callbacks ----

export function callbacksPage (ctx: PageContext, data: CallbackHealth): Html {
  const { lang } = ctx
  return html`
${sectionNav(ctx, `${OPERATIONS_PATH}/callbacks`)}
<p>${t(lang, 'ops.cb.intro')}</p>
<h2 id="queue">${t(lang, 'ops.cb.queue')}</h2>
${queueTable(lang, [data.queue])}
<h2 id="portals">${t(lang, 'ops.cb.portals')}</h2>
${data.portals.length === 0
    ? html`<p class="notice">${t(lang, 'ops.cb.none')}</p>`
    : html`<div class="scroll"><table><thead><tr><th scope="col">${t(lang, 'ops.cb.portal')}</th><th scope="col">${t(lang, 'ops.cb.url')}</th><th scope="col" class="num">${t(lang, 'ops.cb.unsettled')}</th>
<th scope="col" class="num">${t(lang, 'ops.cb.sent')}</th><th scope="col" class="num">${t(lang, 'ops.cb.failed')}</th></tr></thead><tbody>
${data.portals.map((p) => html`<tr><th scope="row"><code>${p.portal}</code></th>
<td>${p.registered && p.url !== null
    ? html`<code>${p.url}</code><br><span class="muted">${fill(t(lang, 'ops.cb.registeredBy'), { who: p.updatedBy ?? '—', at: p.updatedAt === null ? '—' : ubTime(p.updatedAt) })}</span>`
    : html`<strong>${t(lang, 'ops.cb.notRegistered')}</strong>`}</td>
<td class="num">${num(lang, p.unsettled)}${p.unsettled === 0
    ? ''
    : html`<br><span class="muted">${fill(t(lang, 'ops.cb.waiting'), { n: num(lang, p.waitingForQueue) })}${p.oldestUnsettledAt === null ? '' : html`; ${fill(t(lang, 'ops.cb.oldest'), { at: ubTime(p.oldestUnsettledAt) })}`}</span>`}</td>
<td class="num">${num(lang, p.recent.sent)}${p.recent.lastSentAt === null ? '' : html`<br><span class="muted">${fill(t(lang, 'ops.cb.last'), { at: ubTime(p.recent.lastSentAt) })}</span>`}${p.recent.skipped === 0 ? '' : html`<br><span class="muted">${fill(t(lang, 'ops.cb.skipped'), { n: num(lang, p.recent.skipped) })}</span>`}</td>
<td class="num">${num(lang, p.recent.failed)}${p.recent.lastFailedAt === null ? '' : html`<br><span class="muted">${fill(t(lang, 'ops.cb.last'), { at: ubTime(p.recent.lastFailedAt) })}</span>`}${p.recent.lastFailure === null ? '' : html`<br><code>${p.recent.lastFailure}</code>`}</td></tr>`)}
</tbody></table></div>`}
<p class="muted">${t(lang, 'ops.timeNote')}</p>`
}
