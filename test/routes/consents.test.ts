import { join } from 'node:path'
import { Writable } from 'node:stream'
import t from 'tap'
import { ensureDevIssuer } from '../../src/auth/dev-issuer.ts'
import { generatePopulation, type Citizen } from '../../src/exchange/index.ts'
import { buildTestApp } from '../helpers/app.ts'
import { spawnServer } from '../helpers/process.ts'
import { dropSchema, TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from '../helpers/services.ts'
import { signTestToken } from '../helpers/tokens.ts'

const population = generatePopulation({ citizens: 500 })
const [alice, bob, carol] = population.livingAdults() as [Citizen, Citizen, Citizen]
const welfare = { claims: { agency: 'GOSW', unit: '8322', sub: 'officer-w1' } }
const welfare2 = { claims: { agency: 'GOSW', unit: '8322', sub: 'officer-w2' } }
const jobs = { claims: { agency: 'GAEP', unit: '8322', sub: 'officer-e1' } }
const PURPOSE = 'welfare.household_assessment'
// A code standing alone: its six digits may occur by chance inside a longer number or an id.
const alone = (digits: string) => new RegExp(`(?<![0-9a-f])${digits}(?![0-9a-f])`)
const OTP_SOURCES = ['id_card', 'civil', 'welfare']
const lookup = (regnum: string, caseRef = 'C-1', sources = OTP_SOURCES, purpose = PURPOSE) =>
  `/v1/citizens/${encodeURIComponent(regnum)}?purpose=${purpose}&case=${caseRef}${sources.length === 0 ? '' : `&sources=${sources.join(',')}`}`

async function setup (tt: Parameters<typeof buildTestApp>[0], env: Record<string, string> = {}, logLines?: string[]) {
  let clock = Date.now()
  const logStream = logLines === undefined ? undefined : new Writable({ write (chunk, _e, done) { logLines.push(String(chunk)); done() } })
  const ctx = await buildTestApp(tt, {
    exchange: { citizens: 500 },
    env: { ...(logLines === undefined ? {} : { LOG_LEVEL: 'info' }), ...env },
    appOptions: { now: () => clock, ...(logStream === undefined ? {} : { logStream }) },
  })
  const as = async (role: string, overrides: object = welfare) => ({ authorization: `Bearer ${await ctx.token(role, overrides)}` })
  const citizen = (c: Citizen) => as('citizen', { claims: { sub: c.regnum } })
  // The code KHUR "sent" the citizen, read from the emulator's inbox.
  const inbox = async (regnum: string): Promise<string> => {
    const res = await ctx.exchange!.app.inject({ method: 'GET', url: `/admin/otp-inbox?regnum=${encodeURIComponent(regnum)}` })
    tt.equal(res.statusCode, 200, res.body)
    return res.json().messages[0].code as string
  }
  const ask = async (c: Citizen, overrides: object = welfare, body: Record<string, unknown> = {}) => ctx.app.inject({
    method: 'POST', url: '/v1/consents', headers: await as('officer', overrides),
    payload: { regnum: c.regnum, purpose: PURPOSE, case: 'C-1', method: 'otp', sources: OTP_SOURCES, ...body },
  })
  const check = async (id: string, code: string, overrides: object = welfare) => ctx.app.inject({
    method: 'POST', url: `/v1/consents/${id}/otp`, headers: await as('officer', overrides), payload: { code },
  })
  const wrong = (code: string) => String((Number(code) - 100000 + 1) % 900000 + 100000)
  const advance = (ms: number) => { clock += ms }
  return { ...ctx, as, citizen, inbox, ask, check, wrong, advance, now: () => clock }
}

t.test('a purpose that needs a one-time code: refused without one, granted through KHUR, then the look-up names the consent and XYP carries it', async (tt) => {
  const { app, exchange, as, citizen, inbox, ask, check, wrong } = await setup(tt)

  const refused = await app.inject({ method: 'GET', url: lookup(alice.regnum), headers: await as('officer') })
  tt.equal(refused.statusCode, 403, refused.body)
  tt.match(refused.json(), { code: 'CONSENT_REQUIRED', consent: { needs: 'otp', purpose: PURPOSE, sources: OTP_SOURCES, request: { method: 'POST', href: '/v1/consents' } } })
  tt.match(refused.json().detail, /POST \/v1\/consents/, 'says how to obtain it')

  const asked = await ask(alice)
  tt.equal(asked.statusCode, 201, asked.body)
  const pending = asked.json()
  tt.match(pending, { state: 'pending', method: 'otp', citizen: alice.regnum, purpose: PURPOSE, case: 'C-1', sources: OTP_SOURCES, askedBy: { agency: 'GOSW', unit: '8322', officer: 'officer-w1' } })
  tt.type(pending.busRequestId, 'string')
  tt.same(pending.fields.civil, ['regnum', 'clanName', 'patronymic', 'givenName', 'sex', 'birthDate'])
  const code = await inbox(alice.regnum)

  const bad = await check(pending.id, wrong(code))
  tt.equal(bad.statusCode, 422, bad.body)
  tt.match(bad.json(), { code: 'OTP_WRONG', attemptsLeft: 4, errors: [{ pointer: '/code' }] })
  const given = await check(pending.id, code)
  tt.equal(given.statusCode, 200, given.body)
  tt.match(given.json(), { id: pending.id, state: 'active', busRequestId: pending.busRequestId })
  tt.equal(Date.parse(given.json().expiresAt) - Date.parse(given.json().givenAt), 8 * 3_600_000, 'valid for the purpose\'s 8 hours')
  const again = await check(pending.id, code)
  tt.equal(again.statusCode, 409, 'a consent given is not checked again')
  const slip = await check(pending.id, '012345')
  tt.equal(slip.statusCode, 400, 'not a KHUR code at all: a slip, not a try')
  tt.match(slip.json(), { code: 'VALIDATION_FAILED', errors: [{ pointer: '/code' }] })

  const view = await app.inject({ method: 'GET', url: lookup(alice.regnum), headers: await as('officer') })
  tt.equal(view.statusCode, 200, view.body)
  tt.equal(view.json().consent, pending.id)
  tt.equal(view.json().sources.id_card.status, 'ok', 'KHUR accepted the code in auth.citizen')
  tt.equal(view.json().sources.id_card.data.regnum, alice.regnum)

  // The bus saw the code in auth.citizen of the XYP call (never the code itself in its log).
  const log = (await exchange!.app.inject({ method: 'GET', url: '/admin/message-log?limit=100' })).json().records as Array<Record<string, unknown>>
  const xyp = log.filter((r) => r.transport === 'xyp' && String(r.service).includes('WS100101'))
  tt.ok(xyp.length >= 1, 'an XYP identity-card call')
  tt.match(xyp[0], { citizenAuth: 'otp', citizenOtpValid: true })
  tt.notMatch(JSON.stringify(log), alone(code), 'the message log never holds the code')

  // The audit record of the look-up names the consent.
  const admin = await as('admin', {})
  const audit = (await app.inject({ method: 'GET', url: `/v1/admin/audit?citizen=${encodeURIComponent(alice.regnum)}`, headers: admin })).json().records as Array<Record<string, any>>
  const look = audit.find((r) => r.seq === view.json().auditSeq)
  tt.match(look, { recordType: 'citizen_lookup', result: 'ok', details: { consent: pending.id, consentMethod: 'otp' } })
  tt.match(audit.find((r) => r.recordType === 'citizen_lookup' && r.result === 'denied'), { details: { code: 'CONSENT_REQUIRED', consentNeeded: 'otp' } }, 'the refusal is audited')
  tt.same(audit.filter((r) => r.recordType === 'consent_change').map((r) => r.result).reverse(), ['otp_sent', 'otp_wrong', 'given'], 'every change of the consent is in the chain')
  tt.notMatch(JSON.stringify(audit), alone(code), 'the audit log never holds the code')
  tt.equal((await app.inject({ method: 'GET', url: '/v1/admin/audit/verify', headers: admin })).json().ok, true)

  // Bound to its purpose, case and sources: land needs the citizen's own approval in a portal.
  const land = await app.inject({ method: 'GET', url: lookup(alice.regnum, 'C-1', []), headers: await as('officer') })
  tt.equal(land.statusCode, 403)
  tt.match(land.json(), { code: 'CONSENT_REQUIRED', consent: { needs: 'portal', because: ['land'] } })
  const otherCase = await app.inject({ method: 'GET', url: lookup(alice.regnum, 'C-2'), headers: await as('officer') })
  tt.equal(otherCase.json().code, 'CONSENT_REQUIRED', 'another case needs its own consent')
  const otherCitizen = await app.inject({ method: 'GET', url: lookup(bob.regnum), headers: await as('officer') })
  tt.equal(otherCitizen.json().code, 'CONSENT_REQUIRED')

  // The citizen sees it with its use; another citizen sees nothing of it.
  const mine = await app.inject({ method: 'GET', url: '/v1/me/consents?lang=en', headers: await citizen(alice) })
  tt.equal(mine.statusCode, 200, mine.body)
  const listed = mine.json().consents
  tt.equal(listed.length, 1)
  tt.match(listed[0], { id: pending.id, state: 'active', askedBy: { agency: 'GOSW', unit: '8322', officer: null }, purposeName: { en: /Household/ } })
  tt.same(listed[0].uses.map((u: { auditSeq: number }) => u.auditSeq), [view.json().auditSeq])
  tt.match(listed[0].uses[0], { agency: 'GOSW', agencyName: { en: String }, unit: '8322', case: 'C-1', result: 'ok' })
  const theirs = await app.inject({ method: 'GET', url: '/v1/me/consents', headers: await citizen(bob) })
  tt.same(theirs.json().consents, [])
  const steal = await app.inject({ method: 'DELETE', url: `/v1/me/consents/${pending.id}`, headers: await citizen(bob) })
  tt.equal(steal.statusCode, 404, 'another citizen cannot revoke it, or learn that it exists')

  // The tracker names the consent; a look-up that needed none names the law.
  const tracker = (await app.inject({ method: 'GET', url: '/v1/me/data-access?lang=en', headers: await citizen(alice) })).json().accesses
  tt.match(tracker.find((a: { id: number }) => a.id === view.json().auditSeq), { consent: { id: pending.id, method: 'otp' } })
  await app.inject({ method: 'GET', url: `/v1/citizens/${encodeURIComponent(alice.regnum)}/civil?purpose=welfare.eligibility&case=C-9`, headers: await as('officer') })
  const lawful = (await app.inject({ method: 'GET', url: '/v1/me/data-access?lang=en', headers: await citizen(alice) })).json().accesses[0]
  tt.match(lawful, { purpose: 'welfare.eligibility', consent: null, legalBasis: { en: 'Law on Social Welfare' } })
})

t.test('neither the registration number nor the code reaches the logs', async (tt) => {
  const lines: string[] = []
  const { app, as, ask, check, inbox, wrong } = await setup(tt, {}, lines)
  await app.inject({ method: 'GET', url: lookup(carol.regnum), headers: await as('officer') })
  const pending = (await ask(carol)).json()
  const code = await inbox(carol.regnum)
  tt.equal((await check(pending.id, wrong(code))).statusCode, 422)
  tt.equal((await check(pending.id, code)).statusCode, 200)
  tt.equal((await app.inject({ method: 'GET', url: lookup(carol.regnum), headers: await as('officer') })).statusCode, 200)
  const text = lines.join('')
  tt.match(text, /consents/, 'the consent routes were logged')
  tt.notMatch(text, carol.regnum, 'no registration number')
  tt.notMatch(text, encodeURIComponent(carol.regnum))
  tt.notMatch(text, alone(code), 'no one-time code')
  tt.notMatch(text, alone(wrong(code)), 'not even a wrong one')
})

t.test('five wrong codes lock the citizen\'s codes for the configured time, for every officer', async (tt) => {
  const { app, as, ask, check, inbox, wrong, advance } = await setup(tt, { CONSENT_OTP_LOCK_MS: '60000' })
  const first = (await ask(carol)).json()
  const code = await inbox(carol.regnum)
  for (let i = 1; i <= 4; i++) {
    const res = await check(first.id, wrong(code))
    tt.equal(res.statusCode, 422, `wrong code ${i}`)
    tt.equal(res.json().attemptsLeft, 5 - i)
  }
  const fifth = await check(first.id, wrong(code))
  tt.equal(fifth.statusCode, 429, fifth.body)
  tt.equal(fifth.json().code, 'OTP_LOCKED')
  tt.equal(fifth.headers['retry-after'], '60')
  tt.equal((await check(first.id, code)).statusCode, 429, 'even the right code, while locked')

  // Another officer of the same unit cannot start over for this citizen …
  const other = await ask(carol, welfare2)
  tt.equal(other.statusCode, 429, other.body)
  tt.equal(other.json().code, 'OTP_LOCKED')
  // … and the lock ends when its time is up.
  advance(60_001)
  const later = await ask(carol, welfare2)
  tt.equal(later.statusCode, 201, later.body)
  const ok = await check(later.json().id, await inbox(carol.regnum), welfare2)
  tt.equal(ok.statusCode, 200, ok.body)
  const changes = (await app.inject({ method: 'GET', url: `/v1/admin/audit?citizen=${encodeURIComponent(carol.regnum)}&type=consent_change`, headers: await as('admin', {}) })).json().records
  tt.same(changes.map((r: { result: string }) => r.result).reverse(), ['otp_sent', 'otp_wrong', 'otp_wrong', 'otp_wrong', 'otp_wrong', 'otp_locked', 'superseded', 'otp_sent', 'given'], 'the lock is audited')
})

t.test('wrong codes sent at once cannot slip past the limit', async (tt) => {
  const { ask, check, inbox, wrong } = await setup(tt)
  const pending = (await ask(bob)).json()
  const code = await inbox(bob.regnum)
  const answers = await Promise.all(Array.from({ length: 8 }, () => check(pending.id, wrong(code))))
  const statuses = answers.map((r) => r.statusCode).sort()
  tt.same(statuses, [422, 422, 422, 422, 429, 429, 429, 429], 'four told to try again, then locked, however they interleave')
  tt.equal((await check(pending.id, code)).statusCode, 429, 'the right code waits for the lock too')
})

t.test('consents and their codes expire under the clock', async (tt) => {
  const { app, as, citizen, ask, check, inbox, advance } = await setup(tt)
  // A code not read out in time.
  const slow = (await ask(alice)).json()
  advance(300_001)
  const late = await check(slow.id, await inbox(alice.regnum))
  tt.equal(late.statusCode, 409, late.body)
  tt.equal(late.json().code, 'CONSENT_NOT_PENDING')

  const superseded = (await ask(alice)).json()
  advance(1)
  const pending = (await ask(alice)).json()
  const voided = await check(superseded.id, await inbox(alice.regnum))
  tt.equal(voided.statusCode, 409, 'a new code voids the one asked for before, as on KHUR')
  tt.equal((await check(pending.id, await inbox(alice.regnum))).statusCode, 200)
  tt.equal((await app.inject({ method: 'GET', url: lookup(alice.regnum), headers: await as('officer') })).statusCode, 200)
  advance(8 * 3_600_000 + 1)
  const after = await app.inject({ method: 'GET', url: lookup(alice.regnum), headers: await as('officer') })
  tt.equal(after.statusCode, 403, after.body)
  tt.equal(after.json().code, 'CONSENT_REQUIRED')
  const unit = await app.inject({ method: 'GET', url: `/v1/consents/${pending.id}`, headers: await as('officer') })
  tt.equal(unit.json().state, 'expired')
  const mine = (await app.inject({ method: 'GET', url: '/v1/me/consents', headers: await citizen(alice) })).json().consents
  tt.same(mine.map((c: { id: string, state: string }) => [c.id, c.state]), [[pending.id, 'expired'], [superseded.id, 'expired'], [slow.id, 'expired']])
  tt.equal(mine[0].uses.length, 1, 'its use stays listed')
  const admin = await as('admin', {})
  const changes = (await app.inject({ method: 'GET', url: `/v1/admin/audit?citizen=${encodeURIComponent(alice.regnum)}&type=consent_change`, headers: admin })).json().records
  const of = (result: string) => changes.filter((r: { result: string }) => r.result === result).map((r: { details: { consent: string } }) => r.details.consent).sort()
  tt.same(of('expired'), [pending.id], 'the expiry is audited')
  tt.same(of('superseded'), [slow.id, superseded.id].sort(), 'so are the codes a newer one voided')
})

t.test('portal consent: a request the citizen approves lets the look-up through; refused and withdrawn ones do not', async (tt) => {
  const { app, as, citizen } = await setup(tt)
  const url = lookup(bob.regnum, 'J-1', [], 'employment.job_matching')
  const before = await app.inject({ method: 'GET', url, headers: await as('officer', jobs) })
  tt.match(before.json(), { code: 'CONSENT_REQUIRED', consent: { needs: 'portal' } })

  const weak = await app.inject({ method: 'POST', url: '/v1/consents', headers: await as('officer', jobs), payload: { regnum: bob.regnum, purpose: 'employment.job_matching', case: 'J-1', method: 'otp' } })
  tt.equal(weak.statusCode, 422)
  tt.equal(weak.json().code, 'CONSENT_METHOD_TOO_WEAK')
  const none = await app.inject({ method: 'POST', url: '/v1/consents', headers: await as('officer', jobs), payload: { regnum: bob.regnum, purpose: 'welfare.eligibility', case: 'J-1', method: 'portal' } })
  tt.equal(none.statusCode, 400, 'a purpose that needs no consent is not one to ask for')
  tt.match(none.json(), { code: 'VALIDATION_FAILED', errors: [{ pointer: '/purpose' }] })
  const foreign = await app.inject({ method: 'POST', url: '/v1/consents', headers: await as('officer', welfare), payload: { regnum: bob.regnum, purpose: 'employment.job_matching', case: 'J-1', method: 'portal' } })
  tt.equal(foreign.json().code, 'PURPOSE_FORBIDDEN')

  const asked = await app.inject({ method: 'POST', url: '/v1/consents', headers: await as('officer', jobs), payload: { regnum: bob.regnum, purpose: 'employment.job_matching', case: 'J-1', method: 'portal' } })
  tt.equal(asked.statusCode, 201, asked.body)
  const id = asked.json().id
  const listed = (await app.inject({ method: 'GET', url: '/v1/me/consents?lang=en', headers: await citizen(bob) })).json().consents
  tt.match(listed[0], { id, state: 'pending', method: 'portal', purpose: 'employment.job_matching', purposeName: { en: 'Matching with job vacancies' }, askedBy: { agency: 'GAEP', agencyName: { mn: String, en: String }, unit: '8322', unitName: String, officer: null }, sources: ['civil', 'social_insurance', 'employment'] })
  tt.ok(listed[0].fields.employment.includes('desiredOccupation'), 'which data, field by field')
  tt.equal((await app.inject({ method: 'GET', url, headers: await as('officer', jobs) })).statusCode, 403, 'pending is not given')

  const approved = await app.inject({ method: 'POST', url: `/v1/me/consents/${id}/approve`, headers: await citizen(bob) })
  tt.equal(approved.statusCode, 200, approved.body)
  tt.match(approved.json(), { state: 'active', askedBy: { portal: 'test-portal' } })
  tt.equal((await app.inject({ method: 'GET', url: `/v1/consents/${id}`, headers: await as('officer', jobs) })).json().state, 'active', 'the officer sees it approved')
  const view = await app.inject({ method: 'GET', url, headers: await as('officer', jobs) })
  tt.equal(view.statusCode, 200, view.body)
  tt.equal(view.json().consent, id)
  tt.equal((await app.inject({ method: 'POST', url: `/v1/me/consents/${id}/approve`, headers: await citizen(bob) })).statusCode, 409, 'answered once')

  const revoked = await app.inject({ method: 'DELETE', url: `/v1/me/consents/${id}`, headers: await citizen(bob) })
  tt.equal(revoked.statusCode, 200)
  tt.equal(revoked.json().state, 'revoked')
  tt.equal((await app.inject({ method: 'GET', url, headers: await as('officer', jobs) })).json().code, 'CONSENT_REQUIRED')

  const second = (await app.inject({ method: 'POST', url: '/v1/consents', headers: await as('officer', jobs), payload: { regnum: bob.regnum, purpose: 'employment.job_matching', case: 'J-2', method: 'portal' } })).json()
  const no = await app.inject({ method: 'POST', url: `/v1/me/consents/${second.id}/refuse`, headers: await citizen(bob) })
  tt.equal(no.json().state, 'refused')
  tt.equal((await app.inject({ method: 'GET', url: lookup(bob.regnum, 'J-2', [], 'employment.job_matching'), headers: await as('officer', jobs) })).json().code, 'CONSENT_REQUIRED')

  // A standing consent from the portal: any case of the purpose's agencies.
  const standing = await app.inject({ method: 'POST', url: '/v1/me/consents', headers: await citizen(bob), payload: { purpose: 'employment.job_matching' } })
  tt.equal(standing.statusCode, 201, standing.body)
  tt.match(standing.json(), { state: 'active', case: null, method: 'portal' })
  const anyCase = await app.inject({ method: 'GET', url: lookup(bob.regnum, 'J-77', [], 'employment.job_matching'), headers: await as('officer', { claims: { agency: 'GAEP', unit: '1101', sub: 'officer-e9' } }) })
  tt.equal(anyCase.statusCode, 200, anyCase.body)
  tt.equal(anyCase.json().consent, standing.json().id)
})

t.test('a withdrawn consent refuses the next look-up in another gateway process', async (tt) => {
  const schema = uniqueName('consent')
  tt.teardown(() => dropSchema(schema))
  const dataDir = tt.testdir()
  await ensureDevIssuer(dataDir)
  const env = { PORT: '0', DATA_DIR: dataDir, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: `test:${schema}` }
  const server = join(import.meta.dirname, '..', '..', 'src', 'server.ts')
  const first = spawnServer(server, env)
  tt.teardown(() => { first.child.kill('SIGKILL') })
  const a = await first.url
  // The second starts once the first has migrated and seeded.
  const second = spawnServer(server, env)
  tt.teardown(() => { second.child.kill('SIGKILL') })
  const b = await second.url
  const citizenAuth = { authorization: `Bearer ${await signTestToken(dataDir, 'citizen', { claims: { sub: carol.regnum } })}` }
  const officer = async () => ({ authorization: `Bearer ${await signTestToken(dataDir, 'officer', jobs)}` })
  const url = lookup(carol.regnum, 'J-5', [], 'employment.job_matching')

  const given = await fetch(`${a}/v1/me/consents`, { method: 'POST', headers: { ...citizenAuth, 'content-type': 'application/json' }, body: JSON.stringify({ purpose: 'employment.job_matching' }) })
  tt.equal(given.status, 201)
  const { id } = await given.json() as { id: string }
  const through = await fetch(`${b}${url}`, { headers: await officer() })
  tt.equal(through.status, 200, 'the other process sees the consent')
  const gone = await fetch(`${a}/v1/me/consents/${id}`, { method: 'DELETE', headers: citizenAuth })
  tt.equal(gone.status, 200)
  const next = await fetch(`${b}${url}`, { headers: await officer() })
  tt.equal(next.status, 403, 'the very next look-up in the other process is refused')
  tt.equal(((await next.json()) as { code: string }).code, 'CONSENT_REQUIRED')
})
