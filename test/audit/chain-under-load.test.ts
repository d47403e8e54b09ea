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
  const officer = (i: number) => ({ claims: { agency: 'GOSW', unit: '8322', sub: `officer-${i % 7}` } })
  const tokens = await Promise.all(Array.from({ length: LOOKUPS }, (_, i) => signTestToken(dataDir, 'officer', officer(i))))
  // 40 look-ups in flight at any time, half through each process: concurrent
  // appends to one chain, while the bus load stays within what a shared
  // 2-core machine answers inside the 1.5 s source timeout.
  const responses: Array<{ status: number, body: { auditSeq?: number } }> = []
  let next = 0
  await Promise.all(Array.from({ length: 40 }, async () => {
    for (let i = next++; i < LOOKUPS; i = next++) {
      const citizen = adults[i % adults.length]!
      const res = await fetch(`${urls[i % 2]}/v1/citizens/${encodeURIComponent(citizen.regnum)}/civil?purpose=welfare.eligibility&case=LOAD-${i}`, {
        headers: { authorization: `Bearer ${tokens[i]!}` },
      })
      responses.push({ status: res.status, body: await res.json() as { auditSeq?: number } })
    }
  }))
  tt.same(responses.filter((r) => r.status !== 200).map((r) => r.body), [], 'every look-up answered')
  const seqs = responses.map((r) => r.body.auditSeq!).sort((a, b) => a - b)
  tt.equal(new Set(seqs).size, LOOKUPS, 'each look-up has its own record')

  const verify = await fetch(`${urls[0]}/v1/admin/audit/verify`, { headers: { authorization: `Bearer ${await signTestToken(dataDir, 'admin')}` } })
  tt.match(await verify.json(), { ok: true })
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await client.connect()
  tt.teardown(() => client.end())
  const { rows } = await client.query(`SELECT count(*)::int AS n FROM "${schema}".audit_log WHERE record_type = 'citizen_lookup'`)
  tt.equal(rows[0].n, LOOKUPS)
  const { rows: seeds } = await client.query(`SELECT count(*)::int AS n FROM "${schema}".catalogue_versions`)
  tt.equal(seeds[0].n, 2, 'the seed catalogue was loaded once')

  for (const s of servers) s.child.kill('SIGTERM')
  await Promise.all(servers.map((s) => s.exit))
  const logs = servers.flatMap((s) => s.lines).join('\n')
  tt.ok(logs.includes('/v1/citizens/'), 'the look-ups were logged')
  const leaked = adults.slice(0, LOOKUPS).filter((c) => logs.includes(c.regnum) || logs.includes(encodeURIComponent(c.regnum)))
  tt.same(leaked.map((c) => c.index), [], 'no full registration number in the logs')
})
