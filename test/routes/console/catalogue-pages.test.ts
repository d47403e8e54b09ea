import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { browse, csrfOf, signIn, type CookieJar } from '../../helpers/console.ts'

// The catalogue's console pages with bad input: never a 500, always a 4xx
// page that names the field; the forms' round trips through the admin API
// (create, replace, remove, restore, import) and the downloads passed on.

const HOST = '127.0.0.1:3000'

function hiddenValue (body: string, name: string): string {
  const value = new RegExp(`name="${name}" value="([^"]*)"`).exec(body)?.[1]
  if (value === undefined) throw new Error(`no ${name} on the page`)
  return value.replaceAll('&quot;', '"').replaceAll('&amp;', '&')
}

t.test('the catalogue console refuses bad input with a 4xx page naming the field', async (t) => {
  const { app } = await buildTestApp(t, { appOptions: { today: () => '2026-12-01' } })
  const { jar, home } = await signIn(app, 'admin', '/console/catalogue')
  t.equal(home.res.statusCode, 200)
  const csrf = csrfOf(home.res.body)
  const get = (url: string) => browse(app, jar, url)
  const post = (url: string, form: Record<string, string>) => browse(app, jar, url, { method: 'POST', form: { _csrf: csrf, ...form } })

  const refusals: Array<[string, () => Promise<{ res: { statusCode: number, body: string, headers: Record<string, unknown> } }>, number, RegExp]> = [
    ['a unit code that is not one', () => get('/console/catalogue/units/abc'), 400, /params\/code/],
    ['a unit that does not exist', () => get('/console/catalogue/units/99'), 404, /no administrative unit 99/],
    ['a search too long', () => get(`/console/catalogue/units?q=${'x'.repeat(101)}`), 400, /querystring\/q/],
    ['a day that is not one', () => get('/console/catalogue/units/8322?date=2026-13-45'), 400, /date/],
    ['a version that is not a number', () => get('/console/catalogue/versions/abc'), 400, /params\/version/],
    ['a version that does not exist', () => get('/console/catalogue/versions/999'), 404, /no version 999/],
    ['a comparison with nonsense', () => get('/console/catalogue/versions/2?from=yesterday'), 400, /querystring\/from/],
    ['a restore without the draft\'s ETag', () => post('/console/catalogue/versions/1/restore', {}), 400, /body\/etag/],
    ['an agency code in lower case', () => get('/console/catalogue/agencies/gasr'), 400, /params\/key/],
    ['a level that is not one', () => get('/console/catalogue/standard-lists/planet'), 400, /params\/key/],
    ['an availability of a unit that is not a code', () => get('/console/catalogue/availability/abc/welfare.child-money'), 400, /params\/unit/],
    ['an entity that does not exist', () => get('/console/catalogue/mobile-rounds/no-such-round'), 404, /no mobile-rounds no-such-round/],
    ['a report of a version that is not one', () => get('/console/catalogue/consistency?version=latest'), 400, /querystring\/version/],
    ['a report of an aimag that is not one', () => get('/console/catalogue/consistency?aimag=999'), 400, /querystring\/aimag/],
    ['a report of a version that does not exist', () => get('/console/catalogue/consistency?version=999'), 404, /version 999/],
    ['an export in another format', () => get('/console/catalogue/export?format=xml'), 400, /querystring\/format/],
    ['a CSV of a unit that is not a code', () => get('/console/catalogue/consistency.csv?unit=x'), 400, /querystring\/unit/],
    ['an edit without the ETag', () => post('/console/catalogue/categories/land', { 'name.mn': 'x', 'name.en': 'x' }), 400, /body\/etag/],
    ['an import without the ETag', () => post('/console/catalogue/import', { document: 'format: x' }), 400, /body\/etag/],
    ['a new service copied from nothing', () => get('/console/catalogue/new/services'), 400, /querystring\/from/],
    ['a new service copied from one that does not exist', () => get('/console/catalogue/new/services?from=no.such'), 404, /no.such/],
    ['a new entity from a unit that is not a code', () => get('/console/catalogue/new/availability?unit=x'), 400, /querystring\/unit/],
  ]
  for (const [what, call, status, field] of refusals) {
    const { res } = await call()
    t.equal(res.statusCode, status, `${what}: ${status}`)
    t.match(String(res.headers['content-type']), /text\/html/, `${what}: a page`)
    t.match(res.body, field, `${what}: the page says what is wrong`)
  }

  // Another role is refused the catalogue.
  const { jar: analyst } = await signIn(app, 'analyst')
  t.equal((await browse(app, analyst, '/console/catalogue/units')).res.statusCode, 403, 'an analyst may not open the catalogue')
})

t.test('forms: create, problems beside the fields, conflicts, remove', async (t) => {
  const { app } = await buildTestApp(t, { appOptions: { today: () => '2026-12-01' } })
  const { jar, home } = await signIn(app, 'admin', '/console/catalogue')
  const csrf = csrfOf(home.res.body)
  const post = (j: CookieJar, url: string, form: Record<string, string>) => browse(app, j, url, { method: 'POST', form: { _csrf: csrf, ...form } })

  // A new agency with a bad code and no English name: both said beside their fields.
  const bad = await post(jar, '/console/catalogue/new/agencies', { code: 'bad code', 'name.mn': 'Шинэ газар', 'name.en': '', memberId: '' })
  t.equal(bad.res.statusCode, 400)
  t.match(bad.res.body, /<input id="f-code" name="code" value="bad code"[^>]*aria-invalid="true"/, 'the code field is marked')
  t.match(bad.res.body, /id="f-code-error">[^<]*must match pattern/, 'with the API\'s reason beside it')
  t.match(bad.res.body, /id="f-name-en-error">[^<]*fewer than 1/, 'the English name too')
  t.match(bad.res.body, /value="Шинэ газар"/, 'what was typed stays')

  // Created, then the key is taken.
  const made = await post(jar, '/console/catalogue/new/agencies', { code: 'TESTA', 'name.mn': 'Туршилтын газар', 'name.en': 'Test agency', memberId: '' })
  t.equal(made.res.statusCode, 200)
  t.match(made.url, /\/console\/catalogue\/agencies\/TESTA\?saved=1$/, 'off to the new agency\'s page')
  t.match(made.res.body, /Saved in the draft|Ноорогт хадгалагдлаа/)
  const again = await post(jar, '/console/catalogue/new/agencies', { code: 'TESTA', 'name.mn': 'Давхар', 'name.en': 'Twice', memberId: '' })
  t.equal(again.res.statusCode, 409, 'the same key again: refused')
  t.match(again.res.body, /id="f-code-error"/, 'beside the code')

  // Replaced with a bad member id; then a stale ETag.
  const etag = hiddenValue(made.res.body, 'etag')
  const badMember = await post(jar, '/console/catalogue/agencies/TESTA', { etag, 'name.mn': 'Туршилтын газар', 'name.en': 'Test agency', memberId: 'somewhere' })
  t.equal(badMember.res.statusCode, 400)
  t.match(badMember.res.body, /id="f-memberId-error">[^<]*must match pattern/)
  const saved = await post(jar, '/console/catalogue/agencies/TESTA', { etag, 'name.mn': 'Туршилтын газар', 'name.en': 'Test agency', memberId: 'MN/GOV/TESTA/x' })
  t.equal(saved.res.statusCode, 200)
  t.match(saved.res.body, /value="MN\/GOV\/TESTA\/x"/)
  const stale = await post(jar, '/console/catalogue/agencies/TESTA', { etag, 'name.mn': 'x', 'name.en': 'x', memberId: '' })
  t.equal(stale.res.statusCode, 409, 'an ETag that is no longer current: a conflict, with the current values')
  t.match(stale.res.body, /value="MN\/GOV\/TESTA\/x"/)

  // Removed; an agency services still use is not.
  const removed = await post(jar, '/console/catalogue/agencies/TESTA/delete', { etag: hiddenValue(saved.res.body, 'etag') })
  t.match(removed.url, /\/console\/catalogue\/agencies\?removed=TESTA$/)
  t.match(removed.res.body, /TESTA/)
  const gasr = await browse(app, jar, '/console/catalogue/agencies/GASR')
  const used = await post(jar, '/console/catalogue/agencies/GASR/delete', { etag: hiddenValue(gasr.res.body, 'etag') })
  t.equal(used.res.statusCode, 409, 'still referred to: not removed')
  t.match(used.res.body, /no agency GASR/, 'with what refers to it')

  // A service copied from another: its code checked, then taken.
  const copy = await browse(app, jar, '/console/catalogue/new/services?from=welfare.child-money')
  t.equal(copy.res.statusCode, 200)
  const serviceForm = (code: string, fee: string) => ({
    from: 'welfare.child-money', code, category: 'social_welfare', agency: 'GOSW', 'name.mn': 'Хүүхдийн мөнгө (туршилт)', 'name.en': 'Child money (pilot)',
    'description.mn': 'Туршилт', 'description.en': 'A pilot', 'legalBasis.mn': 'Хууль', 'legalBasis.en': 'The law', 'guide.feeMnt': fee, 'guide.processingDays': '5', channels: 'online', applicants: 'citizen',
  })
  const badCopy = await post(jar, '/console/catalogue/new/services', serviceForm('Bad Code', 'free'))
  t.equal(badCopy.res.statusCode, 400)
  t.match(badCopy.res.body, /id="f-code-error">[^<]*must match pattern/, 'the code beside its field')
  t.match(badCopy.res.body, /id="fee-error">[^<]*integer/, 'and the fee beside its own')
  const copied = await post(jar, '/console/catalogue/new/services', serviceForm('welfare.child-money-pilot', '0'))
  t.match(copied.url, /\/console\/catalogue\/services\/welfare\.child-money-pilot\?saved=1$/)
  t.match(copied.res.body, /Child money \(pilot\)|Хүүхдийн мөнгө \(туршилт\)/)
  const twice = await post(jar, '/console/catalogue/new/services', serviceForm('welfare.child-money-pilot', '0'))
  t.equal(twice.res.statusCode, 409)
  t.match(twice.res.body, /id="f-code-error"/)

  // A mobile round that ends before it starts, visiting a bag of another soum.
  const round = await post(jar, '/console/catalogue/new/mobile-rounds', {
    id: 'deluun-test', unit: '8322', from: '2026-12-20', to: '2026-12-10', bags: '832263\n111675', services: 'welfare.child-money',
  })
  t.equal(round.res.statusCode, 400)
  t.match(round.res.body, /id="f-to-error">[^<]*ends before it starts/)
  t.match(round.res.body, /id="f-bags-error">[^<]*111675: 111675 is not a bag of 8322/)
  const newRound = await browse(app, jar, '/console/catalogue/new/mobile-rounds?unit=8322')
  t.match(newRound.res.body, /832263/, 'a new round from a soum starts with its bags')

  // A local gap, then the form's choices: the availability list shows it.
  const gap = await post(jar, '/console/catalogue/new/availability', { unit: '8322', service: 'welfare.child-money', offered: 'false', 'note.mn': 'Ажилтан чөлөөтэй', 'note.en': 'The officer is on leave' })
  t.match(gap.url, /\/availability\/8322\/welfare\.child-money\?saved=1$/)
  const unit = await browse(app, jar, '/console/catalogue/units/8322')
  t.match(unit.res.body, /The officer is on leave|Ажилтан чөлөөтэй/, 'the unit\'s page lists its local departure from the draft')

  // A standard list keeps its order when a service is ticked again.
  const list = await browse(app, jar, '/console/catalogue/standard-lists/bag')
  const ticked = [...list.res.body.matchAll(/name="services" value="([^"]+)" checked/g)].map((m) => m[1]!)
  t.ok(ticked.length > 0)
  const body = new URLSearchParams({ _csrf: csrf, etag: hiddenValue(list.res.body, 'etag') })
  for (const s of [...ticked].reverse()) body.append('services', s)
  const same = await app.inject({ method: 'POST', url: '/console/catalogue/standard-lists/bag', headers: { host: HOST, cookie: jar.header(), accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' }, payload: body.toString() })
  t.equal(same.statusCode, 303)
  const draft = await browse(app, jar, '/console/catalogue/draft')
  t.notMatch(draft.res.body, /<h2>(Standard lists|Стандарт жагсаалтууд)<\/h2>/, 'the list is unchanged: no change in the draft')
  t.match(draft.res.body, /<h2>(Local gaps and additions|Орон нутгийн хасалт, нэмэлт)<\/h2>/, 'while the new gap is one')
})

t.test('versions, import, export and the report', async (t) => {
  const { app } = await buildTestApp(t, { appOptions: { today: () => '2026-12-01' } })
  const { jar, home } = await signIn(app, 'admin', '/console/catalogue')
  const csrf = csrfOf(home.res.body)

  // Downloads are the API's, passed on.
  const exported = await app.inject({ method: 'GET', url: '/console/catalogue/export?version=draft&format=json', headers: { host: HOST, cookie: jar.header() } })
  t.equal(exported.statusCode, 200)
  t.match(exported.headers['content-type'], /application\/json/)
  t.match(exported.headers['content-disposition'], /attachment; filename="catalogue-v2\.json"/)
  const csv = await app.inject({ method: 'GET', url: '/console/catalogue/consistency.csv?unit=83', headers: { host: HOST, cookie: jar.header() } })
  t.equal(csv.statusCode, 200)
  t.match(csv.headers['content-type'], /text\/csv/)
  t.match(csv.body, /^kind,aimag,unit,level,service,category,detail\r\n/)

  // The report: a row per aimag, and an aimag's gaps.
  const report = await browse(app, jar, '/console/catalogue/consistency')
  t.equal(report.res.statusCode, 200)
  t.match(report.res.body, /<table id="by-aimag">/)
  t.match(report.res.body, /Баян-Өлгий|Bayan-Ölgii/)
  const gaps = await browse(app, jar, '/console/catalogue/consistency?aimag=none')
  t.match(gaps.res.body, /veterinary\.submitApplication/, 'the findings tied to no unit: the missing adapter')

  // An import through the page's script: the file as it is, its problems by code.
  const page = await browse(app, jar, '/console/catalogue/import')
  const etag = hiddenValue(page.res.body, 'etag')
  const send = (body: string, format: string, headers: Record<string, string>) => app.inject({
    method: 'POST',
    url: `/console/catalogue/import?format=${format}`,
    headers: { host: HOST, cookie: jar.header(), accept: 'text/html', 'content-type': 'text/plain; charset=utf-8', ...headers },
    payload: body,
  })
  const doc = JSON.parse(exported.body) as { services: Array<{ code: string, guide: { feeMnt: number } }> }
  const childMoney = doc.services.find((s) => s.code === 'welfare.child-money')!
  const fee = childMoney.guide.feeMnt
  childMoney.guide.feeMnt = -5
  doc.services.push(doc.services[1]!)
  const broken = JSON.stringify(doc)
  t.equal((await send(broken, 'json', { 'if-match': etag })).statusCode, 403, 'without the CSRF token: refused')
  t.match((await send(broken, 'json', { 'x-csrf-token': csrf })).body, /headers\/if-match/, 'without the draft\'s ETag: said so')
  const refused = await send(broken, 'json', { 'x-csrf-token': csrf, 'if-match': etag })
  t.equal(refused.statusCode, 400)
  t.match(refused.body, /<tr><th scope="row"><code>welfare\.child-money<\/code><\/th><td><code>\/guide\/feeMnt<\/code><\/td><td>must be &gt;= 0<\/td><\/tr>/, 'the problem by the service\'s code')
  t.match(refused.body, `<code>${doc.services[1]!.code} (`, 'a repeated code by its code…')
  t.match(refused.body, new RegExp(`(no\\.|№) ${doc.services.length},`), '…and its place in the file')

  // YAML, pasted: an item without a code is named by its place.
  const small = 'format: oss-catalogue/1\nunits: []\nagencies: []\ncategories: []\nservices:\n  - name: {mn: Нэргүй, en: Nameless}\nstandardLists: []\navailability: []\nmobileRounds: []\n'
  const pasted = await browse(app, jar, '/console/catalogue/import', { method: 'POST', form: { _csrf: csrf, etag, format: 'auto', document: small } })
  t.equal(pasted.res.statusCode, 400)
  t.match(pasted.res.body, /item no\. 1 \(no code\)|дарааллын № 1 \(кодгүй\)/)
  t.match(pasted.res.body, /Nameless/, 'what was pasted stays')
  const notYaml = await send('services: [\n', 'yaml', { 'x-csrf-token': csrf, 'if-match': etag })
  t.equal(notYaml.statusCode, 400)
  t.match(notYaml.body, /not valid YAML/)
  const stale = await send(small, 'yaml', { 'x-csrf-token': csrf, 'if-match': '"stale"' })
  t.equal(stale.statusCode, 409, 'a draft changed since: a conflict')

  childMoney.guide.feeMnt = fee + 1
  doc.services.pop()
  const fine = await send(JSON.stringify(doc), 'auto', { 'x-csrf-token': csrf, 'if-match': etag })
  t.equal(fine.statusCode, 303, 'a good file is imported')
  t.equal(fine.headers.location, '/console/catalogue/import?imported=1')

  // Restore version 1: the draft is what was published again.
  const versions = await browse(app, jar, '/console/catalogue/versions')
  const restored = await browse(app, jar, '/console/catalogue/versions/1/restore', { method: 'POST', form: { _csrf: csrf, etag: hiddenValue(versions.res.body, 'etag') } })
  t.match(restored.url, /\/console\/catalogue\/versions\?restored=1$/)
  const staleRestore = await browse(app, jar, '/console/catalogue/versions/1/restore', { method: 'POST', form: { _csrf: csrf, etag: hiddenValue(versions.res.body, 'etag') } })
  t.equal(staleRestore.res.statusCode, 409, 'with the ETag of a draft that has changed since: a conflict')
  const diff = await browse(app, jar, '/console/catalogue/versions/2')
  t.match(diff.res.body, /No difference|Ялгаа алга/, 'the draft is version 1 again')
})
