import t, { type Test } from 'tap'
import { generateKeyPairSync, randomUUID, type JsonWebKey, type KeyObject } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage } from 'node:http'
import { Writable } from 'node:stream'
import { createAddressPolicy, createCallbackAgent } from '../../src/callbacks/url-guard.ts'
import { createDciClient, PartnerRegistryInvalidAnswerError, PartnerRegistryRefusedError, type SearchQuery } from '../../src/dci/client.ts'
import type { PartnerRegistryCredentials } from '../../src/dci/partners.ts'
import { signDciMessage, verifyDciMessage } from '../../src/dci/signature.ts'
import { buildTestApp } from '../helpers/app.ts'

// The DCI client against a partner registry made up here (outside the
// gateway's world): tokens fetched once and kept until shortly before they
// expire, a refused token renewed, answers used only when the partner signed
// them, and no token or secret in any log line.

const PARTNER = 'fake-mis.example'
const GATEWAY = 'gw.example'
const SECRET = 'a-partner-issued-secret-0123456789'
const QUERY: SearchQuery = { registry: 'social', idType: 'UIN', idValue: 'УБ99032712', recordType: 'SRPerson', purpose: 'social_protection.portability' }

// The partner: a token endpoint and a registry, counting what they get.
async function fakePartner (t: Test, gatewayKeys: () => JsonWebKey[]) {
  const partnerKey = generateKeyPairSync('ed25519')
  const stranger = generateKeyPairSync('ed25519').privateKey
  const state = { tokens: 0, searches: 0, expiresIn: 300, refuseNextSearch: false, ack: 'ACK', signWith: partnerKey.privateKey as KeyObject, issued: [] as string[], badSignatures: 0 }
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const text = Buffer.concat(chunks).toString('utf8')
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    if (req.url === '/token') {
      state.tokens++
      const basic = Buffer.from(String(req.headers.authorization).replace(/^Basic /, ''), 'base64').toString('utf8')
      if (basic !== `${GATEWAY}:${encodeURIComponent(SECRET)}` || text !== 'grant_type=client_credentials') return json(401, { error: 'invalid_client' })
      const token = `tok-${randomUUID()}`
      state.issued.push(token)
      return json(200, { access_token: token, token_type: 'Bearer', expires_in: state.expiresIn })
    }
    if (!state.issued.includes(String(req.headers.authorization).replace(/^Bearer /, '')) || state.refuseNextSearch) {
      state.refuseNextSearch = false
      return json(401, { errors: [{ code: 'err.request.unauthorized', message: 'token' }] })
    }
    const body = JSON.parse(text)
    if (!verifyDciMessage({ signature: body.signature, header: body.header, message: body.message, keys: gatewayKeys(), expectedSenderId: GATEWAY }).ok) state.badSignatures++
    state.searches++
    if (req.url === '/dci/social/registry/search') {
      return json(200, { message: { ack_status: state.ack, timestamp: new Date().toISOString(), correlation_id: 'c-1', ...(state.ack === 'ACK' ? {} : { error: { code: 'err.request.bad', message: 'no' } }) } })
    }
    const item = body.message.search_request[0]
    const header = { version: '1.0.0', message_id: randomUUID(), message_ts: new Date().toISOString(), action: 'on-search', status: 'succ', total_count: 1, completed_count: 1, sender_id: PARTNER, receiver_id: GATEWAY, is_msg_encrypted: false }
    const message = { transaction_id: body.message.transaction_id, correlation_id: 'c-2', search_response: [{ reference_id: item.reference_id, timestamp: new Date().toISOString(), status: 'succ', data: { version: '1.0.0', reg_type: 'ns:org:RegistryType:Social', reg_record_type: 'SRPerson', reg_records: [{ identifier: [{ identifier_type: 'UIN', identifier_value: item.search_criteria.query.value }] }] } }] }
    return json(200, { signature: signDciMessage({ header, message, senderId: PARTNER, key: { kid: 'p1', privateKey: state.signWith } }), header, message })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const jwks = { keys: [{ ...partnerKey.publicKey.export({ format: 'jwk' }), kid: 'p1' }] }
  return { state, base, jwks, stranger: stranger as KeyObject }
}

t.test('the client keeps a token until shortly before it expires, renews a refused one, and uses only signed answers', async (t) => {
  const gatewayKey = generateKeyPairSync('ed25519')
  const gatewayJwks = [{ ...gatewayKey.publicKey.export({ format: 'jwk' }), kid: 'g1' }]
  const partner = await fakePartner(t, () => gatewayJwks)
  let clock = Date.now()
  let credentials: PartnerRegistryCredentials = { url: `${partner.base}/dci/social`, tokenUrl: `${partner.base}/token`, clientId: GATEWAY, clientSecret: SECRET }
  const agent = createCallbackAgent(createAddressPolicy({ allowedCidrs: ['127.0.0.0/8'] }))
  t.teardown(() => agent.close())
  const client = createDciClient({
    partners: { registryCredentials: async () => credentials },
    senderId: GATEWAY,
    signingKey: { kid: 'g1', privateKey: gatewayKey.privateKey, created: new Date().toISOString() },
    dispatcher: agent,
    timeoutMs: 2000,
    now: () => clock,
  })
  const who = { id: PARTNER, jwks: partner.jwks }
  const search = () => client.search(who, 'social', client.searchEnvelope(PARTNER, QUERY))

  await search()
  await search()
  t.equal(partner.state.tokens, 1, 'one token for both searches')
  t.equal(partner.state.searches, 2)
  t.equal(partner.state.badSignatures, 0, 'the partner verified the gateway\'s signature')

  // Concurrent searches share one token request.
  clock += 300_000
  await Promise.all([search(), search(), search()])
  t.equal(partner.state.tokens, 2, 'renewed once it was near expiry, once for three searches')

  clock += 240_000
  await search()
  t.equal(partner.state.tokens, 2, 'still valid 4 minutes later')
  clock += 31_000
  await search()
  t.equal(partner.state.tokens, 3, 'renewed 30 s before it expires')

  partner.state.refuseNextSearch = true
  await search()
  t.equal(partner.state.tokens, 4, 'a token the partner refused is replaced, and the search sent again')

  credentials = { ...credentials, clientSecret: 'another-secret' }
  await t.rejects(search(), PartnerRegistryRefusedError, 'a changed secret is a new token request, which the partner refuses')
  t.equal(partner.state.tokens, 5)
  credentials = { ...credentials, clientSecret: SECRET }

  partner.state.ack = 'NACK'
  await t.rejects(search(), { code: 'PARTNER_REGISTRY_REFUSED', dciCode: 'err.request.bad', detail: /NACK err\.request\.bad/ })
  partner.state.ack = 'ACK'

  const sync = await client.syncSearch(who, 'social', client.searchEnvelope(PARTNER, QUERY))
  t.equal(sync.envelope.header.action, 'on-search')
  partner.state.signWith = partner.stranger
  await t.rejects(client.syncSearch(who, 'social', client.searchEnvelope(PARTNER, QUERY)), PartnerRegistryInvalidAnswerError, 'an answer signed by a key the partner did not register is not used')
})

t.test('no token or secret reaches the logs', async (t) => {
  const lines: string[] = []
  const logStream = new Writable({ write (chunk, _e, done) { lines.push(String(chunk)); done() } })
  const test = await buildTestApp(t, { env: { CALLBACK_ALLOWED_CIDRS: '127.0.0.0/8', DCI_SENDER_ID: GATEWAY, LOG_LEVEL: 'debug' }, appOptions: { logStream } })
  const gatewayJwks = (await test.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json().keys
  const partner = await fakePartner(t, () => gatewayJwks)
  const admin = { authorization: `Bearer ${await test.token('admin')}` }
  const registration = { name: 'Fake MIS', jwks: partner.jwks, purposes: ['social_protection.eligibility'], recordTypes: ['SRPerson'], registry: { url: `${partner.base}/dci/social`, tokenUrl: `${partner.base}/token`, clientId: GATEWAY, clientSecret: SECRET } }
  const created = await test.app.inject({ method: 'POST', url: '/v1/admin/partners', headers: admin, payload: { id: PARTNER, ...registration } })
  t.equal(created.statusCode, 201, created.body)
  const officer = { authorization: `Bearer ${await test.token('officer')}` }
  const ask = (mode: string) => test.app.inject({ method: 'POST', url: `/v1/partners/${PARTNER}/searches`, headers: officer, payload: { idValue: 'УБ99032712', recordType: 'SRPerson', purpose: 'social_protection.portability', case: 'C-1', mode } })
  t.equal((await ask('sync')).statusCode, 200)
  t.equal((await ask('async')).statusCode, 202)
  // A wrong secret, kept by a change without one... then a refused token request.
  const { clientSecret: _s, ...withoutSecret } = registration.registry
  const changed = await test.app.inject({ method: 'PUT', url: `/v1/admin/partners/${PARTNER}`, headers: admin, payload: { ...registration, registry: withoutSecret } })
  t.match(changed.json().registry, { hasClientSecret: true }, 'a change without a secret keeps the stored one')
  await test.app.inject({ method: 'PUT', url: `/v1/admin/partners/${PARTNER}`, headers: admin, payload: { ...registration, registry: { ...withoutSecret, clientSecret: 'wrong-secret-value' } } })
  t.equal((await ask('sync')).statusCode, 502)

  t.ok(partner.state.issued.length > 0)
  const all = lines.join('')
  t.ok(all.length > 0, 'something was logged')
  for (const secret of [SECRET, 'wrong-secret-value', ...partner.state.issued]) t.notOk(all.includes(secret), 'neither token nor secret is logged')
  const audit = await test.app.inject({ method: 'GET', url: '/v1/admin/audit?type=partner_change', headers: admin })
  t.notOk(audit.body.includes(SECRET) || audit.body.includes('wrong-secret-value'), 'nor in the audit log')
  const listed = await test.app.inject({ method: 'GET', url: '/v1/admin/partners', headers: admin })
  t.notOk(listed.body.includes(SECRET) || listed.body.includes('wrong-secret-value'), 'nor in any answer')
})
