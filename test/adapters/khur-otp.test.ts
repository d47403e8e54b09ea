import t, { type Test } from 'tap'
import { resolveMemberKeys } from '../../src/bus/index.ts'
import { createXypClient } from '../../src/bus/xyp-client.ts'
import { loadConfig } from '../../src/config.ts'
import { defaultGatewayMember, generatePopulation, startExchange, type ExchangeOptions } from '../../src/exchange/index.ts'
import { createTestRuntime } from '../helpers/bus.ts'

// khur.registerOtp and khur.checkOtp through the gateway's adapter runtime,
// against a real emulator over HTTP that trusts the gateway's development
// member exactly as `npm run exchange` does (members-file.ts), and the
// citizen's code then carried by the other XYP adapters (citizenOtp).
const population = generatePopulation({ citizens: 300 })
const ID_CARD = 'WS100101_getCitizenIDCardInfo'

interface InboxMessage { regnum: string, code: string, requestId: string, services: string[], verified: boolean }

async function setup (t: Test, options: ExchangeOptions = {}, retries = 0) {
  let clock = Date.now()
  const dataDir = t.testdir()
  const config = loadConfig({ DATA_DIR: dataDir })
  const { keys } = resolveMemberKeys(config)
  const { member, missing } = defaultGatewayMember(dataDir, {})
  t.same(missing, [], 'the gateway wrote its development keys')
  t.equal(member.xyp?.accessToken, config.bus.xypAccessToken, 'the development member has the gateway\'s XYP token')
  const exchange = await startExchange({ port: 0, population, members: [member], now: () => clock, ...options })
  t.teardown(() => exchange.close())
  // XYP timestamps follow the bus clock, so the test can move both.
  const xyp = createXypClient({ baseUrl: exchange.url, accessToken: config.bus.xypAccessToken, privateKey: keys.xypPrivateKey, now: () => clock })
  t.teardown(() => xyp.close())
  const runtime = await createTestRuntime(t, config, exchange.url, keys, { xyp, retry: { retries, baseMs: 1, maxMs: 1 } })
  const admin = async (url: string) => (await exchange.app.inject({ method: 'GET', url })).json()
  const inbox = async (regnum: string) => (await admin(`/admin/otp-inbox?regnum=${encodeURIComponent(regnum)}`)).messages as InboxMessage[]
  const logOf = async (service: string) => (await admin(`/admin/message-log?service=${encodeURIComponent(service)}`)).records as Array<Record<string, unknown>>
  return { runtime, exchange, inbox, logOf, advance: (ms: number) => { clock += ms } }
}

t.test('a citizen is texted a code, the code is checked, and XYP adapters then carry it', async (t) => {
  const { runtime, inbox, logOf, advance } = await setup(t)
  const citizen = population.livingAdults()[2]!

  const sent = await runtime.invoke<{ requestId: string, status: string }>('khur.registerOtp', { regnum: citizen.regnum, services: [ID_CARD] }, { userId: 'officer-9' })
  t.match(sent, { requestId: /^[0-9a-f-]{36}$/, status: 'sent' })
  t.same(Object.keys(sent).sort(), ['requestId', 'status'])
  const [message] = await inbox(citizen.regnum)
  t.match(message, { regnum: citizen.regnum, requestId: sent.requestId, services: [ID_CARD], verified: false })
  const code = message!.code

  const miss = await runtime.invoke<{ match: boolean, requestId: string }>('khur.checkOtp', { regnum: citizen.regnum, otp: code === '999999' ? '100000' : String(Number(code) + 1) })
  t.equal(miss.match, false)
  t.match(miss.requestId, /^[0-9a-f-]{36}$/)
  t.not(miss.requestId, sent.requestId, 'each answer names its own request')
  t.same(await runtime.invoke('khur.checkOtp', { regnum: citizen.regnum, otp: code }).then((r: any) => [r.match, typeof r.requestId]), [true, 'string'])

  t.match(await runtime.invoke('khur.getCitizenIdCard', { regnum: citizen.regnum }, { citizenOtp: code }), { regnum: citizen.regnum, givenName: citizen.firstname })
  await t.rejects(runtime.invoke('khur.getCitizenAddress', { regnum: citizen.regnum }, { citizenOtp: code }),
    { code: 'UPSTREAM_REFUSED', message: /OTP/ }, 'a service the code was not asked for')
  t.same(await runtime.invoke('khur.checkCitizenRegnum', { regnum: citizen.regnum }, { citizenOtp: code }), { valid: true },
    'an adapter that names no citizen sends no code')

  t.match((await logOf(`MN/GOV/GASR/civil/${ID_CARD}`))[0], { citizenAuth: 'otp', citizenOtpValid: true, client: 'MN/GOV/OSS/gateway' })
  t.match((await logOf('MN/GOV/GASR/civil/WS100103_getCitizenAddressInfo'))[0], { citizenAuth: 'otp', citizenOtpValid: false, error: 'resultCode:3' })
  t.match((await logOf('MN/GOV/GASR/civil/WS100125_checkCitizenRegnum'))[0], { citizenAuth: null, citizenOtpValid: null })
  t.match((await logOf('MN/GOV/KHUR/meta/WS100008_registerOTPRequest'))[0], { userId: 'officer-9', citizenAuth: null })

  advance(86_400_000)
  await t.rejects(runtime.invoke('khur.getCitizenIdCard', { regnum: citizen.regnum }, { citizenOtp: code }),
    { code: 'UPSTREAM_REFUSED', message: /OTP/ }, 'the approval has run out on the bus clock')
  t.match(await runtime.invoke('khur.getCitizenIdCard', { regnum: citizen.regnum }), { regnum: citizen.regnum }, 'without a code, as before')
})

t.test('neither adapter is retried, even where reads are', async (t) => {
  const { runtime, exchange, inbox, logOf } = await setup(t, {}, 3)
  const citizen = population.livingAdults()[4]!
  const kinds = runtime.describe().filter((a) => a.operation === 'khur.registerOtp' || a.operation === 'khur.checkOtp')
  t.same(kinds.map((a) => [a.operation, a.kind, a.transport, a.service, a.provider]).sort(), [
    ['khur.checkOtp', 'write', 'xyp', 'WS100009_checkOtp', 'meta'],
    ['khur.registerOtp', 'write', 'xyp', 'WS100008_registerOTPRequest', 'meta'],
  ])

  await exchange.app.inject({ method: 'PUT', url: '/admin/faults/meta', payload: { errorRate: 1 } })
  await t.rejects(runtime.invoke('khur.registerOtp', { regnum: citizen.regnum, services: [ID_CARD] }), { code: 'UPSTREAM_UNAVAILABLE' })
  await t.rejects(runtime.invoke('khur.checkOtp', { regnum: citizen.regnum, otp: '123456' }), { code: 'UPSTREAM_UNAVAILABLE' })
  t.equal((await logOf('MN/GOV/KHUR/meta/WS100008_registerOTPRequest')).length, 1, 'one request to send a code')
  t.equal((await logOf('MN/GOV/KHUR/meta/WS100009_checkOtp')).length, 1, 'one check')
  t.same(await inbox(citizen.regnum), [])

  // A read against the same failure is retried: the runtime's policy, not the bus, made the difference.
  await exchange.app.inject({ method: 'PUT', url: '/admin/faults/civil', payload: { errorRate: 1 } })
  await t.rejects(runtime.invoke('khur.checkCitizenRegnum', { regnum: citizen.regnum }), { code: 'UPSTREAM_UNAVAILABLE' })
  t.equal((await logOf('MN/GOV/GASR/civil/WS100125_checkCitizenRegnum')).length, 4)

  await exchange.app.inject({ method: 'DELETE', url: '/admin/faults' })
  const unknown = runtime.invoke('khur.registerOtp', { regnum: 'ФЫ90010112', services: [ID_CARD] })
  await t.rejects(unknown, { code: 'UPSTREAM_NOT_FOUND' }, 'a citizen not on the register')
})

t.test('requests are checked against the adapter schemas first', async (t) => {
  const { runtime, logOf } = await setup(t)
  const regnum = population.livingAdults()[5]!.regnum
  await t.rejects(runtime.invoke('khur.registerOtp', { regnum, services: [] }), { code: 'VALIDATION_FAILED' }, 'consent is to named services')
  await t.rejects(runtime.invoke('khur.registerOtp', { regnum, services: ['getIdCard'] }), { code: 'VALIDATION_FAILED' }, 'KHUR operation names only')
  await t.rejects(runtime.invoke('khur.checkOtp', { regnum, otp: '012345' }), { code: 'VALIDATION_FAILED' }, 'codes have no leading zero')
  await t.rejects(runtime.invoke('khur.checkOtp', { regnum, otp: '12345' }), { code: 'VALIDATION_FAILED' })
  t.same(await logOf('MN/GOV/KHUR/meta/WS100009_checkOtp'), [], 'nothing reached the bus')
})
