import t from 'tap'
import pg from 'pg'
import { generatePopulation, type Citizen } from '../../src/exchange/index.ts'
import { buildTestApp } from '../helpers/app.ts'
import { TEST_DATABASE_URL } from '../helpers/services.ts'

// Every look-up attempt counts against the officer's and the unit's limits,
// refused ones too: otherwise a harvester probing purposes, sources or
// registration numbers floods the audit log unthrottled.

const population = generatePopulation({ citizens: 200 })
const [alice] = population.livingAdults() as [Citizen]
const welfareOfficer = { claims: { agency: 'GOSW', unit: '8322', sub: 'officer-probe' } }

async function setup (tt: Parameters<typeof buildTestApp>[0], env: Record<string, string>) {
  const ctx = await buildTestApp(tt, { exchange: { citizens: 200 }, env: { LOG_LEVEL: 'silent', ...env } })
  const as = async (overrides: object = welfareOfficer) => ({ authorization: `Bearer ${await ctx.token('officer', overrides)}` })
  const db = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await db.connect()
  tt.teardown(() => db.end())
  const audited = async () => (await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM "${ctx.config.database.schema}".audit_log WHERE record_type = 'citizen_lookup'`)).rows[0]!.n
  return { ...ctx, as, audited }
}

const employmentOfficer = { claims: { agency: 'GAEP', unit: '8322', sub: 'officer-probe' } }
const attempts: Array<[string, (regnum: string) => string, object]> = [
  ['a purpose the agency may not use', (r) => `/v1/citizens/${encodeURIComponent(r)}?purpose=insurance.pension_claim&case=CASE-1`, welfareOfficer],
  ['a source outside the purpose', (r) => `/v1/citizens/${encodeURIComponent(r)}/land?purpose=employment.registration&case=CASE-1`, employmentOfficer],
  ['a registration number that is not one', () => `/v1/citizens/${encodeURIComponent('УБ0000000')}?purpose=welfare.eligibility&case=CASE-1`, welfareOfficer],
]

for (const [what, url, officer] of attempts) {
  t.test(`look-ups refused for ${what} are rate limited, and stop being audited once limited`, async (tt) => {
    const { app, as, audited } = await setup(tt, { OFFICER_LOOKUPS_PER_MINUTE: '5' })
    const codes: number[] = []
    for (let i = 0; i < 12; i++) {
      const res = await app.inject({ method: 'GET', url: url(alice!.regnum), headers: await as(officer) })
      codes.push(res.statusCode)
      if (res.statusCode === 429) {
        tt.match(res.json(), { code: 'RATE_LIMITED', detail: /this officer/ })
        tt.ok(Number(res.headers['retry-after']) >= 1, 'says when to try again')
      }
    }
    tt.equal(codes.filter((c) => c === 429).length, 7, `5 attempts, then 429: ${codes.join(' ')}`)
    tt.ok(codes.slice(0, 5).every((c) => c >= 400 && c < 500 && c !== 429), 'the first five are refused for what they are')
    tt.ok(await audited() <= 5, 'no audit record past the limit')
  })
}

t.test('refused look-ups use up the unit\'s limit too', async (tt) => {
  const { app, as } = await setup(tt, { UNIT_LOOKUPS_PER_MINUTE: '4' })
  const codes: number[] = []
  for (let i = 0; i < 6; i++) {
    const officer = { claims: { agency: 'GOSW', unit: '8322', sub: `officer-${i}` } }
    codes.push((await app.inject({ method: 'GET', url: attempts[0]![1](alice!.regnum), headers: await as(officer) })).statusCode)
  }
  tt.same(codes.slice(4), [429, 429], codes.join(' '))
  const good = await app.inject({ method: 'GET', url: `/v1/citizens/${encodeURIComponent(alice!.regnum)}?purpose=welfare.eligibility&case=CASE-1`, headers: await as({ claims: { agency: 'GOSW', unit: '8322', sub: 'officer-new' } }) })
  tt.equal(good.statusCode, 429, 'a new officer of the same unit is limited as well')
})
