import t from 'tap'
import { createTransactionStore } from '../../src/dci/transactions.ts'
import { buildTestApp } from '../helpers/app.ts'

// No worker: the rows stay as the test leaves them (the relay still queues them).
const ENV = { WORKER: 'off' }
const tx = (messageId: string) => ({ partnerId: 'p1', registry: 'social' as const, action: 'search', messageId, transactionId: `T-${messageId}`, correlationId: `C-${messageId}`, request: JSON.stringify({ search_request: [{ reference_id: `R-${messageId}` }] }) })

t.test('a message id makes one transaction; lookups by transaction, correlation and reference ids', async (t) => {
  const { app } = await buildTestApp(t, { env: ENV })
  const store = createTransactionStore(app.db)
  const first = await store.create(tx('m1'))
  const again = await store.create({ ...tx('m1'), correlationId: 'other' })
  t.equal(first.created, true)
  t.equal(again.created, false)
  t.equal(again.transaction.id, first.transaction.id)
  t.equal(again.transaction.correlationId, 'C-m1', 'the first one\'s correlation id')
  await store.create(tx('m2'))
  t.same((await store.find('p1', 'search', 'transaction_id', 'T-m2')).map((x) => x.messageId), ['m2'])
  t.same((await store.find('p1', 'search', 'correlation_id', 'C-m1')).map((x) => x.messageId), ['m1'])
  t.same((await store.find('p1', 'search', 'reference_id_list', ['R-m2', 'R-none'])).map((x) => x.messageId), ['m2'])
  t.same(await store.find('p2', 'search', 'transaction_id', 'T-m2'), [], 'another partner sees nothing')
})

t.test('expiry drops old message ids and settled transactions, never one still pending', async (t) => {
  const { app } = await buildTestApp(t, { env: ENV })
  const store = createTransactionStore(app.db)
  const settled = (await store.create(tx('old-settled'))).transaction
  const pending = (await store.create(tx('old-pending'))).transaction
  const fresh = (await store.create(tx('fresh'))).transaction
  await store.settle(settled.id, 'sent')
  await app.db.query("UPDATE dci_transactions SET updated_at = now() - interval '40 days' WHERE id = ANY($1::bigint[])", [[settled.id, pending.id]])
  await app.db.query("INSERT INTO dci_messages (sender_id, message_id, digest, received_at) VALUES ('p1', 'old', 'd', now() - interval '40 days'), ('p1', 'new', 'd', now())")
  t.equal(await store.expire(30), 2, 'one message id and one transaction')
  t.equal(await store.get(settled.id), null)
  t.not(await store.get(pending.id), null, 'still to be delivered')
  t.not(await store.get(fresh.id), null)
  const { rows } = await app.db.query<{ message_id: string }>('SELECT message_id FROM dci_messages ORDER BY message_id')
  t.same(rows.map((r) => r.message_id), ['new'])
})
