import t from 'tap'
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto'
import { generatePopulation, type Citizen } from '../../../src/exchange/index.ts'
import { enrolments } from '../../../src/exchange/registries.ts'
import { signDciMessage, verifyDciMessage } from '../../../src/dci/signature.ts'
import { loadDciSpec, type DciRegistry } from '../../../src/dci/spec.ts'
import { dciSetup, PARTNER, partnerReceiver } from '../../helpers/dci.ts'
import { eventually } from '../../helpers/eventually.ts'

const population = generatePopulation({ citizens: 500 })
const [alice] = population.livingAdults() as [Citizen]

const setup = dciSetup

function searchItem (query: unknown, extra: Record<string, unknown> = {}, queryType = 'idtype-value') {
  return { reference_id: randomUUID(), timestamp: new Date().toISOString(), search_criteria: { query_type: queryType, query, ...extra } }
}

function envelope (items: unknown[], key: { kid: string, privateKey: KeyObject } | null, header: Record<string, unknown> = {}) {
  const h = { version: '1.0.0', message_id: randomUUID(), message_ts: new Date().toISOString(), action: 'search', sender_id: PARTNER, receiver_id: 'oss-gateway.mn', total_count: items.length, ...header }
  const message = { transaction_id: randomUUID().slice(0, 20), search_request: items }
  return { ...(key === null ? {} : { signature: signDciMessage({ header: h, message, senderId: PARTNER, key }) }), header: h, message }
}

const uin = (value: string) => ({ type: 'UIN', value })

for (const registry of ['social', 'crvs'] as DciRegistry[]) {
  t.test(`${registry}: a sync search by UIN answers a spec-valid, signed record, audited and shown to the citizen`, async (t) => {
    const { app, bearer, key, gatewayKeys, token } = await setup(t)
    const spec = loadDciSpec(registry)
    const request = envelope([searchItem(uin(alice!.regnum), registry === 'crvs' ? { reg_record_type: 'spdci-extensions-dci:Person' } : {})], key)
    t.same(spec.validateRequest('/registry/sync/search', request), [], 'the test sends a spec-valid request')
    const res = await app.inject({ method: 'POST', url: `/dci/${registry}/registry/sync/search`, headers: bearer, payload: request })
    t.equal(res.statusCode, 200, res.body)
    const body = res.json()
    t.same(spec.validateResponse('/registry/sync/search', body), [], 'the answer is spec-valid')
    t.match(body.header, { action: 'on-search', status: 'succ', sender_id: 'oss-gateway.mn', receiver_id: PARTNER, total_count: 1, completed_count: 1 })
    t.equal(body.message.transaction_id, request.message.transaction_id)
    const verified = verifyDciMessage({ signature: body.signature, header: body.header, message: body.message, keys: gatewayKeys, expectedSenderId: 'oss-gateway.mn' })
    t.ok(verified.ok, 'signed with a key of /.well-known/jwks.json')
    const [item] = body.message.search_response
    t.match(item, { reference_id: (request.message.search_request[0] as { reference_id: string }).reference_id, status: 'succ', pagination: { total_count: 1, page_number: 1 } })
    const [record] = item.data.reg_records
    t.match(record, { identifier: [{ identifier_type: 'UIN', identifier_value: alice!.regnum }], name: { surname: alice!.lastname, given_name: alice!.firstname, clan_name: alice!.surname }, sex: alice!.sex, birth_date: alice!.birthDate })
    t.equal(item.data.reg_record_type, registry === 'social' ? 'SRPerson' : 'Person')

    // The citizen sees the partner, by name, and the purpose.
    const seen = await app.inject({ method: 'GET', url: '/v1/me/data-access?lang=en', headers: { authorization: `Bearer ${await token('citizen', { claims: { sub: alice!.regnum } })}` } })
    t.equal(seen.statusCode, 200, seen.body)
    t.match(seen.json().accesses[0], { partner: { id: PARTNER, name: 'Example MIS' }, purpose: 'social_protection.eligibility', purposeName: 'Eligibility for a social-protection programme', result: 'ok', case: request.message.transaction_id })
  })
}

t.test('predicate and expression queries that mean "UIN eq X" are answered; others get the spec\'s reason code', async (t) => {
  const { app, bearer, key } = await setup(t)
  const items = [
    searchItem([{ seq_num: 1, expression1: { attribute_name: 'UIN', operator: 'eq', attribute_value: alice!.regnum } }], {}, 'predicate'),
    searchItem({ type: 'ns:org:QueryType:expression', value: { expression: { collection: 'Member', query: { UIN: { $eq: alice!.regnum } } } } }, {}, 'expression'),
    searchItem([{ seq_num: 1, expression1: { attribute_name: 'YOB', operator: 'gt', attribute_value: 1980 } }], {}, 'predicate'),
    searchItem({ type: 'MOBILE', value: '99112233' }),
    searchItem(uin('not-a-number')),
    searchItem(uin('АА00000000')),
    searchItem(uin(alice!.regnum), { reg_record_type: 'Group' }),
    searchItem(uin(alice!.regnum), { sort: [{ attribute_name: 'poverty_score', sort_order: 'asc' }] }),
  ]
  const res = await app.inject({ method: 'POST', url: '/dci/social/registry/sync/search', headers: bearer, payload: envelope(items, key) })
  t.equal(res.statusCode, 200, res.body)
  t.same(loadDciSpec('social').validateResponse('/registry/sync/search', res.json()), [])
  const answers = res.json().message.search_response as Array<{ status: string, status_reason_code?: string, data?: { reg_records: unknown[] } }>
  t.match(answers.map((a) => a.status), ['succ', 'succ', 'rjct', 'rjct', 'rjct', 'rjct', 'rjct', 'rjct'])
  t.equal(answers[0]!.data!.reg_records.length, 1)
  t.equal(answers[1]!.data!.reg_records.length, 1)
  t.match(answers.slice(2).map((a) => a.status_reason_code), ['rjct.search_criteria.invalid', 'rjct.search_criteria.invalid', 'rjct.search_criteria.invalid', 'rjct.search_criteria.invalid', 'rjct.search_criteria.invalid', 'rjct.sort.invalid'])
})

t.test('reg_event_type: a person without the event asked for is no match; events the registries cannot tell are refused', async (t) => {
  const { app, bearer, key } = await setup(t)
  const dead = population.citizens.find((c) => c.deathDate !== null)!
  const enrolled = population.livingAdults().find((c) => enrolments(population, c).enrolments.length > 0)!
  const notEnrolled = population.livingAdults().find((c) => enrolments(population, c).enrolments.length === 0)!
  const search = async (registry: DciRegistry, regnum: string, event: string) => {
    const res = await app.inject({ method: 'POST', url: `/dci/${registry}/registry/sync/search`, headers: bearer, payload: envelope([searchItem(uin(regnum), { reg_event_type: event })], key) })
    t.equal(res.statusCode, 200, res.body)
    t.same(loadDciSpec(registry).validateResponse('/registry/sync/search', res.json()), [], 'a spec-valid answer')
    return res.json().message.search_response[0]
  }
  t.match(await search('crvs', dead.regnum, 'spdci-common:RegistryEventType:Death'), { status: 'succ', data: { reg_records: [{ death_date: dead.deathDate }] } })
  t.match(await search('crvs', alice!.regnum, 'Death'), { status: 'succ', data: { reg_records: [] } }, 'the living have no death')
  t.match(await search('crvs', alice!.regnum, 'LiveBirth'), { status: 'succ', data: { reg_records: [{ identifier: [{ identifier_value: alice!.regnum }] }] } })
  t.match(await search('social', enrolled.regnum, 'REGISTER'), { status: 'succ', data: { reg_records: [{ identifier: [{ identifier_value: enrolled.regnum }] }] } })
  t.match(await search('social', notEnrolled.regnum, 'REGISTER'), { status: 'succ', data: { reg_records: [] } }, 'nobody enrolled in a welfare programme')
  t.match(await search('crvs', alice!.regnum, 'Marriage'), { status: 'rjct', status_reason_code: 'rjct.search_criteria.invalid', status_reason_message: /LiveBirth or Death only/ })
})

t.test('a valid number with nobody behind it is a success with no records', async (t) => {
  const { app, bearer, key } = await setup(t)
  const unknown = 'ЯЯ99123199' // valid, and nobody in the population has it
  const res = await app.inject({ method: 'POST', url: '/dci/social/registry/sync/search', headers: bearer, payload: envelope([searchItem(uin(unknown))], key) })
  t.equal(res.statusCode, 200, res.body)
  t.match(res.json().message.search_response[0], { status: 'succ', data: { reg_records: [] }, pagination: { total_count: 0 } })
})

t.test('a purpose not granted is refused and the refusal is audited', async (t) => {
  const { app, bearer, key, admin } = await setup(t, { purposes: ['social_protection.eligibility', 'social_protection.portability'] })
  const res = await app.inject({ method: 'POST', url: '/dci/social/registry/sync/search', headers: bearer, payload: envelope([searchItem(uin(alice!.regnum), { authorize: { purpose: { code: 'vital_events.follow_up' } } })], key) })
  t.equal(res.statusCode, 200, res.body)
  t.match(res.json().message.search_response[0], { status: 'rjct', status_reason_code: 'rjct.search_criteria.invalid', status_reason_message: /not granted/ })
  t.notOk('data' in res.json().message.search_response[0], 'no data')
  const audit = (await app.inject({ method: 'GET', url: `/v1/admin/audit?citizen=${encodeURIComponent(alice!.regnum)}`, headers: admin })).json()
  t.match(audit.records[0], { actor: `partner:${PARTNER}`, result: 'denied', purpose: 'vital_events.follow_up', details: { channel: 'dci', registry: 'social' } })
})

t.test('refusals of the envelope get the spec\'s status and code', async (t) => {
  const { app, bearer, key, token } = await setup(t)
  const url = '/dci/social/registry/sync/search'
  const good = () => envelope([searchItem(uin(alice!.regnum))], key)
  const { privateKey: other } = generateKeyPairSync('ed25519')
  const tampered = good()
  ;(tampered.message.search_request[0] as { reference_id: string }).reference_id = 'changed'
  const cases: Array<[string, Record<string, string>, unknown, number, string]> = [
    ['no bearer token', {}, good(), 401, 'err.request.unauthorized'],
    ['a garbage token', { authorization: 'Bearer abc.def.ghi' }, good(), 401, 'err.request.unauthorized'],
    ['an officer\'s token', { authorization: `Bearer ${await token('officer')}` }, good(), 403, 'err.request.forbidden'],
    ['a body without a header', bearer, { message: good().message }, 400, 'err.request.bad'],
    ['a schema-invalid query type', bearer, envelope([searchItem(uin(alice!.regnum), {}, 'sql')], key), 400, 'err.request.bad'],
    ['no signature', bearer, envelope([searchItem(uin(alice!.regnum))], null), 401, 'err.signature.missing'],
    ['a signature by another key', bearer, envelope([searchItem(uin(alice!.regnum))], { kid: 'k1', privateKey: other }), 401, 'err.signature.invalid'],
    ['a tampered message', bearer, tampered, 401, 'err.signature.invalid'],
    ['another sender id', bearer, envelope([searchItem(uin(alice!.regnum))], key, { sender_id: 'someone.else' }), 403, 'err.sender_id.invalid'],
    ['another receiver id', bearer, envelope([searchItem(uin(alice!.regnum))], key, { receiver_id: 'elsewhere' }), 400, 'err.receiver_id.invalid'],
    ['another version', bearer, envelope([searchItem(uin(alice!.regnum))], key, { version: '2.0.0' }), 400, 'err.version.not_supported'],
  ]
  for (const [what, headers, payload, status, code] of cases) {
    const res = await app.inject({ method: 'POST', url, headers, payload: payload as object })
    t.equal(res.statusCode, status, `${what}: ${res.body}`)
    t.equal(res.json().errors?.[0]?.code, code, what)
  }
  const notJson = await app.inject({ method: 'POST', url, headers: { ...bearer, 'content-type': 'application/json' }, payload: '{"header":' })
  t.equal(notJson.statusCode, 400)
  t.equal(notJson.json().errors[0].code, 'err.request.bad')
})

t.test('message ids at once: two tries of one message get one answer; of two messages under one id, one is refused', async (t) => {
  const { app, bearer, key } = await setup(t)
  const url = '/dci/social/registry/sync/search'
  const one = envelope([searchItem(uin(alice!.regnum))], key)
  const tries = await Promise.all([0, 1, 2, 3].map(() => app.inject({ method: 'POST', url, headers: bearer, payload: one })))
  t.same(tries.map((r) => r.statusCode), [200, 200, 200, 200])
  t.same(new Set(tries.map((r) => r.body)).size, 1, 'every try gets the answer stored first, byte for byte')
  t.equal(tries[0]!.json().header.status, 'succ')

  const id = randomUUID()
  const rivals = [envelope([searchItem(uin(alice!.regnum))], key, { message_id: id }), envelope([searchItem(uin(alice!.regnum))], key, { message_id: id })]
  const answers = await Promise.all(rivals.map((payload) => app.inject({ method: 'POST', url, headers: bearer, payload })))
  t.same(answers.map((r) => r.json().header.status).sort(), ['rjct', 'succ'])
  t.match(answers.find((r) => r.json().header.status === 'rjct')!.json().header, { status_reason_code: 'rjct.message_id.duplicate' })
  // Whichever was refused, the id stays with the one answered.
  const winner = rivals[answers.findIndex((r) => r.json().header.status === 'succ')]!
  const again = await app.inject({ method: 'POST', url, headers: bearer, payload: winner })
  t.equal(again.body, answers.find((r) => r.json().header.status === 'succ')!.body)
})

t.test('message ids: a retry gets the same answer, another message under a used id is refused', async (t) => {
  const { app, bearer, key } = await setup(t)
  const url = '/dci/social/registry/sync/search'
  const first = envelope([searchItem(uin(alice!.regnum))], key)
  const a = await app.inject({ method: 'POST', url, headers: bearer, payload: first })
  const b = await app.inject({ method: 'POST', url, headers: bearer, payload: first })
  t.equal(a.statusCode, 200)
  t.equal(b.body, a.body, 'the same answer, correlation id and all')
  const reused = envelope([searchItem(uin(alice!.regnum))], key, { message_id: first.header.message_id })
  const c = await app.inject({ method: 'POST', url, headers: bearer, payload: reused })
  t.equal(c.statusCode, 200)
  t.match(c.json().header, { status: 'rjct', status_reason_code: 'rjct.message_id.duplicate' })
  t.same(loadDciSpec('social').validateResponse('/registry/sync/search', c.json()), [])
  const stale = envelope([searchItem(uin(alice!.regnum))], key, { message_ts: new Date(Date.now() - 3_600_000).toISOString() })
  t.match((await app.inject({ method: 'POST', url, headers: bearer, payload: stale })).json().header, { status: 'rjct', status_reason_code: 'rjct.message_ts.invalid' })
  const miscounted = envelope([searchItem(uin(alice!.regnum))], key, { total_count: 3 })
  t.match((await app.inject({ method: 'POST', url, headers: bearer, payload: miscounted })).json().header, { status: 'rjct', status_reason_code: 'rjct.total_count.invalid' })
})

t.test('each partner is limited in messages a minute and items a message', async (t) => {
  const { app, bearer, key } = await setup(t, {}, { DCI_MESSAGES_PER_MINUTE: '2', DCI_MAX_ITEMS_PER_MESSAGE: '2' })
  const url = '/dci/social/registry/sync/search'
  const three = envelope([searchItem(uin(alice!.regnum)), searchItem(uin(alice!.regnum)), searchItem(uin(alice!.regnum))], key)
  const big = await app.inject({ method: 'POST', url, headers: bearer, payload: three })
  t.match(big.json().header, { status: 'rjct', status_reason_code: 'rjct.total_count.limit_exceeded' })
  t.equal((await app.inject({ method: 'POST', url, headers: bearer, payload: envelope([searchItem(uin(alice!.regnum))], key) })).statusCode, 200)
  const over = await app.inject({ method: 'POST', url, headers: bearer, payload: envelope([searchItem(uin(alice!.regnum))], key) })
  t.equal(over.statusCode, 429)
  t.equal(over.json().errors[0].code, 'err.request.too_many_requests')
  t.ok(Number(over.headers['retry-after']) >= 1, 'with Retry-After')
})

t.test('an async search is acknowledged, answered at the partner\'s on-search (retried, the same signed message), and its status is readable', async (t) => {
  const receiver = await partnerReceiver(t, [503])
  const { app, bearer, key, gatewayKeys } = await setup(t, { callbackUrl: receiver.base }, { CALLBACK_BACKOFF_BASE_MS: '10', CALLBACK_BACKOFF_MAX_MS: '50', DCI_MESSAGES_PER_MINUTE: '100000' })
  const spec = loadDciSpec('social')
  const request = envelope([searchItem(uin(alice!.regnum)), searchItem(uin('ЯЯ99123199'))], key)
  const res = await app.inject({ method: 'POST', url: '/dci/social/registry/search', headers: bearer, payload: request })
  t.equal(res.statusCode, 200, res.body)
  t.same(spec.validateResponse('/registry/search', res.json()), [], 'a spec-valid ACK')
  const { correlation_id: correlationId, ack_status: ackStatus } = res.json().message
  t.equal(ackStatus, 'ACK')
  const again = await app.inject({ method: 'POST', url: '/dci/social/registry/search', headers: bearer, payload: request })
  t.equal(again.body, res.body, 'a retried request gets the same ACK')

  await eventually(async () => receiver.received.length >= 2)
  const [first, second] = receiver.received
  t.equal(first!.path, '/dci/registry/on-search')
  t.same(second!.body, first!.body, 'the retry after the partner\'s 503 is the same message')
  const body = second!.body
  t.same(spec.validateRequest('/registry/on-search', body), [], 'a spec-valid on-search')
  t.ok(verifyDciMessage({ signature: body.signature, header: body.header, message: body.message, keys: gatewayKeys, expectedSenderId: 'oss-gateway.mn' }).ok, 'signed by the gateway')
  t.match(body.header, { action: 'on-search', receiver_id: PARTNER })
  t.match(body.message, { transaction_id: request.message.transaction_id, correlation_id: correlationId })
  t.match(body.message.search_response[0].data.reg_records[0], { identifier: [{ identifier_value: alice!.regnum }] })
  t.match(body.message.search_response[1], { status: 'succ', data: { reg_records: [] } })

  // The status, by transaction id, once the callback is settled.
  const status = async () => {
    const h = { version: '1.0.0', message_id: randomUUID(), message_ts: new Date().toISOString(), action: 'txn-status', sender_id: PARTNER, total_count: 1 }
    const message = { transaction_id: randomUUID().slice(0, 20), txnstatus_request: { reference_id: 'S-1', txn_type: 'search', attribute_type: 'transaction_id', attribute_value: request.message.transaction_id } }
    return app.inject({ method: 'POST', url: '/dci/social/registry/sync/txn/status', headers: bearer, payload: { signature: signDciMessage({ header: h, message, senderId: PARTNER, key }), header: h, message } })
  }
  await eventually(async () => /delivered to the partner/.test((await status()).json().header.status_reason_message))
  const read = await status()
  t.same(spec.validateResponse('/registry/sync/txn/status', read.json()), [], 'a spec-valid status')
  t.match(read.json().message.txnstatus_response, { txn_type: 'search', txn_status: { correlation_id: correlationId, search_response: [{ status: 'succ' }, { status: 'succ' }] } })
})

t.test('an async search for a partner without a callback URL is kept for txn/status; an unknown transaction is rjct', async (t) => {
  // Status is polled below: the per-partner message limit is lifted.
  const { app, bearer, key } = await setup(t, {}, { DCI_MESSAGES_PER_MINUTE: '100000' })
  const request = envelope([searchItem(uin(alice!.regnum))], key)
  t.equal((await app.inject({ method: 'POST', url: '/dci/crvs/registry/search', headers: bearer, payload: request })).json().message.ack_status, 'ACK')
  const status = async (value: string) => {
    const h = { version: '1.0.0', message_id: randomUUID(), message_ts: new Date().toISOString(), action: 'txn-status', sender_id: PARTNER, total_count: 1 }
    const message = { transaction_id: randomUUID().slice(0, 20), txnstatus_request: { reference_id: 'S-1', txn_type: 'search', attribute_type: 'transaction_id', attribute_value: value } }
    return (await app.inject({ method: 'POST', url: '/dci/crvs/registry/sync/txn/status', headers: bearer, payload: { signature: signDciMessage({ header: h, message, senderId: PARTNER, key }), header: h, message } })).json()
  }
  await eventually(async () => /could not be delivered/.test((await status(request.message.transaction_id)).header.status_reason_message))
  const read = await status(request.message.transaction_id)
  t.same(loadDciSpec('crvs').validateResponse('/registry/sync/txn/status', read), [], 'a spec-valid status')
  // The CRVS spec's TxnStatusResponse has one record object, not a list.
  t.match(read.message.txnstatus_response.txn_status.search_response[0], { status: 'succ', data: { reg_record_type: 'Person', reg_records: { identifier: [{ identifier_value: alice!.regnum }] } } })
  t.match((await status('no-such-transaction')).header, { status: 'rjct' })
})

t.test('a change to the partner (grants, keys, active, removal) holds from the next message on', async (t) => {
  const { app, bearer, key, admin } = await setup(t)
  const url = '/dci/social/registry/sync/search'
  const eligibility = { authorize: { purpose: { code: 'social_protection.eligibility' } } }
  const search = (signWith: { kid: string, privateKey: KeyObject }) => app.inject({ method: 'POST', url, headers: bearer, payload: envelope([searchItem(uin(alice!.regnum), eligibility)], signWith) })
  t.equal((await search(key)).json().message.search_response[0].status, 'succ', 'answered (the partner now read by this process)')
  const current = (await app.inject({ method: 'GET', url: `/v1/admin/partners/${PARTNER}`, headers: admin })).json()
  const change = async (payload: Record<string, unknown>) => {
    const res = await app.inject({ method: 'PUT', url: `/v1/admin/partners/${PARTNER}`, headers: admin, payload: { name: current.name, jwks: current.jwks, purposes: current.purposes, recordTypes: current.recordTypes, active: true, ...payload } })
    t.equal(res.statusCode, 200, res.body)
  }

  await change({ purposes: ['social_protection.portability'] })
  t.match((await search(key)).json().message.search_response[0], { status: 'rjct', status_reason_message: /not granted/ }, 'a purpose taken away')

  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const next = { kid: 'k2', privateKey }
  await change({ purposes: ['social_protection.eligibility'], jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k2' }] } })
  const old = await search(key)
  t.equal(old.statusCode, 401, 'a key taken away')
  t.equal(old.json().errors[0].code, 'err.signature.invalid')
  t.equal((await search(next)).json().message.search_response[0].status, 'succ', 'a new key')

  await change({ purposes: ['social_protection.eligibility'], jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k2' }] }, active: false })
  const off = await search(next)
  t.equal(off.statusCode, 403, 'deactivated')
  t.equal(off.json().errors[0].code, 'err.request.forbidden')

  await change({ purposes: ['social_protection.eligibility'], jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k2' }] } })
  t.equal((await search(next)).statusCode, 200, 'active again')
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/admin/partners/${PARTNER}`, headers: admin })).statusCode, 204)
  const gone = await search(next)
  t.equal(gone.statusCode, 403, 'removed')
  t.equal(gone.json().errors[0].code, 'err.request.forbidden')
})
