import { randomUUID } from 'node:crypto'
import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { browse, csrfOf, signIn } from '../../helpers/console.ts'

// The operations pages through app.inject: admins only, every page answers
// in both languages, a retry needs the session's CSRF token and says what
// happened, and the verification form checks what was typed before asking.

const PAGES = ['/console/operations', '/console/operations/adapters', '/console/operations/audit', '/console/operations/audit/verify', '/console/operations/callbacks']

t.test('analysts and officers are refused every operations page', async (t) => {
  const { app } = await buildTestApp(t)
  for (const user of ['analyst', 'officer']) {
    const { jar } = await signIn(app, user)
    for (const path of PAGES) {
      const page = await browse(app, jar, path)
      t.equal(page.res.statusCode, 403, `${user}: ${path}`)
      t.match(page.res.body, /ROLE_FORBIDDEN/)
    }
  }
})

t.test('an admin reads every page in both languages, and retries a failed application', async (t) => {
  const { app } = await buildTestApp(t)
  // A failed application, written straight into the store.
  const id = randomUUID()
  await app.db.query(
    `INSERT INTO applications (id, service, adapter, unit, channel, applicant_regnum, form, submitted_by, submitted_role, status, attempts, reason)
     VALUES ($1, 'welfare.child-money', 'welfare.submitApplication', '832269', 'online', 'УБ99032712', '{}', 'test', 'citizen', 'failed', 2, 'dead-lettered after 2 attempts: welfare failed (500)')`, [id])
  const { jar } = await signIn(app, 'admin')
  for (const lang of ['en', 'mn'] as const) {
    for (const path of PAGES) {
      const page = await browse(app, jar, path, { headers: { 'accept-language': lang } })
      t.equal(page.res.statusCode, 200, `${lang}: ${path}`)
      t.match(page.res.body, new RegExp(`<html lang="${lang}">`))
      t.equal(page.res.body.match(/<h1>/g)?.length, 1, `${path}: one h1`)
      t.notMatch(page.res.body, /style=|<script>/, `${path}: nothing the policy would block`)
    }
  }
  const en = { headers: { 'accept-language': 'en' } }
  const health = await browse(app, jar, '/console/operations?hours=168', en)
  t.match(health.res.body, new RegExp(`id="app-${id}"`), 'the failed application is listed')
  t.match(health.res.body, /<option value="168" selected>/, 'the period chosen')
  t.match(health.res.body, new RegExp(`aria-label="Retry application ${id}"`), 'its Retry button says which application')
  t.equal((await browse(app, jar, '/console/operations?hours=5')).res.statusCode, 400, 'a period the page does not offer')

  // No token, no retry.
  const forged = await browse(app, jar, `/console/operations/deliveries/${id}/retry`, { method: 'POST', form: { hours: '168' } })
  t.equal(forged.res.statusCode, 403)
  t.match(forged.res.body, /CSRF_INVALID/)
  const csrf = csrfOf(health.res.body)
  const retried = await browse(app, jar, `/console/operations/deliveries/${id}/retry`, { method: 'POST', form: { _csrf: csrf, hours: '168' }, ...en })
  t.equal(retried.res.statusCode, 200)
  t.match(retried.res.body, new RegExp(`Application ${id} is on its way to its agency again\\. Status now: Received\\.`))
  t.notMatch(retried.res.body, new RegExp(`id="app-${id}"`), 'no longer among the failed')
  t.match(retried.res.body, /<option value="168" selected>/, 'the same period')
  const { rows } = await app.db.query<{ status: string }>('SELECT status FROM applications WHERE id = $1', [id])
  t.not(rows[0]!.status, 'failed', 'the application went back to delivery')
  const again = await browse(app, jar, `/console/operations/deliveries/${id}/retry`, { method: 'POST', form: { _csrf: csrf }, ...en })
  t.equal(again.res.statusCode, 409)
  t.match(again.res.body, /has not failed now, so there is nothing to retry/)
  const missing = randomUUID()
  const nobody = await browse(app, jar, `/console/operations/deliveries/${missing}/retry`, { method: 'POST', form: { _csrf: csrf }, headers: { 'accept-language': 'mn' } })
  t.equal(nobody.res.statusCode, 404)
  t.match(nobody.res.body, new RegExp(`Өргөдөл ${missing} олдсонгүй`))
})

t.test('the audit pages: the head, paging, filters, and checking a written-down pair', async (t) => {
  const { app, token } = await buildTestApp(t)
  const admin = { authorization: `Bearer ${await token('admin')}` }
  // Catalogue changes go into the chain.
  for (const en of ['One', 'Two', 'Three']) {
    const read = await app.inject({ method: 'GET', url: '/v1/admin/catalogue/agencies/GASR', headers: admin })
    const agency = read.json<{ name: { mn: string, en: string } }>()
    await app.inject({ method: 'PUT', url: '/v1/admin/catalogue/agencies/GASR', headers: { ...admin, 'if-match': read.headers.etag as string }, payload: { ...agency, name: { ...agency.name, en } } })
  }
  const verified = (await app.inject({ method: 'GET', url: '/v1/admin/audit/verify', headers: admin })).json<{ last: { seq: number, hash: string } }>().last
  const { jar } = await signIn(app, 'admin')
  const en = { headers: { 'accept-language': 'en' } }

  const audit = await browse(app, jar, '/console/operations/audit', en)
  t.match(audit.res.body, new RegExp(`id="head-seq">${verified.seq}<`), 'the head\'s sequence')
  t.match(audit.res.body, new RegExp(`data-hash="${verified.hash}"`), 'and hash')
  t.match(audit.res.body, /Catalogue change/)
  const filtered = await browse(app, jar, '/console/operations/audit?type=citizen_lookup', en)
  t.match(filtered.res.body, /No records match/)
  t.match(filtered.res.body, new RegExp(`data-hash="${verified.hash}"`), 'the head stays the chain\'s head under a filter')
  const older = await browse(app, jar, `/console/operations/audit?before=${verified.seq}`, en)
  t.equal(older.res.statusCode, 200)
  t.match(older.res.body, /Newest records/)
  t.notMatch(older.res.body, new RegExp(`<th scope="row" class="num">${verified.seq}<`), 'the older page starts below it')

  const verify = await browse(app, jar, '/console/operations/audit/verify', en)
  t.match(verify.res.body, /The chain verifies/)
  t.match(verify.res.body, new RegExp(`data-hash="${verified.hash}"`))
  // Written down in groups, in capitals: the same pair.
  const grouped = verified.hash.toUpperCase().match(/.{8}/g)!.join(' ')
  const ok = await browse(app, jar, `/console/operations/audit/verify?seq=${verified.seq}&hash=${encodeURIComponent(grouped)}`, en)
  t.match(ok.res.body, new RegExp(`Record ${verified.seq} still has the hash written down`))
  const wrong = await browse(app, jar, `/console/operations/audit/verify?seq=${verified.seq}&hash=${'0'.repeat(64)}`, { headers: { 'accept-language': 'mn' } })
  t.match(wrong.res.body, new RegExp(`Бичлэг №${verified.seq} тэмдэглэсэн хосоос зөрж байна`))
  const bad = await browse(app, jar, '/console/operations/audit/verify?seq=x&hash=abc', en)
  t.equal(bad.res.statusCode, 400)
  t.match(bad.res.body, /id="seq"[^>]*aria-invalid="true" aria-describedby="seq-error"/)
  t.match(bad.res.body, /id="hash-error">The hash is 64 characters/)
  const half = await browse(app, jar, `/console/operations/audit/verify?hash=${verified.hash}`, en)
  t.equal(half.res.statusCode, 400)
  t.match(half.res.body, /id="seq-error">Enter both/)
})
