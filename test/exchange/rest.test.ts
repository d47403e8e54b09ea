import t from 'tap'
import { Ajv } from 'ajv'
import { providerByName } from '../../src/exchange/providers.ts'
import { b64urlSha256, CIVIL, createBus, LIMITED, signedHeaders, tokenOf, verifyResponseSignature } from './helpers.ts'

t.test('a signed read returns the citizen with a verifiable response signature', async (t) => {
  const bus = await createBus()
  t.teardown(() => bus.app.close())
  const citizen = bus.population.livingAdults()[0]
  if (citizen === undefined) throw new Error('no adult')
  const url = `/r1/${CIVIL}/getIdCard`
  const body = JSON.stringify({ regnum: citizen.regnum })
  const headers = await signedHeaders({ key: bus.gatewayKey, url, body })
  const res = await bus.app.inject({ method: 'POST', url, headers, payload: body })
  t.equal(res.statusCode, 200)
  const data = res.json()
  t.equal(data.regnum, citizen.regnum)
  t.equal(data.firstname, citizen.firstname)
  t.equal(data.lastname, citizen.lastname)
  t.equal(data.birthDate, citizen.birthDate)
  t.equal(res.headers['x-road-id'], headers['x-road-id'], 'X-Road-Id echoed')
  t.notOk(res.headers['x-road-error'])

  const requestHash = b64urlSha256(tokenOf(headers))
  t.equal(res.headers['x-road-request-hash'], requestHash)
  const jwksRes = await bus.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })
  const signed = await verifyResponseSignature(jwksRes.json(), String(res.headers['x-road-signature']))
  t.equal(signed.rqh, requestHash)
  t.equal(signed.bdh, b64urlSha256(res.rawPayload))
  t.equal(signed.status, 200)

  const schema = providerByName('civil')?.services.get('getIdCard')?.response
  t.ok(new Ajv({ strict: false }).validate(schema ?? {}, data), 'answer matches the published schema')
})

t.test('ES256 member keys are accepted too, and X-Road-Id is generated when missing', async (t) => {
  const bus = await createBus()
  t.teardown(() => bus.app.close())
  const citizen = bus.population.citizens[5]
  const res = await bus.call(`${CIVIL}/getAddress`, { regnum: citizen?.regnum }, { key: bus.esKey, headers: { 'x-road-id': '' } })
  t.equal(res.statusCode, 200)
  t.match(String(res.headers['x-road-id']), /^[0-9a-f-]{36}$/)
  t.match(res.json().bagKhorooCode, /^[0-9]{6}$/)
})

t.test('reads across providers, unknown citizens and malformed bodies', async (t) => {
  const bus = await createBus()
  t.teardown(() => bus.app.close())
  const parent = bus.population.citizens.find((c) => c.childIndexes.length > 1)
  if (parent === undefined) throw new Error('no parent')
  const kids = await bus.call(`${CIVIL}/getChildren`, { regnum: parent.regnum })
  t.equal(kids.statusCode, 200)
  t.same(kids.json().children.map((k: { regnum: string }) => k.regnum), parent.childIndexes.map((i) => bus.population.citizens[i]?.regnum))

  for (const service of ['MN/GOV/GASI/social-insurance/getInsuredStatus', 'MN/GOV/GOSW/welfare/getEnrolments', 'MN/GOV/GAEP/employment/getJobSeeker', 'MN/GOV/ALAMGAC/land/getPlots', 'MN/GOV/MNC/notary/getPowersOfAttorney']) {
    const res = await bus.call(service, { regnum: parent.regnum })
    t.equal(res.statusCode, 200, service)
    t.equal(res.json().regnum, parent.regnum)
  }

  const check = await bus.call(`${CIVIL}/checkRegnum`, { regnum: 'ФЫ99999999' })
  t.same(check.json(), { regnum: 'ФЫ99999999', valid: false })

  const unknown = await bus.call(`${CIVIL}/getBirth`, { regnum: 'ФЫ90010112' })
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().type, 'Provider.NotFound')
  t.notOk(unknown.headers['x-road-error'], 'provider errors carry no X-Road-Error')
  t.ok(unknown.headers['x-road-signature'], 'but are signed')

  const malformed = await bus.call(`${CIVIL}/getBirth`, { regnum: 'abc' })
  t.equal(malformed.statusCode, 400)
  t.equal(malformed.json().type, 'Provider.InvalidRequest')
  t.match(malformed.json().detail, /regnum/)
})

t.test('metaservices', async (t) => {
  const bus = await createBus()
  t.teardown(() => bus.app.close())
  const clients = await bus.call('MN/listClients', undefined, { method: 'GET' })
  t.equal(clients.statusCode, 200)
  const ids = clients.json().member.map((m: { memberId: string }) => m.memberId)
  t.ok(ids.includes('MN/GOV/OSS/gateway'))
  t.ok(ids.includes(CIVIL))

  const methods = await bus.call(`${CIVIL}/listMethods`, undefined, { method: 'GET' })
  const codes = methods.json().service.map((s: { service_code: string }) => s.service_code)
  for (const code of ['getIdCard', 'getBirth', 'getAddress', 'getMarriage', 'getChildren', 'getDeath', 'checkRegnum', 'submitApplication', 'getApplicationStatus', 'WS100101_getCitizenIDCardInfo']) {
    t.ok(codes.includes(code), code)
  }

  const allowed = await bus.call(`${CIVIL}/allowedMethods`, undefined, { method: 'GET', client: LIMITED, key: bus.limitedKey })
  t.same(allowed.json().service.map((s: { serviceId: string }) => s.serviceId).sort(), [`${CIVIL}/WS100125_checkCitizenRegnum`, `${CIVIL}/getIdCard`])

  const openapi = await bus.call(`${CIVIL}/getOpenAPI`, undefined, { method: 'GET', url: `/r1/${CIVIL}/getOpenAPI?serviceCode=getIdCard` })
  t.equal(openapi.statusCode, 200)
  t.equal(openapi.json().openapi, '3.1.0')
  t.ok(openapi.json().paths[`/r1/${CIVIL}/getIdCard`].post)

  const missing = await bus.call(`${CIVIL}/getOpenAPI`, undefined, { method: 'GET', url: `/r1/${CIVIL}/getOpenAPI?serviceCode=nope` })
  t.equal(missing.statusCode, 404)
  t.equal(missing.headers['x-road-error'], 'Server.ServerProxy.UnknownService')
})
