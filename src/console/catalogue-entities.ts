import { CATALOGUE_PATH, channelLabel, CHANNELS, describedBy, errorsBeside, generalProblems, levelLabel, LEVELS, unitHref } from './catalogue-common.ts'
import { csrfField, html, type Html, type PageContext } from './html.ts'
import { t, type Lang, type MessageKey } from './messages.ts'

// The forms of the catalogue's smaller collections, described once per
// collection: how each field is shown, read back from the form, and where
// the API's problems (by JSON pointer) go. The API validates; the console
// only shows.

export type EntityCollection = 'agencies' | 'categories' | 'standard-lists' | 'availability' | 'mobile-rounds'
export type Entity = Record<string, unknown>
export type Form = Record<string, unknown>
interface Text { mn: string, en: string }

export interface Choice { value: string, label: string, group?: string }
export interface ServiceChoice { code: string, name: Text, category: string, channels: string[] }

// What a form shows besides the entity: the draft's services and
// categories to choose from, and the published unit it is about.
export interface FormData {
  services: ServiceChoice[]
  categories: Array<{ code: string, name: Text }>
  unit: { code: string, name: string, level: string, children: Array<{ code: string, name: string, level: string }> } | null
}

type Kind = 'string' | 'text' | 'flag' | 'yesno' | 'select' | 'set' | 'codes' | 'date'

interface Field {
  name: string
  label: MessageKey
  kind: Kind
  hint?: MessageKey
  // Left empty, the property is left out (text: both languages empty).
  optional?: boolean
  // Left empty, the property is null.
  nullable?: boolean
  numeric?: boolean
  // A text long enough to want a few lines.
  multiline?: boolean
  choices?: (lang: Lang, data: FormData) => Choice[]
}

interface Column { label: MessageKey, cell: (e: Entity, lang: Lang) => Html | string, num?: boolean }

export interface EntitySpec {
  collection: EntityCollection
  plural: MessageKey
  newTitle: MessageKey
  oneTitle: MessageKey
  intro: MessageKey
  keys: readonly string[]
  fields: readonly Field[]
  needsServices: boolean
  columns: readonly Column[]
  // Filled in from the query of a "new" link (a unit's page adds for its unit).
  blank: (query: Record<string, string | undefined>, data: FormData) => Entity
  matches: (e: Entity, needle: string) => boolean
}

const str = (v: unknown) => (typeof v === 'string' ? v : '')
const text = (v: unknown): Text => (v !== null && typeof v === 'object' ? { mn: str((v as Text).mn), en: str((v as Text).en) } : { mn: '', en: '' })
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : [])
const named = (e: Entity, lang: Lang) => text(e.name)[lang]

const serviceChoices = (onlyMobile: boolean) => (lang: Lang, data: FormData): Choice[] => {
  const category = new Map(data.categories.map((c) => [c.code, c.name[lang]]))
  return data.services
    .filter((s) => !onlyMobile || s.channels.includes('mobile_oss'))
    .map((s) => ({ value: s.code, label: `${s.name[lang]} (${s.code})`, group: category.get(s.category) ?? s.category }))
}
const levelChoices = (lang: Lang): Choice[] => LEVELS.map((l) => ({ value: l, label: levelLabel(lang, l) }))
const channelChoices = (lang: Lang): Choice[] => CHANNELS.map((c) => ({ value: c, label: channelLabel(lang, c) }))
const offeredChoices = (lang: Lang): Choice[] => [{ value: 'false', label: t(lang, 'avail.gap') }, { value: 'true', label: t(lang, 'avail.addition') }]
const yes = (lang: Lang, value: unknown) => (value === true ? t(lang, 'ent.yes') : t(lang, 'ent.no'))

export const ENTITY_SPECS: Readonly<Record<EntityCollection, EntitySpec>> = {
  agencies: {
    collection: 'agencies',
    plural: 'ent.agencies',
    newTitle: 'ent.agencies.new',
    oneTitle: 'cat.agency',
    intro: 'ent.agencies.intro',
    keys: ['code'],
    needsServices: false,
    fields: [
      { name: 'code', label: 'cat.code', kind: 'string', hint: 'agency.codeHint' },
      { name: 'name', label: 'cat.name', kind: 'text' },
      { name: 'memberId', label: 'agency.memberId', kind: 'string', nullable: true, hint: 'agency.memberIdHint' },
    ],
    columns: [
      { label: 'cat.code', cell: (e) => html`<code>${str(e.code)}</code>` },
      { label: 'cat.name', cell: named },
      { label: 'agency.memberId', cell: (e, lang) => (e.memberId === null ? html`<span class="muted">${t(lang, 'agency.offBus')}</span>` : html`<code>${str(e.memberId)}</code>`) },
    ],
    blank: () => ({ code: '', name: { mn: '', en: '' }, memberId: null }),
    matches: (e, n) => str(e.code).toLowerCase().includes(n) || named(e, 'mn').toLowerCase().includes(n) || named(e, 'en').toLowerCase().includes(n),
  },
  categories: {
    collection: 'categories',
    plural: 'ent.categories',
    newTitle: 'ent.categories.new',
    oneTitle: 'cat.category',
    intro: 'ent.categories.intro',
    keys: ['code'],
    needsServices: false,
    fields: [
      { name: 'code', label: 'cat.code', kind: 'string', hint: 'ent.codeHint' },
      { name: 'name', label: 'cat.name', kind: 'text' },
      { name: 'mandated', label: 'category.mandated', kind: 'flag' },
    ],
    columns: [
      { label: 'cat.code', cell: (e) => html`<code>${str(e.code)}</code>` },
      { label: 'cat.name', cell: named },
      { label: 'category.mandatedShort', cell: (e, lang) => yes(lang, e.mandated) },
    ],
    blank: () => ({ code: '', name: { mn: '', en: '' }, mandated: false }),
    matches: (e, n) => str(e.code).includes(n) || named(e, 'mn').toLowerCase().includes(n) || named(e, 'en').toLowerCase().includes(n),
  },
  'standard-lists': {
    collection: 'standard-lists',
    plural: 'ent.standard-lists',
    newTitle: 'ent.standard-lists.new',
    oneTitle: 'list.one',
    intro: 'ent.standard-lists.intro',
    keys: ['level'],
    needsServices: true,
    fields: [
      { name: 'level', label: 'unit.level', kind: 'select', choices: levelChoices },
      { name: 'services', label: 'cat.services', kind: 'set', choices: serviceChoices(false) },
    ],
    columns: [
      { label: 'unit.level', cell: (e, lang) => levelLabel(lang, str(e.level)) },
      { label: 'list.count', cell: (e) => String(strings(e.services).length), num: true },
    ],
    blank: (q) => ({ level: q.level ?? '', services: [] }),
    matches: (e, n) => str(e.level).includes(n) || strings(e.services).some((s) => s.includes(n)),
  },
  availability: {
    collection: 'availability',
    plural: 'ent.availability',
    newTitle: 'ent.availability.new',
    oneTitle: 'avail.one',
    intro: 'ent.availability.intro',
    keys: ['unit', 'service'],
    needsServices: true,
    fields: [
      { name: 'unit', label: 'avail.unit', kind: 'string', numeric: true, hint: 'avail.unitHint' },
      { name: 'service', label: 'avail.service', kind: 'select', choices: serviceChoices(false) },
      { name: 'offered', label: 'avail.offered', kind: 'yesno', choices: offeredChoices },
      { name: 'channels', label: 'cat.channels', kind: 'set', optional: true, hint: 'avail.channelsHint', choices: channelChoices },
      { name: 'note', label: 'ent.note', kind: 'text', optional: true, multiline: true, hint: 'ent.noteHint' },
    ],
    columns: [
      { label: 'avail.unit', cell: (e) => html`<a href="${unitHref(str(e.unit))}"><code>${str(e.unit)}</code></a>` },
      { label: 'avail.service', cell: (e) => html`<code>${str(e.service)}</code>` },
      { label: 'avail.offered', cell: (e, lang) => (e.offered === true ? t(lang, 'avail.addition') : t(lang, 'avail.gap')) },
      { label: 'cat.channels', cell: (e, lang) => (e.channels === undefined ? html`<span class="muted">${t(lang, 'avail.allChannels')}</span>` : strings(e.channels).map((c) => channelLabel(lang, c)).join(', ')) },
      { label: 'ent.note', cell: (e, lang) => (e.note === undefined ? '' : text(e.note)[lang]) },
    ],
    blank: (q) => ({ unit: q.unit ?? '', service: q.service ?? '', offered: false }),
    matches: (e, n) => str(e.unit).startsWith(n) || str(e.service).includes(n),
  },
  'mobile-rounds': {
    collection: 'mobile-rounds',
    plural: 'ent.mobile-rounds',
    newTitle: 'ent.mobile-rounds.new',
    oneTitle: 'round.one',
    intro: 'ent.mobile-rounds.intro',
    keys: ['id'],
    needsServices: true,
    fields: [
      { name: 'id', label: 'round.id', kind: 'string', hint: 'ent.codeHint' },
      { name: 'unit', label: 'round.unit', kind: 'string', numeric: true, hint: 'round.unitHint' },
      { name: 'from', label: 'round.from', kind: 'date' },
      { name: 'to', label: 'round.to', kind: 'date' },
      { name: 'bags', label: 'round.bags', kind: 'codes', hint: 'round.bagsHint' },
      { name: 'services', label: 'cat.services', kind: 'set', hint: 'round.servicesHint', choices: serviceChoices(true) },
      { name: 'note', label: 'ent.note', kind: 'text', optional: true, multiline: true, hint: 'ent.noteHint' },
    ],
    columns: [
      { label: 'round.id', cell: (e) => html`<code>${str(e.id)}</code>` },
      { label: 'round.unit', cell: (e) => html`<a href="${unitHref(str(e.unit))}"><code>${str(e.unit)}</code></a>` },
      { label: 'round.from', cell: (e) => str(e.from) },
      { label: 'round.to', cell: (e) => str(e.to) },
      { label: 'round.bags', cell: (e) => String(strings(e.bags).length), num: true },
      { label: 'cat.services', cell: (e) => String(strings(e.services).length), num: true },
    ],
    blank: (q, data) => ({
      id: '',
      unit: q.unit ?? '',
      from: '',
      to: '',
      // A round from a soum usually visits all of its bags.
      bags: data.unit?.level === 'soum' ? data.unit.children.filter((c) => c.level === 'bag').map((c) => c.code) : [],
      services: [],
    }),
    matches: (e, n) => str(e.id).includes(n) || str(e.unit).startsWith(n) || strings(e.bags).some((b) => b.startsWith(n)),
  },
}

export function isEntityCollection (name: string): name is EntityCollection {
  return Object.hasOwn(ENTITY_SPECS, name)
}

export function keyOf (spec: EntitySpec, e: Entity): string {
  return spec.keys.map((k) => str(e[k])).join('/')
}

// The entity's path below its collection, for the console and the API.
export function keyPath (spec: EntitySpec, e: Entity): string {
  return spec.keys.map((k) => encodeURIComponent(str(e[k]))).join('/')
}

export function editHref (spec: EntitySpec, e: Entity): string {
  return `${CATALOGUE_PATH}/${spec.collection}/${keyPath(spec, e)}`
}

// The API's URL for creating an entity. A key the URL cannot carry (empty,
// too long, a unit that is not digits) still goes, under a stand-in, so
// that the API's validation of the body names the field that is wrong.
export function apiKeyPath (spec: EntitySpec, e: Entity): string {
  if (spec.collection === 'availability') {
    const unit = str(e.unit)
    const service = str(e.service)
    return `${/^[0-9]{2,6}$/.test(unit) ? unit : '00'}/${encodeURIComponent(service !== '' && service.length <= 64 ? service : '_')}`
  }
  const key = str(e[spec.keys[0]!])
  return encodeURIComponent(key !== '' && key.length <= 64 ? key : '_')
}

function formList (form: Form, name: string): string[] {
  const v = form[name]
  return v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]
}

function formText (form: Form, name: string): string {
  const v = form[name]
  return typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : ''
}

// Form fields → the entity's JSON, in the schema's order. `fixed` holds the
// key of an entity being edited (its key is the URL's, not the form's);
// `before` keeps the order of a list whose items were ticked again.
export function entityFromForm (spec: EntitySpec, form: Form, fixed: Entity | null, before: Entity | null): Entity {
  const out: Entity = {}
  for (const f of spec.fields) {
    if (fixed !== null && spec.keys.includes(f.name)) {
      out[f.name] = fixed[f.name]
      continue
    }
    switch (f.kind) {
      case 'string':
      case 'select':
      case 'date': {
        const v = formText(form, f.name).trim()
        if (v !== '' || (f.nullable !== true && f.optional !== true)) out[f.name] = v
        else if (f.nullable === true) out[f.name] = null
        break
      }
      case 'text': {
        const v = { mn: formText(form, `${f.name}.mn`).trim(), en: formText(form, `${f.name}.en`).trim() }
        if (f.optional !== true || v.mn !== '' || v.en !== '') out[f.name] = v
        break
      }
      case 'flag':
        out[f.name] = formText(form, f.name) === 'true'
        break
      case 'yesno': {
        const v = formText(form, f.name)
        if (v === 'true' || v === 'false') out[f.name] = v === 'true'
        break
      }
      case 'set': {
        const ticked = new Set(formList(form, f.name))
        const kept = strings(before?.[f.name]).filter((v) => ticked.has(v))
        const added = formList(form, f.name).filter((v, i, all) => !kept.includes(v) && all.indexOf(v) === i)
        const list = [...kept, ...added]
        if (f.optional !== true || list.length > 0) out[f.name] = list
        break
      }
      case 'codes':
        out[f.name] = formText(form, f.name).split(/[\s,;]+/).filter((v) => v !== '')
        break
    }
  }
  return out
}

export interface EntityFormOptions {
  ctx: PageContext
  spec: EntitySpec
  entity: Entity
  data: FormData
  creating: boolean
  etag: string | null
  problems: Map<string, string[]>
  notice: Html | null
}

// The form, with each of the API's problems beside its field; those that
// belong to no field are listed above it.
export function entityForm (o: EntityFormOptions): Html {
  const { ctx, spec, entity, data, creating, problems } = o
  const { lang } = ctx
  const used = new Set<string>()
  const at = (pointer: string): string[] => {
    used.add(pointer)
    return problems.get(pointer) ?? []
  }
  // Problems about one item of a list, each named by the item's value.
  const items = (name: string): string[] => [...problems.entries()]
    .filter(([p]) => p.startsWith(`/${name}/`))
    .flatMap(([p, list]) => {
      used.add(p)
      const index = Number(p.slice(name.length + 2).split('/')[0])
      const value = Array.isArray(entity[name]) ? (entity[name] as unknown[])[index] : undefined
      return list.map((d) => (value === undefined ? `${p}: ${d}` : `${String(value)}: ${d}`))
    })
  const hint = (id: string, f: Field) => (f.hint === undefined ? html`` : html`<p class="muted" id="${id}-hint">${t(lang, f.hint)}</p>`)
  const hintId = (id: string, f: Field) => (f.hint === undefined ? null : `${id}-hint`)
  const errId = (id: string, errors: string[]) => (errors.length === 0 ? null : `${id}-error`)
  const invalid = (errors: string[]) => (errors.length === 0 ? html`` : html` aria-invalid="true"`)

  const render = (f: Field): Html => {
    const id = `f-${f.name}`
    if (!creating && spec.keys.includes(f.name)) {
      const value = str(entity[f.name])
      const shown = f.name === 'level' ? html`${levelLabel(lang, value)}` : f.name === 'unit' ? html`<a href="${unitHref(value)}"><code>${value}</code></a>` : html`<code>${value}</code>`
      return html`<p><span class="muted">${t(lang, f.label)}:</span> ${shown}</p>`
    }
    switch (f.kind) {
      case 'string':
      case 'date': {
        const errors = [...at(`/${f.name}`), ...items(f.name)]
        const value = entity[f.name] === null ? '' : str(entity[f.name])
        const unitNote = f.name === 'unit' && data.unit !== null && data.unit.code === value ? html` <span class="muted">(${data.unit.name}, ${levelLabel(lang, data.unit.level)})</span>` : ''
        return html`<div><label for="${id}">${t(lang, f.label)}${unitNote}</label>${hint(id, f)}<input id="${id}" name="${f.name}" value="${value}"${f.kind === 'date' ? html` type="date"` : ''}${f.numeric === true ? html` inputmode="numeric"` : ''} autocomplete="off"${invalid(errors)}${describedBy([hintId(id, f), errId(id, errors)])}>${errorsBeside(id, errors)}</div>`
      }
      case 'text': {
        const value = text(entity[f.name])
        const whole = at(`/${f.name}`)
        return html`<fieldset${describedBy([hintId(id, f), errId(id, whole)])}><legend>${t(lang, f.label)}</legend>${hint(id, f)}<div class="pair">
${(['mn', 'en'] as const).map((l) => {
          const lid = `${id}-${l}`
          const errors = at(`/${f.name}/${l}`)
          const control = f.multiline === true
            ? html`<textarea id="${lid}" name="${f.name}.${l}" rows="3" lang="${l}"${invalid(errors)}${describedBy([errId(lid, errors)])}>${value[l]}</textarea>`
            : html`<input id="${lid}" name="${f.name}.${l}" value="${value[l]}" lang="${l}"${invalid(errors)}${describedBy([errId(lid, errors)])}>`
          return html`<div><label for="${lid}">${t(lang, `cat.${l}`)}</label>${control}${errorsBeside(lid, errors)}</div>`
        })}
</div>${errorsBeside(id, whole)}</fieldset>`
      }
      case 'flag': {
        const errors = at(`/${f.name}`)
        return html`<div><label><input type="checkbox" id="${id}" name="${f.name}" value="true"${entity[f.name] === true ? html` checked` : ''}${invalid(errors)}${describedBy([errId(id, errors)])}> ${t(lang, f.label)}</label>${errorsBeside(id, errors)}</div>`
      }
      case 'yesno': {
        const errors = at(`/${f.name}`)
        const value = entity[f.name] === true ? 'true' : entity[f.name] === false ? 'false' : ''
        return html`<fieldset${describedBy([errId(id, errors)])}><legend>${t(lang, f.label)}</legend>
${f.choices!(lang, data).map((c) => html`<label><input type="radio" name="${f.name}" value="${c.value}"${c.value === value ? html` checked` : ''}> ${c.label}</label>`)}
${errorsBeside(id, errors)}</fieldset>`
      }
      case 'select': {
        const errors = at(`/${f.name}`)
        const value = str(entity[f.name])
        const choices = f.choices!(lang, data)
        const known = choices.some((c) => c.value === value)
        return html`<div><label for="${id}">${t(lang, f.label)}</label>${hint(id, f)}<select id="${id}" name="${f.name}"${invalid(errors)}${describedBy([hintId(id, f), errId(id, errors)])}>
${known ? '' : html`<option value="${value}" selected>${value === '' ? t(lang, 'ent.choose') : value}</option>`}
${groupedOptions(choices, value)}
</select>${errorsBeside(id, errors)}</div>`
      }
      case 'set': {
        const errors = [...at(`/${f.name}`), ...items(f.name)]
        const chosen = strings(entity[f.name])
        const choices = f.choices!(lang, data)
        // What the entity holds but the choices lack stays, ticked.
        const extra = chosen.filter((v) => !choices.some((c) => c.value === v)).map((v) => ({ value: v, label: v, group: t(lang, 'ent.other') }))
        return html`<fieldset${describedBy([hintId(id, f), errId(id, errors)])}><legend>${t(lang, f.label)}</legend>${hint(id, f)}
${groupedBoxes(f.name, [...choices, ...extra], chosen)}
${errorsBeside(id, errors)}</fieldset>`
      }
      case 'codes': {
        const errors = [...at(`/${f.name}`), ...items(f.name)]
        const bags = f.name === 'bags' && data.unit !== null && data.unit.level === 'soum'
          ? html`<p class="muted">${t(lang, 'round.bagsOf')} (${data.unit.name}): ${data.unit.children.filter((c) => c.level === 'bag').map((c, i) => html`${i === 0 ? '' : ', '}<code>${c.code}</code> ${c.name}`)}</p>`
          : ''
        return html`<div><label for="${id}">${t(lang, f.label)}</label>${hint(id, f)}${bags}<textarea id="${id}" name="${f.name}" rows="4" inputmode="numeric"${invalid(errors)}${describedBy([hintId(id, f), errId(id, errors)])}>${strings(entity[f.name]).join('\n')}</textarea>${errorsBeside(id, errors)}</div>`
      }
    }
  }

  const fields = spec.fields.map(render)
  const general = [...problems.entries()].filter(([p]) => !used.has(p)).flatMap(([p, list]) => list.map((d) => [p, d] as const))
  const action = creating ? `${CATALOGUE_PATH}/new/${spec.collection}` : editHref(spec, entity)
  return html`
${o.notice}
${generalProblems(lang, general)}
<form method="post" action="${action}" novalidate>
${csrfField(ctx)}
${o.etag === null ? '' : html`<input type="hidden" name="etag" value="${o.etag}">`}
${fields}
<p><button type="submit">${t(lang, creating ? 'ent.create' : 'cat.save')}</button> <a class="button secondary" href="${CATALOGUE_PATH}/${spec.collection}">${t(lang, spec.plural)}</a></p>
</form>
${creating || o.etag === null
    ? ''
    : html`<form method="post" action="${editHref(spec, entity)}/delete" class="noprint">${csrfField(ctx)}<input type="hidden" name="etag" value="${o.etag}">
<p><button type="submit" class="secondary">${t(lang, 'ent.remove')}</button> <span class="muted">${t(lang, 'ent.removeNote')}</span></p></form>`}`
}

function groupsOf (choices: Choice[]): Array<[string | undefined, Choice[]]> {
  const groups = new Map<string | undefined, Choice[]>()
  for (const c of choices) groups.set(c.group, [...(groups.get(c.group) ?? []), c])
  return [...groups]
}

function groupedOptions (choices: Choice[], value: string): Html[] {
  const option = (c: Choice) => html`<option value="${c.value}"${c.value === value ? html` selected` : ''}>${c.label}</option>`
  return groupsOf(choices).map(([group, list]) => (group === undefined ? html`${list.map(option)}` : html`<optgroup label="${group}">${list.map(option)}</optgroup>`))
}

function groupedBoxes (name: string, choices: Choice[], chosen: string[]): Html[] {
  const box = (c: Choice) => html`<label><input type="checkbox" name="${name}" value="${c.value}"${chosen.includes(c.value) ? html` checked` : ''}> ${c.label}</label>`
  return groupsOf(choices).map(([group, list]) => (group === undefined ? html`${list.map(box)}` : html`<fieldset><legend>${group}</legend>${list.map(box)}</fieldset>`))
}

export function entityTable (lang: Lang, spec: EntitySpec, items: Entity[]): Html {
  return html`<div class="scroll"><table><thead><tr>${spec.columns.map((c) => html`<th scope="col"${c.num === true ? html` class="num"` : ''}>${t(lang, c.label)}</th>`)}<th scope="col"><span class="muted">${t(lang, 'cat.edit')}</span></th></tr></thead><tbody>
${items.map((e) => html`<tr>${spec.columns.map((c) => html`<td${c.num === true ? html` class="num"` : ''}>${c.cell(e, lang)}</td>`)}<td><a href="${editHref(spec, e)}" aria-label="${t(lang, 'cat.edit')} ${keyOf(spec, e)}">${t(lang, 'cat.edit')}</a></td></tr>`)}
</tbody></table></div>`
}
