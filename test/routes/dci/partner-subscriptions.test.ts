import t from 'tap'
import { randomUUID } from 'node:crypto'
import { buildSeedDocument } from '../../../src/catalogue/seed.ts'
import { signDciMessage } from '../../../src/dci/signature.ts'
import { loadDciSpec } from '../../../src/dci/spec.ts'
import { generatePopulation, type Citizen } from '../../../src/exchange/index.ts'
import { listeningGateway, pairGateways, submitNewborn, type ListeningGateway } from '../../helpers/dci.ts'
import { eventually } from '../../helpers/eventually.ts'

// The gateway subscribing to events in a partner's registry: an admin of
// gateway A subscribes at gateway B's Social Registry, over real HTTP, both
// ways signed; B's on-subscribe and then its notify (an enrolment approved
// on B's bus) come to A's receiver and show in A's subscription; an
// unsubscribe ends it. Whatever matches nothing A sent is refused.

const adults = generatePopulation({ citizens: 500 }).livingAdults() as Citizen[]
const seed = buildSeedDocument()
const newbornForm = (seed.services.find((s) => s.code === 'package.newborn')!.formSchema.examples as Array<Record<string, unknown>>)[0]!
const GRANT = { purposes: ['social_protection.eligibility'], recordTypes: ['SRPerson', 'Member'] }
// Fast delivery and decisions, and the per-partner message limit lifted.
const FAST = { DELIVERY_BACKOFF_BASE_MS: '20', DELIVERY_BACKOFF_MAX_MS: '100', OUTBOX_POLL_MS: '50', DECISION_POLL_MS: '50', DCI_EVENTS_POLL_MS: '50' }
const A = 'gw-a-subs.example'
const B = 'gw-b-subs.example'

// A message of B's (signed with B's own key) to A's receiver.
function fromB (b: ListeningGateway, action: string, message: Record<string, unknown>) {
  const header = { version: '1.0.0', message_id: randomUUID(), message_ts: new Date().toISOString(), action, status: 'succ', sender_id: B, receiver_id: A, total_count: 1, is_msg_encrypted: false }
  return { signature: signDciMessage({ header, message, senderId: B, key: b.app.dci.signingKey }), header, message }
}

t.test('an admin of gateway A subscribes to enrolments in gateway B\'s registry; B\'s events reach A until A unsubscribes', async (t) => {
  const a = await listeningGateway(t, A, FAST)
  const b = await listeningGateway(t, B, FAST, { decisionDelayMs: 100 })
  await pairGateways(t, a, b, GRANT)
  for (const provider of ['civil', 'welfare', 'social-insurance']) {
    const res = await b.exchange!.app.inject({ method: 'PUT', url: `/admin/providers/${provider}/decisions`, payload: { outcome: 'approved' } })
    t.equal(res.statusCode, 200, res.body)
  }
  const parent = adults[11]!
  const officer = { authorization: `Bearer ${await a.token('officer')}` }
  const body = { registry: 'social', regEventType: 'REGISTER', filterType: 'idtype-value', filter: { type: 'UIN', value: parent.regnum }, notifyRecordType: 'Member', purpose: 'social_protection.eligibility', case: 'CASE-2026-41' }
  const subscribe = (payload: Record<string, unknown>, headers = a.admin) => a.app.inject({ method: 'POST', url: `/v1/partners/${B}/subscriptions`, headers, payload })

  const sent = await subscribe(body)
  t.equal(sent.statusCode, 202, sent.body)
  t.match(sent.json(), { partner: B, registry: 'social', status: 'sent', purpose: 'social_protection.eligibility', case: 'CASE-2026-41', regEventType: 'REGISTER', notifyRecordType: 'Member', subscriptions: [], events: [] })
  t.equal(sent.headers['cache-control'], 'no-store')
  const { transactionId } = sent.json()
  const read = async (query = '') => {
    const res = await a.app.inject({ method: 'GET', url: `/v1/partners/${B}/subscriptions/${transactionId}${query}`, headers: a.admin })
    if (res.statusCode !== 200) throw new Error(`GET the subscription: ${res.statusCode} ${res.body}`)
    return res.json() as Record<string, any>
  }

  // B's on-subscribe comes to A's receiver: the code B gave.
  const answered = await eventually(async () => {
    const view = await read()
    return view.status === 'answered' ? view : undefined
  }, 30_000)
  t.match(answered, { answerStatus: 'succ', subscriptions: [{ status: 'subscribe' }], events: [] })
  const { rows: atB } = await b.app.db.query<{ code: string, status: string }>('SELECT code, status FROM dci_subscriptions WHERE partner_id = $1', [A])
  t.same(answered.subscriptions, [{ code: atB[0]!.code, status: 'subscribe' }], 'the code B holds the subscription under')

  // The subscription is in A's audit log, before it left: the admin's, naming B, no citizen.
  const audit = await a.app.inject({ method: 'GET', url: '/v1/admin/audit?type=citizen_lookup', headers: a.admin })
  const audited = audit.json().records.filter((r: { details: { channel?: string, action?: string } | null }) => r.details?.channel === 'dci-outbound' && r.details.action === 'subscribe')
  t.equal(audited.length, 1, audit.body)
  t.match(audited[0], { purpose: 'social_protection.eligibility', caseRef: 'CASE-2026-41', citizen: parent.regnum, sourcesAsked: [`dci:${B}`], details: { partner: B, regEventType: 'REGISTER', transactionId } }, 'a subscription to one person\'s events is in that person\'s history')

  // The parent applies on B for the newborn package; the child-money enrolment is notified to A.
  await submitNewborn(t, b, parent, newbornForm)
  const notified = await eventually(async () => {
    const view = await read()
    return view.events.length > 0 ? view : undefined
  }, 60_000)
  const [event] = notified.events
  t.match(event, { messageId: String, receivedAt: String })
  t.match(event.items[0], { reference_id: String, data: { reg_event_type: 'REGISTER', reg_record_type: 'Member', reg_records: { member_identifier: [{ identifier_value: parent.regnum }] } } })
  t.same(loadDciSpec('social').validateAt('/components/schemas/NotifyEventRequest/properties/notify_event', event.items), [], 'the items as B sent them')
  t.notOk('nextBefore' in notified, 'one page')
  t.same((await read(`?before=${event.id as number}`)).events, [], 'nothing older')

  // Refused: what matches nothing A sent B.
  const post = (path: string, payload: unknown) => a.app.inject({ method: 'POST', url: `/dci/receiver/registry/${path}`, payload: payload as object })
  const refused = async (what: string, res: Awaited<ReturnType<typeof post>>) => {
    t.equal(res.statusCode, 400, `${what}: ${res.body}`)
    t.equal(res.json().errors?.[0]?.code, 'err.request.bad', what)
  }
  const eventItem = (referenceId: string) => ({ reference_id: referenceId, timestamp: new Date().toISOString(), data: { version: '1.0.0', reg_type: 'ns:org:RegistryType:Social', reg_event_type: 'REGISTER', reg_record_type: 'Member', reg_records: {} } })
  await refused('an on-subscribe for a subscribe A never sent', await post('on-subscribe', fromB(b, 'on-subscribe', { transaction_id: randomUUID(), correlation_id: 'c-1', subscribe_response: [{ reference_id: 'r-1', timestamp: new Date().toISOString(), status: 'succ', subscriptions: [] }] })))
  await refused('an on-subscribe again for an answered subscribe', await post('on-subscribe', fromB(b, 'on-subscribe', { transaction_id: transactionId, correlation_id: 'c-2', subscribe_response: [{ reference_id: 'r-1', timestamp: new Date().toISOString(), status: 'succ', subscriptions: [] }] })))
  await refused('an on-search for a subscribe\'s transaction', await post('on-search', fromB(b, 'on-search', { transaction_id: transactionId, correlation_id: 'c-3', search_response: [] })))
  await refused('a notify for no subscription of A\'s', await post('notify', fromB(b, 'notify', { transaction_id: randomUUID(), notify_event: [eventItem(randomUUID())] })))
  const referenceId = event.items[0].reference_id as string
  await refused('a notify naming A\'s subscription and another', await post('notify', fromB(b, 'notify', { transaction_id: randomUUID(), notify_event: [eventItem(referenceId), eventItem(randomUUID())] })))
  t.equal((await read()).events.length, 1, 'nothing refused was kept')
  // A notify taken while the subscription runs (re-delivered below, once it has ended).
  const early = fromB(b, 'notify', { transaction_id: randomUUID(), notify_event: [eventItem(referenceId)] })
  const earlyAck = await post('notify', early)
  t.equal(earlyAck.statusCode, 200, earlyAck.body)

  // Admins only; bad bodies are problems naming the field.
  t.equal((await subscribe(body, officer)).statusCode, 403, 'an officer may not subscribe')
  t.equal((await a.app.inject({ method: 'GET', url: `/v1/partners/${B}/subscriptions/${transactionId}`, headers: officer })).statusCode, 403, 'nor read one')
  t.equal((await a.app.inject({ method: 'DELETE', url: `/v1/partners/${B}/subscriptions/${transactionId}`, headers: officer })).statusCode, 403, 'nor end one')
  const invalid = async (what: string, payload: Record<string, unknown>, pointer: string, status = 400) => {
    const res = await subscribe(payload)
    t.equal(res.statusCode, status, `${what}: ${res.body}`)
    t.match(res.headers['content-type'], /application\/problem\+json/)
    t.ok(res.json().errors?.some((e: { pointer: string }) => e.pointer === pointer), `${what} names ${pointer}: ${res.body}`)
  }
  const { filterType: _, ...noFilterType } = body
  await invalid('no filterType', noFilterType, '/filterType')
  await invalid('an unknown filterType', { ...body, filterType: 'graphql' }, '/filterType')
  await invalid('a record type of another registry', { ...body, notifyRecordType: 'Person' }, '/notifyRecordType')
  await invalid('an unknown purpose', { ...body, purpose: 'marketing' }, '/purpose')
  await invalid('a purpose for another registry', { ...body, purpose: 'vital_events.follow_up' }, '/purpose', 403)
  await invalid('a list as an idtype-value filter', { ...body, filter: [{ type: 'UIN' }] }, '/filter')
  await invalid('a filter that is a string', { ...body, filter: 'UIN' }, '/filter')
  await invalid('a predicate without its expression', { ...body, filterType: 'predicate', filter: [{ seq_num: 1 }] }, '/filter/0/expression1')
  await invalid('a start that is no timestamp', { ...body, frequency: { start_time: 'soon', end_time: '2026-01-01T00:00:00Z', frequency: '0 0 0 1 * ? *' } }, '/frequency/start_time')
  await invalid('an end before the start', { ...body, frequency: { start_time: '2026-02-01T00:00:00Z', end_time: '2026-01-01T00:00:00Z', frequency: '0 0 0 1 * ? *' } }, '/frequency/end_time')
  await invalid('an unknown field', { ...body, extra: 1 }, '/extra')
  t.equal((await a.app.inject({ method: 'POST', url: '/v1/partners/nobody.example/subscriptions', headers: a.admin, payload: body })).statusCode, 404, 'an unknown partner')
  t.equal((await a.app.inject({ method: 'GET', url: `/v1/partners/${B}/subscriptions/${randomUUID()}`, headers: a.admin })).statusCode, 404, 'an unknown subscription')
  t.equal((await a.app.inject({ method: 'GET', url: `/v1/partners/${B}/searches/${transactionId}`, headers: a.admin })).statusCode, 404, 'a subscription is not a look-up')

  // A ends it: B's on-unsubscribe comes to A; the subscription reads as ended, and B notifies no more.
  const ended = await a.app.inject({ method: 'DELETE', url: `/v1/partners/${B}/subscriptions/${transactionId}`, headers: a.admin })
  t.equal(ended.statusCode, 202, ended.body)
  t.match(ended.json(), { status: 'answered', unsubscribe: { status: 'sent' } })
  const unsubscribed = await eventually(async () => {
    const view = await read()
    return view.status === 'unsubscribed' ? view : undefined
  }, 30_000)
  t.match(unsubscribed, { subscriptions: [{ code: atB[0]!.code, status: 'unsubscribe' }], unsubscribe: { status: 'answered', answerStatus: 'succ' } })
  t.equal(unsubscribed.events.length, 2, 'what was notified is still there')
  t.equal((await b.app.db.query<{ status: string }>('SELECT status FROM dci_subscriptions WHERE code = $1', [atB[0]!.code])).rows[0]!.status, 'unsubscribe', 'ended at B')
  await refused('a notify for the ended subscription', await post('notify', fromB(b, 'notify', { transaction_id: randomUUID(), notify_event: [eventItem(referenceId)] })))
  t.equal((await post('notify', early)).body, earlyAck.body, 'a notify taken before the end, re-delivered after it: the same ACK')
  const again = await a.app.inject({ method: 'DELETE', url: `/v1/partners/${B}/subscriptions/${transactionId}`, headers: a.admin })
  t.equal(again.statusCode, 409, again.body)

  // The retention lets events go with the time; the ended subscription too.
  await a.app.db.query("UPDATE dci_outbound_events SET received_at = now() - interval '40 days'")
  await a.app.db.query("UPDATE dci_outbound SET updated_at = now() - interval '40 days' WHERE transaction_id = $1", [transactionId])
  t.ok(await a.app.dci.outbound.expire(30) >= 2)
  t.equal((await a.app.db.query('SELECT 1 FROM dci_outbound_events')).rows.length, 0, 'the events are gone')
  t.equal((await a.app.inject({ method: 'GET', url: `/v1/partners/${B}/subscriptions/${transactionId}`, headers: a.admin })).statusCode, 404, 'and the ended subscription')
})

t.test('a running subscription outlives the retention period; its events do not', async (t) => {
  const a = await listeningGateway(t, A, FAST)
  const b = await listeningGateway(t, B, FAST)
  await pairGateways(t, a, b, GRANT)
  const sent = await a.app.inject({
    method: 'POST',
    url: `/v1/partners/${B}/subscriptions`,
    headers: a.admin,
    payload: { regEventType: 'REGISTER', filterType: 'predicate', filter: [{ seq_num: 1, expression1: { attribute_name: 'admin_unit', operator: 'eq', attribute_value: '11' } }], notifyRecordType: 'SRPerson', purpose: 'social_protection.eligibility', case: 'CASE-2026-42' },
  })
  t.equal(sent.statusCode, 202, sent.body)
  const { transactionId } = sent.json()
  const read = () => a.app.inject({ method: 'GET', url: `/v1/partners/${B}/subscriptions/${transactionId}`, headers: a.admin })
  const answered = await eventually(async () => (await read()).json().status === 'answered' || undefined, 30_000)
  t.ok(answered)
  t.equal((await read()).json().answerStatus, 'succ', (await read()).body)

  // B notifies (signed by B, for A's subscription): kept; then older than the retention.
  const { rows: [row] } = await a.app.db.query<{ reference_id: string }>('SELECT reference_id FROM dci_outbound WHERE transaction_id = $1', [transactionId])
  const notify = fromB(b, 'notify', { transaction_id: randomUUID(), notify_event: [{ reference_id: row!.reference_id, timestamp: new Date().toISOString(), data: { version: '1.0.0', reg_type: 'ns:org:RegistryType:Social', reg_event_type: 'REGISTER', reg_record_type: 'SRPerson', reg_records: {} } }] })
  const taken = await a.app.inject({ method: 'POST', url: '/dci/receiver/registry/notify', payload: notify })
  t.equal(taken.statusCode, 200, taken.body)
  t.equal((await a.app.inject({ method: 'POST', url: '/dci/receiver/registry/notify', payload: notify })).body, taken.body, 'a re-delivery: the same ACK')
  t.equal((await read()).json().events.length, 1, 'kept once')
  await a.app.db.query("UPDATE dci_outbound_events SET received_at = now() - interval '40 days'")
  await a.app.db.query("UPDATE dci_outbound SET updated_at = now() - interval '40 days'")
  await a.app.dci.outbound.expire(30)
  const after = await read()
  t.equal(after.statusCode, 200, 'the running subscription is kept')
  t.same(after.json().events, [], 'its events are gone')
})

t.test('births subscribed at gateway B\'s CRVS registry reach A as notifies of the CRVS API', async (t) => {
  const a = await listeningGateway(t, A, FAST)
  const b = await listeningGateway(t, B, FAST, { decisionDelayMs: 100 })
  const { clientSecret, partner } = await pairGateways(t, a, b, { purposes: ['vital_events.follow_up'], recordTypes: ['Person'] })
  // B's CRVS registry is the one A now speaks to.
  const moved = await a.app.inject({
    method: 'PUT',
    url: `/v1/admin/partners/${B}`,
    headers: a.admin,
    payload: { name: partner.name, jwks: partner.jwks, purposes: partner.purposes, recordTypes: partner.recordTypes, registry: { url: `${b.base}/dci/crvs`, tokenUrl: `${b.base}/oauth2/client/token`, clientId: A, clientSecret } },
  })
  t.equal(moved.statusCode, 200, moved.body)
  for (const provider of ['civil', 'welfare', 'social-insurance']) {
    t.equal((await b.exchange!.app.inject({ method: 'PUT', url: `/admin/providers/${provider}/decisions`, payload: { outcome: 'approved' } })).statusCode, 200)
  }
  const birthUnit = String(newbornForm.birthUnit)
  const sent = await a.app.inject({
    method: 'POST',
    url: `/v1/partners/${B}/subscriptions`,
    headers: a.admin,
    payload: { registry: 'crvs', regEventType: 'spdci-common:RegistryEventType:LiveBirth', filterType: 'predicate', filter: [{ seq_num: 1, expression1: { attribute_name: 'admin_unit', operator: 'eq', attribute_value: birthUnit.slice(0, 2) } }], notifyRecordType: 'Person', purpose: 'vital_events.follow_up', case: 'CASE-2026-43' },
  })
  t.equal(sent.statusCode, 202, sent.body)
  const { transactionId } = sent.json()
  const read = async () => (await a.app.inject({ method: 'GET', url: `/v1/partners/${B}/subscriptions/${transactionId}`, headers: a.admin })).json() as Record<string, any>
  const answered = await eventually(async () => {
    const view = await read()
    return view.status === 'answered' ? view : undefined
  }, 30_000)
  t.match(answered, { registry: 'crvs', answerStatus: 'succ', subscriptions: [{ code: String, status: 'subscribe' }] })

  const parent = adults[12]!
  await submitNewborn(t, b, parent, newbornForm)
  const notified = await eventually(async () => {
    const view = await read()
    return view.events.length > 0 ? view : undefined
  }, 60_000)
  t.match(notified.events[0].items[0].data, {
    reg_type: 'ns:org:RegistryType:Civil',
    reg_event_type: 'spdci-common:RegistryEventType:LiveBirth',
    reg_record_type: 'Person',
    reg_records: { birth_place: birthUnit, parent: [{ identifier: [{ identifier_value: parent.regnum }] }] },
  })
})
