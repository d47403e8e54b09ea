import { generateKeyPairSync, randomUUID } from 'node:crypto'
import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { buildSeedDocument } from '../../src/catalogue/seed.ts'
import { createSnapshot } from '../../src/catalogue/snapshot.ts'
import { COLLECTION_FIELDS, COLLECTIONS, type CollectionName } from '../../src/catalogue/document.ts'
import { isConnectionFailure, storeError, StoreUnavailableError } from '../../src/db/database.ts'
import { ProblemError } from '../../src/errors/problem-error.ts'
import { toProblem } from '../../src/plugins/problem.ts'
import { createEmbeddedDatabase } from '../../src/db/embedded.ts'
import { createPostgresDatabase } from '../../src/db/postgres.ts'
import { generatePopulation, type Citizen } from '../../src/exchange/index.ts'
import type { DciRegistry } from '../../src/dci/spec.ts'
import { dciExample } from '../../src/routes/dci/registry.ts'
import { buildTestApp } from '../helpers/app.ts'
import { eventually } from '../helpers/eventually.ts'
import { dropSchema, TEST_DATABASE_URL, uniqueName } from '../helpers/services.ts'
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts'

// PostgreSQL goes away (a proxy in front of it is cut) while the gateway runs:
// every route that needs it answers 503 STORE_UNAVAILABLE with Retry-After,
// the rest keep working, nothing half-written survives, and it all comes back.

const population = generatePopulation({ citizens: 500 })
const [alice] = population.livingAdults() as [Citizen]
const seed = buildSeedDocument()
const snap = createSnapshot(1, 'seed', seed)
const OFFICER_UNIT = '8322'
const childMoney = seed.services.find((s) => s.code === 'welfare.child-money')!
const counter = [...snap.offers(OFFICER_UNIT).values()].find((o) => o.service.applicants.includes('officer') && o.channels.includes('oss_counter') &&
  o.service.adapter !== undefined && !o.service.adapter.startsWith('veterinary'))!.service
const newborn = seed.services.find((s) => s.code === 'package.newborn')!
const example = (s: { formSchema: { examples?: unknown } }) => (s.formSchema.examples as object[])[0]
const online = (c: Citizen) => ({ service: childMoney.code, unit: c.homeUnit, channel: 'online', applicant: { regnum: c.regnum }, form: example(childMoney) })
const atCounter = (service: typeof counter) => ({ service: service.code, unit: OFFICER_UNIT, channel: 'oss_counter', applicant: { regnum: alice.regnum }, form: example(service) })

function proxiedUrl (proxy: TcpProxy): string {
  const url = new URL(TEST_DATABASE_URL)
  url.hostname = '127.0.0.1'
  url.port = String(proxy.port)
  return url.href
}

async function startProxy (tt: Parameters<typeof buildTestApp>[0]): Promise<TcpProxy> {
  const target = new URL(TEST_DATABASE_URL)
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) })
  tt.teardown(() => proxy.close())
  return proxy
}

// The gateway on PostgreSQL through a proxy the test cuts, with its log lines kept.
async function setup (tt: Parameters<typeof buildTestApp>[0]) {
  const proxy = await startProxy(tt)
  const lines: Array<Record<string, unknown>> = []
  const ctx = await buildTestApp(tt, {
    env: { DATABASE_URL: proxiedUrl(proxy), LOG_LEVEL: 'info', CATALOGUE_REFRESH_MS: '100', OUTBOX_POLL_MS: '100' },
    appOptions: { logStream: { write: (line: string) => { lines.push(JSON.parse(line)) } } },
  })
  const bearer = async (role: string) => {
    const claims = role === 'citizen' ? { sub: alice.regnum } : role === 'officer' ? { unit: OFFICER_UNIT, agency: 'GOSW' } : {}
    return `Bearer ${await ctx.token(role, { claims })}`
  }
  const ready = async () => ctx.app.inject({ method: 'GET', url: '/health/ready' })
  return { ...ctx, proxy, lines, bearer, ready }
}

// Every route the app registered, from its route tree: a route added later is
// walked too.
function registeredRoutes (app: FastifyInstance): Array<{ method: string, path: string }> {
  const out: Array<{ method: string, path: string }> = []
  const stack: string[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(.+?)(?: \(([A-Z, ]+)\))?$/.exec(line)
    if (m === null) continue
    const depth = m[1]!.length / 4
    stack.length = depth
    const path = (stack[depth - 1] ?? '') + m[2]!
    stack[depth] = path
    for (const method of m[3]?.split(', ') ?? []) out.push({ method, path })
  }
  return out
}

// Routes that need no database: the public catalogue (a snapshot in memory),
// the operations and documentation routes, the caller's own token, what is
// loaded at start (adapters, policies, keys), and the consistency report of
// the published catalogue. Each must answer 2xx during the outage (3xx
// where that is its usual answer).
const KEEPS_WORKING = new Set([
  'GET /health/live', 'GET /openapi.json', 'GET /problems', 'GET /problems/:type',
  'GET /docs', 'GET /docs/', 'GET /docs/static/index.html', 'GET /docs/static/swagger-initializer.js', 'GET /docs/*', 'GET /docs/json', 'GET /docs/yaml',
  'GET /v1/units', 'GET /v1/units/:code', 'GET /v1/units/:code/services', 'GET /v1/services', 'GET /v1/services/:code',
  'GET /v1/me', 'GET /v1/admin/adapters', 'GET /v1/admin/policies', 'GET /.well-known/jwks.json',
  'GET /v1/admin/catalogue/consistency', 'GET /metrics', 'GET /v1/stats/indicators', 'GET /v1/admin/operations/breakers',
  'POST /admin/queues/session', 'DELETE /admin/queues/session', 'GET /admin/queues', 'GET /admin/queues/', 'GET /admin/queues/api/queues',
])
// The queue dashboard lives on Redis: whatever it answers (its read-only
// refusals are 403), it is not a 5xx.
const DASHBOARD = '/admin/queues'
// The development identity provider keeps its state in the process's memory
// (oidc-provider's own routes print as a bare `*` in the route tree):
// whatever it answers, it is not a 5xx.
const DEV_IDP = '/dev-idp'
// The console without a session cookie reads nothing from the store (it
// sends the browser to sign in, or serves its stylesheet); starting a
// sign-in writes, and is a 503: none is a 5xx other than that.
const CONSOLE = '/console'
// Fail closed: no audit record, no data, and the audit log's own code.
const AUDITED = new Set(['GET /v1/citizens/:regnum', 'GET /v1/citizens/:regnum/:source'])
// Its readiness document, not a problem: 503 with `database` down.
const READINESS = 'GET /health/ready'
// Every other route needs the database: 503 STORE_UNAVAILABLE with Retry-After.

function firstKey (name: CollectionName): { key: string, entity: unknown } {
  const entity = (seed[COLLECTION_FIELDS[name]] as unknown[])[0]!
  return { key: (COLLECTIONS[name].key as (e: unknown) => string)(entity), entity }
}

interface Plan { url: string, role: string | null, headers: Record<string, string>, payload?: unknown }

// The DCI routes' documented example envelopes, by path (filled from the served document).
const dciExamples = new Map<string, unknown>()

// A plausible, authorised request for a route: valid parameters, the role the
// route takes, and a body and preconditions that pass validation, so the
// request reaches the code that needs (or does not need) the store.
function planFor (method: string, path: string, roles: Map<string, string>, queueName: string): Plan {
  let url = path
  const collection = /^\/v1\/admin\/catalogue\/([a-z-]+)\/:/.exec(path)?.[1]
  const entry = collection !== undefined && Object.hasOwn(COLLECTIONS, collection) ? firstKey(collection as CollectionName) : undefined
  const values: Record<string, string> = {
    code: path.startsWith('/v1/services') ? childMoney.code : OFFICER_UNIT,
    key: entry?.key ?? 'x',
    unit: entry?.key.split('/')[0] ?? OFFICER_UNIT,
    service: entry?.key.split('/')[1] ?? childMoney.code,
    id: randomUUID(),
    type: 'store-unavailable',
    version: '1',
    portal: 'test-portal',
    regnum: alice.regnum,
    source: 'civil',
    queueName,
    jobId: 'no-such-job',
    queueStatus: 'failed',
    schedulerId: 'no-such-scheduler',
  }
  url = url.replace(/:([A-Za-z]+)/g, (_m, name: string) => encodeURIComponent(values[name] ?? 'x'))
  url = url.replace(/\*$/, path.startsWith('/docs') ? 'static/index.css' : 'x')
  if (path.startsWith('/v1/citizens/')) url += '?purpose=welfare.eligibility&case=CASE-1'
  if (path === '/v1/admin/catalogue/diff') url += '?from=1'
  if (path.startsWith('/v1/stats/') && path !== '/v1/stats/indicators') {
    url += path.endsWith('/series') ? '?indicator=applications.received' : path.endsWith('/report') || path.endsWith('/public') ? '?period=2026-11' : '?indicator=applications.received&period=2026-11'
  }
  const role = path.startsWith(DASHBOARD) ? (path === `${DASHBOARD}/session` && method === 'DELETE' ? null : 'admin') : roles.get(`${method === 'HEAD' ? 'GET' : method} ${path}`) ?? null
  const headers: Record<string, string> = {}
  let payload: unknown
  if (method === 'POST' && path === '/v1/applications') {
    headers['idempotency-key'] = `walk-${randomUUID()}`
    payload = online(alice)
  } else if (method === 'POST' && path === '/v1/applications/batch') {
    payload = { items: [{ idempotencyKey: `walk-${randomUUID()}`, application: atCounter(counter) }] }
  } else if (path.startsWith('/v1/admin/catalogue/') && (method === 'PUT' || method === 'DELETE' || method === 'POST')) {
    headers['if-match'] = '"walk"'
    if (method === 'PUT') payload = entry?.entity
    if (path.endsWith('/import')) payload = seed
    if (path.endsWith('/publish')) payload = {}
  } else if (method === 'PUT' && path === '/v1/admin/portals/:portal/callback') {
    payload = { url: 'https://93.184.215.14/callbacks' }
  } else if (path === '/v1/admin/partners' || path === '/v1/admin/partners/:id') {
    if (method === 'POST' || method === 'PUT') {
      const key = { ...generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }), kid: 'k1' }
      payload = { ...(method === 'POST' ? { id: `walk-${randomUUID().slice(0, 8)}` } : {}), name: 'Walk MIS', jwks: { keys: [key] }, purposes: ['social_protection.eligibility'], recordTypes: ['SRPerson'] }
    }
  } else if (method === 'POST' && path === '/v1/consents') {
    payload = { regnum: alice.regnum, purpose: 'welfare.household_assessment', case: 'CASE-1', method: 'portal' }
  } else if (method === 'POST' && path === '/v1/consents/:id/otp') {
    payload = { code: '482913' }
  } else if (method === 'POST' && path === '/v1/me/consents') {
    payload = { purpose: 'employment.job_matching' }
  } else if (path === '/oauth2/client/token') {
    payload = { grant_type: 'client_credentials', client_id: 'walk-partner', client_secret: 'walk-secret' }
  } else if (path.startsWith('/dci/')) {
    payload = dciExamples.get(path)
  }
  return { url, role, headers, payload }
}

t.test('during an outage every route answers without a 500: the store\'s 503, or its usual answer if it needs no store', async (tt) => {
  const { app, proxy, lines, bearer, ready } = await setup(tt)
  // Roles per route, as the OpenAPI document states them.
  const roles = new Map<string, string>()
  const doc = app.swagger() as { paths: Record<string, Record<string, { description?: string }>> }
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const listed = /Roles: ([a-z, ]+)\./.exec(op.description ?? '')?.[1]?.split(', ')
      if (listed !== undefined) roles.set(`${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`, listed[0]!)
    }
  }
  for (const path of Object.keys(doc.paths).filter((p) => p.startsWith('/dci/'))) {
    dciExamples.set(path, dciExample(path.split('/')[2] as DciRegistry, path))
  }
  tt.equal(roles.get('POST /v1/applications'), 'citizen')
  tt.equal(roles.get('GET /v1/citizens/:regnum'), 'officer')

  const routes = registeredRoutes(app)
  const names = new Set(routes.map((r) => `${r.method} ${r.path}`))
  for (const known of [...KEEPS_WORKING, ...AUDITED, READINESS, 'POST /v1/applications', 'GET /v1/admin/audit/verify']) {
    tt.ok(names.has(known), `the route walk finds ${known}`)
  }

  tt.equal((await ready()).statusCode, 200, 'ready before the outage')
  proxy.cut()

  const seen: Array<{ route: string, status: number, code?: string }> = []
  for (const { method, path } of routes) {
    const route = `${method} ${path}`
    const plan = planFor(method, path, roles, app.applications.queue.name)
    const headers = { ...plan.headers, ...(plan.role === null ? {} : { authorization: await bearer(plan.role) }) }
    const res: LightMyRequestResponse = await app.inject({
      method: method as 'GET',
      url: plan.url,
      headers,
      ...(plan.payload === undefined ? {} : { payload: plan.payload as object }),
    })
    const problem = method !== 'HEAD' && String(res.headers['content-type']).startsWith('application/problem+json') ? res.json() : undefined
    seen.push({ route, status: res.statusCode, ...(problem === undefined ? {} : { code: problem.code }) })
    const what = `${route} (${res.statusCode} ${problem?.code ?? ''})`
    tt.not(res.statusCode, 500, `${route} is not a 500`)
    const base = route.replace(/^HEAD /, 'GET ')
    if (KEEPS_WORKING.has(base)) {
      // 2xx, or the redirect it always answers (Swagger UI's index.html).
      tt.ok(res.statusCode >= 200 && res.statusCode < 400, `${what} keeps working without the database`)
    } else if (path.startsWith(CONSOLE)) {
      tt.ok(res.statusCode < 500 || (res.statusCode === 503 && Number(res.headers['retry-after']) > 0), `${what}: the console answers without a 5xx but the store's 503`)
    } else if (path.startsWith(DEV_IDP) || path === '*') {
      tt.ok(res.statusCode < 500, `${what}: the development provider needs no database`)
    } else if (path.startsWith(DASHBOARD)) {
      tt.ok(res.statusCode < 500, `${what}: the dashboard needs no database`)
    } else if (path.startsWith('/dci/')) {
      // The DCI face answers in the spec's shape, not problem+json.
      tt.equal(res.statusCode, 503, `${what} needs the database`)
      tt.ok(Number(res.headers['retry-after']) > 0, `${what} says when to come back`)
      tt.equal(res.json().errors?.[0]?.code, 'err.service.unavailable', what)
    } else if (base === READINESS) {
      tt.equal(res.statusCode, 503, `${what} is not ready`)
      if (method === 'GET') tt.match(res.json(), { status: 'not_ready', checks: { database: { status: 'down' }, redis: { status: 'up' } } })
    } else {
      tt.equal(res.statusCode, 503, `${what} needs the database`)
      tt.ok(Number(res.headers['retry-after']) > 0, `${what} says when to come back`)
      tt.match(res.headers['content-type'], /^application\/problem\+json/)
      if (problem !== undefined) tt.equal(problem.code, AUDITED.has(base) ? 'AUDIT_UNAVAILABLE' : 'STORE_UNAVAILABLE', what)
    }
  }
  tt.ok(seen.length > 100, `${seen.length} requests, one per route and method`)
  tt.comment(JSON.stringify(Object.entries(Object.groupBy(seen, (x) => `${x.status} ${x.code ?? ''}`)).map(([k, v]) => `${k}: ${v!.length}`)))
  tt.ok(seen.filter((s) => s.code === 'STORE_UNAVAILABLE').length > 30)

  // Background loops fail quietly: let them try a few more times...
  const refusedBefore = proxy.refused
  await eventually(async () => proxy.refused > refusedBefore + 20)
  // ...and each said so once, not once per try.
  const outageLines = lines.filter((l) => l.msg === 'the database is unavailable')
  tt.ok(outageLines.length >= seen.filter((s) => s.code === 'STORE_UNAVAILABLE').length, 'one warning per refused request')
  for (const l of outageLines) {
    tt.equal(l.level, 40)
    tt.match(l, { code: /^(STORE|AUDIT)_UNAVAILABLE$/, route: /^\//, reason: String })
    tt.notOk('url' in l || 'err' in l, 'the route pattern and the reason, no URL and no stack')
  }
  tt.same(lines.filter((l) => (l.level as number) >= 50 && 'reqId' in l).map((l) => l.msg), [], 'no request logged as an error')
  tt.equal(lines.filter((l) => /could not refresh the published catalogue/.test(String(l.msg))).length, 1, 'the catalogue refresh warned once')

  proxy.restore()
  await eventually(async () => (await ready()).statusCode === 200)
  await eventually(async () => lines.some((l) => l.msg === 'the published catalogue can be refreshed again'))
  tt.equal((await app.inject({ method: 'GET', url: '/v1/admin/audit/verify', headers: { authorization: await bearer('admin') } })).json().ok, true,
    'the audit chain is whole')
  const lookup = await app.inject({ method: 'GET', url: `/v1/citizens/${encodeURIComponent(alice.regnum)}/civil?purpose=welfare.eligibility&case=CASE-2`, headers: { authorization: await bearer('officer') } })
  // Audited again; no source answers, as this test has no bus.
  tt.match(lookup.json(), { status: 502, code: 'ALL_SOURCES_FAILED' }, 'look-ups are audited again')
})

t.test('an application during the outage is 503; resent with its key afterwards it is stored exactly once', async (tt) => {
  const { app, proxy, token, ready } = await setup(tt)
  const people = population.livingAdults().slice(0, 16)
  const runId = randomUUID()
  const submissions = people.map((c, i) => ({
    key: `outage-${runId}-${i}`,
    role: 'citizen',
    claims: { sub: c.regnum } as Record<string, unknown>,
    body: online(c) as object,
    parts: 0,
  }))
  // A package: several rows in one transaction, all or none.
  submissions.push({ key: `outage-${runId}-package`, role: 'officer', claims: { unit: OFFICER_UNIT, agency: 'GOSW' }, body: atCounter(newborn as typeof counter), parts: 3 })
  const submit = async (s: typeof submissions[number]) => app.inject({
    method: 'POST',
    url: '/v1/applications',
    headers: { authorization: `Bearer ${await token(s.role, { claims: s.claims })}`, 'idempotency-key': s.key },
    payload: s.body,
  })
  const firstIds = new Map<string, string>()
  const check503 = (res: LightMyRequestResponse, what: string) => {
    tt.equal(res.statusCode, 503, `${what}: ${res.body}`)
    tt.equal(res.json().code, 'STORE_UNAVAILABLE')
    tt.ok(Number(res.headers['retry-after']) > 0)
  }

  // Cut as soon as the first answer is back, with the others in flight: each
  // is stored (202) or not (503), whichever side of the cut it fell on.
  const [later, inFlight] = [submissions.slice(10, 16), [...submissions.slice(0, 10), submissions[16]!]]
  const pending = inFlight.map(submit)
  await Promise.race(pending)
  proxy.cut()
  for (const [i, res] of (await Promise.all(pending)).entries()) {
    tt.not(res.statusCode, 500)
    if (res.statusCode === 202) firstIds.set(inFlight[i]!.key, res.json().id)
    else check503(res, `in flight when cut: ${inFlight[i]!.key}`)
  }
  tt.comment(`${firstIds.size} of ${inFlight.length} stored before the cut`)
  // The rest arrive while the database is away.
  for (const s of later) check503(await submit(s), s.key)
  tt.equal((await ready()).statusCode, 503)

  proxy.restore()
  await eventually(async () => (await ready()).statusCode === 200)
  for (const s of submissions) {
    const res = await submit(s)
    tt.equal(res.statusCode, 202, `${s.key} resent: ${res.body}`)
    const first = firstIds.get(s.key)
    if (first !== undefined) {
      tt.equal(res.json().id, first, 'the stored answer')
      tt.equal(res.headers['idempotent-replayed'], 'true')
    } else {
      firstIds.set(s.key, res.json().id)
    }
    // And again: the same answer, from the idempotency record.
    const again = await submit(s)
    tt.equal(again.statusCode, 202)
    tt.equal(again.json().id, firstIds.get(s.key))
    tt.equal(again.headers['idempotent-replayed'], 'true')
  }

  // Exactly one application per key, each with its parts, event and nothing else.
  const { rows } = await app.db.query<{ key: string, id: string, n: number, parts: number, events: number }>(`
    SELECT k.key, a.id::text AS id,
      (SELECT count(*)::int FROM applications x WHERE x.id = a.id) AS n,
      (SELECT count(*)::int FROM applications p WHERE p.package_id = a.id) AS parts,
      (SELECT count(*)::int FROM application_events e WHERE e.application_id = a.id AND e.status = 'received') AS events
    FROM idempotency_keys k LEFT JOIN applications a ON a.id = (k.response->'body'->>'id')::uuid
    WHERE k.key LIKE $1 ORDER BY k.key`, [`outage-${runId}-%`])
  tt.equal(rows.length, submissions.length, 'one idempotency record per key')
  for (const s of submissions) {
    const row = rows.find((r) => r.key === s.key)
    tt.match(row, { id: firstIds.get(s.key), n: 1, parts: s.parts, events: 1 }, `${s.key}: one application`)
  }
  const { rows: [total] } = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM applications WHERE package_id IS NULL')
  tt.equal(total!.n, submissions.length, 'no application without its key')
})

t.test('the database layer: connection-class failures become StoreUnavailableError, a broken client is not reused, nothing crashes', async (tt) => {
  const proxy = await startProxy(tt)
  const schema = uniqueName('outage')
  tt.teardown(() => dropSchema(schema))
  const db = createPostgresDatabase({ url: proxiedUrl(proxy), schema, poolMax: 2 })
  tt.teardown(() => db.close())
  await db.exec(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.notes (id integer PRIMARY KEY)`)

  // A transaction holding its client when the connection goes: an 'error'
  // event on a checked-out client used to crash the process.
  let letGo!: () => void
  const held = new Promise<void>((resolve) => { letGo = resolve })
  let inside!: () => void
  const started = new Promise<void>((resolve) => { inside = resolve })
  const tx = db.transaction(async (q) => {
    await q.query('INSERT INTO notes VALUES ($1)', [1])
    inside()
    await held
    await q.query('INSERT INTO notes VALUES ($1)', [2])
  })
  await started
  proxy.cut()
  // Wait until the client has seen its connection go.
  await eventually(async () => {
    try {
      await db.query('SELECT 1')
      return false
    } catch (err) {
      return err instanceof StoreUnavailableError
    }
  })
  letGo()
  await tt.rejects(tx, StoreUnavailableError, 'the transaction fails as an outage')
  await tt.rejects(db.query('SELECT 1'), { name: 'StoreUnavailableError', code: 'STORE_UNAVAILABLE', cause: { code: 'ECONNRESET' } })
  await tt.rejects(db.transaction(async (q) => q.query('SELECT 1')), StoreUnavailableError, 'connect fails as an outage')
  await tt.rejects(db.exec('SELECT 1'), StoreUnavailableError)

  proxy.restore()
  // Both pool slots work again: no broken client came back from the pool.
  for (let i = 0; i < 4; i++) {
    await Promise.all([3, 4].map((n) => db.transaction(async (q) => q.query('SELECT $1::int AS n', [n * 10 + i]))))
  }
  const { rows } = await db.query<{ id: number }>('SELECT id FROM notes')
  tt.same(rows, [], 'the half-done transaction left nothing')
  // Statement errors are not outages.
  await tt.rejects(db.query('INSERT INTO notes VALUES (1), (1)'), { code: '23505' })
  await tt.rejects(db.transaction(async (q) => q.query('SELECT * FROM no_such_table')), { code: '42P01' })
})

t.test('which errors are outages, and what a client gets for one', async (tt) => {
  const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code })
  for (const err of [
    coded('ECONNREFUSED'), coded('ECONNRESET'), coded('ETIMEDOUT'), coded('EPIPE'), coded('ENOTFOUND'),
    coded('08006'), coded('08001'), coded('57P01'), coded('57P02'), coded('57P03'),
    new Error('Connection terminated unexpectedly'), new Error('Connection terminated due to connection timeout'),
    new Error('timeout exceeded when trying to connect'), new Error('PGlite is closed'),
    new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')], ''),
  ]) {
    tt.ok(isConnectionFailure(err), `${(err as { code?: string }).code ?? err.message} is an outage`)
    const wrapped = storeError(err)
    tt.type(wrapped, StoreUnavailableError)
    tt.equal((wrapped as Error).cause, err, 'the original is kept as the cause')
  }
  for (const err of [coded('23505'), coded('42P01'), coded('57014', 'canceling statement due to statement timeout'), new Error('boom'), 'text']) {
    tt.notOk(isConnectionFailure(err))
    tt.equal(storeError(err), err)
  }

  // Any route: the outage, even wrapped by the code above the store, is the
  // registry's 503 with Retry-After; so is the audit log's own refusal.
  const outage = new StoreUnavailableError(coded('ECONNREFUSED'))
  for (const err of [outage, new Error('could not load', { cause: outage })]) {
    const problem = toProblem(err)
    tt.match(problem, { code: 'STORE_UNAVAILABLE', status: 503, headers: { 'retry-after': '5' } })
    tt.equal(problem.cause, err)
  }
  tt.match(new ProblemError('AUDIT_UNAVAILABLE', 'no record, no data', { cause: outage }), { status: 503, headers: { 'retry-after': '5' } })
  tt.match(new ProblemError('RATE_LIMITED', 'slow down', { headers: { 'retry-after': '42' } }).headers, { 'retry-after': '42' })
  tt.same(new ProblemError('INTERNAL').headers, {}, 'no Retry-After where the registry gives none')
  tt.equal(toProblem(new Error('boom')).code, 'INTERNAL')
})

t.test('a closed embedded store is an outage too', async (tt) => {
  const db = await createEmbeddedDatabase({ schema: 'public' })
  await db.query('SELECT 1')
  await db.close()
  await tt.rejects(db.query('SELECT 1'), StoreUnavailableError)
  await tt.rejects(db.transaction(async (q) => q.query('SELECT 1')), StoreUnavailableError)
  await tt.rejects(db.exec('SELECT 1'), StoreUnavailableError)
})
