import type { Level, Unit } from './document.ts'
import type { Snapshot } from './snapshot.ts'

// The consistency report the seed documents ask for: where OSSs depart from
// the mandated list, where levels compete for the same people, and where the
// catalogue points at things that do not exist.

export type FindingKind =
  | 'missing_mandated_category'
  | 'missing_standard_service'
  | 'unlisted_service'
  | 'competing_offer'
  | 'unknown_adapter'
  | 'no_service'

export interface Finding {
  kind: FindingKind
  unit: string | null
  level: Level | null
  aimag: string | null
  service: string | null
  category: string | null
  detail: string
}

export interface Report {
  version: number
  counts: Record<FindingKind, number>
  byAimag: Record<string, number>
  findings: Finding[]
}

export interface ReportFilter {
  level?: Level
  // Only this unit and the units below it.
  unit?: string
}

const KINDS: FindingKind[] = ['missing_mandated_category', 'missing_standard_service', 'unlisted_service', 'competing_offer', 'unknown_adapter', 'no_service']

export function consistencyReport (snap: Snapshot, adapterExists: (operation: string) => boolean, filter: ReportFilter = {}): Report {
  const findings: Finding[] = []
  const aimagOf = (code: string) => code.slice(0, 2)
  const mandated = snap.document.categories.filter((c) => c.mandated).map((c) => c.code)
  const inScope = (u: Unit) => (filter.level === undefined || u.level === filter.level) && (filter.unit === undefined || u.code.startsWith(filter.unit))
  const add = (f: Omit<Finding, 'aimag' | 'level'>, unit?: Unit) => findings.push({ ...f, level: unit?.level ?? null, aimag: unit === undefined ? null : aimagOf(unit.code) })

  for (const unit of snap.document.units) {
    if (!inScope(unit)) continue
    const standard = snap.standardList(unit.level)
    const offers = snap.offers(unit.code)
    for (const code of standard) {
      if (!offers.has(code)) add({ kind: 'missing_standard_service', unit: unit.code, service: code, category: snap.service(code)?.category ?? null, detail: `${unit.name.en} does not offer ${code}, which every ${unit.level} OSS must` }, unit)
    }
    // A category counts as mandated at a level when that level's list covers it.
    const expected = new Set(standard.map((c) => snap.service(c)?.category).filter((c): c is string => c !== undefined && mandated.includes(c)))
    const present = new Set([...offers.values()].map((o) => o.service.category))
    for (const category of expected) {
      if (!present.has(category)) add({ kind: 'missing_mandated_category', unit: unit.code, service: null, category, detail: `${unit.name.en} offers nothing in the mandated category ${category}` }, unit)
    }
    if (offers.size === 0) add({ kind: 'no_service', unit: unit.code, service: null, category: null, detail: `${unit.name.en} offers no OSS service at all` }, unit)
    const parentOffers = unit.parent === null ? undefined : snap.offers(unit.parent)
    for (const offer of offers.values()) {
      if (offer.source !== 'local') continue
      add({ kind: 'unlisted_service', unit: unit.code, service: offer.service.code, category: offer.service.category, detail: `${offer.service.code} is offered at ${unit.level} level, where no standard list includes it` }, unit)
      if (parentOffers?.has(offer.service.code) === true) {
        add({ kind: 'competing_offer', unit: unit.code, service: offer.service.code, category: offer.service.category, detail: `${offer.service.code} is offered both here and by the parent unit ${unit.parent}, for the same people` }, unit)
      }
    }
  }
  if (filter.unit === undefined && filter.level === undefined) {
    for (const s of snap.document.services) {
      // A package is delivered by its parts, each checked as a service of its own.
      if (s.adapter !== undefined && !adapterExists(s.adapter)) add({ kind: 'unknown_adapter', unit: null, service: s.code, category: s.category, detail: `${s.code} is delivered by ${s.adapter}, which no adapter serves` })
    }
  }
  const counts = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<FindingKind, number>
  const byAimag: Record<string, number> = {}
  for (const f of findings) {
    counts[f.kind]++
    if (f.aimag !== null) byAimag[f.aimag] = (byAimag[f.aimag] ?? 0) + 1
  }
  return { version: snap.version, counts, byAimag, findings }
}

function csvCell (value: string | null): string {
  const text = value ?? ''
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}

// The findings, then (after an empty line, as a second table with its own
// header) the counts by aimag that the JSON gives as byAimag.
export function reportCsv (report: Report): string {
  const header = ['kind', 'aimag', 'unit', 'level', 'service', 'category', 'detail']
  const rows = report.findings.map((f) => [f.kind, f.aimag, f.unit, f.level, f.service, f.category, f.detail].map(csvCell).join(','))
  const byAimag = Object.entries(report.byAimag).sort(([a], [b]) => a.localeCompare(b)).map(([aimag, n]) => `${csvCell(aimag)},${n}`)
  return [header.join(','), ...rows, '', 'aimag,findings', ...byAimag].join('\r\n') + '\r\n'
}
