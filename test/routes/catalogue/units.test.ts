import t from 'tap'
import { buildSeedDocument, SCHEDULE_START } from '../../../src/catalogue/seed.ts'
import { createSnapshot } from '../../../src/catalogue/snapshot.ts'
import { buildTestApp } from '../../helpers/app.ts'

// Issue 12 §3 and §5: every aimag has its mobile OSS rounds, every OSS its
// office, and units can be found by name in either script.

const seed = buildSeedDocument()
const snap = createSnapshot(1, 'seed', seed)

t.test('the seed schedules mobile rounds for every soum and bag of every aimag, a year from a fixed start', async (tt) => {
  tt.same(buildSeedDocument(), seed, 'the same document whenever it is built')
  const reached = new Set(seed.mobileRounds.flatMap((r) => [r.unit, ...r.bags]))
  const soums = seed.units.filter((u) => u.level === 'soum')
  const bags = seed.units.filter((u) => u.level === 'bag')
  tt.same(soums.filter((u) => !reached.has(u.code)).map((u) => u.code), [], 'every soum')
  tt.same(bags.filter((u) => !reached.has(u.code)).map((u) => u.code), [], 'every bag')
  // Övörkhangai (62): the 19 soums and 111 bags.
  const ovor = soums.filter((u) => u.parent === '62')
  tt.equal(ovor.length, 19)
  tt.equal(bags.filter((b) => ovor.some((s) => s.code === b.parent) && reached.has(b.code)).length, 111)
  const scheduled = seed.mobileRounds.filter((r) => r.id.startsWith('mobile-'))
  for (const r of scheduled) {
    if (r.from < SCHEDULE_START || r.to > '2027-11-30' || r.to < r.from) tt.fail(`${r.id}: ${r.from}..${r.to} outside the year from ${SCHEDULE_START}`)
  }
  // Each bag: once a quarter, monthly in summer.
  const perBag = scheduled.filter((r) => r.bags.includes('832269')).map((r) => r.from.slice(0, 7))
  tt.same(perBag, ['2026-12', '2027-03', '2027-06', '2027-07', '2027-08', '2027-10'])
})

t.test('every unit with an OSS has an office in both languages, with a fictitious hotline', async (tt) => {
  for (const u of seed.units) {
    const hasOss = snap.offers(u.code).size > 0
    if (hasOss !== (u.office !== undefined)) tt.fail(`${u.code}: OSS ${hasOss}, office ${u.office !== undefined}`)
    if (u.office === undefined) continue
    if (u.office.phone !== `+976-000-${u.code}` || u.office.example !== true) tt.fail(`${u.code}: ${u.office.phone}`)
    if (!u.office.address.mn || !u.office.address.en || !u.office.hours.mn || !u.office.hours.en) tt.fail(`${u.code}: missing a language`)
  }
  tt.same(seed.units.find((u) => u.code === '8322')!.office!.languages, ['mn', 'kk'], 'Bayan-Ölgii speaks Kazakh too')

  const { app, token } = await buildTestApp(tt, { env: { WORKER: 'off' } })
  const en = (await app.inject({ method: 'GET', url: '/v1/units/2237?lang=en' })).json()
  tt.match(en.office, { address: /Erdenetsagaan soum/, phone: '+976-000-2237', hours: /^Mon–Fri/, languages: ['mn'], example: true })
  const mn = (await app.inject({ method: 'GET', url: '/v1/units/2237' })).json()
  tt.match(mn.office, { address: /Эрдэнэцагаан сум/, hours: /^Даваа–Баасан/ })
  tt.equal((await app.inject({ method: 'GET', url: '/v1/units/832269' })).json().office, null, 'no service point, no office')

  // An administrator edits the office, and the public sees it once published.
  const admin = async () => ({ authorization: `Bearer ${await token('admin')}` })
  const read = await app.inject({ method: 'GET', url: '/v1/admin/catalogue/units/2237', headers: await admin() })
  tt.equal(read.statusCode, 200)
  const unit = read.json() as { office: Record<string, unknown> }
  const office = { ...unit.office, hours: { mn: 'Даваа–Ням 08:00–20:00', en: 'Mon–Sun 08:00–20:00' }, languages: ['mn', 'en'] }
  const put = await app.inject({ method: 'PUT', url: '/v1/admin/catalogue/units/2237', headers: { ...(await admin()), 'if-match': read.headers.etag as string }, payload: { ...unit, office } })
  tt.equal(put.statusCode, 200, put.body)
  const bad = await app.inject({ method: 'PUT', url: '/v1/admin/catalogue/units/2237', headers: { ...(await admin()), 'if-match': put.headers.etag as string }, payload: { ...unit, office: { ...office, phone: 'call us' } } })
  tt.equal(bad.statusCode, 400, 'a phone number in international format')
  const draft = await app.inject({ method: 'GET', url: '/v1/admin/catalogue/draft', headers: await admin() })
  const published = await app.inject({ method: 'POST', url: '/v1/admin/catalogue/publish', headers: { ...(await admin()), 'if-match': draft.headers.etag as string }, payload: {} })
  tt.equal(published.statusCode, 200, published.body)
  await app.catalogue.refresh()
  tt.match((await app.inject({ method: 'GET', url: '/v1/units/2237?lang=en' })).json().office, { hours: 'Mon–Sun 08:00–20:00', languages: ['mn', 'en'] })
})

t.test('units by name: Cyrillic or Latin, any case', async (tt) => {
  const { app } = await buildTestApp(tt, { env: { WORKER: 'off' } })
  const codes = async (query: string) => {
    const res = await app.inject({ method: 'GET', url: `/v1/units?q=${encodeURIComponent(query)}&pageSize=500` })
    tt.equal(res.statusCode, 200, res.body)
    return res.json().items.map((u: { code: string }) => u.code)
  }
  tt.ok((await codes('Эрдэнэцагаан')).includes('2237'))
  tt.ok((await codes('erdenetsagaan')).includes('2237'))
  tt.ok((await codes('ERDENECAGAAN')).includes('2237'), 'ts or c, any case')
  tt.ok((await codes('эрдэнэцагаан')).includes('2237'))
  tt.ok((await codes('Övörkhangai')).includes('62'))
  tt.ok((await codes('ovorkhangai')).includes('62'), 'without diacritics')
  tt.ok((await codes('Хархорин')).includes('6252'))
  tt.same(await codes('kharkhorin'), await codes('Хархорин'))
  const soums = (await app.inject({ method: 'GET', url: '/v1/units?q=delu&level=soum' })).json()
  tt.same(soums.items.map((u: { code: string }) => u.code), ['8322'])
  tt.same(await codes('zzzqqq'), [])
  tt.equal((await app.inject({ method: 'GET', url: '/v1/units?q=' })).statusCode, 400)
})
