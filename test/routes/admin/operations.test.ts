import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { buildSeedDocument } from '../../../src/catalogue/seed.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { eventually } from '../../helpers/eventually.ts'

// The operations API: delivery health per agency, breakers, portal
// callbacks. Admins only; a bad query is a 400 naming the field.

const seed = buildSeedDocument()
const childMoney = seed.services.find((s) => s.code === 'welfare.child-money')!
const insured = seed.services.find((s) => s.adapter === 'insurance.submitApplication')!
const ROUTES = ['/v1/admin/operations/deliveries', '/v1/admin/operations/breakers', '/v1/admin/operations/callbacks']

interface Row { service?: string, adapter?: string | null, status: string, attempts?: number, reason?: string | null, hoursAgo?: number, packageId?: string | null, portal?: string | null }

// Applications written straight into the store, in the states the figures count.
async function put (app: FastifyInstance, row: Row): Promise<string> {
  const id = randomUUID()
  await app.db.query(
    `INSERT INTO applications (id, service, adapter, unit, channel, applicant_regnum, form, submitted_by, submitted_role, portal, status, attempts, reason, package_id, created_at, updated_at)
     VALUES ($1, $2, $3, '832269', 'online', 'УБ99032712', '{}', 'test', 'citizen', $4, $5, $6, $7, $8, now() - ($9::float8 * interval '1 hour'), now() - ($9::float8 * interval '1 hour'))`,
    [id, row.service ?? childMoney.code, row.adapter === undefined ? childMoney.adapter : row.adapter, row.portal ?? null, row.status, row.attempts ?? 0, row.reason ?? null, row.packageId ?? null, row.hoursAgo ?? 0])
  return id
}

t.test('admins only; a bad query is a 400 naming the field; all three in the OpenAPI document', async (t) => {
  const { app, token } = await buildTestApp(t)
  const as = async (role: string, claims: Record<string, unknown> = {}) => ({ authorization: `Bearer ${await token(role, { claims })}` })
  for (const url of ROUTES) {
    t.equal((await app.inject({ method: 'GET', url })).statusCode, 401, `${url}: no token`)
    for (const [role, claims] of [['officer', {}], ['analyst', { sub: 'analyst-1', unit: '62' }], ['citizen', {}]] as const) {
      const res = await app.inject({ method: 'GET', url, headers: await as(role, claims) })
      t.equal(res.statusCode, 403, `${url}: ${role}`)
      t.equal(res.json().code, 'ROLE_FORBIDDEN', `${url}: ${role}`)
    }
    t.equal((await app.inject({ method: 'GET', url, headers: await as('admin') })).statusCode, 200, `${url}: admin`)
  }

  const headers = await as('admin')
  for (const [url, field] of [
    ['/v1/admin/operations/deliveries?hours=0', '/hours'],
    ['/v1/admin/operations/deliveries?hours=721', '/hours'],
    ['/v1/admin/operations/deliveries?hours=day', '/hours'],
    ['/v1/admin/operations/deliveries?failed=201', '/failed'],
    ['/v1/admin/operations/deliveries?failed=-1', '/failed'],
    ['/v1/admin/operations/deliveries?agency=GOSW', '/agency'],
    ['/v1/admin/operations/breakers?provider=welfare', '/provider'],
    ['/v1/admin/operations/callbacks?portal=x', '/portal'],
  ] as const) {
    const res = await app.inject({ method: 'GET', url, headers })
    t.equal(res.statusCode, 400, url)
    t.match(res.json(), { code: 'VALIDATION_FAILED', errors: [{ in: 'querystring', pointer: field }] }, `${url} names ${field}`)
  }

  // The document: what fuzzing and the OpenAPI walk build their requests from.
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json()
  for (const [path, id] of [['/v1/admin/operations/deliveries', 'getDeliveryHealth'], ['/v1/admin/operations/breakers', 'getAdapterBreakers'], ['/v1/admin/operations/callbacks', 'getCallbackHealth']] as const) {
    const op = doc.paths[path]?.get
    t.match(op, { operationId: id, tags: ['admin'], security: [{ bearer: [] }], description: /Roles: admin\./ }, path)
    t.ok(op?.responses?.['200']?.content?.['application/json']?.schema, `${path}: its answer's schema`)
    t.ok(op?.responses?.['403'], `${path}: 403 declared`)
  }
  const params = doc.paths['/v1/admin/operations/deliveries'].get.parameters
  t.match(params.find((p: { name: string }) => p.name === 'hours'), { in: 'query', schema: { type: 'integer', minimum: 1, maximum: 720, default: 24 } })
  t.match(params.find((p: { name: string }) => p.name === 'failed'), { in: 'query', schema: { type: 'integer', minimum: 0, maximum: 200 } })
})

t.test('delivery health: per agency and adapter, the window, failed and dead-lettered to retry', async (t) => {
  const { app, token } = await buildTestApp(t)
  const headers = { authorization: `Bearer ${await token('admin')}` }
  await put(app, { status: 'received' })
  await put(app, { status: 'queued', attempts: 1 })
  await put(app, { status: 'delivering', attempts: 1 })
  await put(app, { status: 'delivered', attempts: 1 })
  await put(app, { status: 'decided', attempts: 3 })
  await put(app, { status: 'delivered', attempts: 5, hoursAgo: 72 })
  const rejected = await put(app, { status: 'failed', attempts: 1, reason: 'rejected by the agency: the bank account is closed', hoursAgo: 2 })
  const dead = await put(app, { status: 'failed', attempts: 12, reason: 'dead-lettered after 12 attempts: welfare failed (500)', hoursAgo: 1 })
  await put(app, { service: insured.code, adapter: insured.adapter, status: 'delivered', attempts: 2 })
  // A package is counted through its parts; its own row has no adapter.
  const pkg = await put(app, { service: 'package.newborn', adapter: null, status: 'failed', reason: '1 of 1 parts failed: x' })
  const part = await put(app, { service: insured.code, adapter: insured.adapter, status: 'failed', attempts: 12, reason: 'dead-lettered after 12 attempts: insurance did not answer', packageId: pkg })
  // A service no longer in the catalogue still counts, without an agency.
  await put(app, { service: 'welfare.retired-service', status: 'queued' })

  const day = await app.inject({ method: 'GET', url: '/v1/admin/operations/deliveries', headers })
  t.equal(day.statusCode, 200, day.body)
  const body = day.json()
  t.equal(body.hours, 24, 'the window is a day by default')
  t.ok(Date.now() - Date.parse(body.since) >= 24 * 3600_000 - 60_000)
  const welfare = body.agencies.find((a: { agency: string | null, adapter: string }) => a.agency === childMoney.agency && a.adapter === 'welfare.submitApplication')
  t.match(welfare, { agency: childMoney.agency, agencyName: { mn: String, en: String }, provider: 'welfare', queued: 2, delivering: 1, delivered: 2, attempts: 4, attemptsPerDelivery: 2, failed: 1, deadLettered: 1 })
  const insurance = body.agencies.find((a: { adapter: string }) => a.adapter === 'insurance.submitApplication')
  t.match(insurance, { agency: insured.agency, provider: 'insurance', queued: 0, delivered: 1, attemptsPerDelivery: 2, failed: 0, deadLettered: 1 })
  t.match(body.agencies.find((a: { agency: string | null }) => a.agency === null), { agencyName: null, adapter: 'welfare.submitApplication', queued: 1, delivered: 0, attemptsPerDelivery: null })
  t.match(body.totals, { queued: 3, delivering: 1, delivered: 3, attempts: 6, attemptsPerDelivery: 2, failed: 1, deadLettered: 2 })
  t.same(body.failedApplications.map((f: { id: string }) => f.id), [part, dead, rejected], 'failed parts and applications, newest first; not the package')
  t.match(body.failedApplications[0], { kind: 'dead_lettered', packageId: pkg, agency: insured.agency, attempts: 12, reason: { en: /dead-lettered after 12 attempts/, mn: /12 удаа оролдоод/ } })
  t.match(body.failedApplications[2], { kind: 'rejected', service: childMoney.code, unit: '832269', reason: { en: /bank account is closed/ } })
  t.match(body.queues, [{ name: 'applications-delivery', available: true }, { name: 'applications-callbacks', available: true }])
  t.equal(body.outbox, 0)

  const week = (await app.inject({ method: 'GET', url: '/v1/admin/operations/deliveries?hours=168&failed=1', headers })).json()
  t.match(week.totals, { delivered: 4, attempts: 11, attemptsPerDelivery: 2.75 }, 'a wider window takes in older deliveries')
  t.equal(week.failedApplications.length, 1, 'as many failed as asked for')
  const none = (await app.inject({ method: 'GET', url: '/v1/admin/operations/deliveries?failed=0', headers })).json()
  t.same(none.failedApplications, [])

  // Retried through the applications API, it leaves the failed figures.
  const retried = await app.inject({ method: 'POST', url: `/v1/admin/applications/${dead}/retry`, headers })
  t.equal(retried.statusCode, 202)
  const after = (await app.inject({ method: 'GET', url: '/v1/admin/operations/deliveries', headers })).json()
  t.equal(after.totals.deadLettered, 1)
  t.notOk(after.failedApplications.some((f: { id: string }) => f.id === dead))
})

t.test('breakers: each provider\'s state, and calls and failures by adapter', async (t) => {
  const { app, token, config } = await buildTestApp(t)
  const headers = { authorization: `Bearer ${await token('admin')}` }
  const first = (await app.inject({ method: 'GET', url: '/v1/admin/operations/breakers', headers })).json()
  t.match(first.providers.find((p: { provider: string }) => p.provider === 'welfare'), { state: 'closed', retryAfterMs: 0, calls: 0, failures: 0 })
  t.match(first.adapters.find((a: { operation: string }) => a.operation === 'welfare.submitApplication'), { provider: 'welfare', kind: 'write', calls: 0, failures: 0, outcomes: {} })

  // The provider keeps failing: its circuit opens, and a call is not sent.
  for (let i = 0; i < config.bus.breakerFailures; i++) app.adapters.breaker('welfare').failure()
  const request = { applicationId: randomUUID(), service: childMoney.code, unit: '832269', channel: 'online', applicant: { regnum: 'УБ99032712' }, form: (childMoney.formSchema.examples as object[])[0] }
  await t.rejects(app.adapters.invoke('welfare.submitApplication', request), { code: 'UPSTREAM_CIRCUIT_OPEN' })
  const open = (await app.inject({ method: 'GET', url: '/v1/admin/operations/breakers', headers })).json()
  const welfare = open.providers.find((p: { provider: string }) => p.provider === 'welfare')
  t.match(welfare, { state: 'open', calls: 1, failures: 1 })
  t.ok(welfare.retryAfterMs > 0 && welfare.retryAfterMs <= config.bus.breakerCoolDownMs, 'how long calls stay paused')
  t.match(open.adapters.find((a: { operation: string }) => a.operation === 'welfare.submitApplication'), { calls: 1, failures: 1, outcomes: { circuit_open: 1 } })
  t.match(open.providers.find((p: { provider: string }) => p.provider === 'civil'), { state: 'closed' }, 'other providers are not affected')
})

t.test('callbacks: each portal\'s URL, unsettled changes, and how the latest callbacks went', async (t) => {
  const { app, token } = await buildTestApp(t, { env: { CALLBACK_POLL_MS: '50', CALLBACK_ATTEMPTS: '1' } })
  const headers = { authorization: `Bearer ${await token('admin')}` }
  const empty = (await app.inject({ method: 'GET', url: '/v1/admin/operations/callbacks', headers })).json()
  t.match(empty, { queue: { name: 'applications-callbacks', available: true }, portals: [] })

  // A URL the address guard refuses at connection time (stored straight in
  // the table: the admin API would refuse it first).
  await app.db.query("INSERT INTO portal_callbacks (portal, url, updated_by) VALUES ('loopback-portal', 'https://127.0.0.1:9/callbacks', 'admin:admin-1')")
  await app.db.query("INSERT INTO portal_callbacks (portal, url, updated_by) VALUES ('quiet-portal', 'https://portal.example.mn/callbacks', 'admin:admin-1')")
  const refused = await put(app, { status: 'queued', portal: 'loopback-portal' })
  await app.db.query("INSERT INTO application_events (application_id, status, notify) VALUES ($1, 'queued', true)", [refused])
  // A portal without a URL: its change is settled unsent.
  const unsent = await put(app, { status: 'queued', portal: 'nourl-portal' })
  await app.db.query("INSERT INTO application_events (application_id, status, notify) VALUES ($1, 'queued', true)", [unsent])
  // A change already queued and not yet due: unsettled, left alone by the relay and the reconciler.
  const waiting = await put(app, { status: 'delivering', portal: 'unregistered-portal' })
  await app.db.query("INSERT INTO application_events (application_id, status, notify, notify_due_at) VALUES ($1, 'delivering', true, now() + interval '1 day')", [waiting])

  const failed = await eventually(async () => {
    const body = (await app.inject({ method: 'GET', url: '/v1/admin/operations/callbacks', headers })).json()
    const p = (name: string) => body.portals.find((x: { portal: string }) => x.portal === name)
    // Settled in the database too, which may come a moment after the queue says so.
    const done = (name: string) => p(name)?.unsettled === 0
    return p('loopback-portal')?.recent.failed === 1 && p('nourl-portal')?.recent.skipped === 1 && done('loopback-portal') && done('nourl-portal') && p('unregistered-portal')?.unsettled === 1 ? body : undefined
  }, 60000)
  const byName = (name: string) => failed.portals.find((x: { portal: string }) => x.portal === name)
  t.match(byName('loopback-portal'), {
    registered: true,
    url: 'https://127.0.0.1:9/callbacks',
    updatedBy: 'admin:admin-1',
    unsettled: 0,
    recent: { sent: 0, skipped: 0, failed: 1, lastFailedAt: String, lastFailure: /loopback-portal refused/ },
  })
  t.match(byName('nourl-portal'), { registered: false, unsettled: 0, recent: { sent: 0, skipped: 1, failed: 0, lastSentAt: null } })
  t.match(byName('quiet-portal'), { registered: true, unsettled: 0, oldestUnsettledAt: null, recent: { sent: 0, failed: 0, lastFailure: null } })
  t.match(byName('unregistered-portal'), { registered: false, url: null, unsettled: 1, waitingForQueue: 0, oldestUnsettledAt: String })
  t.same(failed.portals.map((p: { portal: string }) => p.portal), ['loopback-portal', 'nourl-portal', 'quiet-portal', 'unregistered-portal'], 'by name')
  t.ok(failed.queue.failed >= 1, 'the queue counts the failed callback')
})
