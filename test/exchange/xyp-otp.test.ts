import t, { type Test } from 'tap'
import { XMLParser } from 'fast-xml-parser'
import type { ExchangeOptions } from '../../src/exchange/app.ts'
import { createBus, xypHeaders, type Bus, type XypCredentials } from './helpers.ts'

// KHUR citizen consent by one-time code: meta-1.5.0 sends and checks codes,
// citizen-1.5.0 honours a checked one in auth.citizen.otp.
const META = '/xyp/meta-1.5.0/ws'
const CITIZEN = '/xyp/citizen-1.5.0/ws'
const META_NS = 'http://meta.xyp.gov.mn/'
const CITIZEN_NS = 'http://citizen.xyp.gov.mn/'
const ID_CARD = 'WS100101_getCitizenIDCardInfo'
const ADDRESS = 'WS100103_getCitizenAddressInfo'
const parser = new XMLParser({ removeNSPrefix: true, parseTagValue: false, ignoreAttributes: true })

interface Inbox { messages: Array<{ regnum: string, code: string, requestId: string, channels: string[], services: string[], sentAt: string, expiresAt: string, verified: boolean, approvedUntil: string | null }> }

function envelope (namespace: string, op: string, fields: Record<string, string>, citizen?: { regnum: string, otp?: string }): string {
  const auth = citizen === undefined ? '' : `<auth><citizen><otp>${citizen.otp ?? '0'}</otp><regnum>${citizen.regnum}</regnum></citizen><operator></operator></auth>`
  const body = Object.entries(fields).map(([k, v]) => `<${k}>${v}</${k}>`).join('')
  return '<?xml version="1.0" encoding="UTF-8"?>' +
    `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:x="${namespace}">` +
    `<soapenv:Body><x:${op}><request>${auth}${body}</request></x:${op}></soapenv:Body></soapenv:Envelope>`
}

// A bus on a clock the test moves, and helpers that sign with that clock.
async function otpBus (t: Test, options: ExchangeOptions = {}) {
  let clock = Date.now()
  const bus = await createBus({ now: () => clock, ...options })
  t.teardown(() => bus.app.close())
  const post = async (path: string, xml: string, cred: XypCredentials = bus.xyp) =>
    await bus.app.inject({ method: 'POST', url: path, headers: xypHeaders(cred, Math.floor(clock / 1000)), payload: xml })
  const result = async (path: string, ns: string, op: string, fields: Record<string, string>, citizen?: { regnum: string, otp?: string }, cred?: XypCredentials) => {
    const res = await post(path, envelope(ns, op, fields, citizen), cred)
    if (res.statusCode !== 200) throw new Error(`${op}: HTTP ${res.statusCode} ${res.body}`)
    return parser.parse(res.body).Envelope.Body[`${op}Response`].return as Record<string, any>
  }
  const register = async (regnum: string, services: string[] | string, extra: Record<string, string> = {}, cred?: XypCredentials) =>
    await result(META, META_NS, 'WS100008_registerOTPRequest', {
      isApp: '0', isEmail: '0', isKiosk: '0', isSms: '1',
      jsonWSList: typeof services === 'string' ? services : JSON.stringify(services),
      phoneNum: '0', regnum, ...extra,
    }, undefined, cred)
  const check = async (regnum: string, otp: string) => await result(META, META_NS, 'WS100009_checkOtp', { otp, regnum })
  const citizenCall = async (op: string, regnum: string, otp?: string) =>
    await result(CITIZEN, CITIZEN_NS, op, { regnum }, { regnum, ...(otp === undefined ? {} : { otp }) })
  const inbox = async (regnum?: string, headers: Record<string, string> = {}) =>
    await bus.app.inject({ method: 'GET', url: `/admin/otp-inbox${regnum === undefined ? '' : `?regnum=${encodeURIComponent(regnum)}`}`, headers })
  const latestCode = async (regnum: string): Promise<string> => {
    const code = ((await inbox(regnum)).json() as Inbox).messages[0]?.code
    if (code === undefined) throw new Error(`no code for ${regnum}`)
    return code
  }
  return { bus, post, result, register, check, citizenCall, inbox, latestCode, advance: (ms: number) => { clock += ms }, now: () => clock }
}

function wrongOf (code: string): string {
  return code === '999999' ? '100000' : String(Number(code) + 1)
}

function adult (bus: Bus, i: number): string {
  const c = bus.population.livingAdults()[i]
  if (c === undefined) throw new Error('no adult')
  return c.regnum
}

t.test('register, read the code from the inbox, check it, and use it on citizen-1.5.0', async (t) => {
  const o = await otpBus(t)
  const regnum = adult(o.bus, 5)

  const sent = await o.register(regnum, [ID_CARD])
  t.equal(sent.resultCode, '0')
  t.match(sent.requestId, /^[0-9a-f-]{36}$/)
  t.equal(sent.response.status, 'sent')
  t.type(sent.response.resultMsg, 'string')
  t.notOk(sent.request.auth, 'the request is echoed without auth')

  const listed = (await o.inbox(regnum)).json() as Inbox
  t.equal(listed.messages.length, 1)
  const message = listed.messages[0]!
  t.match(message, {
    regnum, requestId: sent.requestId, channels: ['sms'], services: [ID_CARD], verified: false, approvedUntil: null,
    sentAt: new Date(o.now()).toISOString(), expiresAt: new Date(o.now() + 300_000).toISOString(),
  })
  t.match(message.code, /^[1-9][0-9]{5}$/, 'six digits, no leading zero')

  const wrong = await o.check(regnum, wrongOf(message.code))
  t.equal(wrong.resultCode, '0')
  t.equal(wrong.response.match, 'false')
  const right = await o.check(regnum, message.code)
  t.equal(right.resultCode, '0')
  t.equal(right.response.match, 'true')
  t.equal((await o.check(regnum, message.code)).response.match, 'false', 'a code matches once')
  t.match(((await o.inbox(regnum)).json() as Inbox).messages[0], { verified: true, approvedUntil: new Date(o.now() + 86_400_000).toISOString() })

  const card = await o.citizenCall(ID_CARD, regnum, message.code)
  t.equal(card.resultCode, '0', 'the listed service is allowed on the code')
  t.equal(card.response.regnum, regnum)

  const address = await o.citizenCall(ADDRESS, regnum, message.code)
  t.equal(address.resultCode, '3', 'a service the code was not asked for is refused')
  t.match(address.resultMessage, /OTP/)
  t.notOk(address.response)

  const guessed = await o.citizenCall(ID_CARD, regnum, wrongOf(message.code))
  t.equal(guessed.resultCode, '3', 'a code that was never checked is refused')
  t.match(guessed.resultMessage, /one-time password \(OTP\) is not valid/)

  const other = adult(o.bus, 6)
  t.equal((await o.result(CITIZEN, CITIZEN_NS, ID_CARD, { regnum: other }, { regnum: other, otp: message.code })).resultCode, '3',
    'another citizen cannot use the code')

  t.equal((await o.citizenCall(ID_CARD, regnum)).resultCode, '0', 'without a code (otp 0) nothing changes')

  o.advance(86_400_000 - 1)
  t.equal((await o.citizenCall(ID_CARD, regnum, message.code)).resultCode, '0', 'approved until the last millisecond')
  o.advance(1)
  const late = await o.citizenCall(ID_CARD, regnum, message.code)
  t.equal(late.resultCode, '3', 'the approval has run out')
  t.match(late.resultMessage, /OTP/)

  // How each call identified the citizen, and never the code itself.
  const log = await o.bus.app.inject({ method: 'GET', url: `/admin/message-log?service=${encodeURIComponent(`MN/GOV/GASR/civil/${ID_CARD}`)}` })
  const records = log.json().records as Array<Record<string, unknown>>
  t.same(records.map((r) => [r.citizenAuth, r.citizenOtpValid, r.error]).reverse(), [
    ['otp', true, null],
    ['otp', false, 'resultCode:3'],
    ['otp', false, 'resultCode:3'],
    ['regnum', null, null],
    ['otp', true, null],
    ['otp', false, 'resultCode:3'],
  ])
  t.equal(records.filter((r) => r.citizenOtpValid === false).every((r) => r.delivered === false), true, 'refused calls never reach the registry')
  t.notOk(records.some((r) => Object.values(r).some((v) => String(v) === message.code)), 'the code is never logged')
  const meta = (await o.bus.app.inject({ method: 'GET', url: '/admin/message-log?service=MN/GOV/KHUR/meta/WS100009_checkOtp' })).json()
  t.equal(meta.records.length, 3)
  t.match(meta.records[0], { transport: 'xyp', client: 'MN/GOV/OSS/gateway', citizenAuth: null, citizenOtpValid: null, delivered: true })
  const viaOtp = (await o.bus.app.inject({ method: 'GET', url: '/admin/message-log?citizenAuth=otp' })).json()
  t.equal(viaOtp.records.length, 6)
  const rest = await o.bus.call('MN/GOV/GASR/civil/getIdCard', { regnum }, { nowSeconds: Math.floor(o.now() / 1000) })
  t.equal(rest.statusCode, 200)
  t.match((await o.bus.app.inject({ method: 'GET', url: '/admin/message-log?limit=1' })).json().records[0], { transport: 'rest', citizenAuth: null, citizenOtpValid: null })
})

t.test('an empty service list authorises every operation; a new code supersedes one not yet checked', async (t) => {
  const o = await otpBus(t)
  const regnum = adult(o.bus, 7)
  t.equal((await o.register(regnum, '')).resultCode, '0')
  const first = await o.latestCode(regnum)
  t.equal((await o.register(regnum, [], { isApp: '1' })).resultCode, '0')
  const messages = ((await o.inbox(regnum)).json() as Inbox).messages
  t.equal(messages.length, 2, 'both messages stay in the inbox, newest first')
  t.same(messages[0]!.channels, ['app', 'sms'])
  const second = messages[0]!.code
  if (second === first) {
    t.pass('the two codes happen to be equal; nothing to tell apart')
  } else {
    t.equal((await o.check(regnum, first)).response.match, 'false', 'the earlier code is superseded')
  }
  t.equal((await o.check(regnum, second)).response.match, 'true')
  t.equal((await o.citizenCall(ID_CARD, regnum, second)).resultCode, '0')
  t.equal((await o.citizenCall(ADDRESS, regnum, second)).resultCode, '0')

  // An approval given stands when a new code is asked for.
  t.equal((await o.register(regnum, [ADDRESS])).resultCode, '0')
  t.equal((await o.citizenCall(ID_CARD, regnum, second)).resultCode, '0')
})

t.test('a code expires, and five wrong guesses void it', async (t) => {
  const o = await otpBus(t, { otpCodeLifetimeMs: 60_000 })
  const a = adult(o.bus, 8)
  await o.register(a, [ID_CARD])
  const code = await o.latestCode(a)
  t.equal(((await o.inbox(a)).json() as Inbox).messages[0]!.expiresAt, new Date(o.now() + 60_000).toISOString(), 'the code lifetime is an option')
  o.advance(60_000)
  t.equal((await o.check(a, code)).response.match, 'false', 'an expired code does not match')
  t.equal((await o.citizenCall(ID_CARD, a, code)).resultCode, '3')

  const b = adult(o.bus, 9)
  await o.register(b, [ID_CARD])
  const four = await o.latestCode(b)
  for (let i = 0; i < 4; i++) t.equal((await o.check(b, wrongOf(four))).response.match, 'false')
  t.equal((await o.check(b, four)).response.match, 'true', 'four wrong guesses leave the code usable')

  await o.register(b, [ID_CARD])
  const five = await o.latestCode(b)
  for (let i = 0; i < 5; i++) t.equal((await o.check(b, wrongOf(five))).response.match, 'false')
  t.equal((await o.check(b, five)).response.match, 'false', 'after five wrong guesses the right code is void')
  t.equal((await o.citizenCall(ID_CARD, b, five)).resultCode, '3')
  t.equal(((await o.inbox(b)).json() as Inbox).messages[0]!.verified, false)

  await o.register(b, [ID_CARD])
  t.equal((await o.check(b, await o.latestCode(b))).response.match, 'true', 'a new code starts afresh')
})

t.test('unknown citizens, bad requests, access rights and faults', async (t) => {
  const o = await otpBus(t)
  const regnum = adult(o.bus, 10)
  const unknown = await o.register('ФЫ90010112', [ID_CARD])
  t.equal(unknown.resultCode, '1', 'a citizen not on the register is resultCode 1')
  t.notOk(unknown.response)
  t.equal((await o.check('ФЫ90010112', '123456')).resultCode, '1')
  t.same(((await o.inbox()).json() as Inbox).messages, [], 'nothing was sent')

  const badJson = await o.register(regnum, '[WS100101')
  t.equal(badJson.resultCode, '2')
  t.match(badJson.resultMessage, /jsonWSList/)
  t.equal((await o.register(regnum, '{"a":1}')).resultCode, '2', 'the list must be an array of names')
  t.equal((await o.register(regnum, [ID_CARD], { isSms: '0' })).resultCode, '2', 'at least one channel')
  t.equal((await o.register(regnum, [ID_CARD], { phoneNum: '12' })).resultCode, '2')
  t.equal((await o.register(regnum, [ID_CARD], { phoneNum: '99112233' })).resultCode, '0', 'a phone number of its own')
  t.equal((await o.check(regnum, '')).resultCode, '2')
  t.equal((await o.register(regnum.toLowerCase(), [ID_CARD])).resultCode, '0', 'the registration number is case-insensitive')
  t.equal(((await o.inbox(regnum.toLowerCase())).json() as Inbox).messages.length, 2)

  // LIMITED may call two civil services only: meta-1.5.0 needs its own access right.
  const denied = await o.register(regnum, [ID_CARD], {}, o.bus.limitedXyp)
  t.equal(denied.resultCode, '3')
  t.equal(((await o.inbox(regnum)).json() as Inbox).messages.length, 2, 'a refused request sends nothing')

  const unsigned = await o.bus.app.inject({ method: 'POST', url: META, headers: { 'content-type': 'text/xml' }, payload: envelope(META_NS, 'WS100009_checkOtp', { otp: '1', regnum }) })
  t.equal(unsigned.statusCode, 500)
  t.equal(parser.parse(unsigned.body).Envelope.Body.Fault.detail.code, 'XYP.MissingHeaders')
  const noop = await o.post(META, envelope(META_NS, 'WS100001_listAccess', {}))
  t.equal(parser.parse(noop.body).Envelope.Body.Fault.detail.code, 'XYP.UnknownOperation')
  const wrongService = await o.post(CITIZEN, envelope(CITIZEN_NS, 'WS100009_checkOtp', { otp: '1', regnum }))
  t.equal(parser.parse(wrongService.body).Envelope.Body.Fault.detail.code, 'XYP.UnknownOperation', 'meta operations are not citizen-1.5.0 ones')

  await o.bus.app.inject({ method: 'PUT', url: '/admin/faults/meta', payload: { errorRate: 1 } })
  const failed = await o.post(META, envelope(META_NS, 'WS100009_checkOtp', { otp: '1', regnum }))
  t.equal(parser.parse(failed.body).Envelope.Body.Fault.detail.code, 'XYP.ServiceFailed')
  t.equal((await o.citizenCall(ID_CARD, regnum)).resultCode, '0', 'faults of meta leave citizen-1.5.0 alone')
})

t.test('the WSDL, and where the emulator lists the services', async (t) => {
  const o = await otpBus(t)
  const res = await o.bus.app.inject({ method: 'GET', url: `${META}?wsdl` })
  t.equal(res.statusCode, 200)
  const doc = new XMLParser({ ignoreAttributes: false }).parse(res.body)
  t.equal(doc['wsdl:definitions']['@_targetNamespace'], META_NS)
  const ops = doc['wsdl:definitions']['wsdl:portType']['wsdl:operation'].map((op: Record<string, string>) => op['@_name'])
  t.same(ops.sort(), ['WS100008_registerOTPRequest', 'WS100009_checkOtp'])
  t.match(res.body, `localhost:80${META}`)

  const providers = (await o.bus.app.inject({ method: 'GET', url: '/admin/providers' })).json().providers
  t.match(providers.find((p: { name: string }) => p.name === 'meta'), { id: 'MN/GOV/KHUR/meta', services: [], xypOperations: ['WS100008_registerOTPRequest', 'WS100009_checkOtp'] })
  const methods = await o.bus.call('MN/GOV/KHUR/meta/listMethods', undefined, { method: 'GET', nowSeconds: Math.floor(o.now() / 1000) })
  t.same(methods.json().service.map((s: { serviceId: string, service_type: string }) => `${s.service_type} ${s.serviceId}`),
    ['WSDL MN/GOV/KHUR/meta/WS100008_registerOTPRequest', 'WSDL MN/GOV/KHUR/meta/WS100009_checkOtp'])
})

t.test('the inbox is behind the admin token like every admin route', async (t) => {
  const o = await otpBus(t, { adminToken: 'otp-admin-secret' })
  const regnum = adult(o.bus, 11)
  t.equal((await o.register(regnum, [ID_CARD])).resultCode, '0')
  const none = await o.inbox(regnum)
  t.equal(none.statusCode, 401)
  t.equal(none.json().type, 'Admin.Unauthorized')
  t.notMatch(none.body, /[1-9][0-9]{5}/, 'no code leaks in the refusal')
  t.equal((await o.inbox(regnum, { authorization: 'Bearer wrong' })).statusCode, 401)
  const ok = await o.inbox(regnum, { authorization: 'Bearer otp-admin-secret' })
  t.equal(ok.statusCode, 200)
  t.equal((ok.json() as Inbox).messages.length, 1)
  t.equal((await o.inbox(undefined, { authorization: 'Bearer otp-admin-secret' })).json().messages.length, 1)
})
