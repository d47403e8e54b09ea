import t from 'tap'
import { createMessageStore, priorClaim } from '../../src/dci/messages.ts'
import { buildTestApp } from '../helpers/app.ts'

const ENV = { WORKER: 'off' }
const envelope = (messageId: string, action: string, n: number) => ({ header: { message_id: messageId, action }, message: { transaction_id: `T-${n}` } }) as unknown as Parameters<typeof priorClaim>[1]

t.test('a sync answer is recorded with its message id; the same message again replays it, another is a duplicate', async (t) => {
  const { app } = await buildTestApp(t, { env: ENV })
  const store = createMessageStore(app.db)
  const one = envelope('m1', 'search', 1)
  t.same(await store.record('p1', one, 'answer A'), { fresh: true })
  t.same(await store.record('p1', one, 'answer B'), { replay: 'answer A' }, 'the first answer stands')
  t.same(await store.record('p1', envelope('m1', 'search', 2), 'answer C'), { duplicate: true })
  t.same(await store.record('p2', envelope('m1', 'search', 2), 'answer D'), { fresh: true }, 'message ids are per sender')
  // Read on arrival, as the sync routes do.
  const { rows } = await app.db.query<{ digest: string, response: string | null }>("SELECT digest, response FROM dci_messages WHERE sender_id = 'p1' AND message_id = 'm1'")
  t.same(priorClaim(rows[0]!, one), { replay: 'answer A' })
  t.same(priorClaim(rows[0]!, envelope('m1', 'search', 2)), { duplicate: true })
  t.same(priorClaim(null, one), { fresh: true })
})

t.test('a message id claimed but never answered takes the answer recorded for the same message', async (t) => {
  const { app } = await buildTestApp(t, { env: ENV })
  const store = createMessageStore(app.db)
  const one = envelope('m2', 'search', 1)
  t.same(await store.claim('p1', one), { fresh: true })
  t.same(await store.claim('p1', one), { fresh: true }, 'in progress (or failed): answered again')
  t.same(await store.record('p1', one, 'answer A'), { fresh: true })
  t.same(await store.claim('p1', one), { replay: 'answer A' })
  t.same(await store.claim('p1', envelope('m2', 'subscribe', 1)), { duplicate: true }, 'another action under the id')
})

t.test('records of one message at once: one is stored, the others replay it', async (t) => {
  const { app } = await buildTestApp(t, { env: ENV })
  const store = createMessageStore(app.db)
  const one = envelope('m3', 'search', 1)
  const results = await Promise.all(['A', 'B', 'C'].map((x) => store.record('p1', one, `answer ${x}`)))
  t.same(results.filter((r) => 'fresh' in r).length, 1)
  const stored = results.findIndex((r) => 'fresh' in r)
  t.same(results.filter((r) => 'replay' in r), [0, 1, 2].filter((i) => i !== stored).map(() => ({ replay: `answer ${'ABC'[stored]}` })))
})

t.test('recorded with the audit records of its look-ups: in one write, and only with them', async (t) => {
  const { app } = await buildTestApp(t, { env: ENV })
  const store = createMessageStore(app.db, app.audit)
  const lookup = (requestId: string) => ({
    recordType: 'citizen_lookup' as const, at: new Date().toISOString(), requestId, actor: 'partner:p1', actorUnit: null, actorAgency: null, purpose: 'social_protection.eligibility',
    caseRef: 'T-1', citizen: 'УБ99032712', sourcesAsked: ['civil.getIdCard'], sourcesAnswered: ['civil.getIdCard'], result: 'ok', clientIp: null, details: { channel: 'dci' },
  })
  const audited = async (requestId: string) => (await app.audit.query({ limit: 100 })).filter((r) => r.requestId === requestId).length
  const one = envelope('m4', 'search', 1)
  t.same(await store.recordAudited('p1', one, 'answer A', [lookup('r1')]), { fresh: true })
  t.equal(await audited('r1'), 1)
  t.same(await store.recordAudited('p1', one, 'answer B', [lookup('r2')]), { replay: 'answer A' }, 'the first answer stands')
  t.equal(await audited('r2'), 1, 'a look-up made is audited, whatever is answered')
  t.same(await store.recordAudited('p1', envelope('m4', 'search', 2), 'answer C', []), { duplicate: true })
  t.same(await store.recordAudited('p1', envelope('m5', 'search', 1), 'answer D', []), { fresh: true }, 'an answer without look-ups')
  t.same(await store.claim('p1', envelope('m5', 'search', 1)), { replay: 'answer D' })

  // At once, in one group: one is stored, the others replay it.
  const two = envelope('m6', 'search', 1)
  const results = await Promise.all(['A', 'B', 'C'].map((x) => store.recordAudited('p1', two, `answer ${x}`, [lookup(`r6${x}`)])))
  t.same(results.filter((r) => 'fresh' in r).length, 1)
  const stored = results.findIndex((r) => 'fresh' in r)
  t.same(results.filter((r) => 'replay' in r), [0, 1, 2].filter((i) => i !== stored).map(() => ({ replay: `answer ${'ABC'[stored]}` })))

  // Claimed by an async request, never answered: this answer is kept.
  const three = envelope('m7', 'search', 1)
  t.same(await store.claim('p1', three), { fresh: true })
  t.same(await store.recordAudited('p1', three, 'answer E', [lookup('r7')]), { fresh: true })
  t.same(await store.claim('p1', three), { replay: 'answer E' })
  t.equal((await app.audit.verify()).ok, true)
})
