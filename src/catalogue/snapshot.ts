import { searchKey } from '../domain/transliterate.ts'
import type { Availability, CatalogueDocument, Channel, Lang, Level, MobileRound, Service, Text, Unit } from './document.ts'

// A published version held in memory and indexed for the public API, which
// never touches the database per request.

export interface Offer {
  service: Service
  channels: Channel[]
  note: Text | null
  // `standard`: from the level's standard list; `local`: added for this unit.
  source: 'standard' | 'local'
}

export interface Snapshot {
  version: number
  digest: string
  document: CatalogueDocument
  unit(code: string): Unit | undefined
  children(code: string): Unit[]
  ancestors(code: string): Unit[]
  units(filter: { level?: Level, parent?: string }): Unit[]
  service(code: string): Service | undefined
  category(code: string): { code: string, name: Text, mandated: boolean } | undefined
  agency(code: string): { code: string, name: Text, memberId: string | null } | undefined
  standardList(level: Level): string[]
  // What the OSS of a unit offers: its level's standard list with the unit's
  // local gaps and additions applied.
  offers(unitCode: string): Map<string, Offer>
  // Rounds reaching a soum (those starting from it) or a bag, not over by
  // `fromDate`, soonest first.
  roundsReaching(code: string, fromDate: string): MobileRound[]
  matches(service: Service, query: string): boolean
  // Name search over units, Cyrillic or Latin (MNS 5217), any case.
  unitMatches(unit: Unit, query: string): boolean
}

export function localize (text: Text, lang: Lang): string {
  return text[lang]
}

export function createSnapshot (version: number, digest: string, document: CatalogueDocument): Snapshot {
  const units = new Map(document.units.map((u) => [u.code, u]))
  const children = new Map<string, Unit[]>()
  for (const u of document.units) {
    if (u.parent === null) continue
    const list = children.get(u.parent) ?? []
    list.push(u)
    children.set(u.parent, list)
  }
  const services = new Map(document.services.map((s) => [s.code, s]))
  const categories = new Map(document.categories.map((c) => [c.code, c]))
  const agencies = new Map(document.agencies.map((a) => [a.code, a]))
  const standard = new Map(document.standardLists.map((l) => [l.level, l.services]))
  const overrides = new Map<string, Availability[]>()
  for (const a of document.availability) {
    const list = overrides.get(a.unit) ?? []
    list.push(a)
    overrides.set(a.unit, list)
  }
  const searchText = new Map(document.services.map((s) => {
    const category = categories.get(s.category)
    const agency = agencies.get(s.agency)
    const words = [s.code, s.name.mn, s.name.en, s.description.mn, s.description.en, category?.name.mn, category?.name.en, agency?.name.mn, agency?.name.en]
    return [s.code, ` ${searchKey(words.filter((w) => w !== undefined).join(' '))} `]
  }))
  const offerCache = new Map<string, Map<string, Offer>>()
  const rounds = new Map<string, MobileRound[]>()
  for (const r of [...document.mobileRounds].sort((a, b) => a.from.localeCompare(b.from) || a.id.localeCompare(b.id))) {
    for (const code of new Set([r.unit, ...r.bags])) {
      const list = rounds.get(code) ?? []
      list.push(r)
      rounds.set(code, list)
    }
  }
  const unitText = new Map(document.units.map((u) => [u.code, ` ${searchKey(`${u.code} ${u.name.mn} ${u.name.en}`)} `]))

  return {
    version,
    digest,
    document,
    unit: (code) => units.get(code),
    children: (code) => children.get(code) ?? [],
    ancestors (code) {
      const out: Unit[] = []
      let u = units.get(code)
      while (u?.parent != null) {
        u = units.get(u.parent)
        if (u !== undefined) out.push(u)
      }
      return out
    },
    units: ({ level, parent }) => document.units.filter((u) => (level === undefined || u.level === level) && (parent === undefined || u.parent === parent)),
    service: (code) => services.get(code),
    category: (code) => categories.get(code),
    agency: (code) => agencies.get(code),
    standardList: (level) => standard.get(level) ?? [],
    offers (unitCode) {
      const cached = offerCache.get(unitCode)
      if (cached !== undefined) return cached
      const unit = units.get(unitCode)
      const result = new Map<string, Offer>()
      if (unit !== undefined) {
        for (const code of standard.get(unit.level) ?? []) {
          const s = services.get(code)
          if (s !== undefined) result.set(code, { service: s, channels: s.channels, note: null, source: 'standard' })
        }
        for (const a of overrides.get(unitCode) ?? []) {
          const s = services.get(a.service)
          if (s === undefined) continue
          if (!a.offered) {
            result.delete(a.service)
            continue
          }
          const channels = a.channels === undefined ? s.channels : s.channels.filter((c) => a.channels!.includes(c))
          result.set(a.service, { service: s, channels, note: a.note ?? null, source: result.has(a.service) ? 'standard' : 'local' })
        }
      }
      offerCache.set(unitCode, result)
      return result
    },
    roundsReaching: (code, fromDate) => (rounds.get(code) ?? []).filter((r) => r.to >= fromDate),
    matches (service, query) {
      const text = searchText.get(service.code) ?? ''
      return searchKey(query).split(' ').every((token) => token === '' || text.includes(token))
    },
    unitMatches (unit, query) {
      const text = unitText.get(unit.code) ?? ''
      return searchKey(query).split(' ').every((token) => token === '' || text.includes(token))
    },
  }
}
