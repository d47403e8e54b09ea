import t, { type Test } from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { browse, csrfOf, signIn, type CookieJar } from '../../helpers/console.ts'
import { adults } from '../../helpers/delivery.ts'

// The OSS desk through app.inject: the API's refusals shown on the page
// (a bad registration number beside its field, a purpose the agency may not
// use, the look-up limit with Retry-After), a form submitted twice with its
// one idempotency key making one application, and the citizen's consent
// (asked in their portal, or by a KHUR code locked after wrong tries), whose
// forms all need the session's CSRF token.

const EN = { 'accept-language': 'en' }
const MN = { 'accept-language': 'mn' }
const CONSENTED = 'welfare.household_assessment'

async function officerDesk (t: Test, env: Record<string, string> = {}, exchange = false) {
  const ctx = await buildTestApp(t, { env, exchange })
  const { jar, home } = await signIn(ctx.app, 'officer', '/console/desk')
  t.equal(home.res.statusCode, 200, 'the desk opens for the officer')
  return { ...ctx, jar, csrf: csrfOf(home.res.body), deskPage: home.res.body }
}

function lookup (app: Parameters<typeof browse>[0], jar: CookieJar, form: Record<string, string>) {
  return browse(app, jar, '/console/desk/lookup', { method: 'POST', form, headers: EN })
}

// A form with repeated fields (the sources), posted as a browser would,
// following the redirect that may answer it.
async function submit (app: Parameters<typeof browse>[0], jar: CookieJar, url: string, pairs: Array<[string, string]>, headers: Record<string, string> = EN) {
  const res = await app.inject({
    method: 'POST',
    url,
    headers: { host: '127.0.0.1:3000', accept: 'text/html', cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: new URLSearchParams(pairs).toString(),
  })
  jar.take(res)
  const location = res.headers.location
  if (res.statusCode === 303 && typeof location === 'string') return browse(app, jar, location, { headers })
  return { res, url: `http://127.0.0.1:3000${url}` }
}

// The hidden fields of the page's form that posts to `action`.
function formAt (body: string, action: string): Array<[string, string]> {
  const form = new RegExp(`<form method="post" action="${action}"[^>]*>([\\s\\S]*?)</form>`).exec(body)?.[1]
  if (form === undefined) throw new Error(`no form to ${action} on the page`)
  const unescape = (v: string) => v.replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&')
  return [...form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1]!, unescape(m[2]!)])
}

const consentIdOf = (url: string) => /\/console\/desk\/consents\/([0-9a-f-]{36})$/.exec(url)?.[1]

// The form's fields, as a browser would send them back.
function hidden (body: string, name: string): string {
  const value = new RegExp(`name="${name.replace('.', '\\.')}" value="([^"]*)"`).exec(body)?.[1]
  if (value === undefined) throw new Error(`no field ${name} on the page`)
  return value
}

t.test('look-ups: refusals are shown on the page with the field or reason', async (t) => {
  const { app, jar, csrf, deskPage } = await officerDesk(t)
  t.match(deskPage, /<option value="welfare\.eligibility">/, 'the agency\'s purposes are offered')
  t.match(deskPage, /<option value="welfare\.household_assessment">/)
  t.notMatch(deskPage, /<option value="[^"]*" selected>/, 'two purposes: the officer chooses')
  t.match(deskPage, /<label><input type="checkbox" id="sources-id_card" name="sources" value="id_card"> [^<]+<\/label>/, 'the sources may be narrowed')
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

t.test('portal consent: the officer asks, the citizen approves in their portal, the look-up goes through under it', async (t) => {
  const { app, jar, csrf, token } = await officerDesk(t, {}, true)
  const citizen = adults[3]!
  // Every source of the purpose: land needs the citizen's own approval in a portal.
  const refused = await lookup(app, jar, { _csrf: csrf, regnum: citizen.regnum, purpose: CONSENTED, case: 'CASE-2026-41' })
  t.equal(refused.res.statusCode, 403, 'the API\'s 403')
  t.match(refused.res.body, /This look-up needs the citizen&#39;s consent\./)
  t.match(refused.res.body, /<code>CONSENT_REQUIRED<\/code>/)
  t.match(refused.res.body, /data-needs="portal"/)
  t.match(refused.res.body, /The citizen gives it themselves, signed in to their portal\./, 'how it is given')
  t.match(refused.res.body, /Needed because of: <strong id="consent-because">Land<\/strong>/, 'which source needs it')
  t.match(refused.res.body, /<button type="submit">Ask the citizen in their portal<\/button>/)
  const ask = formAt(refused.res.body, '/console/desk/consents')
  t.same(ask.filter(([k]) => k !== '_csrf'), [
    ['regnum', citizen.regnum], ['purpose', CONSENTED], ['case', 'CASE-2026-41'],
    ...['id_card', 'civil', 'social_insurance', 'welfare', 'employment', 'land'].map((s) => ['sources', s]), ['method', 'portal'],
  ], 'the form carries the look-up: the citizen, the purpose, the case and the sources')
  t.match(refused.res.body, /<input id="regnum" name="regnum" value="[^"]+"/, 'the look-up form keeps what was typed')

  const asked = await submit(app, jar, '/console/desk/consents', ask)
  t.equal(asked.res.statusCode, 200, 'on to the consent\'s page')
  const id = consentIdOf(asked.url)
  t.ok(id, `the page's address names the consent: ${asked.url}`)
  t.match(asked.res.body, /<h1>The citizen&#39;s consent<\/h1>/)
  t.match(asked.res.body, /<strong id="consent-state" data-state="pending">Waiting for an answer<\/strong>/)
  t.match(asked.res.body, /Waiting for the citizen to approve the request/)
  t.match(asked.res.body, new RegExp(`<a class="button secondary" id="consent-refresh" href="/console/desk/consents/${id}">Refresh the state</a>`), 'a way to look again')
  t.notMatch(asked.res.body, /Look up now/, 'no look-up while it waits')

  // The citizen approves in their portal.
  const approved = await app.inject({ method: 'POST', url: `/v1/me/consents/${id}/approve`, headers: { authorization: `Bearer ${await token('citizen', { claims: { sub: citizen.regnum } })}` } })
  t.equal(approved.statusCode, 200, approved.body)

  const status = await browse(app, jar, `/console/desk/consents/${id}`, { headers: EN })
  t.equal(status.res.statusCode, 200)
  t.match(status.res.body, /data-state="active">Given</, 'the refreshed page shows it given')
  t.match(status.res.body, /The citizen has given consent/)
  const inMongolian = await browse(app, jar, `/console/desk/consents/${id}`, { headers: MN })
  t.match(inMongolian.res.body, /<h1>Иргэний зөвшөөрөл<\/h1>/)
  t.match(inMongolian.res.body, /data-state="active">Өгсөн</)
  t.match(inMongolian.res.body, /<button type="submit">Одоо лавлах<\/button>/)

  const looked = await submit(app, jar, `/console/desk/consents/${id}/lookup`, formAt(status.res.body, `/console/desk/consents/${id}/lookup`))
  t.equal(looked.res.statusCode, 200, 'the look-up goes through')
  t.match(looked.res.body, new RegExp(`Consent: <code id="lookup-consent">${id}</code>`), 'the result names the consent')
  t.match(looked.res.body, /<section class="card[^"]*" aria-labelledby="source-land" data-source="land" data-status="(ok|not_found)">/, 'land, which needed the portal, answered')
  t.match(looked.res.body, /data-source="id_card" data-status="ok"/)
  t.match(looked.res.body, /<input id="case" name="case" value="CASE-2026-41"/, 'the next look-up keeps the case')

  // Every consent form needs the session's CSRF token.
  const without = (pairs: Array<[string, string]>) => pairs.filter(([k]) => k !== '_csrf')
  for (const [url, pairs] of [
    ['/console/desk/consents', without(ask)],
    [`/console/desk/consents/${id}/otp`, [['code', '123456']]],
    [`/console/desk/consents/${id}/lookup`, []],
  ] as Array<[string, Array<[string, string]>]>) {
    const res = await submit(app, jar, url, pairs)
    t.equal(res.res.statusCode, 403, `${url.replace(id!, ':id')}: no CSRF token, refused`)
    t.match(res.res.body, /CSRF_INVALID/)
    const forged = await submit(app, jar, url, [...pairs, ['_csrf', 'not-this-sessions']])
    t.equal(forged.res.statusCode, 403, `${url.replace(id!, ':id')}: another token, refused`)
  }
  const stored = await app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM consents WHERE citizen = $1', [citizen.regnum])
  t.equal(stored.rows[0]!.n, 1, 'the refused requests asked the citizen for nothing')

  const urls = [refused, asked, status, inMongolian, looked].map((b) => b.url)
  t.notOk(urls.some((u) => u.includes(citizen.regnum) || u.includes(encodeURIComponent(citizen.regnum))), 'no console URL carries the registration number')
})

t.test('a KHUR code: a slip is not an attempt; wrong codes lock the citizen\'s codes, and the page says until when', async (t) => {
  const { app, jar, csrf, exchange } = await officerDesk(t, { CONSENT_OTP_MAX_FAILURES: '1' }, true)
  const citizen = adults[4]!
  const look: Array<[string, string]> = [['_csrf', csrf], ['regnum', citizen.regnum], ['purpose', CONSENTED], ['case', 'CASE-2026-42'], ['sources', 'id_card'], ['sources', 'civil']]
  const refused = await submit(app, jar, '/console/desk/lookup', look)
  t.equal(refused.res.statusCode, 403)
  t.match(refused.res.body, /data-needs="otp"/)
  t.match(refused.res.body, /<button type="submit">Send the citizen a code<\/button>/)
  t.match(refused.res.body, /<input type="checkbox" id="sources-id_card" name="sources" value="id_card" checked>/, 'the sources stay ticked')

  const asked = await submit(app, jar, '/console/desk/consents', formAt(refused.res.body, '/console/desk/consents'))
  const id = consentIdOf(asked.url)
  t.ok(id, 'the consent\'s page')
  t.match(asked.res.body, /<input id="code" name="code" class="code" value="" inputmode="numeric" autocomplete="one-time-code"/, 'a field for the code')
  t.match(asked.res.body, /<label for="code">The code the citizen received/)
  const mn = await browse(app, jar, `/console/desk/consents/${id}`, { headers: MN })
  t.match(mn.res.body, /<label for="code">Иргэнд ирсэн код/)
  t.match(mn.res.body, /<button type="submit">Кодыг шалгах<\/button>/)

  const slip = await submit(app, jar, `/console/desk/consents/${id}/otp`, [['_csrf', csrf], ['code', '12ab']])
  t.equal(slip.res.statusCode, 400)
  t.match(slip.res.body, /<p class="field-error" id="code-error">The code is 4 to 8 digits\.<\/p>/)
  t.match(slip.res.body, /<input id="code" name="code" class="code" value="12ab"[^>]*aria-describedby="code-hint code-error" aria-invalid="true"/)

  // One wrong code is all this gateway allows: the slip above did not count.
  const sent = (await exchange!.app.inject({ method: 'GET', url: `/admin/otp-inbox?regnum=${encodeURIComponent(citizen.regnum)}` })).json().messages[0].code as string
  const wrong = String((Number(sent) - 100000 + 1) % 900000 + 100000)
  const locked = await submit(app, jar, `/console/desk/consents/${id}/otp`, [['_csrf', csrf], ['code', wrong]])
  t.equal(locked.res.statusCode, 429, 'the API\'s 429')
  t.match(locked.res.body, /Too many wrong codes: codes for this citizen are locked for now\.<\/strong> Try again in 900 seconds\./)
  t.match(locked.res.body, /<p id="locked-until">You may try again after: <strong><time datetime="[^"]+">/, 'when, in Ulaanbaatar time')
  t.equal(locked.res.headers['retry-after'], '900', 'Retry-After is passed on')
  t.notMatch(locked.res.body, /<input id="code"/, 'no code field while locked')
  t.match(locked.res.body, /<button type="submit" class="secondary">Send a new code<\/button>/)

  const again = await submit(app, jar, '/console/desk/consents', formAt(locked.res.body, '/console/desk/consents'))
  t.equal(again.res.statusCode, 429, 'a new code waits for the lock to end')
  t.match(again.res.body, /<code>OTP_LOCKED<\/code>/)
  t.match(again.res.body, /id="locked-until"/)
})
