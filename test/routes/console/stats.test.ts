import t from 'tap'
import { buildTestApp } from '../../helpers/app.ts'
import { browse, signIn } from '../../helpers/console.ts'
import { QUIET_ENV } from '../../helpers/stats-history.ts'

// The monitoring dashboards through app.inject: filters checked by the
// console (a bad one is the form again, 400, naming the field), each role
// offered the units of its scope, and the API's refusals shown as pages
// with their code, never as a 500.

const TODAY = '2026-11-30'
const EN = { 'accept-language': 'en' }

// The values of the unit select, in order.
function unitOptions (body: string): string[] {
  const select = /<select id="unit" name="unit"[^>]*>([\s\S]*?)<\/select>/.exec(body)?.[1] ?? ''
  return [...select.matchAll(/<option value="([^"]*)"/g)].map((m) => m[1]!)
}

// One gateway for every case: building one is most of the time a test takes.
const { app } = await buildTestApp(t, { env: { ...QUIET_ENV }, appOptions: { today: () => TODAY } })

t.test('filters are checked: a bad one is the form again, 400, naming the field', async (t) => {
  const { jar } = await signIn(app, 'analyst', '/console/stats')
  const cases: Array<[string, string, RegExp]> = [
    ['period=2026-13', 'period', /Give a month \(2026-11\) or a year \(2026\)/],
    ['period=last%20month', 'period', /Give a month/],
    ['period=2027-01', 'period', /not after the current month/],
    ['period=1999', 'period', /from 2000 on/],
    ['period=2026-10&period=2026-11', 'period', /Give a month/],
    ['unit=6', 'unit', /2, 4 or 6 digits/],
    ['unit=629999', 'unit', /no administrative unit 629999/],
    ['service=Nope!', 'service', /no service Nope!/],
    ['service=no.such-service', 'service', /no service no\.such-service/],
    ['rank=backlog.open', 'rank', /Choose an indicator/],
  ]
  for (const [q, field, reason] of cases) {
    const { res } = await browse(app, jar, `/console/stats?${q}`, { headers: EN })
    t.equal(res.statusCode, 400, `${q}: 400`)
    t.match(res.body, new RegExp(`<(input|select) id="${field}"[^>]*aria-invalid="true"`), `${q}: the ${field} field is marked`)
    t.match(res.body, new RegExp(`<p class="field-error" id="${field}-error">`), `${q}: its reason is beside it`)
    t.match(res.body, reason, `${q}: the reason is ${reason}`)
    t.match(res.body, /role="alert"/, `${q}: and announced`)
    t.notMatch(res.body, /<svg/, `${q}: no chart for filters that are wrong`)
  }
  // In Mongolian too.
  const mn = await browse(app, jar, '/console/stats?period=2026-13', { headers: { 'accept-language': 'mn' } })
  t.equal(mn.res.statusCode, 400)
  t.match(mn.res.body, /Сар \(2026-11\) эсвэл жил \(2026\) оруулна уу/)

  // The downloads and the report check the same filters: 400 naming the field.
  for (const url of ['/console/stats/report?period=2026-13', '/console/stats/csv/channel?period=13', '/console/stats/csv/series?service=welfare.child-money']) {
    const { res } = await browse(app, jar, url, { headers: EN })
    t.equal(res.statusCode, 400, `${url}: 400`)
    t.match(res.body, /querystring\/(period|service)/, `${url}: names the field`)
  }
  const json = await browse(app, jar, '/console/stats/csv/channel?period=13', { headers: { accept: 'application/json' } })
  t.equal(json.res.statusCode, 400)
  t.equal(json.res.json().code, 'VALIDATION_FAILED')
  t.same(json.res.json().errors.map((e: { pointer: string }) => e.pointer), ['/period'])
  const kind = await browse(app, jar, '/console/stats/csv/everything', { headers: EN })
  t.equal(kind.res.statusCode, 400, 'an unknown download: 400')
})

t.test('a year, and one service', async (t) => {
  const { jar } = await signIn(app, 'analyst', '/console/stats')
  const year = await browse(app, jar, '/console/stats?period=2026', { headers: EN })
  t.equal(year.res.statusCode, 200)
  t.match(year.res.body, /The year, month by month/)
  t.match(year.res.body, /Applications received — Övörkhangai \(62\), 2026-01 – 2026-12<\/caption>/, 'the series covers the year')

  const one = await browse(app, jar, '/console/stats?period=2026-11&service=welfare.child-money', { headers: EN })
  t.equal(one.res.statusCode, 200)
  t.match(one.res.body, /<option value="welfare\.child-money" selected>/)
  t.match(one.res.body, /This figure is not kept by service: it is shown for all services\./, 'persons are not counted by service, and the page says so')
  t.notMatch(one.res.body, /\/console\/stats\/csv\/series/, 'no CSV of a series for one service')
  const csv = await browse(app, jar, '/console/stats/csv/channel?period=2026-11&service=welfare.child-money', { headers: EN })
  t.equal(csv.res.statusCode, 200)
  t.match(csv.res.body, /^service,service_label,channel,channel_label,indicator,period,unit,value\r\n/, 'the API\'s table by service and channel')
})

t.test('an analyst is refused another aimag with the reason, in a page of its own', async (t) => {
  const { jar } = await signIn(app, 'analyst', '/console/stats')
  const { res } = await browse(app, jar, '/console/stats?unit=21&period=2026-11', { headers: EN })
  t.equal(res.statusCode, 403)
  t.match(res.body, /STATS_SCOPE_FORBIDDEN/, 'the API\'s code')
  t.match(res.body, /Dornod \(21\) is outside your scope: you may see the statistics of Övörkhangai \(62\) and the units below it/, 'the reason, with names')
  const mn = await browse(app, jar, '/console/stats?unit=21', { headers: { 'accept-language': 'mn' } })
  t.equal(mn.res.statusCode, 403)
  t.match(mn.res.body, /Дорнод \(21\) таны үзэх эрхийн хүрээнээс гадуур байна/)
  for (const url of ['/console/stats/report?unit=21&period=2026-11', '/console/stats/csv/ranking?unit=21&period=2026']) {
    const refused = await browse(app, jar, url, { headers: { accept: 'application/json' } })
    t.equal(refused.res.statusCode, 403, `${url}: 403`)
    t.equal(refused.res.json().code, 'STATS_SCOPE_FORBIDDEN')
  }
})

t.test('an officer sees its own subtree only', async (t) => {
  const { jar, home } = await signIn(app, 'officer', '/console/stats')
  t.equal(home.res.statusCode, 200, home.res.body.slice(0, 300))
  const options = unitOptions(home.res.body)
  t.equal(options[0], '8322', 'its own unit first, and chosen')
  t.ok(options.length > 1, `and the units below: ${options.length}`)
  t.same(options.filter((o) => !o.startsWith('8322')), [], 'nothing outside 8322')
  t.match(home.res.body, /<option value="8322" selected>/)
  t.match(home.res.body, /\(8322\), 2026-11<\/h1>/, 'the page is about 8322 in the current month')

  const below = options[1]!
  const bag = await browse(app, jar, `/console/stats?unit=${below}`)
  t.equal(bag.res.statusCode, 200, 'a unit below opens')
  t.match(bag.res.body, new RegExp(`<option value="${below}" selected>`))

  for (const unit of ['83', '62', '8301']) {
    const { res } = await browse(app, jar, `/console/stats?unit=${unit}`, { headers: EN })
    t.equal(res.statusCode, 403, `unit ${unit}: 403`)
    t.match(res.body, /STATS_SCOPE_FORBIDDEN/)
  }
})

t.test('an administrator sees the country and every aimag', async (t) => {
  const { jar } = await signIn(app, 'admin', '/console/')
  const { res } = await browse(app, jar, '/console/stats', { headers: EN })
  t.equal(res.statusCode, 200, res.body.slice(0, 300))
  t.match(res.body, /<h1>Monitoring and evaluation: Mongolia, 2026-11<\/h1>/)
  const options = unitOptions(res.body)
  t.equal(options[0], '', 'the country first')
  t.equal(options.length, 23, 'then the capital and the 21 aimags')
  t.same(options.filter((o) => o.length !== 0 && o.length !== 2), [])
  // The breakdown by unit lists every aimag, each a link to its own dashboard.
  const byUnit = /<section class="card stats-block" aria-labelledby="by-unit-h">([\s\S]*?)<\/section>/.exec(res.body)?.[1] ?? ''
  t.equal([...byUnit.matchAll(/<th scope="row"><a href="\/console\/stats\?period=2026-11&amp;unit=\d\d">/g)].length, 22, 'one row per aimag and the capital')
  t.match(byUnit, /<svg class="chart bar-chart"/, 'drawn')

  // Following a soum's link keeps it in the form, though the list has only aimags.
  const soum = await browse(app, jar, '/console/stats?unit=6201', { headers: EN })
  t.equal(soum.res.statusCode, 200)
  t.match(soum.res.body, /<optgroup label="Chosen unit"><option value="6201" selected>/)
  t.match(soum.res.body, /<a href="\/console\/stats\?period=2026-11&amp;unit=62">Övörkhangai \(62\)<\/a>/, 'the way back up')

  // The printable report, as the API makes it, with its own policy.
  const report = await browse(app, jar, '/console/stats/report?period=2026-11', { headers: EN })
  t.equal(report.res.statusCode, 200)
  t.match(report.res.headers['content-type'], /^text\/html/)
  t.match(report.res.headers['content-security-policy'], /^default-src 'none'; style-src 'unsafe-inline'/)
  t.match(report.res.body, /<title>One-Stop-Shop services report — Mongolia — 2026-11<\/title>/)

  // The API's CSV files.
  const csv = await browse(app, jar, '/console/stats/csv/ranking?period=2026&rank=outcomes.approval_rate', { headers: EN })
  t.equal(csv.res.statusCode, 200)
  t.match(csv.res.headers['content-type'], /^text\/csv/)
  t.match(csv.res.headers['content-disposition'], /attachment; filename="ranking-outcomes\.approval_rate-2026\.csv"/)
  t.match(csv.res.body, /^rank,unit,name,indicator,period,value\r\n/)
  const series = await browse(app, jar, '/console/stats/csv/series?period=2026-11', { headers: EN })
  t.equal(series.res.statusCode, 200)
  t.equal(series.res.body.trim().split('\r\n').length, 13, 'a header and twelve months')
})
