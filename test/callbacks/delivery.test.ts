import { createServer, type IncomingMessage } from 'node:http'
import { compactVerify, createLocalJWKSet } from 'jose'
import t from 'tap'
import { generatePopulation, type Citizen } from '../../src/exchange/index.ts'
import { buildSeedDocument } from '../../src/catalogue/seed.ts'
import { buildTestApp } from '../helpers/app.ts'
import { eventually } from '../helpers/eventually.ts'

const population = generatePopulation({ citizens: 500 })
const [alice] = population.livingAdults() as [Citizen]
const childMoney = buildSeedDocument().services.find((s) => s.code === 'welfare.child-money')!

interface Received { headers: IncomingMessage['headers'], body: string }

// A portal on loopback: it fails the first callback with 503, then takes them.
async function portal (tt: Parameters<typeof buildTestApp>[0]) {
  const received: Received[] = []
  let calls = 0
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => { body += c })
    req.on('end', () => {
      calls++
      if (calls === 1) {
        res.statusCode = 503
        return res.end()
      }
      received.push({ headers: req.headers, body })
      res.statusCode = 204
      res.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  tt.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/oss/status`, received, calls: () => calls }
}

t.test('every status change reaches the portal, signed, with ids only; a failed callback is retried', async (tt) => {
  const { app, token } = await buildTestApp(tt, {
    exchange: { citizens: 500, decisionDelayMs: 100 },
    env: { CALLBACK_ALLOWED_CIDRS: '127.0.0.1/32', CALLBACK_BACKOFF_BASE_MS: '20', CALLBACK_BACKOFF_MAX_MS: '50', CALLBACK_POLL_MS: '50', OUTBOX_POLL_MS: '50', DECISION_POLL_MS: '50' },
  })
  const target = await portal(tt)
  const admin = async () => ({ authorization: `Bearer ${await token('admin')}` })
  const put = await app.inject({ method: 'PUT', url: '/v1/admin/portals/test-portal/callback', headers: await admin(), payload: { url: target.url } })
  tt.equal(put.statusCode, 200, put.body)
  tt.match(put.json(), { portal: 'test-portal', url: target.url, updatedBy: 'admin:admin-1' })

  const res = await app.inject({
    method: 'POST',
    url: '/v1/applications',
    headers: { authorization: `Bearer ${await token('citizen', { claims: { sub: alice.regnum } })}`, 'idempotency-key': `cb-${process.pid}-${Date.now()}` },
    payload: { service: childMoney.code, unit: alice.homeUnit, channel: 'online', applicant: { regnum: alice.regnum }, form: (childMoney.formSchema.examples as object[])[0] },
  })
  tt.equal(res.statusCode, 202, res.body)
  const id = res.json().id as string

  // Callbacks are separate jobs: the one the portal failed is retried while
  // later ones arrive, so "decided" alone does not mean all five are in.
  const FIVE = ['received', 'queued', 'delivering', 'delivered', 'decided']
  const all = await eventually(async () => {
    const seen = new Set(target.received.map((r) => JSON.parse(r.body).status))
    return FIVE.every((s) => seen.has(s)) ? target.received : undefined
  }, 30000).catch(async (err) => {
    tt.comment('received', target.received.map((r) => r.body).join('\n'), 'calls', target.calls())
    tt.comment('events', JSON.stringify((await app.db.query('SELECT id, status, notify, notify_due_at FROM application_events ORDER BY id')).rows))
    tt.comment('jobs', JSON.stringify(await app.callbacks.queue.getJobCounts()), JSON.stringify((await app.callbacks.queue.getFailed()).map((j) => [j.id, j.failedReason, j.attemptsMade])))
    throw err
  })
  const bodies = all.map((r) => JSON.parse(r.body) as Record<string, unknown>)
  tt.ok(target.calls() > all.length, 'the callback the portal failed was sent again')
  const statuses = [...bodies].sort((a, b) => Number(a.eventId) - Number(b.eventId)).map((b) => b.status)
  tt.same(statuses, FIVE, 'one callback per change, none lost')
  tt.ok(bodies.every((b) => b.applicationId === id && b.type === 'application.status'))
  tt.match(bodies.find((b) => b.status === 'delivered'), { agencyReference: /^GOSW-/ })
  tt.match(bodies.find((b) => b.status === 'decided'), { decision: /^(approved|rejected)$/ })
  tt.notOk(all.some((r) => r.body.includes(alice.regnum)), 'no registration number in a callback')
  tt.same(new Set(all.map((r) => r.headers['idempotency-key'])).size, all.length)

  // Each is signed over its exact bytes; the keys are the gateway's published JWKS.
  const jwks = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json()
  const keys = createLocalJWKSet(jwks)
  for (const r of all) {
    const [header, , signature] = String(r.headers['x-jws-signature']).split('.')
    const { payload, protectedHeader } = await compactVerify(`${header}.${Buffer.from(r.body).toString('base64url')}.${signature}`, keys, { algorithms: ['EdDSA'] })
    tt.equal(Buffer.from(payload).toString(), r.body)
    tt.equal(protectedHeader.typ, 'oss-callback+jws')
  }
  const forged = all[0]!
  const [h, , s] = String(forged.headers['x-jws-signature']).split('.')
  const changed = JSON.stringify({ ...JSON.parse(forged.body), status: 'decided', decision: 'approved' })
  await tt.rejects(compactVerify(`${h}.${Buffer.from(changed).toString('base64url')}.${s}`, keys), 'a changed body fails verification')
})

t.test('callback URLs that reach internal addresses are refused; registrations can be read and removed', async (tt) => {
  const { app, token } = await buildTestApp(tt, { env: { CALLBACK_ALLOWED_CIDRS: '127.0.0.1/32' } })
  const admin = async () => ({ authorization: `Bearer ${await token('admin')}` })
  const put = async (url: string) => app.inject({ method: 'PUT', url: '/v1/admin/portals/p1/callback', headers: await admin(), payload: { url } })
  for (const [url, why] of [
    ['http://169.254.169.254/latest/meta-data/', /cloud metadata/],
    ['http://10.0.0.7/hook', /private network/],
    ['http://[::1]:8080/hook', /loopback/],
    ['http://[fe80::1]/hook', /link-local/],
    ['http://localhost:8080/hook', /localhost/],
    ['http://192.168.1.10/hook', /private network/],
    ['ftp://portal.example/hook', /http/],
    ['https://user:secret@portal.example/hook', /credentials|user/],
  ] as const) {
    const res = await put(url)
    tt.equal(res.statusCode, 422, url)
    tt.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    tt.match(res.json(), { code: 'CALLBACK_URL_REFUSED', detail: why, errors: [{ pointer: '/url' }] }, url)
  }
  tt.equal((await app.inject({ method: 'GET', url: '/v1/admin/portals/p1/callback', headers: await admin() })).statusCode, 404, 'nothing refused was stored')
  tt.equal((await put('http://127.0.0.1:9/hook')).statusCode, 200, 'the allowed CIDR is the exception')
  tt.match((await app.inject({ method: 'GET', url: '/v1/admin/portals/p1/callback', headers: await admin() })).json(), { url: 'http://127.0.0.1:9/hook' })
  const officer = await app.inject({ method: 'PUT', url: '/v1/admin/portals/p1/callback', headers: { authorization: `Bearer ${await token('officer')}` }, payload: { url: 'http://127.0.0.1:9/x' } })
  tt.equal(officer.statusCode, 403)
  tt.equal((await app.inject({ method: 'DELETE', url: '/v1/admin/portals/p1/callback', headers: await admin() })).statusCode, 204)
  tt.equal((await app.inject({ method: 'DELETE', url: '/v1/admin/portals/p1/callback', headers: await admin() })).statusCode, 404)
})
