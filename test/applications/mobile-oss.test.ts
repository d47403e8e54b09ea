import t from 'tap'
import { generatePopulation } from '../../src/exchange/index.ts'
import { buildSeedDocument } from '../../src/catalogue/seed.ts'
import { buildTestApp } from '../helpers/app.ts'
import { eventually } from '../helpers/eventually.ts'

// Issue 12 §2: an officer of soum 2237 uploads a mobile OSS batch for its
// bags 223751–223755 and follows every item to its decision with the URLs the
// answers gave; the OSS of a soum serves its bags, and no one else's.

const seed = buildSeedDocument()
const SOUM = '2237'
const BAGS = ['223751', '223752', '223753', '223754', '223755'].filter((b) => seed.units.some((u) => u.code === b))
// The van's spring round; the gateway's today is its first day.
const round = seed.mobileRounds.find((r) => r.id === `mobile-${SOUM}-2027-03`)!
const OTHER_SOUM = seed.units.find((u) => u.parent === '22' && u.code !== SOUM)!.code
const service = seed.services.find((s) => s.code === 'welfare.child-money')!
const people = generatePopulation({ citizens: 500 }).livingAdults().slice(0, 10)

t.test('a mobile OSS officer uploads a batch for its bags and follows every item to its decision', async (tt) => {
  tt.ok(round, 'the seed schedules a spring round for 2237')
  tt.ok(round.services.includes(service.code), 'the round brings Child Money')
  tt.ok(BAGS.length >= 3 && BAGS.every((b) => round.bags.includes(b)), 'the round reaches the bags')
  const { app, token } = await buildTestApp(tt, {
    exchange: { citizens: 500, decisionDelayMs: 50 },
    env: { DELIVERY_BACKOFF_BASE_MS: '20', DELIVERY_BACKOFF_MAX_MS: '100', OUTBOX_POLL_MS: '50', DECISION_POLL_MS: '50' },
    appOptions: { today: () => round.from },
  })
  const officer = async (unit: string) => ({ authorization: `Bearer ${await token('officer', { claims: { unit, agency: 'GOSW' } })}` })

  // The public view says the van is coming, and lists what intake accepts.
  const where = (await app.inject({ method: 'GET', url: `/v1/units/${BAGS[0]}/services?lang=en` })).json()
  tt.match(where.nextRound, { id: round.id, from: round.from, unit: { code: SOUM } })
  const listed = (await app.inject({ method: 'GET', url: `/v1/services?channel=mobile_oss&unit=${BAGS[0]}&pageSize=500` })).json()
  tt.ok(listed.items.some((s: { code: string }) => s.code === service.code))

  const items = BAGS.flatMap((bag, i) => [people[2 * i]!, people[2 * i + 1]!].map((c, j) => ({
    idempotencyKey: `van-${SOUM}-${process.pid}-${i}-${j}`,
    application: { service: service.code, unit: bag, channel: 'mobile_oss', applicant: { regnum: c.regnum }, form: (service.formSchema.examples as object[])[0] },
  })))
  const batch = await app.inject({ method: 'POST', url: '/v1/applications/batch', headers: await officer(SOUM), payload: { items } })
  tt.equal(batch.statusCode, 200, batch.body)
  tt.match(batch.json(), { accepted: items.length, duplicates: 0, invalid: 0 })
  const results = batch.json().results as Array<{ id: string, location: string }>

  // Every location resolves for the officer who uploaded it, up to a decision.
  for (const r of results) {
    tt.equal(r.location, `/v1/applications/${r.id}`)
    const decided = await eventually(async () => {
      const res = await app.inject({ method: 'GET', url: r.location, headers: await officer(SOUM) })
      if (res.statusCode !== 200) throw new Error(`${r.location}: ${res.statusCode} ${res.body}`)
      return res.json().status === 'decided' ? res.json() : undefined
    }, 30000)
    tt.match(decided, { id: r.id, channel: 'mobile_oss', decision: /^(approved|rejected)$/ })
  }

  // The bag's list and the soum's (with its bags by default).
  const list = async (unit: string, headers: Record<string, string>, query = '') => app.inject({ method: 'GET', url: `/v1/units/${unit}/applications${query}`, headers })
  const bagList = await list(BAGS[0]!, await officer(SOUM))
  tt.equal(bagList.statusCode, 200, bagList.body)
  tt.equal(bagList.json().applications.length, 2)
  const soumList = await list(SOUM, await officer(SOUM), '?limit=200')
  tt.same(soumList.json().applications.map((a: { id: string }) => a.id).sort(), results.map((r) => r.id).sort())
  tt.equal((await list(SOUM, await officer(SOUM), '?scope=unit')).json().applications.length, 0, 'scope=unit: the soum alone')
  tt.equal((await list('22', await officer('22'))).json().applications.length, items.length, 'the aimag sees its soums and bags')
  tt.equal((await app.inject({ method: 'GET', url: results[0]!.location, headers: await officer('22') })).statusCode, 200)

  // Units the OSS does not serve: a read refusal, and nothing learnt.
  const above = await list('22', await officer(SOUM))
  tt.equal(above.statusCode, 403)
  tt.equal(above.json().code, 'UNIT_FORBIDDEN')
  const sibling = await list(BAGS[0]!, await officer(OTHER_SOUM))
  tt.equal(sibling.json().code, 'UNIT_FORBIDDEN')
  tt.equal((await app.inject({ method: 'GET', url: results[0]!.location, headers: await officer(OTHER_SOUM) })).statusCode, 404)
  tt.equal((await app.inject({ method: 'GET', url: results[0]!.location, headers: await officer(BAGS[1]!) })).statusCode, 404, 'another bag of the soum')

  // A bag officer cannot submit for the soum or a sibling bag.
  const refused = await app.inject({
    method: 'POST', url: '/v1/applications/batch', headers: await officer(BAGS[0]!),
    payload: { items: [{ idempotencyKey: `van-${SOUM}-${process.pid}-other`, application: { ...items[2]!.application } }] },
  })
  tt.match(refused.json(), { invalid: 1, results: [{ problem: { code: 'APPLICANT_FORBIDDEN' } }] })
})

t.test('after the round: the next round is shown, intake follows it, and another date can be asked about', async (tt) => {
  const after = new Date(Date.parse(`${round.to}T00:00:00Z`) + 86400_000).toISOString().slice(0, 10)
  const { app, token } = await buildTestApp(tt, { env: { WORKER: 'off' }, appOptions: { today: () => after } })
  const res = await app.inject({
    method: 'POST', url: '/v1/applications',
    headers: { authorization: `Bearer ${await token('officer', { claims: { unit: SOUM, agency: 'GOSW' } })}`, 'idempotency-key': `late-${process.pid}-${Date.now()}` },
    payload: { service: service.code, unit: BAGS[0], channel: 'mobile_oss', applicant: { regnum: people[0]!.regnum }, form: (service.formSchema.examples as object[])[0] },
  })
  const next = seed.mobileRounds.filter((r) => r.bags.includes(BAGS[0]!) && r.to >= after).sort((a, b) => a.from.localeCompare(b.from))[0]!
  // A later round brings it: accepted (collected ahead of that round).
  tt.equal(res.statusCode, next.services.includes(service.code) ? 202 : 422, res.body)
  const where = (await app.inject({ method: 'GET', url: `/v1/units/${BAGS[0]}/services` })).json()
  tt.equal(where.date, after)
  tt.equal(where.nextRound.id, next.id)
  const asked = (await app.inject({ method: 'GET', url: `/v1/units/${BAGS[0]}/services?date=${round.from}` })).json()
  tt.equal(asked.nextRound.id, round.id, 'another date can be asked about')
})
