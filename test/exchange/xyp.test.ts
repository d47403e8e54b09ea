import t from 'tap'
import { XMLParser } from 'fast-xml-parser'
import { createBus, soapRequest, xypHeaders } from './helpers.ts'

const PATH = '/xyp/citizen-1.5.0/ws'
const parser = new XMLParser({ removeNSPrefix: true, parseTagValue: false, ignoreAttributes: true })

function returnOf (xml: string, op: string): Record<string, any> {
  const doc = parser.parse(xml)
  return doc.Envelope.Body[`${op}Response`].return
}

function faultOf (xml: string): { faultcode: string, faultstring: string, detail: { code: string } } {
  return parser.parse(xml).Envelope.Body.Fault
}

t.test('a signed XYP call returns the result envelope for a known citizen', async (t) => {
  const bus = await createBus()
  t.teardown(() => bus.app.close())
  const c = bus.population.livingAdults()[3]
  if (c === undefined) throw new Error('no adult')
  const op = 'WS100101_getCitizenIDCardInfo'
  const res = await bus.app.inject({
    method: 'POST',
    url: PATH,
    headers: xypHeaders(bus.xyp),
    payload: soapRequest(op, { regnum: c.regnum }, { citizen: c.regnum, operator: 'УБ90010112' }),
  })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/xml/)
  const ret = returnOf(res.body, op)
  t.equal(ret.resultCode, '0')
  t.equal(ret.resultMessage, 'амжилттай')
  t.match(ret.requestId, /^[0-9a-f-]{36}$/)
  t.equal(ret.request.regnum, c.regnum, 'the request is echoed')
  t.notOk(ret.request.auth, 'without its auth block')
  t.equal(ret.response.regnum, c.regnum)
  t.equal(ret.response.firstname, c.firstname)
  t.equal(ret.response.lastname, c.lastname)
  t.equal(ret.response.surname, c.surname)
  t.equal(ret.response.civilId, c.civilId)
  t.equal(ret.response.birthDateAsText, c.birthDate)
})

t.test('address, regnum check and children', async (t) => {
  const bus = await createBus()
  t.teardown(() => bus.app.close())
  const parent = bus.population.citizens.find((c) => c.childIndexes.length >= 2)
  if (parent === undefined) throw new Error('no parent')
  const call = async (op: string, fields: Record<string, string>, citizen?: string) => await bus.app.inject({
    method: 'POST', url: PATH, headers: xypHeaders(bus.xyp), payload: soapRequest(op, fields, citizen === undefined ? {} : { citizen }),
  })

  const addr = returnOf((await call('WS100103_getCitizenAddressInfo', { regnum: parent.regnum })).body, 'WS100103_getCitizenAddressInfo')
  t.equal(addr.resultCode, '0')
  t.equal(addr.response.bagKhorooCode, parent.homeUnit)

  const valid = returnOf((await call('WS100125_checkCitizenRegnum', { regnum: parent.regnum })).body, 'WS100125_checkCitizenRegnum')
  t.equal(valid.response.valid, 'true')
  const invalid = returnOf((await call('WS100125_checkCitizenRegnum', { regnum: 'ФЫ99999999' })).body, 'WS100125_checkCitizenRegnum')
  t.equal(invalid.response.valid, 'false')

  const kids = returnOf((await call('WS100120_childrenInfo', {}, parent.regnum)).body, 'WS100120_childrenInfo')
  t.equal(kids.resultCode, '0')
  const list = Array.isArray(kids.response.listData) ? kids.response.listData : [kids.response.listData]
  t.same(list.map((k: { regnum: string }) => k.regnum), parent.childIndexes.map((i) => bus.population.citizens[i]?.regnum))

  const unknown = returnOf((await call('WS100101_getCitizenIDCardInfo', { regnum: 'ФЫ90010112' })).body, 'WS100101_getCitizenIDCardInfo')
  t.equal(unknown.resultCode, '1', 'unknown citizen is resultCode 1')
  t.notOk(unknown.response)
})

t.test('refusals: stale timestamp, bad signature, unknown token, access denied, unknown operation', async (t) => {
  const bus = await createBus()
  t.teardown(() => bus.app.close())
  const c = bus.population.citizens[0]
  if (c === undefined) throw new Error('empty')
  const payload = soapRequest('WS100101_getCitizenIDCardInfo', { regnum: c.regnum })

  const stale = await bus.app.inject({ method: 'POST', url: PATH, headers: xypHeaders(bus.xyp, Math.floor(Date.now() / 1000) - 121), payload })
  t.equal(stale.statusCode, 500)
  t.equal(faultOf(stale.body).faultcode, 'soap:Client')
  t.equal(faultOf(stale.body).detail.code, 'XYP.StaleTimestamp')

  const future = await bus.app.inject({ method: 'POST', url: PATH, headers: xypHeaders(bus.xyp, Math.floor(Date.now() / 1000) + 300), payload })
  t.equal(faultOf(future.body).detail.code, 'XYP.StaleTimestamp')

  // Signed by another member's key.
  const forged = { ...xypHeaders(bus.limitedXyp), accessToken: bus.xyp.accessToken }
  const bad = await bus.app.inject({ method: 'POST', url: PATH, headers: forged, payload })
  t.equal(bad.statusCode, 500)
  t.equal(faultOf(bad.body).detail.code, 'XYP.InvalidSignature')

  const h = xypHeaders(bus.xyp)
  const tampered = await bus.app.inject({ method: 'POST', url: PATH, headers: { ...h, timeStamp: String(Number(h.timeStamp) - 1) }, payload })
  t.equal(faultOf(tampered.body).detail.code, 'XYP.InvalidSignature', 'a signature is bound to its timestamp')

  const unknown = await bus.app.inject({ method: 'POST', url: PATH, headers: { ...h, accessToken: 'nobody' }, payload })
  t.equal(faultOf(unknown.body).detail.code, 'XYP.UnknownAccessToken')

  const { signature: _, ...unsigned } = h
  void _
  t.equal(faultOf((await bus.app.inject({ method: 'POST', url: PATH, headers: unsigned, payload })).body).detail.code, 'XYP.MissingHeaders')

  const denied = await bus.app.inject({ method: 'POST', url: PATH, headers: xypHeaders(bus.limitedXyp), payload: soapRequest('WS100103_getCitizenAddressInfo', { regnum: c.regnum }) })
  t.equal(denied.statusCode, 200)
  t.equal(returnOf(denied.body, 'WS100103_getCitizenAddressInfo').resultCode, '3', 'no access right is resultCode 3')

  const noop = await bus.app.inject({ method: 'POST', url: PATH, headers: xypHeaders(bus.xyp), payload: soapRequest('WS100199_nothing', {}) })
  t.equal(faultOf(noop.body).detail.code, 'XYP.UnknownOperation')
})

t.test('the WSDL is served', async (t) => {
  const bus = await createBus()
  t.teardown(() => bus.app.close())
  const res = await bus.app.inject({ method: 'GET', url: `${PATH}?wsdl` })
  t.equal(res.statusCode, 200)
  const doc = new XMLParser({ ignoreAttributes: false }).parse(res.body)
  const ops = doc['wsdl:definitions']['wsdl:portType']['wsdl:operation'].map((o: Record<string, string>) => o['@_name'])
  t.same(ops.sort(), ['WS100101_getCitizenIDCardInfo', 'WS100103_getCitizenAddressInfo', 'WS100120_childrenInfo', 'WS100125_checkCitizenRegnum'])
  t.match(res.body, `localhost:80${PATH}`)
})
