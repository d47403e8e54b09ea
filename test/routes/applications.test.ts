import t from 'tap'
import { Queue } from 'bullmq'
import { DELIVERY_QUEUE } from '../../src/applications/queue.ts'
import { generatePopulation, type Citizen } from '../../src/exchange/index.ts'
import { buildSeedDocument } from '../../src/catalogue/seed.ts'
import { createSnapshot } from '../../src/catalogue/snapshot.ts'
import { buildTestApp } from '../helpers/app.ts'
import { eventually } from '../helpers/eventually.ts'

const population = generatePopulation({ citizens: 500 })
const [alice, bob] = population.livingAdults() as [Citizen, Citizen]
const seed = buildSeedDocument()
const snap = createSnapshot(1, 'seed', seed)
const online = seed.services.find((s) => s.code === 'welfare.child-money')!
const OFFICER_UNIT = '8322'
const counter = [...snap.offers(OFFICER_UNIT).values()].find((o) => o.service.applicants.includes('officer') && o.channels.includes('oss_counter') && o.service.adapter !== undefined && !o.service.adapter.startsWith('veterinary'))!.service

let keyN = 0
const newKey = () => `key-${process.pid}-${Date.now()}-${keyN++}`

async function setup (tt: Parameters<typeof buildTestApp>[0], env: Record<string, string> = {}) {
  const ctx = await buildTestApp(tt, {
    exchange: { citizens: 500, decisionDelayMs: 100 },
    env: { DELIVERY_BACKOFF_BASE_MS: '20', DELIVERY_BACKOFF_MAX_MS: '100', OUTBOX_POLL_MS: '50', DECISION_POLL_MS: '50', ...env },
  })
  const citizenOf = async (c: Citizen) => ({ authorization: `Bearer ${await ctx.token('citizen', { claims: { sub: c.regnum } })}` })
  const officer = async (unit = OFFICER_UNIT) => ({ authorization: `Bearer ${await ctx.token('officer', { claims: { unit, agency: 'GOSW' } })}` })
  const submit = async (headers: Record<string, string>, body: unknown, key = newKey()) =>
    ctx.app.inject({ method: 'POST', url: '/v1/applications', headers: { ...headers, 'idempotency-key': key }, payload: body as object })
  const status = async (id: string) => (await ctx.app.inject({ method: 'GET', url: `/v1/applications/${id}`, headers: { authorization: `Bearer ${await ctx.token('admin')}` } })).json()
  const received = async (provider: string) => (await ctx.exchange!.app.inject({ method: 'GET', url: `/admin/providers/${provider}/counters` })).json().applicationsReceived
  return { ...ctx, citizenOf, officer, submit, status, received }
}

const childMoney = (c: Citizen) => ({ service: online.code, unit: c.homeUnit, channel: 'online', applicant: { regnum: c.regnum }, form: (online.formSchema.examples as object[])[0] })

t.test('a citizen applies online: 202 from the database, then delivered once to the agency', async (tt) => {
  const { app, citizenOf, submit, status, received } = await setup(tt)
  const res = await submit(await citizenOf(alice), childMoney(alice))
  tt.equal(res.statusCode, 202, res.body)
  const id = res.json().id
  tt.equal(res.headers.location, `/v1/applications/${id}`)
  tt.match(res.json(), { service: online.code, status: 'received', channel: 'online' })
  const done = await eventually(async () => { const s = await status(id); return ['delivered', 'decided'].includes(s.status) ? s : undefined })
  tt.match(done, { agencyReference: /^GOSW-/, attempts: 1 })
  tt.same(done.history.map((h: { status: string }) => h.status).slice(0, 4), ['received', 'queued', 'delivering', 'delivered'])
  tt.equal(await received('welfare'), 1)

  // The agency decides later; the worker asks its status service.
  const decided = await eventually(async () => { const s = await status(id); return s.status === 'decided' ? s : undefined })
  tt.match(decided, { decision: /^(approved|rejected)$/ })
  tt.equal(decided.history.at(-1).status, 'decided')

  const mine = await app.inject({ method: 'GET', url: '/v1/me/applications', headers: await citizenOf(alice) })
  tt.same(mine.json().applications.map((a: { id: string }) => a.id), [id])
})

t.test('Idempotency-Key: a repeat gets the first answer; another body with the key is 422', async (tt) => {
  const { app, citizenOf, submit, config } = await setup(tt)
  const key = newKey()
  const first = await submit(await citizenOf(alice), childMoney(alice), key)
  const again = await submit(await citizenOf(alice), childMoney(alice), key)
  tt.equal(again.statusCode, 202)
  tt.equal(again.json().id, first.json().id)
  tt.equal(again.headers['idempotent-replayed'], 'true')
  const other = await submit(await citizenOf(alice), { ...childMoney(alice), unit: '8322' }, key)
  tt.equal(other.statusCode, 422)
  tt.equal(other.json().code, 'IDEMPOTENCY_KEY_REUSED')
  const { rows } = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM applications')
  tt.equal(rows[0]!.n, 1)
  tt.ok(config)
  const noKey = await app.inject({ method: 'POST', url: '/v1/applications', headers: await citizenOf(alice), payload: childMoney(alice) })
  tt.equal(noKey.statusCode, 400)
  tt.match(noKey.json().errors, [{ in: 'headers', pointer: '/idempotency-key' }])
})

t.test('applications sent together are written together: each key claimed once, a repeat in the same group answered as a replay, another body under the key refused', async (tt) => {
  const { app, citizenOf, submit, received } = await setup(tt)
  const alices = await citizenOf(alice)
  const bobs = await citizenOf(bob)
  const shared = newKey()
  // Sent at once, so they arrive in one turn of the event loop.
  const answers = await Promise.all([
    ...Array.from({ length: 20 }, (_, i) => submit(i % 2 === 0 ? alices : bobs, childMoney(i % 2 === 0 ? alice : bob))),
    submit(alices, childMoney(alice), shared),
    submit(alices, childMoney(alice), shared),
  ])
  // Another body under the key, once the first is in (sent with the others,
  // it could arrive first on a busy machine and take the key itself).
  answers.push(await submit(alices, { ...childMoney(alice), unit: '8322' }, shared))
  for (const a of answers.slice(0, 22)) tt.equal(a.statusCode, 202, a.body)
  tt.equal(new Set(answers.slice(0, 20).map((a) => a.json().id)).size, 20, 'twenty applications')
  tt.equal(answers[20]!.json().id, answers[21]!.json().id, 'the same key, the same application')
  tt.same([answers[20]!.headers['idempotent-replayed'], answers[21]!.headers['idempotent-replayed']].sort(), ['true', undefined].sort(), 'one of them a replay')
  tt.equal(answers[22]!.statusCode, 422)
  tt.equal(answers[22]!.json().code, 'IDEMPOTENCY_KEY_REUSED')
  const counts = await app.db.query<{ apps: number, events: number, keys: number }>(`SELECT
    (SELECT count(*)::int FROM applications) AS apps,
    (SELECT count(*)::int FROM application_events WHERE status = 'received') AS events,
    (SELECT count(*)::int FROM idempotency_keys) AS keys`)
  tt.same(counts.rows[0], { apps: 21, events: 21, keys: 21 })
  await eventually(async () => (await received('welfare')) === 21 || undefined)
})

t.test('each check has its own problem', async (tt) => {
  const { citizenOf, officer, submit } = await setup(tt)
  // Tokens are single-use: a fresh one for every request.
  const c = () => citizenOf(alice)
  tt.match((await submit(await c(), { ...childMoney(alice), service: 'no.such-service' })).json(), { status: 400, errors: [{ pointer: '/service' }] })
  const badForm = await submit(await c(), { ...childMoney(alice), form: { unexpected: true } })
  tt.equal(badForm.statusCode, 400, badForm.body)
  tt.ok(badForm.json().errors.every((e: { pointer: string }) => e.pointer.startsWith('/form')))
  tt.match((await submit(await c(), childMoney(bob))).json(), { status: 403, code: 'APPLICANT_FORBIDDEN' })
  tt.match((await submit(await c(), { ...childMoney(alice), channel: 'oss_counter' })).json(), { status: 403, code: 'CHANNEL_FORBIDDEN' })
  tt.match((await submit(await c(), { ...childMoney(alice), applicant: { regnum: 'АА99133112' } })).json(), { status: 400, code: 'INVALID_REGNUM' })

  const example = (counter.formSchema.examples as object[])[0]
  const atCounter = { service: counter.code, unit: OFFICER_UNIT, channel: 'oss_counter', applicant: { regnum: alice.regnum }, form: example }
  tt.equal((await submit(await officer(), atCounter)).statusCode, 202)
  tt.match((await submit(await officer('8225'), atCounter)).json(), { status: 403, code: 'APPLICANT_FORBIDDEN' })
  tt.match((await submit(await officer(), { ...atCounter, channel: 'online' })).json(), { status: 403, code: 'CHANNEL_FORBIDDEN' })
  // Тайшир (8225) has no land officer: its counter does not take land certificates.
  const land = seed.services.find((s) => s.code === 'land.possession-certificate')!
  const gap = await submit(await officer('8225'), { service: land.code, unit: '8225', channel: 'oss_counter', applicant: { regnum: alice.regnum }, form: (land.formSchema.examples as object[])[0] })
  tt.match(gap.json(), { status: 422, code: 'SERVICE_NOT_OFFERED' })
  const vet = seed.services.find((s) => s.category === 'veterinary')!
  tt.match((await submit(await officer('8322'), { service: vet.code, unit: '8322', channel: 'oss_counter', applicant: { regnum: alice.regnum }, form: (vet.formSchema.examples as object[])[0] })).json(), { status: 422 })
})

t.test('an agency rejection ends failed after one attempt, with its reason', async (tt) => {
  const { citizenOf, submit, status } = await setup(tt)
  // A well-formed number the civil registry has never issued: the agency refuses the applicant.
  const stranger = 'ЭЭ01010155'
  const res = await submit(await citizenOf({ ...alice, regnum: stranger }), { ...childMoney(alice), applicant: { regnum: stranger } })
  tt.equal(res.statusCode, 202)
  const done = await eventually(async () => { const s = await status(res.json().id); return s.status === 'failed' ? s : undefined })
  tt.match(done, { attempts: 1, reasons: { en: /rejected by the agency/ } })
})

t.test('only the applicant, officers of the unit and admins can read an application', async (tt) => {
  const { app, citizenOf, officer, submit, token } = await setup(tt)
  const id = (await submit(await citizenOf(alice), childMoney(alice))).json().id
  const read = async (headers: Record<string, string>) => (await app.inject({ method: 'GET', url: `/v1/applications/${id}`, headers })).statusCode
  tt.equal(await read(await citizenOf(alice)), 200)
  tt.equal(await read(await citizenOf(bob)), 404, 'another citizen learns nothing')
  tt.equal(await read(await officer(alice.homeUnit)), 200)
  tt.equal(await read(await officer('8225')), 404)
  tt.equal(await read({ authorization: `Bearer ${await token('admin')}` }), 200)
  tt.equal(await read({ authorization: `Bearer ${await token('partner')}` }), 403)
  const unitList = await app.inject({ method: 'GET', url: `/v1/units/${alice.homeUnit}/applications`, headers: await officer(alice.homeUnit) })
  tt.equal(unitList.json().applications.length, 1)
  tt.equal((await app.inject({ method: 'GET', url: '/v1/units/8225/applications', headers: await officer(alice.homeUnit) })).statusCode, 403)
})

t.test('a mobile OSS batch is answered per item; resent items are duplicates', async (tt) => {
  const { app, officer, received } = await setup(tt)
  const round = seed.mobileRounds.find((r) => r.to >= new Date().toISOString().slice(0, 10))!
  const service = seed.services.find((s) => round.services.includes(s.code) && s.applicants.includes('officer') && s.adapter !== undefined && !s.adapter.startsWith('veterinary'))!
  const bag = round.bags[0]!
  const item = (c: Citizen, key: string) => ({
    idempotencyKey: key,
    application: { service: service.code, unit: bag, channel: 'mobile_oss', applicant: { regnum: c.regnum }, form: (service.formSchema.examples as object[])[0] },
  })
  const people = population.livingAdults().slice(0, 5)
  const base = `van-${Date.now()}`
  const headers = async () => officer(round.unit)
  const first = await app.inject({ method: 'POST', url: '/v1/applications/batch', headers: await headers(), payload: { items: people.slice(0, 3).map((c, i) => item(c, `${base}-${i}`)) } })
  tt.equal(first.statusCode, 200, first.body)
  tt.match(first.json(), { accepted: 3, duplicates: 0, invalid: 0 })

  // The van resends everything, plus two new people and two bad items.
  const items = [
    ...people.slice(0, 3).map((c, i) => item(c, `${base}-${i}`)),
    ...people.slice(3, 5).map((c, i) => item(c, `${base}-${i + 3}`)),
    { idempotencyKey: `${base}-bad-1`, application: { ...item(people[0]!, 'x').application, applicant: { regnum: 'АА99133112' } } },
    { idempotencyKey: `${base}-bad-2`, application: { ...item(people[0]!, 'x').application, form: { nonsense: true } } },
  ]
  const second = await app.inject({ method: 'POST', url: '/v1/applications/batch', headers: await headers(), payload: { items } })
  tt.match(second.json(), { accepted: 2, duplicates: 3, invalid: 2 })
  const results = second.json().results
  tt.same(results.slice(0, 3).map((r: any) => r.id), first.json().results.map((r: any) => r.id), 'duplicates point at the first applications')
  tt.match(results[5], { result: 'invalid', problem: { code: 'INVALID_REGNUM', errors: [{ pointer: '/items/5/application/applicant/regnum' }] } })
  tt.match(results[6], { result: 'invalid', problem: { code: 'VALIDATION_FAILED' } })
  const { rows } = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM applications')
  tt.equal(rows[0]!.n, 5, 'only the new valid ones were created')
  const agency = seed.agencies.find((a) => a.code === service.agency)!.memberId!.split('/').at(-1)!
  await eventually(async () => (await received(agency)) === 5 || undefined)
  const tooMany = await app.inject({ method: 'POST', url: '/v1/applications/batch', headers: await headers(), payload: { items: Array.from({ length: 501 }, (_, i) => item(people[0]!, `${base}-many-${i}`)) } })
  tt.equal(tooMany.statusCode, 400)
})

t.test('an admin retries a failed application; queue depth shows in metrics', async (tt) => {
  const { app, citizenOf, submit, status, token, exchange } = await setup(tt, { DELIVERY_ATTEMPTS: '2' })
  await exchange!.app.inject({ method: 'PUT', url: '/admin/faults/welfare', payload: { errorRate: 1 } })
  const id = (await submit(await citizenOf(alice), childMoney(alice))).json().id
  const failed = await eventually(async () => { const s = await status(id); return s.status === 'failed' ? s : undefined })
  tt.match(failed, { attempts: 2, reasons: { en: /dead-lettered after 2 attempts/ } })
  const admin = async () => ({ authorization: `Bearer ${await token('admin')}` })
  const list = await app.inject({ method: 'GET', url: '/v1/admin/applications?status=failed', headers: await admin() })
  tt.same(list.json().applications.map((a: { id: string }) => a.id), [id])

  await exchange!.app.inject({ method: 'DELETE', url: '/admin/faults/welfare' })
  const retry = await app.inject({ method: 'POST', url: `/v1/admin/applications/${id}/retry`, headers: await admin() })
  tt.equal(retry.statusCode, 202)
  const done = await eventually(async () => { const s = await status(id); return ['delivered', 'decided'].includes(s.status) ? s : undefined })
  tt.ok(done.history.some((h: { detail: string | null }) => /retry requested by admin:admin-1/.test(h.detail ?? '')))
  const again = await app.inject({ method: 'POST', url: `/v1/admin/applications/${id}/retry`, headers: await admin() })
  tt.equal(again.statusCode, 409)

  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  tt.match(metrics, /application_delivery_queue_jobs\{state="outbox"\} 0/)
  tt.match(metrics, /application_delivery_attempts_total\{outcome="delivered"\} 1/)
  tt.match(metrics, /application_delivery_seconds_count 1/)
})

t.test('a package fans out as a flow: one application per agency, each part shown, a failed part retried alone', async (tt) => {
  const { app, officer, status, received, token, exchange } = await setup(tt, { DELIVERY_ATTEMPTS: '2' })
  const pkg = seed.services.find((s) => s.code === 'package.newborn')!
  tt.ok(snap.offers(OFFICER_UNIT).get(pkg.code)?.channels.includes('oss_counter'), 'the soum OSS offers the package')
  await exchange!.app.inject({ method: 'PUT', url: '/admin/faults/welfare', payload: { errorRate: 1 } })
  const res = await app.inject({
    method: 'POST',
    url: '/v1/applications',
    headers: { ...await officer(), 'idempotency-key': newKey() },
    payload: { service: pkg.code, unit: OFFICER_UNIT, channel: 'oss_counter', applicant: { regnum: alice.regnum }, form: (pkg.formSchema.examples as object[])[0] },
  })
  tt.equal(res.statusCode, 202, res.body)
  const id = res.json().id as string

  const failed = await eventually(async () => {
    const s = await status(id)
    return s.status === 'failed' && s.parts.every((p: { status: string }) => p.status !== 'delivering' && p.status !== 'queued') ? s : undefined
  }, 30000)
  tt.equal(failed.parts.length, 3, 'one record per agency')
  const part = (s: { parts: Array<{ service: string }> }, code: string) => s.parts.find((p) => p.service === code) as Record<string, unknown>
  tt.match(part(failed, 'civil.birth-registration'), { status: /^(delivered|decided)$/, agencyReference: /^GASR-/, packageId: id })
  tt.match(part(failed, 'insurance.health-insurance'), { status: /^(delivered|decided)$/, agencyReference: /^GAHI-/ })
  tt.match(part(failed, 'welfare.child-money'), { status: 'failed', attempts: 2, reasons: { en: /dead-lettered after 2 attempts/ } })
  tt.match(failed.reasons.en, /1 of 3 parts failed: welfare.child-money/)
  tt.equal(await received('civil'), 1)
  tt.equal(await received('health-insurance'), 1)
  tt.equal(await received('welfare'), 0)

  // Each agency got only the fields the package gives it.
  const { rows } = await app.db.query<{ service: string, form: Record<string, unknown> }>('SELECT service, form FROM applications WHERE package_id = $1', [id])
  tt.same(Object.keys(rows.find((r) => r.service === 'insurance.health-insurance')!.form).sort(), ['birthDate', 'childGivenName', 'phone'])
  tt.notOk('bankAccount' in rows.find((r) => r.service === 'civil.birth-registration')!.form)

  // The flow's parent ran once its children were settled, the failed one included.
  const queue = new Queue(DELIVERY_QUEUE, { connection: app.redis, prefix: `${app.redisKeyPrefix}:bull` })
  tt.teardown(() => queue.close())
  const parent = await eventually(async () => { const j = await queue.getJob(id); return j?.finishedOn === undefined ? undefined : j })
  tt.equal(parent.name, 'package')
  tt.equal(await parent.getState(), 'completed')
  tt.same(Object.keys(await parent.getIgnoredChildrenFailures()).length, 1)
  tt.equal(Object.keys(await parent.getChildrenValues()).length, 2)

  // Citizens and unit lists show the package, not its parts.
  const unitList = await app.inject({ method: 'GET', url: `/v1/units/${OFFICER_UNIT}/applications`, headers: await officer() })
  tt.same(unitList.json().applications.map((a: { id: string }) => a.id), [id])

  // The admin retries the package: only the failed part goes again.
  await exchange!.app.inject({ method: 'DELETE', url: '/admin/faults/welfare' })
  const retry = await app.inject({ method: 'POST', url: `/v1/admin/applications/${id}/retry`, headers: { authorization: `Bearer ${await token('admin')}` } })
  tt.equal(retry.statusCode, 202, retry.body)
  const done = await eventually(async () => { const s = await status(id); return ['delivered', 'decided'].includes(s.status) ? s : undefined }, 30000)
  tt.match(part(done, 'welfare.child-money'), { status: /^(delivered|decided)$/, agencyReference: /^GOSW-/ })
  tt.equal(await received('welfare'), 1)
  tt.equal(await received('civil'), 1, 'the delivered parts were not sent again')
  tt.equal(await received('health-insurance'), 1)
  tt.ok(done.history.some((h: { detail: string | null }) => /^parts: /.test(h.detail ?? '')), 'the package history follows its parts')
})
