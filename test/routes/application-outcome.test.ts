import t from 'tap'
import { generatePopulation, type Citizen } from '../../src/exchange/index.ts'
import { buildSeedDocument } from '../../src/catalogue/seed.ts'
import { loadConfig } from '../../src/config.ts'
import { parseRegnum } from '../../src/domain/regnum.ts'
import { buildTestApp } from '../helpers/app.ts'
import { eventually } from '../helpers/eventually.ts'

// What the applicant learns: a decision within seconds in development, status
// and reasons in both languages, what the agency gave on approval, and
// references from the agency the catalogue names.

const population = generatePopulation({ citizens: 500 })
const adults = population.livingAdults()
const seed = buildSeedDocument()
const service = (code: string) => seed.services.find((s) => s.code === code)!
const example = (code: string) => (service(code).formSchema.examples as Array<Record<string, unknown>>)[0]!
let keyN = 0
const newKey = () => `outcome-${process.pid}-${Date.now()}-${keyN++}`

async function setup (tt: Parameters<typeof buildTestApp>[0], options: { env?: Record<string, string>, exchange?: Record<string, unknown> } = {}) {
  const ctx = await buildTestApp(tt, {
    exchange: { citizens: 500, decisionDelayMs: 100, ...options.exchange },
    env: { DELIVERY_BACKOFF_BASE_MS: '20', DELIVERY_BACKOFF_MAX_MS: '100', OUTBOX_POLL_MS: '50', DECISION_POLL_MS: '50', ...options.env },
  })
  const admin = async () => ({ authorization: `Bearer ${await ctx.token('admin')}` })
  const officer = async (unit: string) => ({ authorization: `Bearer ${await ctx.token('officer', { claims: { unit, agency: 'GOSW' } })}` })
  const submit = async (headers: Record<string, string>, body: unknown) =>
    ctx.app.inject({ method: 'POST', url: '/v1/applications', headers: { ...headers, 'idempotency-key': newKey() }, payload: body as object })
  const get = async (id: string, query = '', headers: Record<string, string> = {}) =>
    (await ctx.app.inject({ method: 'GET', url: `/v1/applications/${id}${query}`, headers: { ...await admin(), ...headers } })).json()
  const decided = (id: string, timeoutMs = 15000) => eventually(async () => { const s = await get(id); return s.status === 'decided' ? s : undefined }, timeoutMs)
  // The emulator's agencies decide on demand (admin route), so a test can ask for either outcome.
  const decideAs = async (provider: string, outcome: 'approved' | 'rejected' | null) => {
    const res = await ctx.exchange!.app.inject({ method: 'PUT', url: `/admin/providers/${provider}/decisions`, payload: { outcome } })
    tt.equal(res.statusCode, 200, res.body)
  }
  const citizen = async (c: Citizen) => ({ authorization: `Bearer ${await ctx.token('citizen', { claims: { sub: c.regnum } })}` })
  return { ...ctx, admin, officer, citizen, submit, get, decided, decideAs }
}

const childMoney = (c: Citizen) => ({ service: 'welfare.child-money', unit: c.homeUnit, channel: 'online', applicant: { regnum: c.regnum }, form: example('welfare.child-money') })

t.test('development: with the bundled emulator at its defaults, the decision comes within seconds; production keeps its poll interval', async (tt) => {
  const defaults = loadConfig({})
  tt.equal(defaults.delivery.decisionPollMs, 60000, 'DECISION_POLL_MS stays a minute by default')
  // The emulator at its own default decision delay, the gateway at its default poll interval.
  const ctx = await buildTestApp(tt, { exchange: { citizens: 500 } })
  const alice = adults[0]!
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/v1/applications',
    headers: { authorization: `Bearer ${await ctx.token('citizen', { claims: { sub: alice.regnum } })}`, 'idempotency-key': newKey() },
    payload: childMoney(alice),
  })
  tt.equal(res.statusCode, 202, res.body)
  const started = Date.now()
  const done = await eventually(async () => {
    const s = (await ctx.app.inject({ method: 'GET', url: `/v1/applications/${res.json().id}`, headers: { authorization: `Bearer ${await ctx.token('admin')}` } })).json()
    return s.status === 'decided' ? s : undefined
  }, 20000, 100)
  tt.ok(Date.now() - started < 20000, `decided after ${Date.now() - started} ms`)
  tt.match(done, { decision: /^(approved|rejected)$/ })
})

t.test('statuses and reasons in both languages; lang, then Accept-Language, then Mongolian', async (tt) => {
  const { submit, get, decided, decideAs, citizen } = await setup(tt)
  const bob = adults[1]!
  await decideAs('welfare', 'rejected')
  const res = await submit(await citizen(bob), childMoney(bob))
  tt.equal(res.statusCode, 202, res.body)
  const id = res.json().id as string
  const s = await decided(id)
  tt.equal(s.decision, 'rejected')
  tt.equal(s.lang, 'mn', 'Mongolian by default')
  tt.match(s.statusLabels, { mn: /[А-Яа-яӨөҮү]/, en: /rejected/i })
  tt.equal(s.statusLabel, s.statusLabels.mn)
  tt.match(s.reasons, { mn: /[А-Яа-яӨөҮү]/, en: /^[^А-Яа-яӨөҮү]+$/ })
  tt.equal(s.reason, s.reasons.mn)
  tt.ok(s.history.every((h: { statusLabels: { mn: string, en: string } }) => h.statusLabels.mn !== '' && h.statusLabels.en !== ''), 'each step of the history is labelled too')

  const en = await get(id, '?lang=en')
  tt.equal(en.lang, 'en')
  tt.equal(en.statusLabel, s.statusLabels.en)
  tt.equal(en.reason, s.reasons.en)
  const accepted = await get(id, '', { 'accept-language': 'en-GB,en;q=0.9' })
  tt.equal(accepted.lang, 'en', 'Accept-Language when there is no lang')
  const both = await get(id, '?lang=mn', { 'accept-language': 'en' })
  tt.equal(both.lang, 'mn', 'lang wins over Accept-Language')
  tt.equal((await get(id, '?lang=fr')).status, 400)
})

t.test('reasons the gateway writes come in both languages too', async (tt) => {
  const { submit, get, citizen } = await setup(tt)
  // A well-formed number the civil registry has never issued: the agency refuses the applicant.
  const stranger = 'ЭЭ01010155'
  const c = adults[2]!
  const res = await submit(await citizen({ ...c, regnum: stranger }), { ...childMoney(c), applicant: { regnum: stranger } })
  tt.equal(res.statusCode, 202, res.body)
  const failed = await eventually(async () => { const s = await get(res.json().id); return s.status === 'failed' ? s : undefined })
  tt.match(failed.reasons, { mn: /[А-Яа-яӨөҮү]/, en: /rejected by the agency/ })
  tt.match(failed.statusLabels, { mn: /[А-Яа-яӨөҮү]/, en: /failed|not delivered/i })
})

t.test('on approval the applicant gets what the agency gave: a birth registration the new child\'s number, a benefit its amount', async (tt) => {
  const { submit, officer, decided, decideAs, get, citizen } = await setup(tt)
  await decideAs('civil', 'approved')
  await decideAs('welfare', 'approved')
  const parent = adults[3]!
  const birth = example('civil.birth-registration')
  const officerUnit = '8322'
  const res = await submit(await officer(officerUnit), { service: 'civil.birth-registration', unit: officerUnit, channel: 'oss_counter', applicant: { regnum: parent.regnum }, form: birth })
  tt.equal(res.statusCode, 202, res.body)
  const b = await decided(res.json().id)
  tt.equal(b.decision, 'approved')
  const parsed = parseRegnum(b.result?.regnum ?? '')
  tt.ok(parsed.ok, `the new child's registration number parses: ${JSON.stringify(b.result)}`)
  if (parsed.ok) {
    tt.equal(parsed.birthDate, birth.birthDate, 'it carries the birth date')
    tt.equal(parsed.sex, birth.sex, 'and the sex')
  }
  tt.match(b.result, { certificateNumber: /\S/ })
  tt.notOk('childGivenName' in b.result, 'no more personal data than the applicant needs')

  const m = adults[4]!
  const cm = await submit(await citizen(m), childMoney(m))
  tt.equal(cm.statusCode, 202, cm.body)
  const w = await decided(cm.json().id)
  tt.equal(w.decision, 'approved')
  tt.ok(Number.isInteger(w.result?.amountMnt) && w.result.amountMnt > 0, `an amount granted in MNT: ${JSON.stringify(w.result)}`)
  tt.match(w.result, { period: { from: /^\d{4}-\d{2}$/ } })

  // A rejected application has no result.
  await decideAs('welfare', 'rejected')
  const n = adults[5]!
  const rj = await submit(await citizen(n), childMoney(n))
  const r = await decided(rj.json().id)
  tt.equal(r.decision, 'rejected')
  tt.equal(r.result, null)
  const mine = await get(rj.json().id)
  tt.equal(mine.result, null)
})

t.test('every service in the seed catalogue reaches the agency the catalogue names: the reference prefix is that agency', async (tt) => {
  const { app } = await setup(tt)
  const applicant = adults[6]!
  const checked: string[] = []
  for (const s of seed.services) {
    if (s.adapter === undefined || !app.adapters.has(s.adapter)) continue // packages (their parts are services here) and veterinary (no adapter yet)
    const receipt = await app.adapters.invoke<{ agencyReference: string }>(s.adapter, {
      applicationId: crypto.randomUUID(),
      service: s.code,
      unit: '8322',
      channel: 'oss_counter',
      applicant: { regnum: applicant.regnum },
      form: (s.formSchema.examples as object[] | undefined)?.[0] ?? {},
    }, { xRoadId: crypto.randomUUID() })
    tt.equal(receipt.agencyReference.split('-')[0], s.agency, `${s.code}: reference ${receipt.agencyReference}, agency ${s.agency}`)
    checked.push(s.code)
  }
  tt.ok(checked.includes('insurance.health-insurance'), 'health insurance is among them')
  const newborn = service('package.newborn')
  tt.ok(newborn.parts!.every((p) => checked.includes(p.service)), 'and every part of the newborn package')
})
