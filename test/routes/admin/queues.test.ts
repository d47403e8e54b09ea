import t from 'tap'
import { generatePopulation, type Citizen } from '../../../src/exchange/index.ts'
import { buildSeedDocument } from '../../../src/catalogue/seed.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { eventually } from '../../helpers/eventually.ts'

const [alice] = generatePopulation({ citizens: 500 }).livingAdults() as [Citizen]
const childMoney = buildSeedDocument().services.find((s) => s.code === 'welfare.child-money')!

t.test('the queue dashboard: admins only, by session cookie or token; it reads, nothing else', async (tt) => {
  const { app, token, exchange } = await buildTestApp(tt, {
    exchange: { citizens: 500 },
    env: { DELIVERY_ATTEMPTS: '1', OUTBOX_POLL_MS: '50', DECISION_POLL_MS: '60000' },
  })
  tt.equal((await app.inject({ method: 'GET', url: '/admin/queues' })).statusCode, 401)
  const asOfficer = await app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { authorization: `Bearer ${await token('officer')}` } })
  tt.equal(asOfficer.statusCode, 403)
  tt.equal(asOfficer.headers['content-type'], 'application/problem+json; charset=utf-8')
  tt.equal((await app.inject({ method: 'POST', url: '/admin/queues/session', headers: { authorization: `Bearer ${await token('officer')}` } })).statusCode, 403)

  const opened = await app.inject({ method: 'POST', url: '/admin/queues/session', headers: { authorization: `Bearer ${await token('admin')}` } })
  tt.equal(opened.statusCode, 204)
  const setCookie = String(opened.headers['set-cookie'])
  // Plain http here, so not Secure (a browser would drop it); https gets Secure (test/security/queue-dashboard.test.ts).
  tt.match(setCookie, /^oss_queues_session=[A-Za-z0-9_-]{43}; Path=\/admin\/queues; Max-Age=1800; HttpOnly; SameSite=Strict$/)
  const cookie = { cookie: setCookie.split(';')[0]! }

  const page = await app.inject({ method: 'GET', url: '/admin/queues', headers: cookie })
  tt.equal(page.statusCode, 200)
  tt.match(page.headers['content-type'], /text\/html/)
  const queues = await app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: cookie })
  tt.equal(queues.statusCode, 200)
  tt.same(queues.json().queues.map((q: { name: string }) => q.name).sort(), ['applications-callbacks', 'applications-delivery'])
  const withToken = await app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { authorization: `Bearer ${await token('admin')}` } })
  tt.equal(withToken.statusCode, 200, 'a tool may send an admin token instead')

  // Everything that is not a read is refused.
  for (const [method, url] of [
    ['PUT', '/admin/queues/api/queues/applications-delivery/pause'],
    ['PUT', '/admin/queues/api/queues/applications-delivery/clean/completed'],
    ['PUT', '/admin/queues/api/queues/applications-delivery/obliterate'],
    ['POST', '/admin/queues/api/queues/applications-delivery/add'],
    ['PUT', '/admin/queues/api/queues/applications-delivery/retry/completed'],
    ['PUT', '/admin/queues/api/queues/applications-delivery/retry/failed'],
  ] as const) {
    const res = await app.inject({ method, url, headers: cookie, payload: {} })
    tt.equal(res.statusCode, 403, url)
    tt.equal(res.json().code, 'READ_ONLY_DASHBOARD', url)
  }
  tt.equal(await app.applications.queue.isPaused(), false)

  // A delivery that failed is seen in the dashboard and retried through the admin API, and arrives.
  await exchange!.app.inject({ method: 'PUT', url: '/admin/faults/welfare', payload: { errorRate: 1 } })
  const submitted = await app.inject({
    method: 'POST',
    url: '/v1/applications',
    headers: { authorization: `Bearer ${await token('citizen', { claims: { sub: alice.regnum } })}`, 'idempotency-key': `dash-${process.pid}-${Date.now()}` },
    payload: { service: childMoney.code, unit: alice.homeUnit, channel: 'online', applicant: { regnum: alice.regnum }, form: (childMoney.formSchema.examples as object[])[0] },
  })
  const id = submitted.json().id as string
  const status = async () => (await app.inject({ method: 'GET', url: `/v1/applications/${id}`, headers: { authorization: `Bearer ${await token('admin')}` } })).json()
  await eventually(async () => (await status()).status === 'failed')
  await exchange!.app.inject({ method: 'DELETE', url: '/admin/faults/welfare' })
  await eventually(async () => (await app.applications.queue.getJobState(id)) === 'failed')
  const shown = await app.inject({ method: 'GET', url: `/admin/queues/api/queues/applications-delivery/${id}`, headers: cookie })
  tt.equal(shown.statusCode, 200, 'the failed job is shown')
  const fromDashboard = await app.inject({ method: 'PUT', url: `/admin/queues/api/queues/applications-delivery/${id}/retry`, headers: cookie, payload: {} })
  tt.match(fromDashboard.json(), { status: 403, code: 'READ_ONLY_DASHBOARD', detail: /POST \/v1\/admin\/applications\/\{id\}\/retry/ })
  const retried = await app.inject({ method: 'POST', url: `/v1/admin/applications/${id}/retry`, headers: { authorization: `Bearer ${await token('admin')}` } })
  tt.equal(retried.statusCode, 202, retried.body)
  const done = await eventually(async () => { const s = await status(); return s.status === 'delivered' ? s : undefined })
  tt.match(done, { agencyReference: /^GOSW-/ })

  const closed = await app.inject({ method: 'DELETE', url: '/admin/queues/session', headers: cookie })
  tt.equal(closed.statusCode, 204)
  tt.match(String(closed.headers['set-cookie']), /Max-Age=0/)
  const after = await app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: cookie })
  tt.equal(after.statusCode, 401, 'the session is gone')
})
