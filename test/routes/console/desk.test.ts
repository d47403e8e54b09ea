import t, { type Test } from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { browse, csrfOf, signIn, type CookieJar } from '../../helpers/console.ts'
import { adults } from '../../helpers/delivery.ts'

// The OSS desk through app.inject: the API's refusals shown on the page
// (a bad registration number beside its field, a purpose the agency may not
// use, the look-up limit with Retry-After), and a form submitted twice with
// its one idempotency key making one application.

const EN = { 'accept-language': 'en' }

async function officerDesk (t: Test, env: Record<string, string> = {}) {
  const ctx = await buildTestApp(t, { env })
  const { jar, home } = await signIn(ctx.app, 'officer', '/console/desk')
  t.equal(home.res.statusCode, 200, 'the desk opens for the officer')
  return { ...ctx, jar, csrf: csrfOf(home.res.body), deskPage: home.res.body }
}

function lookup (app: Parameters<typeof browse>[0], jar: CookieJar, form: Record<string, string>) {
  return browse(app, jar, '/console/desk/lookup', { method: 'POST', form, headers: EN })
}

// The form's fields, as a browser would send them back.
function hidden (body: string, name: string): string {
  const value = new RegExp(`name="${name.replace('.', '\\.')}" value="([^"]*)"`).exec(body)?.[1]
  if (value === undefined) throw new Error(`no field ${name} on the page`)
  return value
}

t.test('look-ups: refusals are shown on the page with the field or reason', async (t) => {
  const { app, jar, csrf, deskPage } = await officerDesk(t)
  t.match(deskPage, /<option value="welfare\.eligibility" selected>/, 'the agency\'s one purpose is offered, chosen')
  t.notMatch(deskPage, /value="civil\.certificate"/, 'a purpose of another agency is not offered')

  const bad = await lookup(app, jar, { _csrf: csrf, regnum: 'УБ990327', purpose: 'welfare.eligibility', case: 'CASE-2026-17' })
  t.equal(bad.res.statusCode, 400, 'a bad registration number is a 400, not a 500')
  t.match(bad.res.body, /<input id="regnum" name="regnum" value="УБ990327"[^>]*aria-invalid="true"/, 'the field is marked, with what was typed')
  t.match(bad.res.body, /<p class="field-error" id="regnum-error">a registration number is 2 Cyrillic letters followed by 8 digits<\/p>/, 'the API\'s reason is beside the field')
  t.match(bad.res.body, /The registration number is not valid\./, 'the page names the field')
  t.match(bad.res.body, /<code>INVALID_REGNUM<\/code>/)

  const empty = await lookup(app, jar, { _csrf: csrf, regnum: ' ', purpose: 'welfare.eligibility', case: '' })
  t.equal(empty.res.statusCode, 400)
  t.match(empty.res.body, /id="regnum-error">Enter the registration number\./)
  t.match(empty.res.body, /id="case-error">Enter the case reference\./)

  const badCase = await lookup(app, jar, { _csrf: csrf, regnum: adults[0]!.regnum, purpose: 'welfare.eligibility', case: 'case with spaces' })
  t.equal(badCase.res.statusCode, 400)
  t.match(badCase.res.body, /<input id="case"[^>]*aria-invalid="true"/, 'the API\'s complaint about the case is beside the case field')

  const forbidden = await lookup(app, jar, { _csrf: csrf, regnum: adults[0]!.regnum, purpose: 'civil.certificate', case: 'CASE-2026-17' })
  t.equal(forbidden.res.statusCode, 403, 'the API\'s 403')
  t.match(forbidden.res.body, /Your agency may not look citizens up for this purpose\./)
  t.match(forbidden.res.body, /officers of GOSW may not use the purpose civil\.certificate/, 'with the API\'s own words')
  t.match(forbidden.res.body, /<code>PURPOSE_FORBIDDEN<\/code>/)
  t.match(forbidden.res.body, /<select id="purpose" name="purpose"[^>]*aria-invalid="true"/, 'the purpose field is marked')

  // No bus in this test: every source fails, and each says why.
  const unread = await lookup(app, jar, { _csrf: csrf, regnum: adults[0]!.regnum, purpose: 'welfare.eligibility', case: 'CASE-2026-17' })
  t.ok(unread.res.statusCode === 502 || unread.res.statusCode === 504, `no source answered: ${unread.res.statusCode}`)
  t.match(unread.res.body, /No registry answered/)
  for (const source of ['civil', 'social_insurance', 'welfare', 'employment', 'land']) {
    t.match(unread.res.body, new RegExp(`<section class="card" aria-labelledby="source-${source}" data-source="${source}" data-status="(unavailable|timeout|error)">`), `${source} says why it could not be read`)
  }

  const noCsrf = await lookup(app, jar, { regnum: adults[0]!.regnum, purpose: 'welfare.eligibility', case: 'CASE-2026-17' })
  t.equal(noCsrf.res.statusCode, 403, 'no CSRF token, no look-up')
  t.match(noCsrf.res.body, /CSRF_INVALID/)

  const admin = await signIn(app, 'admin', '/console/desk')
  t.equal(admin.home.res.statusCode, 403, 'the desk is for officers')
})

t.test('the look-up limit is shown with when to try again', async (t) => {
  const { app, jar, csrf } = await officerDesk(t, { OFFICER_LOOKUPS_PER_MINUTE: '1' })
  const form = { _csrf: csrf, regnum: adults[0]!.regnum, purpose: 'civil.certificate', case: 'CASE-2026-17' }
  t.equal((await lookup(app, jar, form)).res.statusCode, 403, 'a refused look-up counts too')
  const limited = await lookup(app, jar, form)
  t.equal(limited.res.statusCode, 429)
  const retry = Number(limited.res.headers['retry-after'])
  t.ok(retry >= 1 && retry <= 60, 'Retry-After is passed on')
  t.match(limited.res.body, new RegExp(`The look-up limit has been reached\\.</strong> Try again in ${retry} seconds\\.`))
})

t.test('an application submitted twice with the form\'s key is one application', async (t) => {
  const { app, jar } = await officerDesk(t)
  const applicant = adults[1]!
  const list = await browse(app, jar, '/console/desk/apply', { headers: EN })
  t.equal(list.res.statusCode, 200)
  t.match(list.res.body, /<option value="welfare\.child-money">/, 'the unit\'s counter takes Child Money')

  const drawn = await browse(app, jar, '/console/desk/apply?service=welfare.child-money', { headers: EN })
  t.equal(drawn.res.statusCode, 200)
  const key = hidden(drawn.res.body, 'key')
  const csrf = csrfOf(drawn.res.body)
  t.match(key, /^console-[0-9a-f-]{36}$/, 'the form carries a key made when it was drawn')
  t.match(drawn.res.body, /<select id="f-relationship" name="f\.relationship"/, 'an enum is a select')
  t.match(drawn.res.body, /<textarea id="f-children" name="f\.children"/, 'a list of numbers is a textarea')
  t.not(hidden((await browse(app, jar, '/console/desk/apply?service=welfare.child-money', { headers: EN })).res.body, 'key'), key, 'each drawing has its own key')

  const form = {
    _csrf: csrf,
    service: 'welfare.child-money',
    key,
    regnum: applicant.regnum,
    'f.children': 'ЧБ21270342\r\nЧБ24301159',
    'f.relationship': 'mother',
    'f.bankAccount': 'MN12000500501234567',
  }
  const wrong = await browse(app, jar, '/console/desk/apply', { method: 'POST', form, headers: EN })
  t.equal(wrong.res.statusCode, 400, 'the API\'s 400')
  t.match(wrong.res.body, /<input id="f-bankAccount"[^>]*aria-invalid="true"/, 'the bank account is marked')
  t.match(wrong.res.body, /<p class="field-error" id="f-bankAccount-error">must match pattern/, 'with the API\'s reason beside it')
  t.equal(hidden(wrong.res.body, 'key'), key, 'nothing was stored: the form keeps its key')

  const right = { ...form, 'f.bankAccount': 'MN120005005012345678' }
  const [first, second] = await Promise.all([
    browse(app, jar, '/console/desk/apply', { method: 'POST', form: right, headers: EN }),
    browse(app, jar, '/console/desk/apply', { method: 'POST', form: right, headers: EN }),
  ])
  const again = await browse(app, jar, '/console/desk/apply', { method: 'POST', form: right, headers: EN })
  const ids = [first, second, again].map((b) => /<code id="application-id">([0-9a-f-]{36})<\/code>/.exec(b.res.body)?.[1])
  t.same([first, second, again].map((b) => b.res.statusCode), [202, 202, 202], 'each answer is the 202')
  t.ok(ids[0], 'with the application\'s number')
  t.same(new Set(ids).size, 1, 'the same application each time')
  t.match(again.res.body, /This form had already been submitted/, 'a resend says it is the same one')
  const stored = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM applications WHERE applicant_regnum = $1', [applicant.regnum])
  t.equal(stored.rows[0]!.n, 1, 'one application is stored')

  // The same key with something else in the form: drawn again with a new key.
  const changed = await browse(app, jar, '/console/desk/apply', { method: 'POST', form: { ...right, 'f.relationship': 'father' }, headers: EN })
  t.equal(changed.res.statusCode, 422)
  t.match(changed.res.body, /IDEMPOTENCY_KEY_REUSED/)
  t.not(hidden(changed.res.body, 'key'), key, 'the form is drawn with a new key')

  const status = await browse(app, jar, `/console/desk/applications/${ids[0]}`, { headers: EN })
  t.equal(status.res.statusCode, 200)
  t.match(status.res.body, /Child Money Programme/)
  t.match(status.res.body, /<strong id="application-status">/)
  const unit = await browse(app, jar, '/console/desk/applications', { headers: EN })
  t.equal(unit.res.statusCode, 200)
  t.match(unit.res.body, new RegExp(`<tr data-id="${ids[0]}">`), 'the unit\'s list has it')
  t.equal((await browse(app, jar, '/console/desk/applications?scope=unit&status=failed', { headers: EN })).res.statusCode, 200, 'filtered by scope and status')
  t.equal((await browse(app, jar, '/console/desk/applications/not-an-id', { headers: EN })).res.statusCode, 400)

  const urls = [list, drawn, wrong, first, second, again, changed, status, unit].map((b) => b.url)
  t.notOk(urls.some((u) => u.includes(applicant.regnum) || u.includes(encodeURIComponent(applicant.regnum))), 'no console URL carries the registration number')
})
