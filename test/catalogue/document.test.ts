import t from 'tap'
import { diffDocuments } from '../../src/catalogue/diff.ts'
import { canonicalJson, etagOf, validateDocument } from '../../src/catalogue/document.ts'
import { buildSeedDocument } from '../../src/catalogue/seed.ts'

const seed = buildSeedDocument()

t.test('the seed document is valid, and units get transliterated English names', async (tt) => {
  tt.same(validateDocument(seed), [])
  const bag = seed.units.find((u) => u.code === '210151')!
  tt.same(bag.name, { mn: '1-р баг', en: '1-r bag' })
  tt.equal(seed.units.find((u) => u.code === '11')!.name.en, 'Ulaanbaatar')
})

t.test('references are checked and reported with their paths', async (tt) => {
  const doc = structuredClone(seed)
  doc.units.push({ code: '9999', level: 'soum', parent: '98', name: { mn: 'Шинэ', en: 'New' } })
  doc.mobileRounds[0]!.bags.push('110151')
  doc.availability.push({ unit: '8225', service: 'no.such', offered: true })
  doc.services[0]!.formSchema = { ...doc.services[0]!.formSchema, examples: [{ unexpected: true }] }
  const problems = validateDocument(doc).map((p) => p.pointer)
  tt.ok(problems.includes(`/units/${doc.units.length - 1}/parent`))
  tt.ok(problems.includes(`/mobileRounds/0/bags/${doc.mobileRounds[0]!.bags.length - 1}`))
  tt.ok(problems.includes(`/availability/${doc.availability.length - 1}/service`))
  tt.ok(problems.includes('/services/0/formSchema/examples/0'))
  tt.ok(validateDocument(null).length > 0)
  tt.ok(validateDocument({ ...seed, services: [null] }).some((p) => p.pointer === '/services/0'))
})

t.test('packages: parts name plain services and fields of the package form; a service has an adapter or parts', async (tt) => {
  const doc = structuredClone(seed)
  const i = doc.services.findIndex((s) => s.code === 'package.newborn')
  const pkg = doc.services[i]!
  pkg.parts!.push({ service: 'no.such', fields: [] }, { service: 'package.newborn', fields: [] }, { service: 'welfare.child-money', fields: ['shoeSize'] })
  const n = pkg.parts!.length
  const problems = validateDocument(doc)
  tt.match(problems.find((p) => p.pointer === `/services/${i}/parts/${n - 3}/service`)?.detail, /no service no.such/)
  tt.match(problems.find((p) => p.pointer === `/services/${i}/parts/${n - 2}/service`)?.detail, /itself a package/)
  tt.match(problems.find((p) => p.pointer === `/services/${i}/parts/${n - 1}/service`)?.detail, /already a part/)
  tt.match(problems.find((p) => p.pointer === `/services/${i}/parts/${n - 1}/fields/0`)?.detail, /no field shoeSize/)

  const both = structuredClone(seed)
  both.services[i]!.adapter = 'civil.submitApplication'
  delete both.services[0]!.adapter
  const pointers = validateDocument(both).map((p) => p.pointer)
  tt.ok(pointers.includes(`/services/${i}`), 'adapter and parts together are refused')
  tt.ok(pointers.includes('/services/0'), 'neither adapter nor parts is refused')
})

t.test('canonical JSON and ETags ignore key order; diffs name entities', async (tt) => {
  tt.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), '{"a":[{"c":3,"d":2}],"b":1}')
  tt.equal(etagOf({ a: 1, b: 2 }), etagOf({ b: 2, a: 1 }))
  const next = structuredClone(seed)
  next.agencies[0]!.name.en = 'Changed'
  next.categories.push({ code: 'culture', name: { mn: 'Соёл', en: 'Culture' }, mandated: false })
  next.mobileRounds.pop()
  const diff = diffDocuments(seed, next)
  tt.same(Object.keys(diff).sort(), ['agencies', 'categories', 'mobile-rounds'])
  tt.same(diff.categories!.added, ['culture'])
  tt.equal(diff.agencies!.changed[0]!.key, seed.agencies[0]!.code)
  tt.same(diff['mobile-rounds']!.removed, [seed.mobileRounds.at(-1)!.id])
})
