import t from 'tap'
import { createAuditLog } from '../../src/audit/log.ts'
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
