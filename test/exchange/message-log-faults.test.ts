import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { request } from 'undici'
import {
  b64urlSha256, CIVIL, createBus, cutOffCall, GATEWAY, signedHeaders, soapRequest, until, verifyResponseSignature, xypHeaders,
  type Bus,
} from './helpers.ts'

t.test('the message log records both transports, without personal data', async (t) => {
  const bus = await createBus()
  t.teardown(() => bus.app.close())
  const c = bus.population.citizens[0]
  if (c === undefined) throw new Error('empty')
  const xRoadId = randomUUID()
  const rest = await bus.call(`${CIVIL}/getIdCard`, { regnum: c.regnum }, { headers: { 'x-road-id': xRoadId, 'x-road-userid': c.regnum } })
  t.equal(rest.statusCode, 200)
  const xyp = await bus.app.inject({ method: 'POST', url: '/xyp/citizen-1.5.0/ws', headers: xypHeaders(bus.xyp), payload: soapRequest('WS100103_getCitizenAddressInfo', { regnum: c.regnum }, { operator: c.regnum }) })
  t.equal(xyp.statusCode, 200)
  await bus.call(`${CIVIL}/getBirth`, { regnum: c.regnum }, { key: bus.revokedKey })

  const log = await bus.app.inject({ method: 'GET', url: '/admin/message-log?limit=10' })
  t.equal(log.statusCode, 200)
  const records = log.json().records
  t.equal(records.length, 3)
  const [refusal, soap, read] = records
  t.match(read, {
    id: xRoadId,
    transport: 'rest',
    client: 'MN/GOV/OSS/gateway',
    service: `${CIVIL}/getIdCard`,
    issue: 'CASE-2025-001',
    status: 200,
    succeeded: true,
    error: null,
    delivered: true,
    clientDisconnected: false,
  })
  t.ok(read.requestSize > 0 && read.responseSize > 0, 'sizes recorded')
  t.ok(read.durationMs >= 0)
  t.ok(Date.parse(read.responseOutTs) >= Date.parse(read.requestInTs))
  t.match(soap, { transport: 'xyp', client: 'MN/GOV/OSS/gateway', service: `${CIVIL}/WS100103_getCitizenAddressInfo`, status: 200, delivered: true, clientDisconnected: false })
  t.match(refusal, { transport: 'rest', status: 401, error: 'Client.RevokedKey', succeeded: false, delivered: false, clientDisconnected: false })
  t.notMatch(log.body, c.regnum, 'no registration number is stored')
  t.match(read.userId, /\*{6}/, 'a regnum-shaped user id is masked')

  const filtered = await bus.app.inject({ method: 'GET', url: `/admin/message-log?service=${encodeURIComponent(`${CIVIL}/getIdCard`)}` })
  t.equal(filtered.json().records.length, 1)
  const byClient = await bus.app.inject({ method: 'GET', url: '/admin/message-log?client=MN/GOV/OSS/nobody' })
  t.equal(byClient.json().records.length, 0)
})

t.test('the message log is a bounded ring', async (t) => {
  const bus = await createBus({ messageLogSize: 3 })
  t.teardown(() => bus.app.close())
  for (let i = 0; i < 5; i++) await bus.call(`${CIVIL}/checkRegnum`, { regnum: bus.population.citizens[i]?.regnum })
  const log = (await bus.app.inject({ method: 'GET', url: '/admin/message-log' })).json()
  t.equal(log.records.length, 3)
  t.equal(log.capacity, 3)
})

t.test('faults', async (t) => {
  const bus = await createBus()
  await bus.app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => bus.app.close())
  const address = bus.app.server.address()
  const origin = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  const regnum = bus.population.citizens[0]?.regnum ?? ''
  const url = `/r1/${CIVIL}/getIdCard`
  const body = JSON.stringify({ regnum })
  const setFaults = async (provider: string, faults: Record<string, unknown>) => {
    const res = await bus.app.inject({ method: 'PUT', url: `/admin/faults/${provider}`, payload: faults })
    t.equal(res.statusCode, 200)
  }
  const post = async () => await request(`${origin}${url}`, { method: 'POST', headers: await signedHeaders({ key: bus.gatewayKey, url, body }), body })

  t.test('down closes the connection without an answer', async (t) => {
    await setFaults('civil', { down: true })
    t.teardown(async () => { await bus.app.inject({ method: 'DELETE', url: '/admin/faults' }) })
    await t.rejects(post(), { code: 'UND_ERR_SOCKET' })
    const xyp = request(`${origin}/xyp/citizen-1.5.0/ws`, { method: 'POST', headers: xypHeaders(bus.xyp), body: soapRequest('WS100125_checkCitizenRegnum', { regnum }) })
    await t.rejects(xyp, { code: 'UND_ERR_SOCKET' }, 'the XYP side of civil is down too')
    const other = await bus.call('MN/GOV/GASI/social-insurance/getPension', { regnum })
    t.equal(other.statusCode, 200, 'other providers still answer')
  })

  t.test('errorRate 1 answers 500 with X-Road-Error', async (t) => {
    await setFaults('civil', { errorRate: 1 })
    t.teardown(async () => { await bus.app.inject({ method: 'DELETE', url: '/admin/faults' }) })
    const res = await post()
    t.equal(res.statusCode, 500)
    t.equal(res.headers['x-road-error'], 'Server.ServerProxy.ServiceFailed')
    t.equal((await res.body.json() as { type: string }).type, 'Server.ServerProxy.ServiceFailed')
    const faults = (await bus.app.inject({ method: 'GET', url: '/admin/faults' })).json()
    t.equal(faults.faults.civil.errorRate, 1)
  })

  t.test('latency is applied', async (t) => {
    await setFaults('civil', { latencyMs: 60, jitterMs: 20 })
    t.teardown(async () => { await bus.app.inject({ method: 'DELETE', url: '/admin/faults' }) })
    const res = await post()
    t.equal(res.statusCode, 200)
    await res.body.dump()
    const [last] = (await bus.app.inject({ method: 'GET', url: '/admin/message-log?limit=1' })).json().records
    t.ok(last.durationMs >= 60, `duration ${last.durationMs} ms ≥ 60 ms`)
  })

  t.test('slow drip sends the body in chunks, intact and signed', async (t) => {
    await setFaults('civil', { slowDripMs: 100 })
    t.teardown(async () => { await bus.app.inject({ method: 'DELETE', url: '/admin/faults' }) })
    const res = await post()
    t.equal(res.statusCode, 200)
    let chunks = 0
    const parts: Buffer[] = []
    for await (const chunk of res.body) {
      chunks++
      parts.push(chunk as Buffer)
    }
    t.ok(chunks > 1, `arrived in ${chunks} chunks`)
    const bytes = Buffer.concat(parts)
    t.equal(JSON.parse(bytes.toString()).regnum, regnum)
    const jwks = (await bus.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json()
    const sig = await verifyResponseSignature(jwks, String(res.headers['x-road-signature']))
    t.equal(sig.bdh, b64urlSha256(bytes))
  })

  t.test('reset clears every provider', async (t) => {
    await setFaults('land', { errorRate: 1 })
    const reset = await bus.app.inject({ method: 'DELETE', url: '/admin/faults' })
    t.equal(reset.statusCode, 204)
    t.same((await bus.app.inject({ method: 'GET', url: '/admin/faults' })).json(), { faults: {} })
  })
})

t.test('errorRate draws from the injected random source', async (t) => {
  const draws = [0.9, 0.1, 0.9]
  const bus = await createBus({ random: () => draws.shift() ?? 0.9 })
  t.teardown(() => bus.app.close())
  await bus.app.inject({ method: 'PUT', url: '/admin/faults/notary', payload: { errorRate: 0.5 } })
  const regnum = bus.population.citizens[0]?.regnum
  const statuses = []
  for (let i = 0; i < 3; i++) statuses.push((await bus.call('MN/GOV/MNC/notary/getPowersOfAttorney', { regnum })).statusCode)
  t.same(statuses, [200, 500, 200])
})

t.test('admin endpoints need the admin token when one is set', async (t) => {
  const bus = await createBus({ adminToken: 's3cret' })
  t.teardown(() => bus.app.close())
  t.equal((await bus.app.inject({ method: 'GET', url: '/admin/faults' })).statusCode, 401)
  t.equal((await bus.app.inject({ method: 'GET', url: '/admin/faults', headers: { authorization: 'Bearer wrong' } })).statusCode, 401)
  t.equal((await bus.app.inject({ method: 'GET', url: '/admin/faults', headers: { authorization: 'Bearer s3cret' } })).statusCode, 200)
  t.equal((await bus.app.inject({ method: 'PUT', url: '/admin/faults/nowhere', headers: { authorization: 'Bearer s3cret' }, payload: {} })).statusCode, 400, 'unknown provider')
  t.equal((await bus.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).statusCode, 200, 'the JWKS stays public')
})

// ---- callers that go away ------------------------------------------------------

const WELFARE = 'MN/GOV/GOSW/welfare'
const SUBMIT = `/r1/${WELFARE}/submitApplication`
const XYP = '/xyp/citizen-1.5.0/ws'

// A bus of its own per test, listening, so its log holds only that test's exchanges.
async function listening (t: Test): Promise<{ bus: Bus, origin: string, admin: (url: string) => Promise<any> }> {
  const bus = await createBus()
  await bus.app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => bus.app.close())
  const address = bus.app.server.address()
  const origin = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  const admin = async (url: string) => (await bus.app.inject({ method: 'GET', url })).json()
  return { bus, origin, admin }
}

function application (regnum: string) {
  return { applicationId: randomUUID(), service: 'welfare.child-money', unit: '110151', channel: 'oss', applicant: { regnum }, form: { children: 2 } }
}

t.test('a caller that goes away is logged once, with what the provider took', async (t) => {
  t.test('REST: the agency kept the application, the caller left before the answer', async (t) => {
    const { bus, origin, admin } = await listening(t)
    await bus.app.inject({ method: 'PUT', url: '/admin/faults/welfare', payload: { latencyMs: 600_000 } })
    const app = application(bus.population.livingAdults()[0]?.regnum ?? '')
    const body = JSON.stringify(app)
    const headers = await signedHeaders({ key: bus.gatewayKey, url: SUBMIT, body })
    const xRoadId = headers['x-road-id'] ?? ''
    const byId = async () => (await admin('/admin/message-log?limit=1000')).records.filter((r: { id: string }) => r.id === xRoadId)

    const call = cutOffCall(origin, SUBMIT, headers, body)
    await until('the agency to receive the application', async () => (await admin('/admin/providers/welfare/counters')).applicationsReceived === 1 || undefined)
    call.abort()
    const records = await until('the exchange in the message log', async () => { const r = await byId(); return r.length > 0 ? r : undefined })
    t.equal(records.length, 1, 'one record')
    t.match(records[0], {
      transport: 'rest',
      client: GATEWAY,
      service: `${WELFARE}/submitApplication`,
      status: 200,
      error: null,
      succeeded: true,
      delivered: true,
      clientDisconnected: true,
    })
    t.ok(records[0].responseSize > 0, 'the size of the answer meant')
    t.notOk(call.answered(), 'the caller never saw the answer')

    // The caller's retry under the same X-Road-Id gets the first answer.
    await bus.app.inject({ method: 'DELETE', url: '/admin/faults' })
    const retry = await bus.call(`${WELFARE}/submitApplication`, app, { headers: { 'x-road-id': xRoadId } })
    t.equal(retry.statusCode, 200)
    t.match(await admin('/admin/providers/welfare/counters'), { applicationsReceived: 1, idempotentReplays: 1, requestsReceived: 2 })
    t.match(await byId(), [{ clientDisconnected: false, delivered: true }, { clientDisconnected: true }], 'the retry, then the exchange cut off')
  })

  t.test('REST: the caller left while the answer was being written', async (t) => {
    const { bus, origin, admin } = await listening(t)
    // The first of 20 chunks after 2 s, the last after 40.
    await bus.app.inject({ method: 'PUT', url: '/admin/faults/civil', payload: { slowDripMs: 40_000 } })
    const url = `/r1/${CIVIL}/getIdCard`
    const body = JSON.stringify({ regnum: bus.population.citizens[0]?.regnum })
    const headers = await signedHeaders({ key: bus.gatewayKey, url, body })
    const call = cutOffCall(origin, url, headers, body)
    t.equal((await call.response).statusCode, 200)
    call.abort()
    const records = await until('the exchange in the message log', async () => {
      const r = (await admin('/admin/message-log')).records
      return r.length > 0 ? r : undefined
    })
    t.equal(records.length, 1)
    t.match(records[0], { id: headers['x-road-id'], status: 200, succeeded: true, delivered: true, clientDisconnected: true })
  })

  t.test('REST: the caller left before its request reached the agency', async (t) => {
    const { bus, origin, admin } = await listening(t)
    const body = JSON.stringify(application(bus.population.livingAdults()[0]?.regnum ?? ''))
    const headers = await signedHeaders({ key: bus.gatewayKey, url: SUBMIT, body })
    // The body is held back: the bus has begun the exchange but cannot deliver it.
    const call = cutOffCall(origin, SUBMIT, headers, body, { holdBody: true })
    await call.continued
    call.abort()
    const records = await until('the exchange in the message log', async () => {
      const r = (await admin('/admin/message-log')).records
      return r.length > 0 ? r : undefined
    })
    t.equal(records.length, 1)
    t.match(records[0], {
      id: headers['x-road-id'],
      transport: 'rest',
      client: GATEWAY,
      service: `${WELFARE}/submitApplication`,
      status: 400,
      error: 'Client.InvalidRequest',
      succeeded: false,
      delivered: false,
      clientDisconnected: true,
    })
    t.match(await admin('/admin/providers/welfare/counters'), { requestsReceived: 0, applicationsReceived: 0, submissions: 0 }, 'the agency never saw it')
  })

  t.test('XYP: the registry answered, the caller left before the answer', async (t) => {
    const { bus, origin, admin } = await listening(t)
    await bus.app.inject({ method: 'PUT', url: '/admin/faults/civil', payload: { latencyMs: 600_000 } })
    const op = 'WS100125_checkCitizenRegnum'
    const call = cutOffCall(origin, XYP, xypHeaders(bus.xyp), soapRequest(op, { regnum: bus.population.citizens[0]?.regnum ?? '' }))
    await until('the registry to receive the request', async () => (await admin('/admin/providers/civil/counters')).requestsReceived === 1 || undefined)
    call.abort()
    const records = await until('the exchange in the message log', async () => {
      const r = (await admin('/admin/message-log')).records
      return r.length > 0 ? r : undefined
    })
    t.equal(records.length, 1)
    t.match(records[0], {
      transport: 'xyp',
      client: GATEWAY,
      service: `${CIVIL}/${op}`,
      status: 200,
      error: null,
      succeeded: true,
      delivered: true,
      clientDisconnected: true,
    })
    t.notOk(call.answered())
  })

  t.test('XYP: the caller left before its request reached the registry', async (t) => {
    const { bus, origin, admin } = await listening(t)
    const call = cutOffCall(origin, XYP, xypHeaders(bus.xyp), soapRequest('WS100125_checkCitizenRegnum', { regnum: 'АА00000000' }), { holdBody: true })
    await call.continued
    call.abort()
    const records = await until('the exchange in the message log', async () => {
      const r = (await admin('/admin/message-log')).records
      return r.length > 0 ? r : undefined
    })
    t.equal(records.length, 1)
    t.match(records[0], {
      transport: 'xyp',
      client: GATEWAY,
      status: 500,
      error: 'XYP.InvalidRequest',
      succeeded: false,
      delivered: false,
      clientDisconnected: true,
    })
    t.equal((await admin('/admin/providers/civil/counters')).requestsReceived, 0, 'the registry never saw it')
  })
})
