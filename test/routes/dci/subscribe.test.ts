import t from 'tap'
import { randomUUID } from 'node:crypto'
import { buildSeedDocument } from '../../../src/catalogue/seed.ts'
import { createEventFeed } from '../../../src/dci/events.ts'
import { verifyDciMessage } from '../../../src/dci/signature.ts'
import { loadDciSpec, type DciRegistry } from '../../../src/dci/spec.ts'
import { generatePopulation, type Citizen } from '../../../src/exchange/index.ts'
import { dciSetup, PARTNER, partnerReceiver, submitNewborn } from '../../helpers/dci.ts'
import { eventually } from '../../helpers/eventually.ts'

// Subscriptions of the DCI face: births, deaths, marriages and welfare
// enrolments notified from the agencies' approvals through the bus, each
// notify signed, spec-valid, audited, and sent once.

const adults = generatePopulation({ citizens: 500 }).livingAdults() as Citizen[]
const seed = buildSeedDocument()
const newbornForm = (seed.services.find((s) => s.code === 'package.newborn')!.formSchema.examples as Array<Record<string, unknown>>)[0]!
const GRANT = { purposes: ['vital_events.follow_up', 'social_protection.eligibility'], recordTypes: ['SRPerson', 'Member', 'Person'] }
// Fast delivery and decisions, and the per-partner message limit lifted (statuses are polled).
const FAST = { DELIVERY_BACKOFF_BASE_MS: '20', DELIVERY_BACKOFF_MAX_MS: '100', OUTBOX_POLL_MS: '50', DECISION_POLL_MS: '50', DCI_EVENTS_POLL_MS: '50', CALLBACK_BACKOFF_BASE_MS: '10', CALLBACK_BACKOFF_MAX_MS: '50', DCI_MESSAGES_PER_MINUTE: '100000' }

type Setup = Awaited<ReturnType<typeof dciSetup>>

function subscribeItem (criteria: Record<string, unknown>) {
  return { reference_id: randomUUID(), timestamp: new Date().toISOString(), subscribe_criteria: criteria }
}
const unitIs = (unit: string) => [{ seq_num: 1, expression1: { attribute_name: 'admin_unit', operator: 'eq', attribute_value: unit } }]

async function subscribe (ctx: Setup, registry: DciRegistry, items: unknown[]) {
  const request = ctx.signed('subscribe', { transaction_id: randomUUID().slice(0, 20), subscribe_request: items }, items.length)
  t.same(loadDciSpec(registry).validateRequest('/registry/subscribe', request), [], 'the test sends a spec-valid subscribe')
  const res = await ctx.app.inject({ method: 'POST', url: `/dci/${registry}/registry/subscribe`, headers: ctx.bearer, payload: request })
  t.equal(res.statusCode, 200, res.body)
  t.same(loadDciSpec(registry).validateResponse('/registry/subscribe', res.json()), [], 'a spec-valid ACK')
  t.equal(res.json().message.ack_status, 'ACK', res.body)
  return { request, correlationId: res.json().message.correlation_id as string }
}

// The signed message the partner received at `path` for this correlation id (or transaction id).
async function receivedAt (receiver: Awaited<ReturnType<typeof partnerReceiver>>, ctx: Setup, registry: DciRegistry, path: string, match: (body: Record<string, any>) => boolean) {
  const got = await eventually(async () => receiver.at(path).find((r) => match(r.body)), 30_000)
  const body = got.body
  t.same(loadDciSpec(registry).validateRequest(path, body), [], `a spec-valid ${path}`)
  t.ok(verifyDciMessage({ signature: body.signature, header: body.header, message: body.message, keys: ctx.gatewayKeys, expectedSenderId: 'oss-gateway.mn' }).ok, `${path} is signed with a key of /.well-known/jwks.json`)
  t.equal(body.header.receiver_id, PARTNER)
  return body
}

t.test('births, and enrolments, subscribed on both registries are notified when the agencies approve a newborn package\'s parts', async (t) => {
  const receiver = await partnerReceiver(t)
  const ctx = await dciSetup(t, { ...GRANT, callbackUrl: receiver.base }, FAST, { decisionDelayMs: 100 })
  const { app, exchange, token } = ctx
  for (const provider of ['civil', 'welfare', 'social-insurance']) {
    const res = await exchange!.app.inject({ method: 'PUT', url: `/admin/providers/${provider}/decisions`, payload: { outcome: 'approved' } })
    t.equal(res.statusCode, 200, res.body)
  }
  const parent = adults[3]!
  const birthUnit = String(newbornForm.birthUnit)

  // CRVS: births in the birth's aimag; and births elsewhere (never notified here).
  const crvs = await subscribe(ctx, 'crvs', [
    subscribeItem({ reg_event_type: 'spdci-common:RegistryEventType:LiveBirth', filter_type: 'predicate', filter: unitIs(birthUnit.slice(0, 2)), notify_record_type: 'spdci-extensions-dci:Person', authorize: { purpose: { code: 'vital_events.follow_up' } } }),
    subscribeItem({ reg_event_type: 'LiveBirth', filter_type: 'predicate', filter: unitIs(birthUnit.startsWith('11') ? '62' : '11'), notify_record_type: 'Person', authorize: { purpose: { code: 'vital_events.follow_up' } } }),
  ])
  // Social Registry: the newborn as a new household member, and the parent's enrolments.
  const social = await subscribe(ctx, 'social', [
    subscribeItem({ reg_event_type: 'NewHouseHoldMember', filter_type: 'idtype-value', filter: { type: 'UIN', value: parent.regnum }, notify_record_type: 'Member', authorize: { purpose: { code: 'social_protection.eligibility' } } }),
    subscribeItem({ reg_event_type: 'REGISTER', filter_type: 'expression', filter: { type: 'ns:org:QueryType:expression', value: { expression: { query: { UIN: { $eq: parent.regnum } } } } }, notify_record_type: 'Member', authorize: { purpose: { code: 'social_protection.eligibility' } } }),
  ])
  const onCrvs = await receivedAt(receiver, ctx, 'crvs', '/registry/on-subscribe', (b) => b.message.correlation_id === crvs.correlationId)
  t.match(onCrvs.header, { action: 'on-subscribe', status: 'succ', total_count: 2 })
  t.equal(onCrvs.message.transaction_id, crvs.request.message.transaction_id)
  const [births, elsewhere] = onCrvs.message.subscribe_response
  t.match(births, { status: 'succ', subscriptions: [{ status: 'subscribe', reg_event_type: 'spdci-common:RegistryEventType:LiveBirth', notify_record_type: 'spdci-extensions-dci:Person' }] })
  t.match(elsewhere, { status: 'succ' })
  const onSocial = await receivedAt(receiver, ctx, 'social', '/registry/on-subscribe', (b) => b.message.correlation_id === social.correlationId)
  t.same(onSocial.message.subscribe_response.map((i: { status: string }) => i.status), ['succ', 'succ'])

  const packageId = await submitNewborn(t, ctx, parent, newbornForm)
  const birthPart = await eventually(async () => (await app.db.query<{ result: { regnum: string } | null }>(
    "SELECT result FROM applications WHERE package_id = $1 AND service = 'civil.birth-registration' AND decision = 'approved'", [packageId])).rows[0]?.result ?? undefined, 30_000)
  const newborn = birthPart.regnum

  const birthCode = births.subscriptions[0].code
  const notified = await receivedAt(receiver, ctx, 'crvs', '/registry/notify', (b) => b.message.notify_event[0].reference_id === births.reference_id)
  t.match(notified.header, { action: 'notify', status: 'succ', sender_id: 'oss-gateway.mn' })
  t.match(notified.message.notify_event[0].data, {
    reg_type: 'ns:org:RegistryType:Civil',
    reg_event_type: 'spdci-common:RegistryEventType:LiveBirth',
    reg_record_type: 'Person',
    reg_records: { identifier: [{ identifier_type: 'UIN', identifier_value: newborn }], name: { given_name: newbornForm.childGivenName }, sex: newbornForm.sex, birth_date: newbornForm.birthDate, birth_place: birthUnit, parent: [{ identifier: [{ identifier_value: parent.regnum }] }] },
  })
  const member = await receivedAt(receiver, ctx, 'social', '/registry/notify', (b) => b.message.notify_event[0].data.reg_event_type === 'NewHouseHoldMember')
  t.match(member.message.notify_event[0].data, { reg_type: 'ns:org:RegistryType:Social', reg_record_type: 'Member', reg_records: { member_identifier: [{ identifier_value: newborn }] } })
  const enrolled = await receivedAt(receiver, ctx, 'social', '/registry/notify', (b) => b.message.notify_event[0].data.reg_event_type === 'REGISTER')
  t.match(enrolled.message.notify_event[0].data.reg_records, { member_identifier: [{ identifier_value: parent.regnum }], additional_attributes: [{ name: 'welfare_enrolments', value: [{ programme_code: 'welfare.child-money', status: 'active' }] }] })

  // Once each: the feed has walked past every decision of the package, and
  // only the three subscriptions that match were notified, once.
  await eventually(async () => (await app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM applications WHERE package_id = $1 AND status = 'decided'", [packageId])).rows[0]!.n === 3 || undefined, 30_000)
  const { rows: [last] } = await app.db.query<{ xid: string }>("SELECT max(e.xid)::text AS xid FROM application_events e JOIN applications a ON a.id = e.application_id WHERE a.package_id = $1 AND e.status = 'decided'", [packageId])
  await eventually(async () => (await app.db.query<{ past: boolean }>('SELECT event_xid > $1::xid8 AS past FROM dci_event_cursor', [last!.xid])).rows[0]!.past || undefined, 30_000)
  const { rows: notifies } = await app.db.query<{ code: string, n: number }>("SELECT correlation_id AS code, count(*)::int AS n FROM dci_transactions WHERE action = 'notify' GROUP BY correlation_id ORDER BY 1")
  t.equal(notifies.length, 3, 'three subscriptions matched')
  t.ok(notifies.every((n) => n.n === 1), 'each notified once')
  t.notOk(notifies.some((n) => n.code === elsewhere.subscriptions[0].code), 'births elsewhere were not notified')
  t.ok(notifies.some((n) => n.code === birthCode))
  await eventually(async () => receiver.at('/registry/notify').length >= 3 || undefined, 30_000)
  t.equal(receiver.at('/registry/notify').length, 3, 'the partner received each notify once')

  // The record left only after it was audited; the newborn's parent sees the partner in the tracker.
  const { rows: audited } = await app.db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_log WHERE citizen = $1 AND actor = $2 AND result = 'ok'", [newborn, `partner:${PARTNER}`])
  t.equal(audited[0]!.n, 2, 'the newborn\'s record was audited for each notify that carried it')
  const seen = await app.inject({ method: 'GET', url: '/v1/me/data-access?lang=en', headers: { authorization: `Bearer ${await token('citizen', { claims: { sub: parent.regnum } })}` } })
  t.equal(seen.statusCode, 200, seen.body)
  t.ok(seen.json().accesses.some((a: { partner?: { id: string }, purpose: string }) => a.partner?.id === PARTNER && a.purpose === 'social_protection.eligibility'), 'the parent sees the enrolment notify')
})

t.test('with a frequency, the events wait for the time its cron names and leave together in one notify', async (t) => {
  const receiver = await partnerReceiver(t)
  const ctx = await dciSetup(t, { ...GRANT, callbackUrl: receiver.base }, FAST, { decisionDelayMs: 100 })
  const { app, exchange } = ctx
  for (const provider of ['civil', 'welfare', 'social-insurance']) {
    t.equal((await exchange!.app.inject({ method: 'PUT', url: `/admin/providers/${provider}/decisions`, payload: { outcome: 'approved' } })).statusCode, 200)
  }
  // Once, at midnight on 1 January 2099 in Ulaanbaatar (16:00 UTC the day before).
  const sent = await subscribe(ctx, 'social', [subscribeItem({
    reg_event_type: 'REGISTER',
    frequency: { start_time: '2026-01-01T00:00:00Z', end_time: '2099-12-31T00:00:00Z', frequency: '0 0 0 1 1 ? 2099' },
    filter_type: 'predicate',
    filter: [{ seq_num: 1, expression1: { attribute_name: 'event_date', operator: 'ge', attribute_value: '2000-01-01' } }],
    notify_record_type: 'Member',
    authorize: { purpose: { code: 'social_protection.eligibility' } },
  })])
  const on = await receivedAt(receiver, ctx, 'social', '/registry/on-subscribe', (b) => b.message.correlation_id === sent.correlationId)
  const code = on.message.subscribe_response[0].subscriptions[0].code as string

  // Two newborn packages, each with a child-money enrolment.
  const parents = [adults[5]!, adults[6]!]
  for (const parent of parents) await submitNewborn(t, ctx, parent, newbornForm)
  const waiting = await eventually(async () => {
    const { rows } = await app.db.query<{ fire_at: Date }>('SELECT fire_at FROM dci_notify_pending WHERE code = $1', [code])
    return rows.length === 2 ? rows : undefined
  }, 60_000)
  t.same(waiting.map((r) => new Date(r.fire_at).toISOString()), ['2098-12-31T16:00:00.000Z', '2098-12-31T16:00:00.000Z'])
  t.equal((await app.db.query("SELECT 1 FROM dci_transactions WHERE action = 'notify' AND correlation_id = $1", [code])).rows.length, 0, 'nothing is notified before then')

  // That time comes (an injected clock): one notify, both enrolments.
  const feed = createEventFeed({ db: app.db, policy: app.dci.policy, batchSize: 100, maxEventsPerNotify: 10, now: () => Date.parse('2099-01-01T00:00:00+08:00') })
  t.equal(await feed.flushDue(), 1)
  t.equal(await feed.flushDue(), 0, 'taken once')
  const notified = await receivedAt(receiver, ctx, 'social', '/registry/notify', (b) => b.message.notify_event[0].reference_id === on.message.subscribe_response[0].reference_id)
  t.match(notified.header, { action: 'notify', total_count: 2, completed_count: 2 })
  t.same(notified.message.notify_event.map((e: { data: { reg_records: { member_identifier: Array<{ identifier_value: string }> } } }) => e.data.reg_records.member_identifier[0]!.identifier_value).sort(), parents.map((p) => p.regnum).sort())
  t.equal((await app.db.query('SELECT 1 FROM dci_notify_pending WHERE code = $1', [code])).rows.length, 0)

  // More events than a notify may carry leave as several.
  const { rows: [batch] } = await app.db.query<{ request: string }>("SELECT request FROM dci_transactions WHERE action = 'notify' AND correlation_id = $1", [code])
  const events = JSON.parse(batch!.request).events as unknown[]
  for (const [i, e] of events.entries()) {
    await app.db.query("INSERT INTO dci_notify_pending (code, event_id, partner_id, registry, event_type, fire_at, event) VALUES ($1, $2, $3, 'social', 'REGISTER', '2098-12-31T16:00:00Z', $4)", [code, String(900000 + i), PARTNER, JSON.stringify(e)])
  }
  const oneByOne = createEventFeed({ db: app.db, policy: app.dci.policy, batchSize: 100, maxEventsPerNotify: 1, now: () => Date.parse('2099-01-01T00:00:00+08:00') })
  t.equal(await oneByOne.flushDue(), 2)
  const singles = await eventually(async () => {
    const got = receiver.at('/registry/notify').filter((r) => r.body.message.notify_event[0].reference_id === on.message.subscribe_response[0].reference_id)
    return got.length === 3 ? got : undefined
  }, 30_000)
  t.same(singles.map((r) => r.body.message.notify_event.length).sort(), [1, 1, 2])

  // Events waiting for a subscription that ends are dropped with it.
  await app.db.query("INSERT INTO dci_notify_pending (code, event_id, partner_id, registry, event_type, fire_at, event) VALUES ($1, '999999', $2, 'social', 'REGISTER', '2099-01-01T00:00:00Z', '{}')", [code, PARTNER])
  t.same(await app.dci.subscriptions.unsubscribe(PARTNER, [code]), [code])
  t.equal((await app.db.query('SELECT 1 FROM dci_notify_pending WHERE code = $1', [code])).rows.length, 0)
})

t.test('refused subscriptions get the spec\'s reason codes; a purpose not granted is audited; unsubscribe; txn status sync and async', async (t) => {
  const receiver = await partnerReceiver(t)
  const ctx = await dciSetup(t, { purposes: ['vital_events.follow_up'], recordTypes: ['Person'], callbackUrl: receiver.base }, FAST)
  const { app } = ctx
  const person = (extra: Record<string, unknown>) => subscribeItem({ reg_event_type: 'Death', filter_type: 'idtype-value', filter: { type: 'admin_unit', value: '11' }, notify_record_type: 'Person', ...extra })
  const items = [
    person({}),
    person({ reg_event_type: 'Divorce' }),
    person({ notify_record_type: 'Group' }),
    person({ authorize: { purpose: { code: 'social_protection.eligibility' } } }),
    person({ filter: { type: 'MOBILE', value: '99112233' } }),
    person({ filter_type: 'predicate', filter: [{ seq_num: 1, expression1: { attribute_name: 'admin_unit', operator: 'gt', attribute_value: '11' } }] }),
    person({ frequency: { start_time: '2026-12-01T00:00:00Z', end_time: '2026-01-01T00:00:00Z', frequency: '0 0 0 * * ? *' } }),
    person({ frequency: { start_time: '2026-01-01T00:00:00Z', end_time: '2030-01-01T00:00:00Z', frequency: 'every day at noon' } }),
  ]
  const sent = await subscribe(ctx, 'crvs', items)
  const answer = await receivedAt(receiver, ctx, 'crvs', '/registry/on-subscribe', (b) => b.message.correlation_id === sent.correlationId)
  const reasons = answer.message.subscribe_response.map((i: { status: string, status_reason_code?: string }) => i.status_reason_code ?? i.status)
  t.same(reasons, ['succ', 'rjct.notify_types.invalid', 'rjct.notify_types.invalid', 'rjct.notify_types.invalid', 'rjct.notify_details.invalid', 'rjct.notify_details.invalid', 'rjct.notify_details.invalid', 'rjct.notify_details.invalid'])
  t.match(answer.message.subscribe_response[7].status_reason_message, /cron/)
  const code = answer.message.subscribe_response[0].subscriptions[0].code as string
  const { rows: denied } = await app.db.query<{ details: Record<string, unknown> }>("SELECT details FROM audit_log WHERE actor = $1 AND result = 'denied'", [`partner:${PARTNER}`])
  t.equal(denied.length, 1, 'the purpose not granted is audited as denied')
  t.match(denied[0]!.details, { channel: 'dci', action: 'subscribe', reason: /not granted/ })

  // The same subscription again.
  const again = await subscribe(ctx, 'crvs', [person({})])
  const twice = await receivedAt(receiver, ctx, 'crvs', '/registry/on-subscribe', (b) => b.message.correlation_id === again.correlationId)
  t.match(twice.message.subscribe_response[0], { status: 'rjct', status_reason_code: 'rjct.event.already_subscribed', status_reason_message: new RegExp(code) })

  // Its status, sync, by subscription code (CRVS) and by transaction id.
  const status = async (path: string, attributeType: string, value: unknown) => {
    const request = ctx.signed('txn-status', { transaction_id: randomUUID().slice(0, 20), txnstatus_request: { reference_id: 'S-1', txn_type: 'subscribe', attribute_type: attributeType, attribute_value: value } }, 1)
    t.same(loadDciSpec('crvs').validateRequest(path, request), [], `a spec-valid ${path} request`)
    return app.inject({ method: 'POST', url: `/dci/crvs${path}`, headers: ctx.bearer, payload: request })
  }
  const byCode = await status('/registry/sync/txn/status', 'subscription_code_list', [code])
  t.equal(byCode.statusCode, 200, byCode.body)
  t.same(loadDciSpec('crvs').validateResponse('/registry/sync/txn/status', byCode.json()), [], 'a spec-valid status')
  t.match(byCode.json().message.txnstatus_response, { txn_type: 'subscribe', txn_status: { transaction_id: sent.request.message.transaction_id, subscribe_response: [{ status: 'succ', subscriptions: [{ code }] }] } })
  // Async: ACK now, txn/on-status at the partner's callback.
  const asked = await status('/registry/txn/status', 'transaction_id', sent.request.message.transaction_id)
  t.equal(asked.json().message.ack_status, 'ACK', asked.body)
  const onStatus = await receivedAt(receiver, ctx, 'crvs', '/registry/txn/on-status', (b) => b.message.txnstatus_response.txn_type === 'subscribe')
  t.match(onStatus.header, { action: 'txn-on-status', status: 'succ' })
  t.match(onStatus.message.txnstatus_response.txn_status, { subscribe_response: [{ subscriptions: [{ code }] }] })

  // Unsubscribe: an unknown code ends nothing; then the code; then again.
  const unsubscribe = async (codes: string[]) => {
    const request = ctx.signed('unsubscribe', { transaction_id: randomUUID().slice(0, 20), timestamp: new Date().toISOString(), subscription_codes: codes }, codes.length)
    t.same(loadDciSpec('crvs').validateRequest('/registry/unsubscribe', request), [], 'a spec-valid unsubscribe')
    const res = await app.inject({ method: 'POST', url: '/dci/crvs/registry/unsubscribe', headers: ctx.bearer, payload: request })
    t.equal(res.json().message.ack_status, 'ACK', res.body)
    return (await receivedAt(receiver, ctx, 'crvs', '/registry/on-unsubscribe', (b) => b.message.correlation_id === res.json().message.correlation_id)).message
  }
  t.match(await unsubscribe([code, 'no-such-code']), { status: 'rjct', status_reason_code: 'rjct.subscription_code.invalid' })
  t.equal((await app.db.query<{ status: string }>('SELECT status FROM dci_subscriptions WHERE code = $1', [code])).rows[0]!.status, 'subscribe', 'nothing was ended')
  t.match(await unsubscribe([code]), { status: 'succ', subscription_status: [{ code, status: 'unsubscribe' }] })
  t.match(await unsubscribe([code]), { status: 'rjct', status_reason_code: 'rjct.event.already_unsubscribed' })
})

t.test('every path of both registries refuses a missing token, a bad signature, a schema-invalid body and a used message id with the spec\'s codes', async (t) => {
  const ctx = await dciSetup(t, GRANT, { DCI_MESSAGES_PER_MINUTE: '100000' })
  const { app, bearer, signed } = ctx
  const bodies: Record<string, { action: string, message: () => Record<string, unknown>, total: number }> = {
    '/registry/sync/search': { action: 'search', message: () => ({ transaction_id: 'T-1', search_request: [{ reference_id: 'R-1', timestamp: new Date().toISOString(), search_criteria: { query_type: 'idtype-value', query: { type: 'UIN', value: adults[0]!.regnum } } }] }), total: 1 },
    '/registry/search': { action: 'search', message: () => ({ transaction_id: 'T-1', search_request: [{ reference_id: 'R-1', timestamp: new Date().toISOString(), search_criteria: { query_type: 'idtype-value', query: { type: 'UIN', value: adults[0]!.regnum } } }] }), total: 1 },
    '/registry/subscribe': { action: 'subscribe', message: () => ({ transaction_id: 'T-1', subscribe_request: [subscribeItem({ reg_event_type: 'LiveBirth', filter: { type: 'admin_unit', value: '11' }, notify_record_type: 'Person' })] }), total: 1 },
    '/registry/unsubscribe': { action: 'unsubscribe', message: () => ({ transaction_id: 'T-1', timestamp: new Date().toISOString(), subscription_codes: ['c-1'] }), total: 1 },
    '/registry/txn/status': { action: 'txn-status', message: () => ({ transaction_id: 'T-1', txnstatus_request: { reference_id: 'S-1', txn_type: 'search', attribute_type: 'transaction_id', attribute_value: 'T-0' } }), total: 1 },
    '/registry/sync/txn/status': { action: 'txn-status', message: () => ({ transaction_id: 'T-1', txnstatus_request: { reference_id: 'S-1', txn_type: 'search', attribute_type: 'transaction_id', attribute_value: 'T-0' } }), total: 1 },
  }
  for (const registry of ['social', 'crvs'] as DciRegistry[]) {
    for (const [path, b] of Object.entries(bodies)) {
      const url = `/dci/${registry}${path}`
      const post = (payload: object, headers: Record<string, string> = bearer) => app.inject({ method: 'POST', url, headers, payload })
      const good = signed(b.action, b.message(), b.total)
      t.same(loadDciSpec(registry).validateRequest(path, good), [], `${url}: the good request is spec-valid`)
      const codeOf = (res: { json: () => { errors: Array<{ code: string }> } }) => res.json().errors[0]!.code
      const none = await post(good, {})
      t.equal(none.statusCode, 401, `${url}: no bearer token`)
      const wrong = await post(good, { authorization: 'Bearer not-a-token' })
      t.equal(wrong.statusCode, 401, `${url}: a wrong token`)
      const unsigned = await post(signed(b.action, b.message(), b.total, {}, null))
      t.same([unsigned.statusCode, codeOf(unsigned)], [401, 'err.signature.missing'], `${url}: no signature`)
      const tampered = { ...good, message: { ...good.message, transaction_id: 'T-2' } }
      const bad = await post(tampered)
      t.same([bad.statusCode, codeOf(bad)], [401, 'err.signature.invalid'], `${url}: a signature over another message`)
      const invalid = await post(signed(b.action, { transaction_id: 'T-1' }, b.total))
      t.same([invalid.statusCode, codeOf(invalid)], [400, 'err.request.bad'], `${url}: a schema-invalid body`)
      const first = await post(good)
      t.equal(first.statusCode, 200, first.body)
      t.equal((await post(good)).body, first.body, `${url}: a retry gets the same answer`)
      const reused = await post(signed(b.action, { ...b.message(), transaction_id: 'T-other' }, b.total, { message_id: good.header.message_id }))
      const refusal = reused.json()
      const code = refusal.header?.status_reason_code ?? refusal.message?.error?.message?.split(':')[0]
      t.equal(code, 'rjct.message_id.duplicate', `${url}: another message under a used message_id`)
    }
  }
})
