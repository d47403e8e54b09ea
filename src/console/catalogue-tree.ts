import { CATALOGUE_PATH, channelLabel, CHANNELS, levelLabel, unitHref } from './catalogue-common.ts'
import { editHref, ENTITY_SPECS, type Entity } from './catalogue-entities.ts'
import { html, type Html, type PageContext } from './html.ts'
import { t, type Lang } from './messages.ts'

// The administrative tree as the public API serves it (the published
// catalogue): units, their OSS office, and what a person living there can
// get through which channel; beside it, the draft's local departures and
// mobile rounds of the unit, to edit.

export interface UnitView { code: string, level: string, parent: string | null, name: string }
export interface UnitDetail {
  unit: UnitView
  office: { address: string, phone: string, hours: string, languages: string[], example: boolean } | null
  ancestors: UnitView[]
  children: UnitView[]
  version: number
}
interface Entry {
  service: { code: string, name: string, category: string }
  channel: string
  where: { kind: string, unit?: UnitView, round?: { id: string, from: string, to: string } }
  note: string | null
}
export interface UnitServices {
  date: string
  version: number
  nextRound: { id: string, unit: UnitView, from: string, to: string, services: number, note: string | null } | null
  entries: Entry[]
}

export function searchForm (lang: Lang, q: string): Html {
  return html`<form method="get" action="${CATALOGUE_PATH}/units" role="search"><label for="unit-q">${t(lang, 'tree.search')}</label>
<p class="muted" id="unit-q-hint">${t(lang, 'tree.searchHint')}</p>
<div class="pair"><input id="unit-q" name="q" value="${q}" type="search" aria-describedby="unit-q-hint"><p><button type="submit">${t(lang, 'cat.find')}</button></p></div></form>`
}

export function unitLink (u: UnitView): Html {
  return html`<a href="${unitHref(u.code)}">${u.name}</a>`
}

export function unitCards (lang: Lang, units: readonly UnitView[]): Html {
  return html`<div class="cards">${units.map((u) => html`<div class="card">${unitLink(u)} <span class="muted">· ${levelLabel(lang, u.level)} · <code>${u.code}</code></span></div>`)}</div>`
}

export function searchResults (lang: Lang, q: string, found: readonly UnitView[], total: number, within: (u: UnitView) => string): Html {
  if (found.length === 0) return html`<p class="notice" role="status">${t(lang, 'tree.none')} «${q}»</p>`
  return html`<h2 id="results">${t(lang, 'tree.results')} (${total})</h2>
${total > found.length ? html`<p class="muted">${t(lang, 'tree.firstOnly')} ${found.length}</p>` : ''}
<div class="scroll"><table aria-labelledby="results"><thead><tr><th scope="col">${t(lang, 'cat.name')}</th><th scope="col">${t(lang, 'unit.level')}</th><th scope="col">${t(lang, 'tree.within')}</th><th scope="col">${t(lang, 'cat.code')}</th></tr></thead><tbody>
${found.map((u) => html`<tr><td>${unitLink(u)}</td><td>${levelLabel(lang, u.level)}</td><td>${within(u)}</td><td><code>${u.code}</code></td></tr>`)}
</tbody></table></div>`
}

function breadcrumb (lang: Lang, detail: UnitDetail): Html {
  const path = [...detail.ancestors].reverse()
  return html`<nav aria-label="${t(lang, 'tree.path')}"><p><a href="${CATALOGUE_PATH}/units">${t(lang, 'tree.title')}</a>${path.map((u) => html` › ${unitLink(u)}`)} › <span aria-current="page">${detail.unit.name}</span></p></nav>`
}

// One row per service; a column per channel saying where or when.
function offersTable (lang: Lang, entries: readonly Entry[]): Html {
  const rows = new Map<string, { name: string, code: string, by: Map<string, Html[]> }>()
  for (const e of entries) {
    const row = rows.get(e.service.code) ?? { name: e.service.name, code: e.service.code, by: new Map<string, Html[]>() }
    rows.set(e.service.code, row)
    const note = e.note === null ? '' : html`<br><span class="muted">${e.note}</span>`
    const cell = e.channel === 'oss_counter' && e.where.unit !== undefined
      ? html`${unitLink(e.where.unit)} <span class="muted">(${levelLabel(lang, e.where.unit.level)})</span>${note}`
      : e.channel === 'mobile_oss' && e.where.round !== undefined
        ? html`${e.where.round.from} – ${e.where.round.to} <span class="muted">(<code>${e.where.round.id}</code>)</span>${note}`
        : html`${t(lang, 'tree.yesOnline')}${note}`
    row.by.set(e.channel, [...(row.by.get(e.channel) ?? []), cell])
  }
  const sorted = [...rows.values()].sort((a, b) => a.name.localeCompare(b.name, lang))
  const count = (channel: string) => sorted.filter((r) => r.by.has(channel)).length
  return html`<p>${t(lang, 'tree.offersCount')}: ${sorted.length} · ${CHANNELS.map((c, i) => html`${i === 0 ? '' : ' · '}${channelLabel(lang, c)}: ${count(c)}`)}</p>
<div class="scroll"><table id="offers"><caption class="muted">${t(lang, 'tree.offersCaption')}</caption><thead><tr><th scope="col">${t(lang, 'tree.service')}</th>${CHANNELS.map((c) => html`<th scope="col">${channelLabel(lang, c)}</th>`)}</tr></thead><tbody>
${sorted.map((r) => html`<tr><th scope="row">${r.name} <span class="muted"><code>${r.code}</code></span></th>${CHANNELS.map((c) => {
    const cells = r.by.get(c)
    return cells === undefined ? html`<td class="muted">—</td>` : html`<td>${cells.map((x, i) => html`${i === 0 ? '' : html`<br>`}${x}`)}</td>`
  })}</tr>`)}
</tbody></table></div>`
}

export interface UnitPage {
  ctx: PageContext
  detail: UnitDetail
  services: UnitServices
  departures: Entity[]
  rounds: Entity[] | null
  today: string
}

export function unitPage (p: UnitPage): Html {
  const { lang } = p.ctx
  const { detail, services } = p
  const u = detail.unit
  const office = detail.office
  const next = services.nextRound
  const roundsSpec = ENTITY_SPECS['mobile-rounds']
  const departuresSpec = ENTITY_SPECS.availability
  return html`${breadcrumb(lang, detail)}
<p class="muted">${levelLabel(lang, u.level)} · <code>${u.code}</code> · ${t(lang, 'tree.published')} ${services.version}</p>
${office === null
    ? html`<p class="muted">${t(lang, 'tree.noOffice')}</p>`
    : html`<h2>${t(lang, 'tree.office')}</h2>
<dl>
<dt>${t(lang, 'tree.address')}</dt><dd>${office.address}</dd>
<dt>${t(lang, 'tree.phone')}</dt><dd>${office.phone}</dd>
<dt>${t(lang, 'tree.hours')}</dt><dd>${office.hours}</dd>
<dt>${t(lang, 'tree.languages')}</dt><dd>${office.languages.join(', ')}</dd>
</dl>
${office.example ? html`<p class="notice">${t(lang, 'tree.exampleOffice')}</p>` : ''}`}
${detail.children.length === 0 ? '' : html`<h2>${t(lang, 'tree.children')} (${detail.children.length})</h2>${unitCards(lang, detail.children)}`}
<h2 id="offered">${t(lang, 'tree.offers')} ${services.date}</h2>
<form method="get" action="${unitHref(u.code)}#offered" class="noprint"><div class="pair"><div><label for="on-date">${t(lang, 'tree.onDate')}</label><input id="on-date" name="date" type="date" value="${services.date}"></div><p><button type="submit">${t(lang, 'tree.show')}</button></p></div></form>
${services.entries.length === 0 ? html`<p class="notice">${t(lang, 'tree.nothing')}</p>` : offersTable(lang, services.entries)}
<h2 id="rounds">${t(lang, 'tree.rounds')}</h2>
${next === null
    ? html`<p>${t(lang, 'tree.noNextRound')}</p>`
    : html`<p class="notice">${t(lang, 'tree.nextRound')}: <strong>${next.from} – ${next.to}</strong>, ${t(lang, 'tree.from')} ${unitLink(next.unit)}, ${t(lang, 'tree.servicesN')} ${next.services} <span class="muted">(<code>${next.id}</code>)</span>${next.note === null ? '' : html`<br>${next.note}`}</p>`}
${p.rounds === null
    ? html`<p class="muted">${t(lang, 'tree.noRoundsHere')}</p>`
    : html`<h3>${t(lang, 'tree.draftRounds')}</h3>
${p.rounds.length === 0
      ? html`<p class="muted">${t(lang, 'tree.noDraftRounds')}</p>`
      : html`<div class="scroll"><table><thead><tr><th scope="col">${t(lang, 'round.id')}</th><th scope="col">${t(lang, 'round.from')}</th><th scope="col">${t(lang, 'round.to')}</th><th scope="col">${t(lang, 'round.unit')}</th><th scope="col" class="num">${t(lang, 'round.bags')}</th><th scope="col" class="num">${t(lang, 'cat.services')}</th><th scope="col">${t(lang, 'ent.note')}</th></tr></thead><tbody>
${p.rounds.map((r) => {
        const over = String(r.to) < p.today
        const note = r.note as { mn: string, en: string } | undefined
        return html`<tr><td><a href="${editHref(roundsSpec, r)}">${String(r.id)}</a>${over ? html` <span class="muted">(${t(lang, 'tree.over')})</span>` : ''}</td><td>${String(r.from)}</td><td>${String(r.to)}</td><td><code>${String(r.unit)}</code></td><td class="num">${(r.bags as unknown[]).length}</td><td class="num">${(r.services as unknown[]).length}</td><td>${note === undefined ? '' : note[lang]}</td></tr>`
      })}
</tbody></table></div>`}
${u.level === 'soum' ? html`<p><a class="button secondary" href="${CATALOGUE_PATH}/new/mobile-rounds?unit=${u.code}">${t(lang, 'tree.addRound')}</a></p>` : ''}`}
<h2 id="departures">${t(lang, 'tree.departures')}</h2>
<p class="muted">${t(lang, 'ent.availability.intro')}</p>
${p.departures.length === 0
    ? html`<p>${t(lang, 'tree.noDepartures')}</p>`
    : html`<ul>${p.departures.map((a) => {
      const note = a.note as { mn: string, en: string } | undefined
      return html`<li><a href="${editHref(departuresSpec, a)}"><code>${String(a.service)}</code></a>: ${a.offered === true ? t(lang, 'avail.addition') : t(lang, 'avail.gap')}${note === undefined ? '' : html` — ${note[lang]}`}</li>`
    })}</ul>`}
<p><a class="button secondary" href="${CATALOGUE_PATH}/new/availability?unit=${u.code}">${t(lang, 'tree.addDeparture')}</a></p>`
}
