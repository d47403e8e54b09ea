import t from 'tap'
import { createAuditLog, type AuditRider } from '../../src/audit/log.ts'
import type { AuditEntry } from '../../src/audit/record.ts'
import { buildTestApp } from '../helpers/app.ts'

const entry = (i: number, who: string): AuditEntry => ({
  recordType: 'citizen_lookup', at: new Date(Date.UTC(2026, 10, 30, 8, 0, i)).toISOString(), requestId: `${who}-${i}`, actor: who,
  actorUnit: '8322', actorAgency: 'GOSW', purpose: 'welfare.eligibility', caseRef: `C-${i}`, citizen: 'УБ99032712',
  sourcesAsked: ['civil'], sourcesAnswered: ['civil'], result: 'ok', clientIp: '127.0.0.1', details: i % 3 === 0 ? { n: i } : null,
})

t.test('writers that share the chain head (other processes, catalogue changes in their own transactions) leave one chain', async (tt) => {
  const { app } = await buildTestApp(tt)
  const a = createAuditLog(app.db, { batchWindowMs: 1 })
  const b = createAuditLog(app.db, { batchWindowMs: 1 })
  tt.teardown(() => Promise.all([a.close(), b.close()]))
  // The seed catalogue's publication is already on the chain.
  const before = (await app.audit.verify()).records
  const written = await Promise.all([
    ...Array.from({ length: 60 }, (_, i) => a.append(entry(i, 'a'))),
    ...Array.from({ length: 60 }, (_, i) => b.append(entry(i, 'b'))),
    ...Array.from({ length: 5 }, (_, i) => app.db.transaction((tx) => a.appendWithin(tx, [entry(i, 'tx'), entry(i + 100, 'tx')]))).flat(),
  ])
  const records = written.flat()
  tt.equal(records.length, 130)
  tt.same([...records.map((r) => r.seq)].sort((x, y) => x - y), Array.from({ length: 130 }, (_, i) => before + i + 1), 'every sequence number once')
  const verified = await app.audit.verify()
  tt.equal(verified.ok, true, verified.reason ?? 'verified')
  tt.equal(verified.records, before + 130)
  // What each caller was given is what was stored.
  const stored = await app.audit.query({ limit: 500 })
  const bySeq = new Map(stored.map((r) => [r.seq, r]))
  for (const r of records) tt.equal(bySeq.get(r.seq)?.hash, r.hash)
  tt.same(records.filter((r) => r.details !== null).map((r) => bySeq.get(r.seq)?.details), records.filter((r) => r.details !== null).map((r) => r.details), 'details kept as JSON')
})

t.test('riders: another table\'s rows go in the statement that appends the records, and only with them', async (tt) => {
  const { app } = await buildTestApp(tt)
  await app.db.exec('CREATE TABLE rider_test (k text PRIMARY KEY, v text NOT NULL)')
  const rider: AuditRider<{ k: string, v: string }, boolean> = {
    statement: (items, param, guard) => `INSERT INTO rider_test (k, v) SELECT * FROM unnest(${param(items.map((i) => i.k), 'text[]')}, ${param(items.map((i) => i.v), 'text[]')}) AS x ` +
      `WHERE ${guard} ON CONFLICT DO NOTHING RETURNING k`,
    results: (items, rows) => {
      const written = new Set(rows.map((r) => r.k))
      return items.map((i) => written.delete(i.k))
    },
  }
  // Another writer moves the head meanwhile: groups are chained again, riders written once.
  const a = createAuditLog(app.db, { batchWindowMs: 1 })
  const b = createAuditLog(app.db, { batchWindowMs: 1 })
  tt.teardown(() => Promise.all([a.close(), b.close()]))
  const before = (await app.audit.verify()).records
  const [ridden, plain, alone, again] = await Promise.all([
    Promise.all(Array.from({ length: 40 }, (_, i) => a.appendWith([entry(i, 'a'), entry(i + 100, 'a')], rider, { k: `k${i}`, v: `v${i}` }))),
    Promise.all(Array.from({ length: 40 }, (_, i) => b.append(entry(i, 'b')))),
    a.appendWith([], rider, { k: 'alone', v: 'no records' }),
    b.appendWith([entry(999, 'b')], rider, { k: 'k0', v: 'taken' }),
  ])
  tt.same(ridden.map((r) => r.records.length), Array.from({ length: 40 }, () => 2), 'each caller gets its records')
  tt.same(ridden.map((r) => r.records.map((x) => x.requestId)), Array.from({ length: 40 }, (_, i) => [`a-${i}`, `a-${i + 100}`]), 'in order')
  tt.equal(plain.length, 40)
  tt.same(alone, { records: [], result: true }, 'a rider without records')
  const k0 = ridden[0]!.result ? 'v0' : 'taken'
  tt.equal(ridden[0]!.result, !again.result, 'one of two rows under one key is written')
  tt.equal(again.records.length, 1, 'the records are written though the rider\'s row was not')
  const { rows } = await app.db.query<{ k: string, v: string }>('SELECT k, v FROM rider_test ORDER BY k')
  tt.equal(rows.length, 41)
  tt.equal(rows.find((r) => r.k === 'k0')?.v, k0)
  const verified = await app.audit.verify()
  tt.equal(verified.ok, true, verified.reason ?? 'verified')
  tt.equal(verified.records, before + 80 + 40 + 1)
})

t.test('riders: one whose rows cannot be written fails its caller only; nothing of its is written', async (tt) => {
  const { app } = await buildTestApp(tt)
  await app.db.exec('CREATE TABLE rider_test (k text PRIMARY KEY, v text NOT NULL)')
  const rider: AuditRider<{ k: string, v: string | null }, boolean> = {
    statement: (items, param, guard) => `INSERT INTO rider_test (k, v) SELECT * FROM unnest(${param(items.map((i) => i.k), 'text[]')}, ${param(items.map((i) => i.v), 'text[]')}) AS x ` +
      `WHERE ${guard} ON CONFLICT DO NOTHING RETURNING k`,
    results: (items, rows) => items.map((i) => rows.some((r) => r.k === i.k)),
  }
  const log = createAuditLog(app.db, { batchWindowMs: 5 })
  tt.teardown(() => log.close())
  const before = (await app.audit.verify()).records
  const [good, bad, plain] = await Promise.allSettled([
    log.appendWith([entry(1, 'good')], rider, { k: 'good', v: 'x' }),
    log.appendWith([entry(2, 'bad')], rider, { k: 'bad', v: null }),
    log.append(entry(3, 'plain')),
  ])
  tt.equal(good.status, 'fulfilled')
  tt.equal(plain.status, 'fulfilled')
  tt.equal(bad.status, 'rejected')
  tt.same((await app.db.query<{ k: string }>('SELECT k FROM rider_test')).rows.map((r) => r.k), ['good'])
  const records = await app.audit.query({ limit: 10 })
  tt.same(records.filter((r) => r.seq > before).map((r) => r.requestId).sort(), ['good-1', 'plain-3'], 'the failed rider\'s records are not written')
  tt.equal((await app.audit.verify()).ok, true)
})

t.test('a record\'s canonical JSON is the catalogue\'s canonicalJson, text for text', async (tt) => {
  const { canonicalRecordJson } = await import('../../src/audit/record.ts')
  const { canonicalJson } = await import('../../src/catalogue/document.ts')
  const values: unknown[] = [
    { seq: 1, ...entry(3, 'a') },
    { seq: 2, ...entry(4, 'b'), details: { z: 1, a: [{ y: 2, b: null, c: [1, 'x', { q: true, p: undefined }] }], m: 'УБ"\\\n', when: new Date(0), u: undefined, n: -0, f: 1.5e300 } },
    { b: [[{ d: 1, c: 2 }], []], a: {} },
    [3, { b: 1, a: 2 }, null, undefined],
    'text', 12, null, { toJSON: () => ({ y: 1, x: 2 }) },
  ]
  for (const v of values) tt.equal(canonicalRecordJson(v), canonicalJson(v))
})
