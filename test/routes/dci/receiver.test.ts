import t from 'tap'
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto'
import { signDciMessage } from '../../../src/dci/signature.ts'
import { loadDciSpec } from '../../../src/dci/spec.ts'
import { generatePopulation, type Citizen } from '../../../src/exchange/index.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { listeningGateway, pairGateways } from '../../helpers/dci.ts'
import { eventually } from '../../helpers/eventually.ts'

// The gateway as a DCI client: gateway A queries gateway B's Social Registry
// as it would a foreign partner's, over real HTTP, both ways signed; and the
// receiver (A's callbacks) refuses whatever is not a registered partner's
// signed answer to a request A made.

const adults = generatePopulation({ citizens: 500 }).livingAdults() as Citizen[]
const GRANT = { purposes: ['social_protection.portability'], recordTypes: ['SRPerson', 'Person'] }

t.test('an officer of gateway A looks a citizen up in gateway B\'s registry, at once and by callback; both are audited at A', async (t) => {
  const a = await listeningGateway(t, 'gw-a.example')
  const b = await listeningGateway(t, 'gw-b.example')
  const { clientSecret, partner } = await pairGateways(t, a, b, GRANT)
  t.match(partner.registry, { url: `${b.base}/dci/social`, clientId: 'gw-a.example', hasClientSecret: true })
  t.notOk(JSON.stringify(partner).includes(clientSecret), 'the secret is not echoed')

  const citizen = adults[5]!
  const officer = { authorization: `Bearer ${await a.token('officer')}` }
  const ask = (mode: string, extra: Record<string, unknown> = {}) => a.app.inject({
    method: 'POST',
    url: '/v1/partners/gw-b.example/searches',
    headers: officer,
    payload: { registry: 'social', idValue: citizen.regnum, recordType: 'SRPerson', purpose: 'social_protection.portability', case: 'CASE-2026-17', mode, ...extra },
  })

  const sync = await ask('sync')
  t.equal(sync.statusCode, 200, sync.body)
  t.match(sync.json(), { partner: 'gw-b.example', mode: 'sync', status: 'answered', answerStatus: 'succ', purpose: 'social_protection.portability', case: 'CASE-2026-17' })
  t.equal(sync.json().records.length, 1)
  t.ok(JSON.stringify(sync.json().records).includes(citizen.regnum), 'B\'s record of the citizen')

  const async = await ask('async')
  t.equal(async.statusCode, 202, async.body)
  t.match(async.json(), { status: 'sent', mode: 'async' })
  const { transactionId } = async.json()
  const read = () => a.app.inject({ method: 'GET', url: `/v1/partners/gw-b.example/searches/${transactionId}`, headers: officer })
  const answered = await eventually<Record<string, any>>(async () => {
    const res = await read()
    return res.json().status === 'answered' ? res.json() : undefined
  }, 30_000)
  t.match(answered, { answerStatus: 'succ', transactionId })
  t.ok(JSON.stringify(answered.records).includes(citizen.regnum), 'B\'s on-search came to A\'s receiver')

  // Only the officer who asked (or an admin) reads it.
  const other = await a.app.inject({ method: 'GET', url: `/v1/partners/gw-b.example/searches/${transactionId}`, headers: { authorization: `Bearer ${await a.token('officer', { claims: { sub: 'officer-2' } })}` } })
  t.equal(other.statusCode, 404)
  t.equal((await a.app.inject({ method: 'GET', url: `/v1/partners/gw-b.example/searches/${transactionId}`, headers: a.admin })).statusCode, 200)

  // B's on-search again (a re-delivery): the same acknowledgement, nothing changes.
  const stored = await a.app.dci.outbound.byTransaction('gw-b.example', transactionId)
  const again1 = await a.app.inject({ method: 'POST', url: '/dci/receiver/registry/on-search', payload: JSON.parse(stored!.answer!) })
  const again2 = await a.app.inject({ method: 'POST', url: '/dci/receiver/registry/on-search', payload: JSON.parse(stored!.answer!) })
  t.equal(again1.statusCode, 200, again1.body)
  t.equal(again1.body, again2.body, 'the same ACK')

  // The look-ups are in A's audit log, as the officer's, naming B.
  const audit = await a.app.inject({ method: 'GET', url: '/v1/admin/audit?type=citizen_lookup', headers: a.admin })
  const outbound = audit.json().records.filter((r: { details: { channel?: string } | null }) => r.details?.channel === 'dci-outbound')
  t.equal(outbound.length, 2, audit.body)
  t.match(outbound[0], { actor: 'officer-1', actorUnit: '1101', purpose: 'social_protection.portability', caseRef: 'CASE-2026-17', citizen: citizen.regnum, sourcesAsked: ['dci:gw-b.example'], details: { partner: 'gw-b.example', partnerName: 'Gateway gw-b.example' } })
  // And at B, as the partner's look-ups.
  const atB = await b.app.inject({ method: 'GET', url: '/v1/admin/audit?type=citizen_lookup', headers: b.admin })
  t.equal(atB.json().records.filter((r: { actor: string }) => r.actor === 'partner:gw-a.example').length, 2)

  // Bad input: a problem naming the field.
  const wrongType = await ask('sync', { recordType: 'Person' })
  t.equal(wrongType.statusCode, 400)
  t.ok(wrongType.json().errors.some((e: { pointer: string }) => e.pointer === '/recordType'), wrongType.body)
  const unknownPurpose = await ask('sync', { purpose: 'marketing' })
  t.equal(unknownPurpose.statusCode, 400)
  t.ok(unknownPurpose.json().errors.some((e: { pointer: string }) => e.pointer === '/purpose'), unknownPurpose.body)
  const crvsPurpose = await ask('sync', { purpose: 'vital_events.follow_up' })
  t.equal(crvsPurpose.statusCode, 403, 'a purpose for another registry')
  t.equal((await a.app.inject({ method: 'POST', url: '/v1/partners/nobody.example/searches', headers: officer, payload: { idValue: citizen.regnum, recordType: 'SRPerson', purpose: 'social_protection.portability', case: 'C-1' } })).statusCode, 404)
  t.equal((await a.app.inject({ method: 'POST', url: '/v1/partners/gw-b.example/searches', headers: { authorization: `Bearer ${await a.token('citizen')}` }, payload: {} })).statusCode, 403, 'citizens may not')

  // A purpose B did not grant A: B's answer says so, for the person.
  const notGranted = await ask('sync', { purpose: 'social_protection.eligibility' })
  t.equal(notGranted.statusCode, 200, notGranted.body)
  t.match(notGranted.json(), { status: 'answered', answerStatus: 'rjct', records: [], reason: /^rjct\.search_criteria\.invalid: .*not granted/ })

  // Credentials B does not take: a 502 naming the partner, and no secret in it.
  const wrong = await a.app.inject({
    method: 'POST',
    url: '/v1/admin/partners',
    headers: a.admin,
    payload: { id: 'gw-b-wrong.example', name: 'B, wrongly', jwks: b.jwks.keys.length > 0 ? { keys: [{ ...partner.jwks.keys[0] }] } : {}, purposes: ['social_protection.eligibility'], recordTypes: ['SRPerson'], registry: { url: `${b.base}/dci/social`, tokenUrl: `${b.base}/oauth2/client/token`, clientId: 'gw-a.example', clientSecret: 'not-the-secret' } },
  })
  t.equal(wrong.statusCode, 201, wrong.body)
  const refused = await a.app.inject({ method: 'POST', url: '/v1/partners/gw-b-wrong.example/searches', headers: officer, payload: { idValue: citizen.regnum, recordType: 'SRPerson', purpose: 'social_protection.portability', case: 'C-1' } })
  t.equal(refused.statusCode, 502, refused.body)
  t.match(refused.json(), { code: 'PARTNER_REGISTRY_REFUSED', partner: 'gw-b-wrong.example' })
  t.notOk(refused.body.includes('not-the-secret'))
})

t.test('a partner registry that cannot be reached is a 503 with Retry-After', async (t) => {
  const a = await listeningGateway(t, 'gw-a.example')
  const { publicKey } = generateKeyPairSync('ed25519')
  const created = await a.app.inject({
    method: 'POST',
    url: '/v1/admin/partners',
    headers: a.admin,
    // Port 9 (discard): nothing answers.
    payload: { id: 'gone.example', name: 'Gone', jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }] }, purposes: ['social_protection.eligibility'], recordTypes: ['SRPerson'], registry: { url: 'http://127.0.0.1:9/dci/social', tokenUrl: 'http://127.0.0.1:9/token', clientId: 'a', clientSecret: 's3cret-value' } },
  })
  t.equal(created.statusCode, 201, created.body)
  const res = await a.app.inject({ method: 'POST', url: '/v1/partners/gone.example/searches', headers: { authorization: `Bearer ${await a.token('officer')}` }, payload: { idValue: adults[0]!.regnum, recordType: 'SRPerson', purpose: 'social_protection.portability', case: 'C-1', mode: 'async' } })
  t.equal(res.statusCode, 503, res.body)
  t.ok(Number(res.headers['retry-after']) > 0)
  t.match(res.json(), { code: 'PARTNER_REGISTRY_UNAVAILABLE', partner: 'gone.example' })
})

t.test('the receiver takes only signed messages of registered partners, to this gateway, once', async (t) => {
  const { app, token } = await buildTestApp(t, { env: { CALLBACK_ALLOWED_CIDRS: '127.0.0.0/8', DCI_SENDER_ID: 'gw-a.example' } })
  const admin = { authorization: `Bearer ${await token('admin')}` }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const stranger = generateKeyPairSync('ed25519').privateKey
  const registered = await app.inject({ method: 'POST', url: '/v1/admin/partners', headers: admin, payload: { id: 'mis.example', name: 'MIS', jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }] }, purposes: ['social_protection.eligibility'], recordTypes: ['SRPerson'] } })
  t.equal(registered.statusCode, 201, registered.body)

  const notify = (messageId = randomUUID(), header: Record<string, unknown> = {}, key: KeyObject | null = privateKey as KeyObject, sender = 'mis.example', eventRef = 'S-1') => {
    const h = { version: '1.0.0', message_id: messageId, message_ts: new Date().toISOString(), action: 'notify', status: 'succ', sender_id: sender, receiver_id: 'gw-a.example', total_count: 1, ...header }
    const message = { transaction_id: 'N-1', notify_event: [{ reference_id: eventRef, timestamp: new Date().toISOString(), data: { version: '1.0.0', reg_type: 'ns:org:RegistryType:Social', reg_event_type: 'REGISTER', reg_record_type: 'Member', reg_records: {} } }] }
    return { ...(key === null ? {} : { signature: signDciMessage({ header: h, message, senderId: sender, key: { kid: 'k1', privateKey: key } }) }), header: h, message }
  }
  const post = (path: string, payload: unknown) => app.inject({ method: 'POST', url: `/dci/receiver/registry/${path}`, payload: payload as object })
  const refusal = async (what: string, res: Awaited<ReturnType<typeof post>>, status: number, code: string) => {
    t.equal(res.statusCode, status, `${what}: ${res.body}`)
    t.equal(res.json().errors?.[0]?.code, code, what)
  }

  // A notify is taken only for a subscription this gateway holds at the
  // partner: two, asked (as the subscriptions route does) and taken by the
  // partner's on-subscribe.
  const signedBy = (action: string, message: Record<string, unknown>) => {
    const h = { version: '1.0.0', message_id: randomUUID(), message_ts: new Date().toISOString(), action, status: 'succ', sender_id: 'mis.example', receiver_id: 'gw-a.example', total_count: 1 }
    return { signature: signDciMessage({ header: h, message, senderId: 'mis.example', key: { kid: 'k1', privateKey: privateKey as KeyObject } }), header: h, message }
  }
  await refusal('a notify for no subscription held', await post('notify', notify()), 400, 'err.request.bad')
  for (const referenceId of ['S-1', 'S-2']) {
    const subscribe = await app.dci.outbound.create({
      partnerId: 'mis.example', registry: 'social', action: 'subscribe', mode: 'async', messageId: randomUUID(), transactionId: `T-${referenceId}`, referenceId, recordType: 'Member',
      actor: 'admin:admin-1', actorIssuer: 'test', actorUnit: null, actorAgency: null, purpose: 'social_protection.eligibility', caseRef: 'C-1', criteria: { regEventType: 'REGISTER', filterType: 'predicate', filter: [] },
    })
    const answered = await post('on-subscribe', signedBy('on-subscribe', { transaction_id: subscribe.transactionId, correlation_id: 'c-1', subscribe_response: [{ reference_id: referenceId, timestamp: new Date().toISOString(), status: 'succ', subscriptions: [{ code: `code-${referenceId}`, status: 'subscribe', timestamp: new Date().toISOString() }] }] }))
    t.equal(answered.statusCode, 200, answered.body)
  }

  const first = notify()
  const ok = await post('notify', first)
  t.equal(ok.statusCode, 200, ok.body)
  t.same(loadDciSpec('social').validateResponse('/registry/notify', ok.json()), [], 'a spec-valid ACK')
  t.equal(ok.json().message.ack_status, 'ACK')
  t.equal((await post('notify', first)).body, ok.body, 'the same message again: the same ACK')
  await refusal('another message under a used message_id', await post('notify', notify(first.header.message_id, {}, privateKey as KeyObject, 'mis.example', 'S-2')), 400, 'err.request.bad')

  await refusal('no signature', await post('notify', notify(randomUUID(), {}, null)), 401, 'err.signature.missing')
  await refusal('signed by a key the partner did not register', await post('notify', notify(randomUUID(), {}, stranger as KeyObject)), 401, 'err.signature.invalid')
  await refusal('an unknown sender', await post('notify', notify(randomUUID(), {}, privateKey as KeyObject, 'nobody.example')), 403, 'err.sender_id.invalid')
  await refusal('another receiver', await post('notify', notify(randomUUID(), { receiver_id: 'someone-else' })), 400, 'err.receiver_id.invalid')
  const invalid = notify()
  await refusal('a body the spec does not allow', await post('notify', { ...invalid, message: { ...invalid.message, notify_event: 'x' } }), 400, 'err.request.bad')
  await refusal('a notify on the on-search path', await post('on-search', notify()), 400, 'err.request.bad')

  // An on-search for a search this gateway never sent.
  const h = { version: '1.0.0', message_id: randomUUID(), message_ts: new Date().toISOString(), action: 'on-search', status: 'succ', sender_id: 'mis.example', receiver_id: 'gw-a.example', total_count: 1 }
  const message = { transaction_id: 'never-sent', correlation_id: 'c-1', search_response: [] }
  await refusal('an answer to nothing asked', await post('on-search', { signature: signDciMessage({ header: h, message, senderId: 'mis.example', key: { kid: 'k1', privateKey: privateKey as KeyObject } }), header: h, message }), 400, 'err.request.bad')
})
