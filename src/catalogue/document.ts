import { createHash } from 'node:crypto'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import catalogueSchema from '../../schemas/catalogue.json' with { type: 'json' }
import type { FieldError } from '../errors/problem-error.ts'
import { fieldErrors } from '../plugins/problem.ts'

// The whole catalogue as one document: what is versioned, imported and
// exported. schemas/catalogue.json is its contract.

export type Lang = 'mn' | 'en'
export interface Text { mn: string, en: string }
export type Level = 'capital' | 'aimag' | 'district' | 'soum' | 'khoroo' | 'bag'
export type Channel = 'oss_counter' | 'mobile_oss' | 'online'

export interface Unit { code: string, level: Level, parent: string | null, name: Text, office?: Office }
// The OSS office of a unit; `example` marks generated example data.
export interface Office { address: Text, phone: string, hours: Text, languages: string[], example?: boolean }
export interface Agency { code: string, name: Text, memberId: string | null }
export interface Category { code: string, name: Text, mandated: boolean }
export interface Service {
  code: string
  category: string
  agency: string
  name: Text
  description: Text
  legalBasis: Text
  guide: { steps: Text[], documents: Text[], feeMnt: number, processingDays: number }
  channels: Channel[]
  applicants: Array<'citizen' | 'officer'>
  // A service is delivered by its adapter, or (a package) by its parts.
  adapter?: string
  parts?: PackagePart[]
  formSchema: Record<string, unknown>
}
export interface PackagePart { service: string, fields: string[] }
export interface StandardList { level: Level, services: string[] }
export interface Availability { unit: string, service: string, offered: boolean, channels?: Channel[], note?: Text }
export interface MobileRound { id: string, unit: string, from: string, to: string, bags: string[], services: string[], note?: Text }

export interface CatalogueDocument {
  format: 'oss-catalogue/1'
  units: Unit[]
  agencies: Agency[]
  categories: Category[]
  services: Service[]
  standardLists: StandardList[]
  availability: Availability[]
  mobileRounds: MobileRound[]
}

export const LEVELS: readonly Level[] = ['capital', 'aimag', 'district', 'soum', 'khoroo', 'bag']
const PARENT_LEVELS: Readonly<Record<Level, readonly (Level | null)[]>> = {
  capital: [null], aimag: [null], district: ['capital'], soum: ['aimag'], khoroo: ['district'], bag: ['soum'],
}

// Each collection of the document, keyed for the admin API.
export const COLLECTIONS = {
  units: { key: (e: Unit) => e.code },
  agencies: { key: (e: Agency) => e.code },
  categories: { key: (e: Category) => e.code },
  services: { key: (e: Service) => e.code },
  'standard-lists': { key: (e: StandardList) => e.level },
  availability: { key: (e: Availability) => `${e.unit}/${e.service}` },
  'mobile-rounds': { key: (e: MobileRound) => e.id },
} as const
export type CollectionName = keyof typeof COLLECTIONS
export const COLLECTION_FIELDS: Readonly<Record<CollectionName, keyof CatalogueDocument>> = {
  units: 'units',
  agencies: 'agencies',
  categories: 'categories',
  services: 'services',
  'standard-lists': 'standardLists',
  availability: 'availability',
  'mobile-rounds': 'mobileRounds',
}

const ajv = new Ajv2020({ allErrors: true, strict: false })
addFormats.default(ajv as never)
ajv.addSchema(catalogueSchema)
const validateShape = ajv.getSchema('Catalogue')!

// Canonical JSON (sorted keys) so equal content always hashes alike.
// Native JSON.stringify with a replacer that sorts keys: the same text as
// building it by hand, several times faster on the whole catalogue.
export function canonicalJson (value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v
    const sorted: Record<string, unknown> = {}
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k]
    return sorted
  })
}

export function digest (value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('base64url')
}

export function etagOf (value: unknown): string {
  return `"${digest(value).slice(0, 27)}"`
}

// Every problem of a document, each with the JSON pointer of its place: the
// shape first, then references between entities.
export function validateDocument (doc: unknown): FieldError[] {
  const problems: FieldError[] = []
  if (!validateShape(doc)) problems.push(...fieldErrors('body', validateShape.errors ?? []))
  // References are checked too, so one pass reports everything, but only for
  // entities whose own shape is right.
  const d = doc as CatalogueDocument
  const usable = typeof d === 'object' && d !== null &&
    (Object.values(COLLECTION_FIELDS) as string[]).every((f) => Array.isArray((d as unknown as Record<string, unknown>)[f]))
  if (!usable) return problems
  const broken = new Set(problems.map((p) => /^\/[A-Za-z]+\/\d+/.exec(p.pointer)?.[0]).filter((p) => p !== undefined))
  const ok = <T>(field: keyof CatalogueDocument, list: T[]) => list.map((e, i) => [e, i] as const).filter(([, i]) => !broken.has(`/${field}/${i}`))
  const at = (pointer: string, detail: string) => problems.push({ in: 'body', pointer, detail })

  const unique = <T>(field: keyof CatalogueDocument, list: T[], key: (e: T) => string) => {
    const seen = new Set<string>()
    list.forEach((e, i) => {
      if (typeof e !== 'object' || e === null) return
      const k = key(e)
      if (seen.has(k)) at(`/${field}/${i}`, `duplicate key ${k}`)
      seen.add(k)
    })
    return seen
  }
  const isObject = (e: unknown) => typeof e === 'object' && e !== null
  const units = new Map(d.units.filter(isObject).map((u) => [u.code, u]))
  unique('units', d.units, COLLECTIONS.units.key)
  const agencies = unique('agencies', d.agencies, COLLECTIONS.agencies.key)
  const categories = unique('categories', d.categories, COLLECTIONS.categories.key)
  const services = new Map(d.services.filter(isObject).map((s) => [s.code, s]))
  unique('services', d.services, COLLECTIONS.services.key)
  unique('standardLists', d.standardLists, COLLECTIONS['standard-lists'].key)
  unique('availability', d.availability, COLLECTIONS.availability.key)
  unique('mobileRounds', d.mobileRounds, COLLECTIONS['mobile-rounds'].key)

  ok('units', d.units).forEach(([u, i]) => {
    const parent = u.parent === null ? undefined : units.get(u.parent)
    if (u.parent !== null && parent === undefined) at(`/units/${i}/parent`, `no unit ${u.parent}`)
    if (!PARENT_LEVELS[u.level].includes(parent?.level ?? null)) at(`/units/${i}/parent`, `a ${u.level} cannot sit under ${parent?.level ?? 'nothing'}`)
    if (parent !== undefined && !u.code.startsWith(parent.code)) at(`/units/${i}/code`, `must start with its parent's code ${parent.code}`)
    const digits = { capital: 2, aimag: 2, district: 4, soum: 4, khoroo: 6, bag: 6 }[u.level]
    if (u.code.length !== digits) at(`/units/${i}/code`, `a ${u.level} code has ${digits} digits`)
  })
  ok('services', d.services).forEach(([s, i]) => {
    if (!categories.has(s.category)) at(`/services/${i}/category`, `no category ${s.category}`)
    if (!agencies.has(s.agency)) at(`/services/${i}/agency`, `no agency ${s.agency}`)
    if ((s.adapter === undefined) === (s.parts === undefined)) at(`/services/${i}`, 'a service has either an adapter or, as a package, parts; not both and not neither')
    const fields = new Set(Object.keys((s.formSchema.properties ?? {}) as object))
    s.parts?.forEach((part, j) => {
      const target = services.get(part.service)
      if (target === undefined) at(`/services/${i}/parts/${j}/service`, `no service ${part.service}`)
      else if (target.parts !== undefined) at(`/services/${i}/parts/${j}/service`, `${part.service} is itself a package`)
      else if (s.parts!.findIndex((p) => p.service === part.service) !== j) at(`/services/${i}/parts/${j}/service`, `${part.service} is already a part of this package`)
      part.fields.forEach((f, k) => {
        if (!fields.has(f)) at(`/services/${i}/parts/${j}/fields/${k}`, `the package form has no field ${f}`)
      })
    })
    let form
    try {
      form = ajv.compile({ ...s.formSchema, $id: undefined, $schema: undefined })
    } catch (err) {
      at(`/services/${i}/formSchema`, `is not a valid JSON Schema: ${(err as Error).message}`)
      return
    }
    ((s.formSchema.examples ?? []) as unknown[]).forEach((example, j) => {
      if (!form(example)) at(`/services/${i}/formSchema/examples/${j}`, `does not validate against the form schema: ${form.errors?.[0]?.instancePath ?? ''} ${form.errors?.[0]?.message ?? ''}`.trim())
    })
  })
  ok('standardLists', d.standardLists).forEach(([l, i]) => l.services.forEach((code, j) => {
    if (!services.has(code)) at(`/standardLists/${i}/services/${j}`, `no service ${code}`)
  }))
  ok('availability', d.availability).forEach(([a, i]) => {
    if (!units.has(a.unit)) at(`/availability/${i}/unit`, `no unit ${a.unit}`)
    if (!services.has(a.service)) at(`/availability/${i}/service`, `no service ${a.service}`)
  })
  ok('mobileRounds', d.mobileRounds).forEach(([r, i]) => {
    const unit = units.get(r.unit)
    if (unit === undefined) at(`/mobileRounds/${i}/unit`, `no unit ${r.unit}`)
    else if (unit.level !== 'soum') at(`/mobileRounds/${i}/unit`, 'mobile rounds start from a soum')
    if (r.to < r.from) at(`/mobileRounds/${i}/to`, 'ends before it starts')
    r.bags.forEach((b, j) => {
      if (units.get(b)?.parent !== r.unit) at(`/mobileRounds/${i}/bags/${j}`, `${b} is not a bag of ${r.unit}`)
    })
    r.services.forEach((code, j) => {
      const s = services.get(code)
      if (s === undefined) at(`/mobileRounds/${i}/services/${j}`, `no service ${code}`)
      else if (!s.channels.includes('mobile_oss')) at(`/mobileRounds/${i}/services/${j}`, `${code} is not offered by mobile OSS`)
    })
  })
  return problems
}
