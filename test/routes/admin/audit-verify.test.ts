import pg from 'pg'
import t from 'tap'
import { hashRecord } from '../../../src/audit/record.ts'
import { buildTestApp } from '../../helpers/app.ts'
import { TEST_DATABASE_URL } from '../../helpers/services.ts'

t.test('verify names the last record and its hash, and checks a written-down pair later', async (tt) => {
  const { app, config, token } = await buildTestApp(tt)
  const admin = async () => ({ authorization: `Bearer ${await token('admin')}` })
  const verify = async (query = '') => app.inject({ method: 'GET', url: `/v1/admin/audit/verify${query}`, headers: await admin() })

  // Catalogue changes go into the chain: three records.
  for (const en of ['One', 'Two', 'Three']) {
    const read = await app.inject({ method: 'GET', url: '/v1/admin/catalogue/agencies/GASR', headers: await admin() })
    const agency = read.json<{ name: { mn: string, en: string } }>()
    const put = await app.inject({ method: 'PUT', url: '/v1/admin/catalogue/agencies/GASR', headers: { ...(await admin()), 'if-match': read.headers.etag as string }, payload: { ...agency, name: { ...agency.name, en } } })
    tt.equal(put.statusCode, 200)
  }
  const first = (await verify()).json()
  tt.match(first, { ok: true, records: Number, last: { seq: Number, hash: /^[0-9a-f]{64}$/ } })
  tt.equal(first.last.seq, first.records)
  const written = first.last

  tt.same((await verify(`?seq=${written.seq}&hash=${written.hash}`)).json(), { ok: true, records: first.records, last: written, checkpoint: { ...written, matches: true } })
  const wrong = (await verify(`?seq=${written.seq}&hash=${'0'.repeat(64)}`)).json()
  tt.match(wrong, { ok: false, brokenAt: written.seq, reason: /no longer has the hash/, checkpoint: { matches: false } })
  tt.match((await verify(`?seq=${written.seq + 100}&hash=${written.hash}`)).json(), { ok: false, reason: /has no record/ })
  const alone = await verify(`?seq=${written.seq}`)
  tt.equal(alone.statusCode, 400)
  tt.equal(alone.json().code, 'VALIDATION_FAILED')

  // Someone with DDL rights rewrites a record and every hash after it: the
  // chain verifies again, but not against the pair written down.
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await client.connect()
  tt.teardown(() => client.end())
  const schema = `"${config.database.schema}"`
  const records = (await app.audit.query({ limit: 500 })).reverse()
  await client.query(`ALTER TABLE ${schema}.audit_log DISABLE TRIGGER audit_log_no_update`)
  let prevHash = 'genesis'
  for (const r of records) {
    const { seq, prevHash: _p, hash: _h, ...entry } = r
    if (seq === 1) entry.actor = 'admin:someone-else'
    const hash = hashRecord(seq, prevHash, entry)
    await client.query(`UPDATE ${schema}.audit_log SET actor = $1, prev_hash = $2, hash = $3 WHERE seq = $4`, [entry.actor, prevHash, hash, seq])
    prevHash = hash
  }
  await client.query(`ALTER TABLE ${schema}.audit_log ENABLE TRIGGER audit_log_no_update`)
  await client.query(`UPDATE ${schema}.audit_chain_head SET hash = $1 WHERE chain = 'main'`, [prevHash])
  tt.match((await verify()).json(), { ok: true }, 'a rewritten chain verifies on its own')
  tt.match((await verify(`?seq=${written.seq}&hash=${written.hash}`)).json(), { ok: false, checkpoint: { matches: false } }, 'but not against the pair written down')
})
