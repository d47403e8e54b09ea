import t from 'tap'
import { CIVIL, createBus, GATEWAY, makeSigningKey, signedHeaders } from './helpers.ts'

const URL = `/r1/${CIVIL}/getIdCard`

// The assertions used here, structurally, so subtests of any plugin set fit.
interface Asserts {
  equal (found: unknown, wanted: unknown, message: string): unknown
  type (found: unknown, wanted: string, message: string): unknown
}

async function refused (t: Asserts, res: { statusCode: number, headers: Record<string, unknown>, json: () => any }, status: number, type: string): Promise<void> {
  t.equal(res.statusCode, status, `status ${status}`)
  t.equal(res.headers['x-road-error'], type, `X-Road-Error ${type}`)
  const body = res.json()
  t.equal(body.type, type, 'body type')
  t.type(body.message, 'string', 'has a message')
  t.equal(body.detail, res.headers['x-road-id'], 'detail is the X-Road-Id')
}

t.test('bus refusals carry X-Road-Error', async (t) => {
  const bus = await createBus()
  t.teardown(() => bus.app.close())
  const regnum = bus.population.citizens[0]?.regnum ?? ''
  const body = JSON.stringify({ regnum })
  const send = async (headers: Record<string, string>, payload: string = body, url: string = URL) =>
    await bus.app.inject({ method: 'POST', url, headers, payload })

  t.test('unsigned request', async (t) => {
    const res = await send({ 'x-road-client': GATEWAY, 'content-type': 'application/json' })
    await refused(t, res, 401, 'Client.MissingSignature')
  })

  t.test('missing X-Road-Client', async (t) => {
    const h = await signedHeaders({ key: bus.gatewayKey, url: URL, body })
    const { 'x-road-client': _, ...rest } = h
    void _
    await refused(t, await send(rest), 400, 'Client.MissingClientHeader')
  })

  t.test('unknown member', async (t) => {
    const stranger = await makeSigningKey('stranger')
    const h = await signedHeaders({ key: stranger, client: 'MN/GOV/XYZ/stranger', url: URL, body })
    await refused(t, await send(h), 401, 'Client.UnknownMember')
  })

  t.test('unknown kid', async (t) => {
    const rogue = await makeSigningKey('not-registered')
    await refused(t, await send(await signedHeaders({ key: rogue, url: URL, body })), 401, 'Client.UnknownKey')
  })

  t.test('a registered kid with the wrong key', async (t) => {
    const impostor = { ...(await makeSigningKey(bus.gatewayKey.kid)) }
    await refused(t, await send(await signedHeaders({ key: impostor, url: URL, body })), 401, 'Client.InvalidSignature')
  })

  t.test('revoked key', async (t) => {
    await refused(t, await send(await signedHeaders({ key: bus.revokedKey, url: URL, body })), 401, 'Client.RevokedKey')
  })

  t.test('replayed jti', async (t) => {
    const h = await signedHeaders({ key: bus.gatewayKey, url: URL, body })
    t.equal((await send(h)).statusCode, 200, 'first use is fine')
    await refused(t, await send(h), 401, 'Client.ReplayedMessage')
  })

  t.test('tampered body', async (t) => {
    const h = await signedHeaders({ key: bus.gatewayKey, url: URL, body })
    const other = JSON.stringify({ regnum: bus.population.citizens[1]?.regnum })
    await refused(t, await send(h, other), 401, 'Client.InvalidBodyHash')
  })

  t.test('no access right', async (t) => {
    const url = `/r1/${CIVIL}/getBirth`
    const h = await signedHeaders({ key: bus.limitedKey, client: 'MN/GOV/OSS/limited', url, body })
    await refused(t, await send(h, body, url), 403, 'Client.AccessDenied')
    const allowedUrl = URL
    const ok = await send(await signedHeaders({ key: bus.limitedKey, client: 'MN/GOV/OSS/limited', url: allowedUrl, body }))
    t.equal(ok.statusCode, 200, 'the allowed service works')
  })

  t.test('unknown service', async (t) => {
    const url = `/r1/${CIVIL}/getHoroscope`
    await refused(t, await send(await signedHeaders({ key: bus.gatewayKey, url, body }), body, url), 404, 'Server.ServerProxy.UnknownService')
  })

  t.test('expired token and too long a lifetime', async (t) => {
    const old = Math.floor(Date.now() / 1000) - 1000
    await refused(t, await send(await signedHeaders({ key: bus.gatewayKey, url: URL, body, nowSeconds: old })), 401, 'Client.InvalidTimestamp')
    await refused(t, await send(await signedHeaders({ key: bus.gatewayKey, url: URL, body, lifetimeSeconds: 3600 })), 401, 'Client.InvalidTimestamp')
  })

  t.test('iss that is not the X-Road-Client', async (t) => {
    await refused(t, await send(await signedHeaders({ key: bus.gatewayKey, url: URL, body, claims: { iss: 'MN/GOV/OSS/limited' } })), 401, 'Client.InvalidSignature')
  })

  t.test('a token for another service, method or path', async (t) => {
    await refused(t, await send(await signedHeaders({ key: bus.gatewayKey, url: URL, body, claims: { aud: `${CIVIL}/getBirth` } })), 401, 'Client.InvalidRequestTarget')
    await refused(t, await send(await signedHeaders({ key: bus.gatewayKey, url: URL, body, claims: { htm: 'GET' } })), 401, 'Client.InvalidRequestTarget')
    await refused(t, await send(await signedHeaders({ key: bus.gatewayKey, url: URL, body, claims: { htu: `${URL}?x=1` } })), 401, 'Client.InvalidRequestTarget')
  })

  t.test('a token without jti', async (t) => {
    await refused(t, await send(await signedHeaders({ key: bus.gatewayKey, url: URL, body, claims: { jti: undefined } })), 401, 'Client.InvalidSignature')
  })

  t.test('a garbage bearer token', async (t) => {
    await refused(t, await send({ 'x-road-client': GATEWAY, authorization: 'Bearer nonsense', 'content-type': 'application/json' }), 401, 'Client.InvalidSignature')
  })
})
