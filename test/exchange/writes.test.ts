import { randomUUID } from 'node:crypto'
import t from 'tap'
import { decide } from '../../src/exchange/applications.ts'
import { createBus } from './helpers.ts'

const WELFARE = 'MN/GOV/GOSW/welfare'

function application (regnum: string, applicationId: string = randomUUID()) {
  return {
    applicationId,
    service: 'welfare.child-money',
    unit: '110151',
    channel: 'oss',
    applicant: { regnum },
    form: { children: 2, bankAccount: '5012345678' },
  }
}

t.test('the same write twice with one X-Road-Id creates one application', async (t) => {
  const bus = await createBus()
  t.teardown(() => bus.app.close())
  const regnum = bus.population.citizens[0]?.regnum ?? ''
  const xRoadId = randomUUID()
  const app = application(regnum)
  const first = await bus.call(`${WELFARE}/submitApplication`, app, { headers: { 'x-road-id': xRoadId } })
  const second = await bus.call(`${WELFARE}/submitApplication`, app, { headers: { 'x-road-id': xRoadId } })
  t.equal(first.statusCode, 200)
  t.equal(second.statusCode, 200)
  t.equal(second.body, first.body, 'the first answer is returned unchanged')
  t.equal(first.json().status, 'received')
  t.match(first.json().agencyReference, /^GOSW-[0-9]{7}$/)

  const counters = await bus.app.inject({ method: 'GET', url: '/admin/providers/welfare/counters' })
  t.equal(counters.json().applicationsReceived, 1)
  t.equal(counters.json().idempotentReplays, 1)

  // A retry under a new X-Road-Id is still one application.
  const third = await bus.call(`${WELFARE}/submitApplication`, app)
  t.equal(third.json().agencyReference, first.json().agencyReference)
  const after = await bus.app.inject({ method: 'GET', url: '/admin/providers/welfare/counters' })
  t.equal(after.json().applicationsReceived, 1)

  // The same id with other content is a conflict.
  const conflict = await bus.call(`${WELFARE}/submitApplication`, { ...app, form: { children: 3 } })
  t.equal(conflict.statusCode, 409)
  t.equal(conflict.json().type, 'Provider.Conflict')

  const other = await bus.call(`${WELFARE}/submitApplication`, application(regnum))
  t.equal(other.statusCode, 200)
  const two = await bus.app.inject({ method: 'GET', url: '/admin/providers/welfare/counters' })
  t.equal(two.json().applicationsReceived, 2)
  const civil = await bus.app.inject({ method: 'GET', url: '/admin/providers/civil/counters' })
  t.equal(civil.json().applicationsReceived, 0, 'counters are per provider')
})

t.test('malformed writes get a provider 400 with a reason', async (t) => {
  const bus = await createBus()
  t.teardown(() => bus.app.close())
  const regnum = bus.population.citizens[0]?.regnum ?? ''
  const { applicant: _, ...noApplicant } = application(regnum)
  void _
  const res = await bus.call(`${WELFARE}/submitApplication`, noApplicant)
  t.equal(res.statusCode, 400)
  t.equal(res.json().type, 'Provider.InvalidRequest')
  t.match(res.json().detail, /applicant/)
  t.notOk(res.headers['x-road-error'])

  const unknown = await bus.call(`${WELFARE}/submitApplication`, application('ФЫ90010112'))
  t.equal(unknown.statusCode, 404)

  const url = `/r1/${WELFARE}/submitApplication`
  const raw = await bus.call(`${WELFARE}/submitApplication`, undefined, { url, headers: { 'content-type': 'application/json' } })
  t.equal(raw.statusCode, 400, 'an empty body is refused by the provider')

  const counters = await bus.app.inject({ method: 'GET', url: '/admin/providers/welfare/counters' })
  t.equal(counters.json().applicationsReceived, 0)
})

t.test('the decision appears after the delay, on the injected clock', async (t) => {
  let clock = Date.parse('2025-03-01T09:00:00Z')
  const bus = await createBus({ now: () => clock, decisionDelayMs: 5000 })
  t.teardown(() => bus.app.close())
  const regnum = bus.population.citizens[0]?.regnum ?? ''
  // Pick ids whose deterministic decisions differ, to see both outcomes.
  const ids = Array.from({ length: 40 }, (_, i) => `app-${i}`)
  const approvedId = ids.find((id) => decide(id).status === 'approved') ?? ''
  const rejectedId = ids.find((id) => decide(id).status === 'rejected') ?? ''
  t.ok(approvedId && rejectedId, 'both outcomes occur')
  const approvals = ids.filter((id) => decide(id).status === 'approved').length
  t.ok(approvals > ids.length / 2, 'most are approved')

  const nowS = () => Math.floor(clock / 1000)
  for (const id of [approvedId, rejectedId]) {
    const sub = await bus.call(`${WELFARE}/submitApplication`, application(regnum, id), { nowSeconds: nowS() })
    t.equal(sub.statusCode, 200)
  }
  const status = async (id: string) => (await bus.call(`${WELFARE}/getApplicationStatus`, { applicationId: id }, { nowSeconds: nowS() })).json()

  clock += 4999
  t.same(await status(approvedId), { applicationId: approvedId, agencyReference: 'GOSW-0000001', status: 'received', expectedDecisionAt: '2025-03-01T09:00:05.000Z' })
  clock += 1
  const decided = await status(approvedId)
  t.equal(decided.status, 'approved')
  t.equal(decided.decidedAt, '2025-03-01T09:00:05.000Z')
  const rejected = await status(rejectedId)
  t.equal(rejected.status, 'rejected')
  t.match(rejected.reason, { mn: /[А-Яа-яӨөҮү]/, en: /^[A-Za-z ,.]+$/ }, 'the reason in Mongolian and English')
  t.notOk('result' in rejected, 'no result on a rejection')
  t.match(decided.result, { kind: 'benefit', amountMnt: 100000, frequency: 'monthly', period: { from: '2025-04' } }, 'Child Money: the amount granted')

  const missing = await bus.call(`${WELFARE}/getApplicationStatus`, { applicationId: 'never-sent' }, { nowSeconds: nowS() })
  t.equal(missing.statusCode, 404)
})
