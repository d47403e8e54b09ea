import { Writable } from 'node:stream'
import t from 'tap'
import pg from 'pg'
import { generatePopulation, type Citizen } from '../../src/exchange/index.ts'
import { buildTestApp } from '../helpers/app.ts'
import { TEST_DATABASE_URL } from '../helpers/services.ts'

const population = generatePopulation({ citizens: 500 })
const [alice, bob, carol, dave] = population.livingAdults() as [Citizen, Citizen, Citizen, Citizen]
const welfareOfficer = { claims: { agency: 'GOSW', unit: '8322', sub: 'officer-w1' } }
const url = (regnum: string, query = 'purpose=welfare.eligibility&case=CASE-1') => `/v1/citizens/${encodeURIComponent(regnum)}?${query}`

async function setup (tt: Parameters<typeof buildTestApp>[0], env: Record<string, string> = {}, logLines?: string[]) {
  const logStream = logLines === undefined
    ? undefined
    : new Writable({ write (chunk, _e, done) { logLines.push(String(chunk)); done() } })
  const ctx = await buildTestApp(tt, {
    exchange: { citizens: 500 },
    env: { LOG_LEVEL: logLines === undefined ? 'silent' : 'info', ...env },
    ...(logStream === undefined ? {} : { appOptions: { logStream } }),
  })
  const as = async (role: string, overrides: object = welfareOfficer) => ({ authorization: `Bearer ${await ctx.token(role, overrides)}` })
  return { ...ctx, as }
}

t.test('a view returns each source, limited to the purpose\'s fields, and is audited', async (tt) => {
  const lines: string[] = []
  const { app, as } = await setup(tt, {}, lines)
  const res = await app.inject({ method: 'GET', url: url(alice!.regnum), headers: await as('officer') })
  tt.equal(res.statusCode, 200, res.body)
  const view = res.json()
  tt.same(Object.keys(view.sources).sort(), ['civil', 'employment', 'land', 'social_insurance', 'welfare'])
  for (const s of Object.values<any>(view.sources)) tt.equal(s.status, 'ok')
  tt.same(view.sources.civil.data, { regnum: alice!.regnum, clanName: alice!.surname, patronymic: alice!.lastname, givenName: alice!.firstname, sex: alice!.sex, birthDate: alice!.birthDate })
  tt.same(Object.keys(view.sources.social_insurance.data).sort(), ['regnum', 'totalMonths'], 'months are outside this purpose')
  tt.ok(Array.isArray(view.sources.welfare.data.enrolments))
  tt.ok(Array.isArray(view.sources.land.data.plots))
  tt.type(view.sources.employment.data.registered, 'boolean')
  tt.type(view.auditSeq, 'number')

  const admin = await as('admin', {})
  const audit = (await app.inject({ method: 'GET', url: `/v1/admin/audit?citizen=${encodeURIComponent(alice!.regnum)}`, headers: admin })).json()
  tt.match(audit.records[0], {
    recordType: 'citizen_lookup', actor: 'officer-w1', actorUnit: '8322', actorAgency: 'GOSW', purpose: 'welfare.eligibility',
    caseRef: 'CASE-1', citizen: alice!.regnum, result: 'ok', seq: view.auditSeq,
  })
  tt.same(audit.records[0].sourcesAnswered.sort(), ['civil', 'employment', 'land', 'social_insurance', 'welfare'])

  // Single-source form.
  const one = await app.inject({ method: 'GET', url: `/v1/citizens/${encodeURIComponent(alice!.regnum)}/land?purpose=welfare.eligibility&case=CASE-1`, headers: await as('officer') })
  tt.same(Object.keys(one.json().sources), ['land'])

  const text = lines.join('')
  tt.ok(text.length > 0)
  tt.notMatch(text, alice!.regnum, 'no full registration number in the logs')
  tt.notMatch(text, encodeURIComponent(alice!.regnum))
  tt.notMatch(text, alice!.firstname, 'no name in the logs')
})

t.test('refusals name their reason', async (tt) => {
  const { app, as } = await setup(tt)
  const noPurpose = await app.inject({ method: 'GET', url: url(alice!.regnum, 'case=CASE-1'), headers: await as('officer') })
  tt.equal(noPurpose.statusCode, 400)
  tt.match(noPurpose.json(), { code: 'VALIDATION_FAILED', errors: [{ in: 'querystring', pointer: '/purpose' }] })
  const noCase = await app.inject({ method: 'GET', url: url(alice!.regnum, 'purpose=welfare.eligibility'), headers: await as('officer') })
  tt.match(noCase.json(), { code: 'VALIDATION_FAILED', errors: [{ pointer: '/case' }] })

  const wrongAgency = await app.inject({ method: 'GET', url: url(alice!.regnum, 'purpose=insurance.pension_claim&case=C'), headers: await as('officer') })
  tt.equal(wrongAgency.statusCode, 403)
  tt.match(wrongAgency.json(), { code: 'PURPOSE_FORBIDDEN', detail: /GOSW.*insurance\.pension_claim/ })

  const outside = await app.inject({ method: 'GET', url: url(alice!.regnum, 'purpose=land.allocation&case=C&sources=civil,welfare'), headers: await as('officer', { claims: { agency: 'ALAMGAC', unit: '8322' } }) })
  tt.equal(outside.statusCode, 403)
  tt.match(outside.json(), { code: 'SOURCE_FORBIDDEN', source: 'welfare', detail: /welfare/ })
  const outsideOne = await app.inject({ method: 'GET', url: `/v1/citizens/${encodeURIComponent(alice!.regnum)}/welfare?purpose=land.allocation&case=C`, headers: await as('officer', { claims: { agency: 'ALAMGAC', unit: '8322' } }) })
  tt.match(outsideOne.json(), { code: 'SOURCE_FORBIDDEN', source: 'welfare' })

  for (const [bad, rule] of [['АА99133112', 'birth_date'], ['AB12', 'length'], ['DD00112233', 'letters'], ['Yб00112233', 'ambiguous_letter']] as const) {
    const res = await app.inject({ method: 'GET', url: url(bad), headers: await as('officer') })
    tt.equal(res.statusCode, 400, bad)
    tt.match(res.json(), { code: 'INVALID_REGNUM', rule, errors: [{ in: 'params', pointer: '/regnum' }] })
  }
  const citizen = await app.inject({ method: 'GET', url: url(alice!.regnum), headers: await as('citizen', {}) })
  tt.equal(citizen.statusCode, 403)
  tt.equal(citizen.json().code, 'ROLE_FORBIDDEN')

  // Latin look-alikes are normalised, not refused.
  const latin = alice!.regnum.replace('А', 'A')
  if (latin !== alice!.regnum) tt.equal((await app.inject({ method: 'GET', url: url(latin), headers: await as('officer') })).statusCode, 200)
})

t.test('a slow source times out alone; the others answer', async (tt) => {
  const { app, as, exchange } = await setup(tt)
  await exchange!.app.inject({ method: 'PUT', url: '/admin/faults/land', payload: { latencyMs: 5000 } })
  const started = performance.now()
  const res = await app.inject({ method: 'GET', url: url(bob!.regnum), headers: await as('officer') })
  const elapsedMs = performance.now() - started
  tt.equal(res.statusCode, 200)
  const timeoutMs = app.policies.sources.land!.timeoutMs
  // Land answers after 5 s; an answer well before that is the deadline at work
  // (the margin is wide because a shared CI machine can be slow to schedule us).
  tt.ok(elapsedMs >= timeoutMs - 50 && elapsedMs < timeoutMs + 1000, `answered in ${elapsedMs.toFixed(0)} ms (land's timeout is ${timeoutMs} ms, its answer 5000 ms)`)
  tt.equal(res.json().sources.land.status, 'timeout')
  for (const s of ['civil', 'social_insurance', 'welfare', 'employment']) tt.equal(res.json().sources[s].status, 'ok', s)

  await exchange!.app.inject({ method: 'PUT', url: '/admin/faults/land', payload: { down: true } })
  const down = await app.inject({ method: 'GET', url: `/v1/citizens/${encodeURIComponent(bob!.regnum)}/land?purpose=welfare.eligibility&case=C`, headers: await as('officer') })
  tt.equal(down.statusCode, 502)
  tt.match(down.json(), { code: 'ALL_SOURCES_FAILED', sources: { land: { status: 'unavailable' } } })
})

t.test('fail closed: no audit record, no data', async (tt) => {
  const { app, as, config } = await setup(tt)
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await client.connect()
  tt.teardown(() => client.end())
  await client.query(`ALTER TABLE "${config.database.schema}".audit_log ADD CONSTRAINT refuse_all CHECK (false) NOT VALID`)
  const res = await app.inject({ method: 'GET', url: url(carol!.regnum), headers: await as('officer') })
  tt.equal(res.statusCode, 503)
  tt.equal(res.json().code, 'AUDIT_UNAVAILABLE')
  tt.notMatch(res.body, carol!.firstname)
  tt.notMatch(res.body, carol!.regnum)
  await client.query(`ALTER TABLE "${config.database.schema}".audit_log DROP CONSTRAINT refuse_all`)

  // The database gone altogether.
  const headers = await as('officer')
  await app.db.close()
  const gone = await app.inject({ method: 'GET', url: url(carol!.regnum), headers })
  tt.equal(gone.statusCode, 503)
  tt.notMatch(gone.body, carol!.firstname)
})

t.test('the audit log is append-only and verify finds a row altered in SQL', async (tt) => {
  const { app, as, config } = await setup(tt)
  for (const c of [alice!, bob!, carol!]) {
    tt.equal((await app.inject({ method: 'GET', url: url(c.regnum), headers: await as('officer') })).statusCode, 200)
  }
  const admin = () => as('admin', {})
  tt.match((await app.inject({ method: 'GET', url: '/v1/admin/audit/verify', headers: await admin() })).json(), { ok: true })

  const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await client.connect()
  tt.teardown(() => client.end())
  const table = `"${config.database.schema}".audit_log`
  await tt.rejects(client.query(`UPDATE ${table} SET purpose = 'x' WHERE seq = 1`), /append-only/)
  await tt.rejects(client.query(`DELETE FROM ${table} WHERE seq = 1`), /append-only/)
  const { rows } = await client.query(`SELECT seq FROM ${table} WHERE citizen = $1`, [bob!.regnum])
  // Someone with DDL rights switches the guard off and edits a record.
  await client.query(`ALTER TABLE ${table} DISABLE TRIGGER audit_log_no_update`)
  await client.query(`UPDATE ${table} SET case_ref = 'EDITED' WHERE seq = $1`, [rows[0].seq])
  await client.query(`ALTER TABLE ${table} ENABLE TRIGGER audit_log_no_update`)
  const verify = (await app.inject({ method: 'GET', url: '/v1/admin/audit/verify', headers: await admin() })).json()
  tt.match(verify, { ok: false, brokenAt: Number(rows[0].seq), reason: /does not match its hash/ })
})

t.test('the tracker shows citizens their own look-ups and never another\'s', async (tt) => {
  const { app, as } = await setup(tt)
  await app.inject({ method: 'GET', url: url(alice!.regnum, 'purpose=welfare.eligibility&case=CASE-A'), headers: await as('officer') })
  await app.inject({ method: 'GET', url: url(dave!.regnum, 'purpose=welfare.eligibility&case=CASE-D'), headers: await as('officer') })
  const mine = await app.inject({ method: 'GET', url: '/v1/me/data-access?lang=en', headers: await as('citizen', { claims: { sub: alice!.regnum } }) })
  tt.equal(mine.statusCode, 200)
  const accesses = mine.json().accesses
  tt.equal(accesses.length, 1)
  tt.match(accesses[0], { unit: '8322', agency: 'GOSW', purpose: 'welfare.eligibility', purposeName: 'Eligibility for a welfare programme', case: 'CASE-A', unitName: String })
  tt.same(accesses[0].agencyName, { mn: 'Халамжийн ерөнхий газар', en: 'General Office for Social Welfare' }, 'the agency by name, in both languages')
  tt.notMatch(mine.body, 'officer-w1', 'officers appear as agency and unit only')
  tt.notMatch(mine.body, dave!.regnum)
  const sneaky = await app.inject({ method: 'GET', url: `/v1/me/data-access?citizen=${encodeURIComponent(dave!.regnum)}`, headers: await as('citizen', { claims: { sub: alice!.regnum } }) })
  tt.equal(sneaky.statusCode, 400, 'no way to name another citizen')
  const officer = await app.inject({ method: 'GET', url: '/v1/me/data-access', headers: await as('officer') })
  tt.equal(officer.statusCode, 403)
})

t.test('officers are rate limited and bulk look-ups are flagged', async (tt) => {
  const lines: string[] = []
  const { app, as } = await setup(tt, { OFFICER_LOOKUPS_PER_MINUTE: '3', HARVEST_DISTINCT_CITIZENS: '2' }, lines)
  const codes: number[] = []
  for (const c of [alice!, bob!, carol!, dave!]) {
    const res = await app.inject({ method: 'GET', url: url(c.regnum), headers: await as('officer') })
    codes.push(res.statusCode)
    if (res.statusCode === 429) {
      tt.match(res.json(), { code: 'RATE_LIMITED', detail: /this officer/ })
      tt.ok(Number(res.headers['retry-after']) >= 1)
    }
  }
  tt.same(codes, [200, 200, 200, 429])
  const other = await app.inject({ method: 'GET', url: url(dave!.regnum), headers: await as('officer', { claims: { agency: 'GOSW', unit: '8322', sub: 'officer-w2' } }) })
  tt.equal(other.statusCode, 200, 'the limit is per officer')
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  tt.match(metrics, /citizen_lookup_harvest_flags_total\{agency="GOSW",unit="8322"\} 1/)
  tt.ok(lines.some((l) => /BULK LOOK-UP/.test(l) && /officer-w1/.test(l)))
})

t.test('catalogue changes go into the same chain', async (tt) => {
  const { app, as } = await setup(tt)
  const admin = () => as('admin', {})
  const read = await app.inject({ method: 'GET', url: '/v1/admin/catalogue/agencies/GASR', headers: await admin() })
  await app.inject({ method: 'PUT', url: '/v1/admin/catalogue/agencies/GASR', headers: { ...(await admin()), 'if-match': read.headers.etag as string }, payload: { ...(read.json() as object), memberId: 'MN/GOV/GASR/civil2' } })
  const records = (await app.inject({ method: 'GET', url: '/v1/admin/audit?type=catalogue_change', headers: await admin() })).json().records
  tt.match(records[0], { recordType: 'catalogue_change', actor: 'admin:admin-1', result: 'update', details: { collection: 'agencies', key: 'GASR', after: { memberId: 'MN/GOV/GASR/civil2' } } })
  tt.match((await app.inject({ method: 'GET', url: '/v1/admin/audit/verify', headers: await admin() })).json(), { ok: true })
  tt.equal((await app.inject({ method: 'GET', url: '/v1/admin/policies', headers: await admin() })).json().purposes['welfare.eligibility'].agencies[0], 'GOSW')
})
