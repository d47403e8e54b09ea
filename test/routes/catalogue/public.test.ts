import t from 'tap'
import { buildSeedDocument } from '../../../src/catalogue/seed.ts'
import { transliterate } from '../../../src/domain/transliterate.ts'
import { buildTestApp } from '../../helpers/app.ts'

const seed = buildSeedDocument()
const units = new Map(seed.units.map((u) => [u.code, u]))
// A bag that a mobile round reaches, and a khoroo of the capital.
// A fixed day (the app is given it as today), so the round that is on is known.
const TODAY = '2027-03-10'
const round = seed.mobileRounds.filter((r) => r.to >= TODAY).sort((a, b) => a.from.localeCompare(b.from))[0]!
const bag = round.bags[0]!
const khoroo = seed.units.find((u) => u.level === 'khoroo')!.code

t.test('unit counts and parent chains', async (tt) => {
  const { app } = await buildTestApp(tt)
  const count = async (level: string) => (await app.inject({ method: 'GET', url: `/v1/units?level=${level}&pageSize=1` })).json().total
  tt.equal(await count('soum'), 330)
  tt.equal(await count('district'), 9)
  tt.equal(await count('aimag'), 21)
  tt.equal(await count('bag'), 1638)
  tt.equal(await count('khoroo'), 171)
  const all = (await app.inject({ method: 'GET', url: '/v1/units?pageSize=500&page=1' })).json()
  tt.equal(all.total, 2170)
  for (const u of seed.units) {
    let cur = u
    while (cur.parent !== null) cur = units.get(cur.parent)!
    if (!['capital', 'aimag'].includes(cur.level)) tt.fail(`${u.code} does not end at the capital or an aimag`)
  }
  const soum = (await app.inject({ method: 'GET', url: `/v1/units/${round.unit}?lang=en` })).json()
  tt.equal(soum.unit.level, 'soum')
  tt.equal(soum.ancestors.length, 1)
  tt.equal(soum.ancestors[0].level, 'aimag')
  tt.ok(soum.children.some((c: { code: string }) => c.code === bag))
  const page2 = (await app.inject({ method: 'GET', url: `/v1/units?parent=${round.unit}&pageSize=1&page=2` })).json()
  tt.equal(page2.items.length, 1)
  tt.equal(page2.page, 2)
})

t.test('services where a person lives: bag, soum, aimag, mobile rounds and online', async (tt) => {
  const { app } = await buildTestApp(tt, { appOptions: { today: () => TODAY } })
  const res = await app.inject({ method: 'GET', url: `/v1/units/${bag}/services?lang=en` })
  tt.equal(res.statusCode, 200)
  const body = res.json()
  const levels = new Set(body.entries.filter((e: any) => e.where.kind === 'oss').map((e: any) => e.where.unit.level))
  tt.same([...levels].sort(), ['aimag', 'bag', 'soum'])
  tt.ok(body.entries.some((e: any) => e.where.kind === 'online' && e.channel === 'online'))
  const mobile = body.entries.filter((e: any) => e.where.kind === 'mobile_oss')
  tt.ok(mobile.length > 0, 'the mobile round reaching the bag is listed')
  tt.match(mobile[0], { channel: 'mobile_oss', where: { unit: { code: round.unit }, round: { id: round.id } } })
  for (const e of body.entries) tt.ok(e.where.kind && e.channel, 'each entry says where and how')

  const capital = (await app.inject({ method: 'GET', url: `/v1/units/${khoroo}/services` })).json()
  const capitalLevels = new Set(capital.entries.filter((e: any) => e.where.kind === 'oss').map((e: any) => e.where.unit.level))
  tt.same([...capitalLevels].sort(), ['capital', 'district', 'khoroo'].filter((l) => capitalLevels.has(l)).sort())
  tt.ok(capitalLevels.has('district'))
})

t.test('a citizen guide in Mongolian and in English', async (tt) => {
  const { app } = await buildTestApp(tt)
  const service = seed.services[0]!
  const en = await app.inject({ method: 'GET', url: `/v1/services/${service.code}?lang=en` })
  const mn = await app.inject({ method: 'GET', url: `/v1/services/${service.code}`, headers: { 'accept-language': 'mn-MN,en;q=0.5' } })
  tt.equal(en.json().name, service.name.en)
  tt.equal(en.headers['content-language'], 'en')
  tt.equal(mn.json().name, service.name.mn)
  tt.equal(mn.headers['content-language'], 'mn')
  tt.same(en.json().guide.steps, service.guide.steps.map((s) => s.en))
  tt.same(mn.json().guide.documents, service.guide.documents.map((s) => s.mn))
  tt.equal(en.json().guide.feeMnt, service.guide.feeMnt)
  tt.ok(Array.isArray(en.json().formSchema.examples))
  tt.equal((await app.inject({ method: 'GET', url: '/v1/services/no.such-service' })).statusCode, 404)
  tt.equal((await app.inject({ method: 'GET', url: '/v1/services/BAD CODE' })).statusCode, 400)
})

t.test('search tolerates Latin spellings of Mongolian names', async (tt) => {
  const { app } = await buildTestApp(tt)
  const service = seed.services.find((s) => /хүүхд|хүүхэд/i.test(s.name.mn)) ?? seed.services[0]!
  const latin = transliterate(service.name.mn.split(' ')[0]!, { ascii: true }).toLowerCase()
  const found = (await app.inject({ method: 'GET', url: `/v1/services?q=${encodeURIComponent(latin)}&pageSize=500` })).json()
  tt.ok(found.items.some((s: { code: string }) => s.code === service.code), `"${latin}" finds ${service.code}`)
  const cyr = (await app.inject({ method: 'GET', url: `/v1/services?q=${encodeURIComponent(service.name.mn.split(' ')[0]!)}&pageSize=500` })).json()
  tt.ok(cyr.items.some((s: { code: string }) => s.code === service.code))
  const english = (await app.inject({ method: 'GET', url: `/v1/services?q=${encodeURIComponent(service.name.en.split(' ')[0]!)}&lang=en&pageSize=500` })).json()
  tt.ok(english.items.some((s: { code: string }) => s.code === service.code))
  const none = (await app.inject({ method: 'GET', url: '/v1/services?q=zzzqqq' })).json()
  tt.equal(none.total, 0)
})

t.test('filters, caching and ETags', async (tt) => {
  const { app } = await buildTestApp(tt)
  const online = (await app.inject({ method: 'GET', url: '/v1/services?channel=online&pageSize=500' })).json()
  tt.ok(online.items.length > 0)
  tt.ok(online.items.every((s: any) => s.channels.includes('online')))
  const category = seed.services[0]!.category
  const byCategory = (await app.inject({ method: 'GET', url: `/v1/services?category=${category}&pageSize=500` })).json()
  tt.equal(byCategory.total, seed.services.filter((s) => s.category === category).length)
  const atBag = (await app.inject({ method: 'GET', url: `/v1/services?unit=${bag}&pageSize=500` })).json()
  tt.ok(atBag.total > 0 && atBag.total <= seed.services.length)

  const first = await app.inject({ method: 'GET', url: `/v1/units/${bag}/services` })
  tt.match(first.headers.etag, /^"v\d+-/)
  tt.match(first.headers['cache-control'], /public/)
  const again = await app.inject({ method: 'GET', url: `/v1/units/${bag}/services`, headers: { 'if-none-match': first.headers.etag as string } })
  tt.equal(again.statusCode, 304)
  tt.equal(again.body, '')
  tt.equal((await app.inject({ method: 'GET', url: '/v1/units/999999/services' })).statusCode, 404)
  tt.equal((await app.inject({ method: 'GET', url: '/v1/units?level=province' })).statusCode, 400)
})
