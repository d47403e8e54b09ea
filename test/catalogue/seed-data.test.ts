import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { Ajv } from 'ajv'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import catalogueSchema from '../../schemas/catalogue.json' with { type: 'json' }
import { loadAdapters } from '../../src/adapters/load.ts'
import { PROVIDERS } from '../../src/exchange/providers.ts'
import { parseRegnum } from '../../src/domain/regnum.ts'

// The seed catalogue content (seed/catalogue.yaml): the contract of
// schemas/catalogue.json, references between entities, the form schemas and
// their examples, and the deliberate local findings the consistency report
// must find.

type Level = 'capital' | 'aimag' | 'district' | 'soum' | 'khoroo' | 'bag'
type Channel = 'oss_counter' | 'mobile_oss' | 'online'
interface Text { mn: string, en: string }
interface Unit { code: string, level: Level, parent: string | null, name: Text }
interface Service {
  code: string
  category: string
  agency: string
  name: Text
  description: Text
  legalBasis: Text
  guide: { steps: Text[], documents: Text[], feeMnt: number, processingDays: number }
  channels: Channel[]
  applicants: Array<'citizen' | 'officer'>
  adapter?: string
  parts?: Array<{ service: string, fields: string[] }>
  formSchema: Record<string, unknown> & { examples: unknown[] }
}
interface Doc {
  format: string
  units: Unit[]
  agencies: Array<{ code: string, name: Text, memberId: string | null }>
  categories: Array<{ code: string, name: Text, mandated: boolean }>
  services: Service[]
  standardLists: Array<{ level: Level, services: string[] }>
  availability: Array<{ unit: string, service: string, offered: boolean, channels?: Channel[], note?: Text }>
  mobileRounds: Array<{ id: string, unit: string, from: string, to: string, bags: string[], services: string[], note?: Text }>
}

const ROOT = join(import.meta.dirname, '..', '..')
const SEED = join(ROOT, 'seed')
const LEVELS: Level[] = ['capital', 'aimag', 'district', 'soum', 'khoroo', 'bag']
const MANDATED = ['social_insurance', 'social_welfare', 'employment', 'land', 'civil_registration', 'bank_notary']
const REGNUM = '^[АБВГДЕЁЖЗИЙКЛМНОӨПРСТУҮФХЦЧШЩЪЫЬЭЮЯ]{2}[0-9]{8}$'
const CYRILLIC = /[А-ЯЁӨҮа-яёөү]/

const raw = parse(readFileSync(join(SEED, 'catalogue.yaml'), 'utf8')) as Doc
const codeList = JSON.parse(readFileSync(join(SEED, 'mn-admin-units.json'), 'utf8')) as {
  units: Array<{ code: string, name_mn: string, name_en?: string, level: Level, parent: string | null }>
}
const doc: Doc = {
  ...raw,
  units: codeList.units.map((u) => ({ code: u.code, level: u.level, parent: u.parent, name: { mn: u.name_mn, en: u.name_en ?? u.name_mn } })),
}

const units = new Map(doc.units.map((u) => [u.code, u]))
const services = new Map(doc.services.map((s) => [s.code, s]))
const standard = new Map(doc.standardLists.map((l) => [l.level, new Set(l.services)]))

function ajvs () {
  const draft7 = new Ajv({ allErrors: true, strict: false })
  const draft2020 = new Ajv2020({ allErrors: true, strict: false })
  addFormats.default(draft7 as never)
  addFormats.default(draft2020 as never)
  return { draft7, draft2020 }
}

// What the OSS of a unit offers: its level's standard list, with the local
// departures of the availability entries.
function offeredBy (code: string): Set<string> {
  const unit = units.get(code)!
  const set = new Set(standard.get(unit.level) ?? [])
  for (const a of doc.availability) {
    if (a.unit !== code) continue
    if (a.offered) set.add(a.service)
    else set.delete(a.service)
  }
  return set
}

t.test('the YAML holds everything but units, and the whole document matches schemas/catalogue.json', async (tt) => {
  tt.equal(raw.format, 'oss-catalogue/1')
  tt.same(raw.units, [], 'units come from seed/mn-admin-units.json')
  tt.equal(doc.units.length, 2170)
  const { draft7, draft2020 } = ajvs()
  for (const [name, ajv] of [['draft-07', draft7], ['draft 2020-12', draft2020]] as const) {
    const validate = ajv.compile(catalogueSchema)
    const ok = validate(doc)
    tt.ok(ok, `valid under ${name}`)
    if (!ok) tt.comment(JSON.stringify(validate.errors?.slice(0, 10), null, 2))
  }
})

t.test('codes are unique', async (tt) => {
  const dupes = (keys: string[]) => keys.filter((k, i) => keys.indexOf(k) !== i)
  tt.same(dupes(doc.agencies.map((a) => a.code)), [], 'agencies')
  tt.same(dupes(doc.categories.map((c) => c.code)), [], 'categories')
  tt.same(dupes(doc.services.map((s) => s.code)), [], 'services')
  tt.same(dupes(doc.standardLists.map((l) => l.level)), [], 'one standard list per level')
  tt.same(dupes(doc.availability.map((a) => `${a.unit}/${a.service}`)), [], 'availability (unit, service)')
  tt.same(dupes(doc.mobileRounds.map((r) => r.id)), [], 'mobile rounds')
})

t.test('categories: the six of Decree 153 are mandated, veterinary is local', async (tt) => {
  const byCode = new Map(doc.categories.map((c) => [c.code, c]))
  for (const code of MANDATED) tt.equal(byCode.get(code)?.mandated, true, `${code} is mandated`)
  tt.equal(byCode.get('veterinary')?.mandated, false, 'veterinary is a local category')
  tt.equal(doc.categories.filter((c) => c.mandated).length, 6, 'no other mandated category')
  for (const code of [...MANDATED, 'veterinary']) {
    tt.ok(doc.services.filter((s) => s.category === code).length >= 5, `${code} has at least five services`)
  }
})

t.test('agencies: the bus members exist on the emulator; the others are off the bus', async (tt) => {
  const expected: Record<string, string | null> = {
    GASR: 'MN/GOV/GASR/civil',
    GASI: 'MN/GOV/GASI/social-insurance',
    GOSW: 'MN/GOV/GOSW/welfare',
    GAEP: 'MN/GOV/GAEP/employment',
    ALAMGAC: 'MN/GOV/ALAMGAC/land',
    MNC: 'MN/GOV/MNC/notary',
    GAVS: null,
  }
  const byCode = new Map(doc.agencies.map((a) => [a.code, a]))
  for (const [code, memberId] of Object.entries(expected)) tt.equal(byCode.get(code)?.memberId, memberId, code)
  const busMembers = new Set(PROVIDERS.map((p) => p.id))
  for (const a of doc.agencies) {
    if (a.memberId !== null) tt.ok(busMembers.has(a.memberId), `${a.code}: ${a.memberId} is a member of the bus`)
    tt.ok(doc.services.some((s) => s.agency === a.code), `${a.code} has services`)
  }
})

t.test('services: at least 45, each referencing existing entities, with coherent content', async (tt) => {
  tt.ok(doc.services.length >= 45, `${doc.services.length} services`)
  const categories = new Set(doc.categories.map((c) => c.code))
  const agencies = new Set(doc.agencies.map((a) => a.code))
  const prefixOf: Record<string, string> = {
    social_insurance: 'insurance.',
    social_welfare: 'welfare.',
    employment: 'employment.',
    land: 'land.',
    civil_registration: 'civil.',
    bank_notary: 'notary.',
    veterinary: 'veterinary.',
  }
  const texts = (s: Service): Text[] => [s.name, s.description, s.legalBasis, ...s.guide.steps, ...s.guide.documents]
  for (const s of doc.services) {
    tt.ok(categories.has(s.category), `${s.code}: category ${s.category} exists`)
    tt.ok(agencies.has(s.agency), `${s.code}: agency ${s.agency} exists`)
    const prefix = s.parts === undefined ? prefixOf[s.category] ?? '?' : 'package.'
    tt.ok(s.code.startsWith(prefix), `${s.code}: code matches its category ${s.category}, or says it is a package`)
    tt.ok(s.guide.steps.length >= 2 && s.guide.steps.length <= 6, `${s.code}: 2 to 6 steps`)
    const mixedUp = texts(s).filter((x) => !CYRILLIC.test(x.mn) || CYRILLIC.test(x.en))
    tt.same(mixedUp, [], `${s.code}: every text has Mongolian in Cyrillic and English without Cyrillic`)
    // citizen = applies online through a portal; officer = at the counter
    tt.equal(s.applicants.includes('citizen'), s.channels.includes('online'), `${s.code}: citizens apply exactly when it is online`)
    tt.equal(s.applicants.includes('officer'), s.channels.some((c) => c !== 'online'), `${s.code}: officers submit exactly when a counter or van offers it`)
  }
  const idReplacement = services.get('civil.id-card-replacement')
  tt.same(idReplacement?.channels, ['oss_counter'], 'ID card replacement needs a counter for biometrics')
  tt.ok(services.get('welfare.child-money')?.channels.includes('online'), 'Child Money can be applied for online')
})

t.test('adapters: every service is delivered by its agency\'s write adapter; only veterinary lacks one', async (tt) => {
  const adapters = new Map((await loadAdapters()).map((a) => [a.operation, a]))
  const agencies = new Map(doc.agencies.map((a) => [a.code, a]))
  const missing = new Set<string>()
  for (const s of doc.services) {
    if (s.adapter === undefined) {
      // A package: delivered by its parts, which are services checked here too.
      tt.ok((s.parts ?? []).length >= 2 && s.parts!.every((p) => doc.services.some((x) => x.code === p.service && x.adapter !== undefined)), `${s.code}: a package of services that each have an adapter`)
      continue
    }
    const adapter = adapters.get(s.adapter)
    if (adapter === undefined) {
      missing.add(s.adapter)
      continue
    }
    tt.equal(adapter.kind, 'write', `${s.code}: ${s.adapter} is a write adapter`)
    const memberId = agencies.get(s.agency)?.memberId ?? null
    if (memberId !== null) tt.ok(adapter.service.startsWith(`${memberId}/`), `${s.code}: ${s.adapter} calls ${s.agency} (${memberId})`)
  }
  tt.same([...missing], ['veterinary.submitApplication'], 'the one deliberately missing adapter')
  const vet = doc.services.filter((s) => s.category === 'veterinary')
  tt.ok(vet.every((s) => s.adapter === 'veterinary.submitApplication'), 'every veterinary service uses it')
  tt.ok(doc.services.filter((s) => s.agency === 'GAHI').every((s) => s.adapter === 'health.submitApplication'),
    'health insurance goes to GAHI\'s own desk, not GASI\'s')
  const newborn = doc.services.find((s) => s.code === 'package.newborn')
  tt.same(newborn?.parts?.map((p) => p.service), ['civil.birth-registration', 'welfare.child-money', 'insurance.health-insurance'], 'the newborn package (an MOU) opens birth registration, Child Money and health insurance')
})

t.test('form schemas compile under draft-07 and 2020-12 and their examples validate', async (tt) => {
  const { draft7, draft2020 } = ajvs()
  for (const s of doc.services) {
    const form = s.formSchema
    tt.equal(form.type, 'object', `${s.code}: an object form`)
    tt.equal(form.additionalProperties, false, `${s.code}: closed form`)
    const properties = (form.properties ?? {}) as Record<string, Record<string, unknown>>
    const required = (form.required ?? []) as string[]
    tt.ok(required.length > 0, `${s.code}: has required fields`)
    tt.same(required.filter((r) => !(r in properties)), [], `${s.code}: required fields are defined`)
    tt.same(Object.keys(properties).filter((p) => typeof properties[p]?.title !== 'string'), [], `${s.code}: every field has a title`)
    tt.notOk('regnum' in properties || 'applicantRegnum' in properties, `${s.code}: the applicant's own regnum is not a form field`)
    tt.ok(form.examples.length >= 1, `${s.code}: has examples`)
    for (const [name, ajv] of [['draft-07', draft7], ['2020-12', draft2020]] as const) {
      let validate
      try {
        validate = ajv.compile(form)
      } catch (err) {
        tt.fail(`${s.code}: does not compile under ${name}: ${(err as Error).message}`)
        continue
      }
      form.examples.forEach((example, i) => {
        const ok = validate(example)
        tt.ok(ok, `${s.code}: example ${i} is valid (${name})`)
        if (!ok) tt.comment(JSON.stringify(validate.errors))
      })
      tt.notOk(validate({}), `${s.code}: an empty form is rejected (${name})`)
    }
  }
})

t.test('registration numbers in form examples are plausible', async (tt) => {
  // Collect every example value that sits under a property with the regnum pattern.
  const found: string[] = []
  const walk = (schema: unknown, value: unknown): void => {
    if (schema === null || typeof schema !== 'object' || value === undefined) return
    const sch = schema as Record<string, unknown>
    if (sch.pattern === REGNUM && typeof value === 'string') found.push(value)
    if (sch.properties !== undefined && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, sub] of Object.entries(sch.properties as Record<string, unknown>)) walk(sub, (value as Record<string, unknown>)[k])
    }
    if (sch.items !== undefined && Array.isArray(value)) for (const v of value) walk(sch.items, v)
  }
  for (const s of doc.services) for (const example of s.formSchema.examples) walk(s.formSchema, example)
  tt.ok(found.length >= 20, `${found.length} registration numbers in examples`)
  const today = new Date('2026-06-01T00:00:00Z')
  for (const value of found) tt.ok(parseRegnum(value, today).ok, `${value} has a valid birth date`)
})

t.test('standard lists: every level, existing services, all mandated categories at soum and district', async (tt) => {
  tt.same(doc.standardLists.map((l) => l.level).sort(), [...LEVELS].sort(), 'one list per level')
  for (const l of doc.standardLists) {
    tt.same(l.services.filter((c) => !services.has(c)), [], `${l.level}: every service exists`)
  }
  for (const level of ['capital', 'aimag', 'district', 'soum'] as const) {
    const cats = new Set([...standard.get(level)!].map((c) => services.get(c)!.category))
    tt.same(MANDATED.filter((c) => !cats.has(c)), [], `${level}: covers every mandated category`)
  }
  tt.ok(standard.get('aimag')!.size > standard.get('soum')!.size, 'the aimag centre offers more than a soum')
  tt.ok(standard.get('soum')!.size > standard.get('bag')!.size, 'a soum offers more than a bag')
  tt.ok(standard.get('district')!.size > standard.get('khoroo')!.size, 'a district offers more than a khoroo')
  const vet = doc.services.filter((s) => s.category === 'veterinary').map((s) => s.code)
  tt.ok(doc.standardLists.every((l) => l.services.every((c) => !vet.includes(c))), 'veterinary is on no standard list (local only)')
})

t.test('availability: real units, existing services, real departures with a note', async (tt) => {
  tt.ok(doc.availability.length >= 20 && doc.availability.length <= 40, `${doc.availability.length} entries`)
  for (const a of doc.availability) {
    const where = `${a.unit}/${a.service}`
    const unit = units.get(a.unit)
    const service = services.get(a.service)
    tt.ok(unit, `${where}: unit exists`)
    tt.ok(service, `${where}: service exists`)
    if (unit === undefined || service === undefined) continue
    const onList = standard.get(unit.level)!.has(a.service)
    tt.equal(onList, !a.offered, `${where}: a gap removes a listed service, an addition adds an unlisted one (${unit.level})`)
    tt.ok(a.note !== undefined && CYRILLIC.test(a.note.mn) && !CYRILLIC.test(a.note.en), `${where}: has a bilingual note`)
    if (a.channels !== undefined) tt.same(a.channels.filter((c) => !service.channels.includes(c)), [], `${where}: channels are the service's`)
  }
})

t.test('the deliberate findings are in the data', async (tt) => {
  const unitsOf = (level: Level) => doc.units.filter((u) => u.level === level)

  // Missing services of the standard list.
  const gaps = doc.availability.filter((a) => !a.offered).map((a) => `${a.unit} ${a.service}`).sort()
  tt.same(gaps, [
    '1104 employment.vocational-training',
    '1104 employment.youth-internship',
    '111699 employment.jobseeker-registration',
    '6749 civil.first-id-card',
    '6749 civil.id-card-replacement',
    '8225 land.ger-plot-ownership',
    '8225 land.possession-certificate',
    '8225 land.possession-extension',
    '832269 civil.status-certificate',
    '832269 employment.jobseeker-registration',
    '832269 insurance.health-insurance',
    '832269 welfare.child-money',
    '832269 welfare.household-survey',
    '8543 notary.certified-copy',
    '8543 notary.power-of-attorney',
    '8543 notary.signature',
  ], 'gaps')
  tt.equal(units.get('8225')?.level, 'soum')
  tt.equal(units.get('6749')?.level, 'soum')
  tt.equal(units.get('1104')?.level, 'district')
  tt.equal(units.get('111699')?.level, 'khoroo')

  // Soum and district OSSs lacking a whole mandated category.
  const lacking: string[] = []
  for (const u of [...unitsOf('soum'), ...unitsOf('district')]) {
    const cats = new Set([...offeredBy(u.code)].map((c) => services.get(c)!.category))
    for (const c of MANDATED) if (!cats.has(c)) lacking.push(`${u.code} ${c}`)
  }
  tt.same(lacking, ['8543 bank_notary'], 'Түргэн soum has no notary service at all')
  tt.equal(units.get('8543')?.parent, '85')

  // Units with no OSS service at all.
  const empty = doc.units.filter((u) => offeredBy(u.code).size === 0).map((u) => u.code)
  tt.same(empty, ['832269'], 'bag 10 of Дэлүүн has no service point')
  tt.equal(units.get('832269')?.level, 'bag')
  tt.ok(doc.mobileRounds.some((r) => r.bags.includes('832269')), 'the mobile OSS reaches it')

  // Offered at a level whose standard list does not include the service.
  const additions = doc.availability.filter((a) => a.offered).map((a) => `${a.unit} ${a.service}`).sort()
  tt.same(additions, [
    '111675 welfare.social-pension',
    '2237 veterinary.animal-product-certificate',
    '2237 veterinary.movement-certificate',
    '4843 veterinary.animal-identification',
    '4843 veterinary.livestock-insurance',
    '6728 veterinary.disease-report',
    '6728 veterinary.movement-certificate',
    '8201 notary.inheritance-certificate',
    '83 veterinary.animal-product-certificate',
    '8301 land.transfer',
    '8322 veterinary.animal-identification',
    '8322 veterinary.livestock-insurance',
    '8322 veterinary.movement-certificate',
    '8546 veterinary.livestock-insurance',
  ], 'local additions')

  // Competition: a unit and its parent offer the same service, although no
  // standard list puts it at the unit's level.
  const competing: string[] = []
  for (const u of doc.units) {
    if (u.parent === null) continue
    const parentOffers = offeredBy(u.parent)
    for (const code of offeredBy(u.code)) {
      if (!standard.get(u.level)!.has(code) && parentOffers.has(code)) competing.push(`${u.code}<${u.parent} ${code}`)
    }
  }
  tt.same(competing.sort(), [
    '111675<1116 welfare.social-pension',
    '8201<82 notary.inheritance-certificate',
    '8301<83 land.transfer',
  ], 'competition between a unit and its parent')
})

t.test('mobile rounds: rural soums, their own bags, mobile services, 2026-2027', async (tt) => {
  tt.ok(doc.mobileRounds.length >= 4 && doc.mobileRounds.length <= 8, `${doc.mobileRounds.length} rounds`)
  for (const r of doc.mobileRounds) {
    tt.equal(units.get(r.unit)?.level, 'soum', `${r.id}: starts from a soum`)
    tt.ok(r.from <= r.to, `${r.id}: from ≤ to`)
    tt.ok(r.from >= '2026-01-01' && r.to <= '2027-12-31', `${r.id}: within 2026-2027`)
    tt.same(r.bags.filter((b) => units.get(b)?.parent !== r.unit || units.get(b)?.level !== 'bag'), [], `${r.id}: every bag belongs to ${r.unit}`)
    tt.same(r.services.filter((c) => !services.get(c)?.channels.includes('mobile_oss')), [], `${r.id}: every service allows mobile_oss`)
  }
  const turgen = doc.mobileRounds.find((r) => r.unit === '8543')
  tt.ok(turgen?.services.some((c) => services.get(c)?.category === 'bank_notary'), 'the round to Түргэн brings the notary it lacks')
})
