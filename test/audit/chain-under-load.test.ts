import { join } from 'node:path'
import t from 'tap'
import pg from 'pg'
import { ensureDevIssuer } from '../../src/auth/dev-issuer.ts'
import { generatePopulation } from '../../src/exchange/index.ts'
import { spawnServer } from '../helpers/process.ts'
import { dropSchema, TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from '../helpers/services.ts'
import { signTestToken } from '../helpers/tokens.ts'

const SERVER = join(import.meta.dirname, '..', '..', 'src', 'server.ts')
const LOOKUPS = 200
// Every tenth look-up is refused (an agency the purpose is not for): refusals
// go into the same chain, and every run has answers other than 200.
const refused = (i: number) => i % 10 === 9

// What the gateway answers once a look-up's record is written. The bus's
// answer depends on how busy the machine is (each source has 1.5 s), so a
// look-up may come back with data, or with every source timed out or failed
// (an open circuit answers at once): all of them are audited before the
// answer. What may never come back is a look-up that was not recorded
// (AUDIT_UNAVAILABLE) or any other failure.
function audited (i: number, res: { status: number, body: { code?: string, auditSeq?: unknown } }): string | undefined {
  if (refused(i)) return res.status === 403 && res.body.code === 'PURPOSE_FORBIDDEN' ? 'denied' : undefined
  if (res.status === 200 && typeof res.body.auditSeq === 'number') return 'ok'
  if (res.status === 504 && res.body.code === 'ALL_SOURCES_TIMED_OUT') return 'failed'
  if (res.status === 502 && res.body.code === 'ALL_SOURCES_FAILED') return 'failed'
  return undefined
}

t.test('200 look-ups, 40 at a time, through two gateway processes leave one unbroken chain of 200 records', async (tt) => {
  const schema = uniqueName('audit')
  tt.teardown(() => dropSchema(schema))
  const dataDir = tt.testdir()
  await ensureDevIssuer(dataDir)
  const env = {
    PORT: '0',
    DATA_DIR: dataDir,
    DATABASE_URL: TEST_DATABASE_URL,
    DATABASE_SCHEMA: schema,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: `test:${schema}`,
    OFFICER_LOOKUPS_PER_MINUTE: '100000',
    UNIT_LOOKUPS_PER_MINUTE: '100000',
  }
  // Both start together: migrations and the catalogue seed run once between them.
  const servers = [spawnServer(SERVER, env), spawnServer(SERVER, env)]
  tt.teardown(() => { for (const s of servers) s.child.kill('SIGKILL') })
  const urls = await Promise.all(servers.map((s) => s.url))

  const adults = generatePopulation({ citizens: 500 }).livingAdults()
  const officer = (i: number) => ({ claims: { agency: refused(i) ? 'GASR' : 'GOSW', unit: '8322', sub: `officer-${i % 7}` } })
  const tokens = await Promise.all(Array.from({ length: LOOKUPS }, (_, i) => signTestToken(dataDir, 'officer', officer(i))))
  // 40 look-ups in flight at any time, half through each process: concurrent
  // appends to one chain from two processes.
  const responses: Array<{ i: number, status: number, requestId: string | null, body: { code?: string, auditSeq?: number } }> = []
  let next = 0
  await Promise.all(Array.from({ length: 40 }, async () => {
    for (let i = next++; i < LOOKUPS; i = next++) {
      const citizen = adults[i % adults.length]!
      const res = await fetch(`${urls[i % 2]}/v1/citizens/${encodeURIComponent(citizen.regnum)}/civil?purpose=welfare.eligibility&case=LOAD-${i}`, {
        headers: { authorization: `Bearer ${tokens[i]!}` },
      })
      responses.push({ i, status: res.status, requestId: res.headers.get('x-request-id'), body: await res.json() as { auditSeq?: number } })
    }
  }))
  responses.sort((a, b) => a.i - b.i)
  tt.same(responses.filter((r) => audited(r.i, r) === undefined).map((r) => ({ i: r.i, status: r.status, body: r.body })), [],
    'every look-up answered with its data, or with a refusal or failure that was audited')
  const answers: Record<string, number> = {}
  for (const r of responses) {
    const answer = r.body.code === undefined ? String(r.status) : `${r.status} ${r.body.code}`
    answers[answer] = (answers[answer] ?? 0) + 1
  }
  tt.comment('answers:', JSON.stringify(answers))

  const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await client.connect()
  tt.teardown(() => client.end())
  // One record per look-up, whatever its answer: its case, its request, and
  // for an answer with data the record the answer names.
  const { rows: records } = await client.query<{ seq: string, caseRef: string, requestId: string, result: string }>(
    `SELECT seq, case_ref AS "caseRef", request_id AS "requestId", result FROM "${schema}".audit_log WHERE record_type = 'citizen_lookup'`)
  tt.equal(records.length, LOOKUPS, 'one record per look-up')
  const byCase = new Map(records.map((r) => [r.caseRef, r]))
  tt.equal(byCase.size, LOOKUPS, 'no look-up has two records')
  tt.same(responses.flatMap((r) => {
    const record = byCase.get(`LOAD-${r.i}`)
    const expected = { i: r.i, requestId: r.requestId, result: audited(r.i, r), ...(r.status === 200 ? { seq: r.body.auditSeq } : {}) }
    const actual = record === undefined
      ? { i: r.i, record: 'missing' }
      : { i: r.i, requestId: record.requestId, result: record.result, ...(r.status === 200 ? { seq: Number(record.seq) } : {}) }
    return JSON.stringify(actual) === JSON.stringify(expected) ? [] : [{ expected, actual }]
  }), [], 'each look-up\'s record is its own: same request, the result it was answered with, the sequence number its answer names')

  const verify = await fetch(`${urls[0]}/v1/admin/audit/verify`, { headers: { authorization: `Bearer ${await signTestToken(dataDir, 'admin')}` } })
  const { rows: all } = await client.query(`SELECT count(*)::int AS n FROM "${schema}".audit_log`)
  tt.match(await verify.json(), { ok: true, records: all[0].n, last: { seq: all[0].n, hash: /^[0-9a-f]{64}$/ } }, 'the chain is unbroken over every record')
  const { rows: seeds } = await client.query(`SELECT count(*)::int AS n FROM "${schema}".catalogue_versions`)
  tt.equal(seeds[0].n, 2, 'the seed catalogue was loaded once')

  for (const s of servers) s.child.kill('SIGTERM')
  await Promise.all(servers.map((s) => s.exit))
  const logs = servers.flatMap((s) => s.lines).join('\n')
  tt.ok(logs.includes('/v1/citizens/'), 'the look-ups were logged')
  const leaked = adults.slice(0, LOOKUPS).filter((c) => logs.includes(c.regnum) || logs.includes(encodeURIComponent(c.regnum)))
  tt.same(leaked.map((c) => c.index), [], 'no full registration number in the logs')
})
