import t from 'tap'
import { generatePopulation } from '../../src/exchange/index.ts'
import { loadAdapterSchemas } from '../../src/adapters/load.ts'
import { resolveMemberKeys } from '../../src/bus/index.ts'
import { buildTestApp } from '../helpers/app.ts'
import { createTestRuntime } from '../helpers/bus.ts'

// The gateway's adapters against the real emulator over HTTP, both transports.
const population = generatePopulation({ citizens: 500 })
const adult = population.livingAdults()[3]!
const parent = population.citizens.find((c) => c.childIndexes.length >= 2 && c.deathDate === null)!
const UNKNOWN = 'ЭЭ01010155'

async function setup (tt: Parameters<typeof buildTestApp>[0], env: Record<string, string> = {}) {
  return buildTestApp(tt, { exchange: { citizens: 500 }, env })
}

t.test('every REST read maps a known citizen to its canonical result', async (tt) => {
  const { app } = await setup(tt)
  const card = await app.adapters.invoke<any>('civil.getIdCard', { regnum: adult.regnum })
  tt.match(card, { regnum: adult.regnum, civilId: adult.civilId, clanName: adult.surname, patronymic: adult.lastname, givenName: adult.firstname, sex: adult.sex, birthDate: adult.birthDate })
  tt.notOk('firstname' in card, 'provider field names do not leak through')

  const reads = app.adapters.describe().filter((a) => a.transport === 'rest' && a.kind === 'read' && !a.operation.endsWith('getApplicationStatus'))
  tt.equal(reads.length, 19)
  for (const a of reads) {
    const result = await app.adapters.invoke<any>(a.operation, { regnum: adult.regnum })
    tt.equal(result.regnum, adult.regnum, `${a.operation} answers for the citizen asked about`)
  }
  const children = await app.adapters.invoke<any>('civil.getChildren', { regnum: parent.regnum })
  tt.same(children.children.map((c: any) => c.regnum).sort(), parent.childIndexes.map((i) => population.citizens[i]!.regnum).sort())
})

t.test('XYP reads map KHUR answers to canonical results', async (tt) => {
  const { app } = await setup(tt)
  tt.match(await app.adapters.invoke('khur.getCitizenIdCard', { regnum: adult.regnum }, { userId: 'officer-7' }), {
    regnum: adult.regnum, clanName: adult.surname, patronymic: adult.lastname, givenName: adult.firstname, sex: adult.sex, birthDate: adult.birthDate,
  })
  tt.match(await app.adapters.invoke('khur.getCitizenAddress', { regnum: adult.regnum }), { regnum: adult.regnum, bagKhorooCode: adult.homeUnit })
  tt.same(await app.adapters.invoke('khur.checkCitizenRegnum', { regnum: adult.regnum }), { valid: true })
  tt.same(await app.adapters.invoke('khur.checkCitizenRegnum', { regnum: UNKNOWN }), { valid: false })
  const kids = await app.adapters.invoke<any>('khur.getChildren', { regnum: parent.regnum })
  tt.same(kids.children.map((c: any) => c.regnum).sort(), parent.childIndexes.map((i) => population.citizens[i]!.regnum).sort())
  await tt.rejects(app.adapters.invoke('khur.getCitizenIdCard', { regnum: UNKNOWN }), { code: 'UPSTREAM_NOT_FOUND', status: 404 })
})

t.test('unknown citizens, bad requests and bus headers', async (tt) => {
  const { app, exchange } = await setup(tt)
  await tt.rejects(app.adapters.invoke('civil.getIdCard', { regnum: UNKNOWN }), { code: 'UPSTREAM_NOT_FOUND', status: 404 })
  await tt.rejects(app.adapters.invoke('civil.getIdCard', { regnum: 'nope' }), { code: 'VALIDATION_FAILED' })
  await app.adapters.invoke('welfare.getEnrolments', { regnum: adult.regnum }, { userId: 'officer-42', issue: 'CASE-2026-001', xRoadId: 'req-abc-123' })
  const log = await exchange!.app.inject({ method: 'GET', url: '/admin/message-log?service=MN/GOV/GOSW/welfare/getEnrolments' })
  tt.match(log.json(), { records: [{ id: 'req-abc-123', userId: 'officer-42', issue: 'CASE-2026-001', client: 'MN/GOV/OSS/gateway', status: 200 }] })
  tt.notMatch(log.body, adult.regnum)
})

t.test('an answer that breaks the adapter schema is never passed on', async (tt) => {
  const { app, config, exchange } = await setup(tt)
  const schemas = loadAdapterSchemas().map((s) => s.$id === 'adapter:civil.getIdCard'
    ? { ...s, $defs: { ...(s.$defs as object), busResponse: { type: 'object', required: ['passportPhoto'] } } }
    : s)
  const runtime = await createTestRuntime(tt, config, exchange!.url, resolveMemberKeys(config).keys, { schemas })
  await tt.rejects(runtime.invoke('civil.getIdCard', { regnum: adult.regnum }), { code: 'UPSTREAM_INVALID_RESPONSE', status: 502, message: /passportPhoto/ })
  tt.ok(app)
})

t.test('an answer whose signature does not verify is rejected', async (tt) => {
  const { config, exchange } = await setup(tt)
  // A second bus publishes other keys: answers from the first cannot verify against them.
  const other = await setup(tt)
  const otherKeys = { ...config, bus: { ...config.bus, jwksUrl: `${other.exchange!.url}/.well-known/jwks.json` } }
  const runtime = await createTestRuntime(tt, otherKeys, exchange!.url, resolveMemberKeys(config).keys)
  await tt.rejects(runtime.invoke('civil.getIdCard', { regnum: adult.regnum }), { code: 'UPSTREAM_INVALID_SIGNATURE', status: 502 })
})

t.test('the breaker opens on a down provider, fails fast, and closes after the cool-down', async (tt) => {
  const { config, exchange } = await setup(tt)
  let clock = Date.now()
  const runtime = await createTestRuntime(tt, config, exchange!.url, resolveMemberKeys(config).keys, {
    breaker: { failureThreshold: 3, coolDownMs: 30000 },
    now: () => clock,
  })
  // Failing fast means not calling the bus at all: its message log does not grow.
  const logged = async () => (await exchange!.app.inject({ method: 'GET', url: '/admin/message-log?limit=100000' })).json().size as number
  await exchange!.app.inject({ method: 'PUT', url: '/admin/faults/land', payload: { down: true } })
  const fresh = await logged()
  for (let i = 0; i < 3; i++) {
    await tt.rejects(runtime.invoke('land.getPlots', { regnum: adult.regnum }), { code: 'UPSTREAM_UNAVAILABLE' })
  }
  tt.equal(runtime.breaker('land').state, 'open')
  const before = await logged()
  tt.ok(before > fresh, 'calls to the provider that is down reach the bus and are logged')
  const err = await runtime.invoke('land.getPlots', { regnum: adult.regnum }).catch((e) => e)
  tt.match(err, { code: 'UPSTREAM_CIRCUIT_OPEN', status: 503, headers: { 'retry-after': '30' } })
  tt.equal(await logged(), before, 'the open circuit answered without a call to the bus')
  tt.equal(runtime.breaker('civil').state, 'closed', 'other providers are not affected')
  tt.ok(await runtime.invoke('civil.getIdCard', { regnum: adult.regnum }))

  await exchange!.app.inject({ method: 'DELETE', url: '/admin/faults/land' })
  clock += 30000
  tt.equal(runtime.breaker('land').state, 'half-open')
  tt.match(await runtime.invoke('land.getPlots', { regnum: adult.regnum }), { regnum: adult.regnum })
  tt.equal(runtime.breaker('land').state, 'closed')
})

t.test('with a 30% error rate reads still succeed through bounded retries, counted in metrics', async (tt) => {
  // Up to five attempts a read; the breaker tolerates the odd run of failures.
  const { app, exchange } = await setup(tt, { BUS_READ_RETRIES: '4', BUS_RETRY_BASE_MS: '5', BUS_BREAKER_FAILURES: '10' })
  await exchange!.app.inject({ method: 'PUT', url: '/admin/faults/social-insurance', payload: { errorRate: 0.3 } })
  const adults = population.livingAdults().slice(0, 30)
  // One after another, so the emulator's seeded faults fall the same way on every run.
  for (const c of adults) {
    const result = await app.adapters.invoke<any>('insurance.getInsuredStatus', { regnum: c.regnum })
    tt.equal(result.regnum, c.regnum)
  }
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  const retried = Number(/bus_adapter_retries_total\{adapter="insurance.getInsuredStatus"\} (\d+)/.exec(metrics)?.[1] ?? 0)
  tt.ok(retried > 0, `${retried} retries`)
  tt.match(metrics, /bus_adapter_calls_total\{adapter="insurance.getInsuredStatus",outcome="ok"\} 30/)
})

t.test('a write sent twice with one X-Road-Id is one application at the agency', async (tt) => {
  const { app, exchange } = await setup(tt)
  const application = {
    applicationId: '0b0c6f1e-7d0a-4c53-9a57-3f1f1c1a2b3c',
    service: 'welfare.child-money',
    unit: adult.homeUnit,
    channel: 'online',
    applicant: { regnum: adult.regnum },
    form: { children: 2 },
  }
  const first = await app.adapters.invoke<any>('welfare.submitApplication', application, { xRoadId: application.applicationId })
  const second = await app.adapters.invoke<any>('welfare.submitApplication', application, { xRoadId: application.applicationId })
  tt.same(second, first)
  tt.match(first, { applicationId: application.applicationId, status: 'received', agencyReference: /^GOSW-/ })
  const counters = await exchange!.app.inject({ method: 'GET', url: '/admin/providers/welfare/counters' })
  tt.match(counters.json(), { applicationsReceived: 1 })
  await tt.rejects(app.adapters.invoke('welfare.submitApplication', { ...application, applicant: { regnum: 'bad' } }, { xRoadId: 'x-2' }), { code: 'VALIDATION_FAILED' })
})

t.test('admins see every adapter with its breaker and latency', async (tt) => {
  const { app, token } = await setup(tt)
  await app.adapters.invoke('civil.getIdCard', { regnum: adult.regnum })
  const res = await app.inject({ method: 'GET', url: '/v1/admin/adapters', headers: { authorization: `Bearer ${await token('admin')}` } })
  tt.equal(res.statusCode, 200)
  const list = res.json().adapters
  tt.equal(list.length, 39)
  tt.match(list.find((a: any) => a.operation === 'civil.getIdCard'), {
    transport: 'rest', service: 'MN/GOV/GASR/civil/getIdCard', kind: 'read', breaker: 'closed', latencyMs: { count: 1, p50: Number },
  })
  tt.match(list.find((a: any) => a.operation === 'khur.getCitizenIdCard'), { transport: 'xyp', service: 'WS100101_getCitizenIDCardInfo' })
  const officer = await app.inject({ method: 'GET', url: '/v1/admin/adapters', headers: { authorization: `Bearer ${await token('officer')}` } })
  tt.equal(officer.statusCode, 403)
})
