import t from 'tap'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { generatePopulation, type Citizen } from '../../src/exchange/index.ts'
import { buildSeedDocument } from '../../src/catalogue/seed.ts'
import { buildTestApp, type TestAppOptions } from '../helpers/app.ts'
import { eventually } from '../helpers/eventually.ts'
import { rawRequest, type RawResponse } from '../helpers/raw-http.ts'
import { TEST_REDIS_URL } from '../helpers/services.ts'

// Issue 11, item 1: the read-only queue dashboard could be written with `#`.
// light-my-request parses the URL with `new URL` and drops the fragment, so
// `app.inject` never sends what an attacker sends: these attacks go over a
// real socket, byte for byte.

const [alice] = generatePopulation({ citizens: 500 }).livingAdults() as [Citizen]
const childMoney = buildSeedDocument().services.find((s) => s.code === 'welfare.child-money')!
const QUEUES = ['applications-delivery', 'applications-callbacks']
const API = '/admin/queues/api/queues'

// One request, written as is (no URL parsing on our side), on its own connection.
function raw (port: number, method: string, target: string, headers: Record<string, string>, body?: string): Promise<RawResponse> {
  const head = [`${method} ${target} HTTP/1.1`, 'host: 127.0.0.1', 'connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)]
  if (body !== undefined) head.push('content-type: application/json', `content-length: ${Buffer.byteLength(body)}`)
  return rawRequest(port, `${head.join('\r\n')}\r\n\r\n${body ?? ''}`)
}

// Everything BullMQ keeps in Redis for the dashboard's queues, so "nothing was
// written" is checked on the data rather than on the status code alone.
async function snapshot (client: Redis, queues: Queue[]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  for (const q of queues) {
    for (const key of (await client.keys(`${q.qualifiedName}:*`)).sort()) {
      const type = await client.type(key)
      if (type === 'string') out[key] = await client.get(key)
      else if (type === 'hash') out[key] = await client.hgetall(key)
      else if (type === 'list') out[key] = await client.lrange(key, 0, -1)
      else if (type === 'set') out[key] = (await client.smembers(key)).sort()
      else if (type === 'zset') out[key] = await client.zrange(key, '0', '-1', 'WITHSCORES')
      else if (type === 'stream') out[key] = await client.xrange(key, '-', '+')
      else out[key] = type
    }
  }
  return out
}

async function dashboard (tt: Parameters<typeof buildTestApp>[0], options: TestAppOptions = {}) {
  const built = await buildTestApp(tt, options)
  const { app, token } = built
  const opened = await app.inject({ method: 'POST', url: '/admin/queues/session', headers: { authorization: `Bearer ${await token('admin')}` } })
  tt.equal(opened.statusCode, 204)
  const cookie = String(opened.headers['set-cookie']).split(';')[0]!
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const queues = [app.applications.queue, app.callbacks.queue] as Queue[]
  const redis = new Redis(TEST_REDIS_URL)
  tt.teardown(() => redis.quit())
  return {
    ...built,
    cookie,
    queues,
    snapshot: () => snapshot(redis, queues),
    send: (method: string, target: string, body?: string) => raw(port, method, target, { cookie }, body),
  }
}

// Jobs for the writes to damage: a waiting one and a delayed one on every queue,
// with no worker in this process to move them.
async function seed (queues: Queue[]) {
  for (const q of queues) {
    await q.add('seed', { seeded: true }, { jobId: 'seed-w' })
    await q.add('seed', { seeded: true }, { jobId: 'seed-d', delay: 3_600_000 })
  }
}

function isProblem (tt: Parameters<typeof buildTestApp>[0], res: RawResponse, what: string) {
  tt.equal(res.status, 403, `${what}: ${res.body}`)
  tt.match(res.headers['content-type'], /^application\/problem\+json/, what)
  if (res.status === 403) tt.equal(JSON.parse(res.body).code, 'READ_ONLY_DASHBOARD', what)
}

// Writes whose raw URL ends in `/A/B/retry`: the old guard took them for a
// retry, the router stops at `#` and runs the write. These failed before the fix.
const smuggledWrites = (q: string): Array<[string, string, string]> => [
  ['PUT', `${API}/${q}/pause#/retry`, '{}'],
  ['PUT', `${API}/${q}/obliterate#/retry`, '{"force":true}'],
  ['PUT', `${API}/${q}/resume#/retry`, '{}'],
  ['POST', `${API}/${q}/add#/retry`, '{"name":"smuggled","data":{"x":1}}'],
  ['PUT', `${API}/${q}/promote#/retry`, '{}'],
  ['PUT', `${API}/${q}/concurrency#/retry`, '{"concurrency":1}'],
  ['PUT', `${API}/${q}/rate-limit#/retry`, '{"max":1,"duration":1000}'],
  ['PUT', `${API}/${q}/empty#/retry`, '{}'],
]
// Board-wide writes: `/api/queues/pause#/x/retry` looks like a job retry too.
const smuggledBoardWrites: Array<[string, string, string]> = [
  ['PUT', `${API}/pause#/x/retry`, '{}'],
  ['PUT', `${API}/resume#/x/retry`, '{}'],
]
// Writes three segments deep cannot take the old retry shape, so the old guard
// already refused these; they stay here so a new guard cannot let them through.
const deeperWrites = (q: string): Array<[string, string, string]> => [
  ['PUT', `${API}/${q}/clean/completed#/retry`, '{}'],
  ['PUT', `${API}/${q}/clean/delayed#/retry`, '{}'],
  ['PUT', `${API}/${q}/seed-w/clean#/retry`, '{}'],
  ['PUT', `${API}/${q}/seed-d/promote#/retry`, '{}'],
  ['PUT', `${API}/${q}/retry/completed#/retry`, '{}'],
  ['PUT', `${API}/${q}/rate-limit/release#/retry`, '{}'],
  ['PUT', `${API}/${q}/seed-w/remove-unprocessed-children#/retry`, '{}'],
  ['PUT', `${API}/${q}/job-schedulers/s/remove#/retry`, '{}'],
  ['PUT', `${API}/${q}/job-schedulers/s/run#/retry`, '{}'],
  ['PATCH', `${API}/${q}/seed-d/delay#/retry`, '{"delay":1}'],
  ['PATCH', `${API}/${q}/seed-w/priority#/retry`, '{"priority":1}'],
  ['PATCH', `${API}/${q}/seed-w/update-data#/retry`, '{"jobData":{"x":2}}'],
  ['PATCH', `${API}/${q}/job-schedulers/s#/retry`, '{"every":1000}'],
]

t.test('a `#` cannot smuggle a write past the guard, on any queue', async (tt) => {
  const { queues, send, snapshot } = await dashboard(tt, { env: { WORKER: 'off' } })
  await seed(queues)
  const before = await snapshot()
  tt.ok(Object.keys(before).length > 0, 'there is something to damage')
  for (const [method, target, body] of [...QUEUES.flatMap(smuggledWrites), ...smuggledBoardWrites]) {
    await tt.test(`${method} ${target}`, async (t2) => {
      isProblem(t2, await send(method, target, body), `${method} ${target}`)
      t2.same(await snapshot(), before, 'the queues are as they were')
    })
  }
  for (const q of queues) tt.equal(await q.isPaused(), false)
})

t.test('deeper writes with a `#` are refused too', async (tt) => {
  const { queues, send, snapshot } = await dashboard(tt, { env: { WORKER: 'off' } })
  await seed(queues)
  const before = await snapshot()
  tt.ok(Object.keys(before).length > 0, 'there is something to damage')
  for (const [method, target, body] of QUEUES.flatMap(deeperWrites)) {
    isProblem(tt, await send(method, target, body), `${method} ${target}`)
  }
  tt.same(await snapshot(), before, 'the queues are as they were')
})

t.test('other raw-URL tricks read or are refused, never write', async (tt) => {
  const { queues, send, snapshot } = await dashboard(tt, { env: { WORKER: 'off' } })
  await seed(queues)
  const before = await snapshot()
  tt.ok(Object.keys(before).length > 0, 'there is something to damage')
  const q = 'applications-delivery'
  for (const target of [
    `${API}/${q}/pause?/retry`,
    `${API}/${q}/pause?x=1#/retry`,
    `${API}/${q}/pause%23/retry`,
    `${API}/${q}/pause%2F/retry`,
    `${API}/${q}%2Fpause#/x/retry`,
    `${API}/${q}/pause%3F/retry`,
    `${API}/${q}/pause;/retry`,
    `${API}/${q}/pause;#/retry`,
    `${API}/${q}/pause/#/retry`,
    `${API}/${q}/pause/`,
    `${API}/${q}//pause#/retry`,
    `${API}//${q}/pause#/retry`,
    `/admin/queues//api/queues/${q}/pause#/retry`,
    `${API}/${q}/PAUSE#/retry`,
    `${API}/${q}/Pause`,
    `/ADMIN/queues/api/queues/${q}/pause#/retry`,
    `${API}/${q}/./pause#/retry`,
    `${API}/${q}/x/../pause#/retry`,
    `${API}/${q}/seed-w/../pause#/retry`,
    `${API}/${q}/%70ause#/retry`,
    `${API}/${q}/pause%00/retry`,
    `${API}/${q}/retry/failed%2F..%2F..%2Fpause`,
    `${API}/${q}/retry/%63ompleted#/x`,
    `${API}/${q}/retry/completed%23/x`,
    `http://127.0.0.1${API}/${q}/pause#/retry`,
  ]) {
    const res = await send('PUT', target, '{}')
    tt.ok(res.status >= 400 && res.status < 500, `PUT ${target}: ${res.status} ${res.body}`)
  }
  tt.same(await snapshot(), before, 'the queues are as they were')
})

t.test('method variants: only GET/HEAD reads get through', async (tt) => {
  const { queues, send, snapshot } = await dashboard(tt, { env: { WORKER: 'off' } })
  await seed(queues)
  const before = await snapshot()
  tt.ok(Object.keys(before).length > 0, 'there is something to damage')
  const q = 'applications-delivery'
  // A read route written to, a retry route with another method, a write route read.
  for (const [method, target] of [
    ['PUT', API], ['POST', API], ['DELETE', API], ['PATCH', API],
    ['POST', `${API}/${q}/seed-w/retry`], ['PATCH', `${API}/${q}/seed-w/retry`], ['DELETE', `${API}/${q}/seed-w/retry`],
    ['POST', `${API}/${q}/retry/failed`], ['DELETE', `${API}/${q}/retry/failed`],
    ['GET', `${API}/${q}/pause`], ['HEAD', `${API}/${q}/pause`], ['OPTIONS', `${API}/${q}/pause`],
    ['HEAD', `${API}/${q}/pause#/retry`], ['OPTIONS', `${API}/${q}/pause#/retry`], ['OPTIONS', `${API}/${q}/seed-w/retry`],
    ['DELETE', `${API}/${q}/seed-w`], ['PUT', `${API}/${q}/seed-w`], ['PATCH', `${API}/${q}/seed-w#/retry`],
    ['PUT', '/admin/queues/static/js#/x/retry'], ['PUT', `/admin/queues/queue/${q}/seed-w/retry`],
    ['GET', `${API}/${q}/empty#/retry`], ['TRACE', `${API}/${q}/seed-w/retry`],
  ] as const) {
    const res = await send(method, target, method === 'GET' || method === 'HEAD' ? undefined : '{}')
    tt.ok(res.status >= 400 && res.status < 500, `${method} ${target}: ${res.status} ${res.body}`)
  }
  tt.same(await snapshot(), before, 'the queues are as they were')

  // Reads still read, HEAD included.
  for (const target of [API, `${API}/${q}/seed-w`, `${API}/${q}/seed-w/logs`, `${API}/${q}/metrics`, `${API}/${q}/workers`, '/admin/queues', `/admin/queues/queue/${q}`]) {
    tt.equal((await send('GET', target)).status, 200, `GET ${target}`)
    tt.equal((await send('HEAD', target)).status, 200, `HEAD ${target}`)
  }
  tt.equal((await send('GET', `${API}#/x/retry`)).status, 200, 'a fragment on a read is still a read')
  tt.same(await snapshot(), before, 'reading wrote nothing')
})

t.test('the dashboard retries nothing: a failed delivery is shown, refused there, and retried through the admin API', async (tt) => {
  const { app, token, exchange, send } = await dashboard(tt, {
    exchange: { citizens: 500 },
    env: { DELIVERY_ATTEMPTS: '1', OUTBOX_POLL_MS: '50', DECISION_POLL_MS: '60000' },
  })
  await exchange!.app.inject({ method: 'PUT', url: '/admin/faults/welfare', payload: { errorRate: 1 } })
  const submitted = await app.inject({
    method: 'POST',
    url: '/v1/applications',
    headers: { authorization: `Bearer ${await token('citizen', { claims: { sub: alice.regnum } })}`, 'idempotency-key': `sec-dash-${process.pid}-${Date.now()}` },
    payload: { service: childMoney.code, unit: alice.homeUnit, channel: 'online', applicant: { regnum: alice.regnum }, form: (childMoney.formSchema.examples as object[])[0] },
  })
  tt.equal(submitted.statusCode, 202, submitted.body)
  const id = submitted.json().id as string
  const status = async () => (await app.inject({ method: 'GET', url: `/v1/applications/${id}`, headers: { authorization: `Bearer ${await token('admin')}` } })).json()
  await eventually(async () => (await status()).status === 'failed')
  await eventually(async () => (await app.applications.queue.getJobState(id)) === 'failed')
  await exchange!.app.inject({ method: 'DELETE', url: '/admin/faults/welfare' })

  const shown = await send('GET', `${API}/applications-delivery/${id}`)
  tt.equal(shown.status, 200, 'the failed job is shown')
  // A worker runs here, so its own bookkeeping changes Redis: the job and the
  // application are what must not move.
  for (const target of [`${API}/applications-delivery/${id}/retry`, `${API}/applications-delivery/retry/failed`, `${API}/applications-delivery/retry/completed`, `${API}/applications-delivery/${id}/retry#/x`]) {
    isProblem(tt, await send('PUT', target, '{}'), `PUT ${target}`)
  }
  tt.equal(await app.applications.queue.getJobState(id), 'failed', 'the job was not retried')
  tt.equal((await status()).status, 'failed')

  const retried = await app.inject({ method: 'POST', url: `/v1/admin/applications/${id}/retry`, headers: { authorization: `Bearer ${await token('admin')}` } })
  tt.equal(retried.statusCode, 202, retried.body)
  const done = await eventually(async () => { const s = await status(); return s.status === 'delivered' ? s : undefined })
  tt.match(done, { agencyReference: /^GOSW-/ })
})

t.test('the session cookie is Secure only when the request came over https', async (tt) => {
  const open = async (app: FastifyInstance, token: (role: string) => Promise<string>, headers: Record<string, string> = {}) =>
    String((await app.inject({ method: 'POST', url: '/admin/queues/session', headers: { authorization: `Bearer ${await token('admin')}`, ...headers } })).headers['set-cookie'])
  const close = async (app: FastifyInstance, headers: Record<string, string> = {}) =>
    String((await app.inject({ method: 'DELETE', url: '/admin/queues/session', headers })).headers['set-cookie'])

  await tt.test('plain http, no proxy trusted', async (t2) => {
    const { app, token } = await buildTestApp(t2)
    const plain = await open(app, token)
    t2.match(plain, /^oss_queues_session=[A-Za-z0-9_-]{43}; Path=\/admin\/queues; Max-Age=1800; HttpOnly; SameSite=Strict$/)
    t2.notMatch(plain, /Secure/i)
    t2.notMatch(await close(app), /Secure/i)
    t2.notMatch(await open(app, token, { 'x-forwarded-proto': 'https' }), /Secure/i, 'an untrusted X-Forwarded-Proto is not believed')
  })
  await tt.test('behind a trusted proxy', async (t2) => {
    const { app, token } = await buildTestApp(t2, { env: { TRUST_PROXY: 'true' } })
    t2.match(await open(app, token, { 'x-forwarded-proto': 'https' }), /^oss_queues_session=[A-Za-z0-9_-]{43}; Path=\/admin\/queues; Max-Age=1800; HttpOnly; Secure; SameSite=Strict$/)
    t2.match(await close(app, { 'x-forwarded-proto': 'https' }), /; Secure;/)
    t2.notMatch(await open(app, token, { 'x-forwarded-proto': 'http' }), /Secure/i)
    t2.notMatch(await open(app, token), /Secure/i)
  })
})

t.test('the UI is in Bull Board\'s read-only mode: it shows no button that would be refused', async (tt) => {
  const { app, cookie } = await dashboard(tt, { env: { WORKER: 'off' } })
  const res = await app.inject({ method: 'GET', url: API, headers: { cookie } })
  tt.equal(res.statusCode, 200)
  const queues = res.json().queues as Array<Record<string, unknown>>
  tt.equal(queues.length, 2)
  for (const q of queues) tt.match(q, { readOnlyMode: true, allowRetries: false }, String(q.name))
  const page = await app.inject({ method: 'GET', url: '/admin/queues', headers: { cookie } })
  const uiConfig = JSON.parse(/<script id="__UI_CONFIG__" type="application\/json">(.*?)<\/script>/s.exec(page.body)![1]!)
  tt.match(uiConfig, { boardTitle: 'OSS gateway queues', hideDocsLink: true })
})

// What an element or a style sheet makes the browser load.
function loadsOf (text: string, kind: 'html' | 'css'): string[] {
  const urls: string[] = []
  for (const m of text.matchAll(/url\(\s*(['"]?)([^'")]+)\1\s*\)/g)) urls.push(m[2]!)
  for (const m of text.matchAll(/@import\s+(['"])([^'"]+)\1/g)) urls.push(m[2]!)
  if (kind === 'html') {
    for (const m of text.matchAll(/<(?:link|script|img|iframe|source|audio|video|embed|object|input)\b[^>]*>/gi)) {
      for (const a of m[0].matchAll(/\b(?:href|src|srcset|data|poster)\s*=\s*(['"])([^'"]*)\1/gi)) urls.push(a[2]!)
    }
  }
  return urls
}

t.test('a page load reaches only the gateway', async (tt) => {
  const { app, cookie } = await dashboard(tt, { env: { WORKER: 'off' } })
  const base = 'http://gateway.test/admin/queues/'
  const seen = new Set<string>()
  const fetchAll = async (url: URL, kind: 'html' | 'css' | 'js' | 'other'): Promise<void> => {
    if (seen.has(url.pathname)) return
    seen.add(url.pathname)
    const res = await app.inject({ method: 'GET', url: url.pathname + url.search, headers: { cookie } })
    tt.equal(res.statusCode, 200, url.pathname)
    if (kind === 'js') {
      // Scripts load their chunks, styles and translations relative to themselves;
      // no font or CDN host may appear in them.
      tt.notMatch(res.body, /fonts\.(googleapis|gstatic)\.com|cdn\.jsdelivr|unpkg\.com|cdnjs\./, url.pathname)
      return
    }
    if (kind !== 'html' && kind !== 'css') return
    for (const ref of loadsOf(res.body, kind)) {
      if (ref.startsWith('data:') || ref.startsWith('#')) continue
      const target = new URL(ref, kind === 'html' ? base : url)
      tt.equal(target.origin, 'http://gateway.test', `${url.pathname} loads ${ref}`)
      if (target.origin !== 'http://gateway.test') continue
      const ext = /\.(css|js)$/.exec(target.pathname)?.[1]
      await fetchAll(target, ext === 'css' ? 'css' : ext === 'js' ? 'js' : 'other')
    }
  }
  for (const page of ['/admin/queues', '/admin/queues/', '/admin/queues/queue/applications-delivery']) {
    const res = await app.inject({ method: 'GET', url: page, headers: { cookie } })
    tt.equal(res.statusCode, 200, page)
    tt.notMatch(res.body, /https?:\/\/|\/\/fonts/, `${page} names no other origin`)
    // The browser enforces it too: nothing but the gateway, whatever a script tries.
    tt.match(res.headers['content-security-policy'], /default-src 'self'/, page)
    tt.notMatch(String(res.headers['content-security-policy']), /https?:/, page)
    seen.delete(new URL(page, base).pathname)
    await fetchAll(new URL(page, base), 'html')
  }
  tt.ok([...seen].some((p) => p.endsWith('.css')) && [...seen].some((p) => p.endsWith('.js')), 'the styles and scripts were followed')
})
