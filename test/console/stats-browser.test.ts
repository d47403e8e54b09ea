import t from 'tap'
import { simulate } from '../../src/stats/simulate.ts'
import { buildTestApp } from '../helpers/app.ts'
import { launchBrowser, watchedPage } from '../helpers/browser.ts'
import { browserSignIn } from '../helpers/console.ts'
import { QUIET_ENV } from '../helpers/stats-history.ts'

// The monitoring dashboard in Chromium, over a simulated year: an analyst
// signs in, sees the charts drawn from the API's figures with their tables,
// moves by keyboard, reads it in Mongolian, on a tablet held upright, opens
// the printable report, and is refused another aimag with the reason.
// Every request stays on the gateway's origin.

const TODAY = '2026-11-30'

interface Series { points: Array<{ period: string, value: number | string | null }> }

t.test('an analyst\'s dashboard in Chromium', async (t) => {
  const ctx = await buildTestApp(t, { env: { ...QUIET_ENV }, appOptions: { today: () => TODAY } })
  const { app } = ctx
  await simulate(app.db, { applications: 3000, months: 12, end: '2026-11', seed: 5, now: Date.parse(`${TODAY}T04:00:00Z`) })
  await app.stats.fold()
  const base = await app.listen({ host: '127.0.0.1', port: 0 })

  // What the API says, for the page to be compared with.
  const token = await ctx.token('analyst', { claims: { sub: 'analyst-62', unit: '62' } })
  const api = await app.inject({ method: 'GET', url: '/v1/stats/series?indicator=applications.received&unit=62&grain=month&from=2025-12-01&to=2026-11-30', headers: { authorization: `Bearer ${token}` } })
  t.equal(api.statusCode, 200)
  const expected = api.json<Series>().points
  t.ok(expected.some((p) => typeof p.value === 'number' && p.value > 0), `the simulated history reaches aimag 62: ${JSON.stringify(expected.map((p) => p.value))}`)

  const browser = await launchBrowser(t)
  const { page, elsewhere, problems, shot } = await watchedPage(t, browser, base, { viewport: { width: 1024, height: 768 } })

  await browserSignIn(page, base, 'analyst', '/console/stats')
  // From here on, the console's own pages: a policy violation is an error.
  // (The refusal below is a 403 page, which Chromium logs as a failed load.)
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 403/.test(m.text())) problems.push(m.text()) })
  t.equal(await page.getAttribute('html', 'lang'), 'en')
  t.match(await page.locator('h1').innerText(), /Monitoring and evaluation: Övörkhangai \(62\), 2026-11/)

  // The series: a line with a dot per month that has a number, and the
  // table below it holding the API's figures as they are.
  const series = page.locator('section[aria-labelledby="series-h"]')
  const marks = await series.locator('svg circle, svg polyline').count()
  t.ok(marks > 0, `the series is drawn: ${marks} marks`)
  const cells = await series.locator('tbody tr').evaluateAll((rows) => rows.map((r) => [r.querySelector('th')!.textContent!, r.querySelector('td')!.textContent!.replace(/\s/g, '')]))
  t.same(cells, expected.map((p) => [p.period, p.value === null ? '—' : String(p.value)]), 'the table holds the API\'s figures, marks as they are')
  t.equal(await series.locator('table caption').count(), 1, 'the table has a caption')
  // Every chart on the page has its table right after it.
  const charts = await page.locator('main svg').evaluateAll((svgs) => svgs.map((s) => ({
    label: s.getAttribute('aria-label'),
    next: Boolean(s.nextElementSibling?.querySelector('table caption')),
    width: s.getBoundingClientRect().width,
  })))
  t.ok(charts.length >= 5, `${charts.length} charts`)
  t.same(charts.filter((c) => !c.next || c.label === null || c.width < 200), [], 'each labelled, sized, with its table below')
  await shot(page, 'stats-en')

  // Keyboard only: the period field by its label, Enter submits the form.
  await page.getByLabel('Period', { exact: true }).focus()
  await page.keyboard.press('Control+A')
  await page.keyboard.type('2026-10')
  await page.keyboard.press('Enter')
  await page.waitForURL(/period=2026-10/)
  t.match(await page.locator('h1').innerText(), /2026-10$/, 'the filters apply')
  await page.getByLabel('Administrative unit').selectOption('6201')
  await page.getByRole('button', { name: 'Show' }).press('Enter')
  await page.waitForURL(/unit=6201/)
  t.match(await page.locator('h1').innerText(), /\(6201\), 2026-10$/, 'a soum of the aimag')

  // Upright on a tablet: nothing wider than the screen.
  await page.setViewportSize({ width: 768, height: 1024 })
  await page.goto(`${base}/console/stats`)
  const overflow = await page.locator('html').evaluate((el) => el.scrollWidth)
  t.ok(overflow <= 768, `fits 768 px: ${overflow}`)

  // The printable report, through the session.
  await page.setViewportSize({ width: 1024, height: 768 })
  await page.getByRole('link', { name: 'Printable report' }).click()
  await page.waitForURL(/\/console\/stats\/report\?period=2026-11&unit=62/)
  t.match(await page.title(), /Övörkhangai — 2026-11/, 'the report opens')
  t.ok(await page.locator('svg').count() > 0, 'with its charts')
  await page.goBack()

  // In Mongolian, by the language switch.
  await page.getByRole('link', { name: 'Монгол', exact: true }).click()
  await page.locator('html[lang=mn]').waitFor()
  t.equal(await page.getAttribute('html', 'lang'), 'mn')
  t.match(await page.locator('h1').innerText(), /Хяналт-шинжилгээ, үнэлгээ: Өвөрхангай \(62\)/)
  t.ok(await page.locator('section[aria-labelledby="series-h"] svg circle').count() > 0, 'the series in Mongolian too')
  await shot(page, 'stats-mn')

  // Another aimag: refused, with the reason.
  const refused = await page.goto(`${base}/console/stats?unit=21`)
  t.equal(refused?.status(), 403)
  const reason = await page.locator('[role=alert]').innerText()
  t.match(reason, /STATS_SCOPE_FORBIDDEN/, 'the API\'s code')
  t.match(reason, /Дорнод \(21\) таны үзэх эрхийн хүрээнээс гадуур/, 'and why')

  t.same(elsewhere, [], 'no request left the gateway\'s origin')
  t.same(problems, [], 'no script or policy errors')
})
