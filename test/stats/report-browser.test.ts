import t from 'tap'
import { simulate } from '../../src/stats/simulate.ts'
import { buildTestApp } from '../helpers/app.ts'
import { launchBrowser } from '../helpers/browser.ts'
import { QUIET_ENV } from '../helpers/stats-history.ts'

// The printable report in a real browser: it loads nothing but itself, runs
// nothing, draws its charts, fits an A4 page and prints to PDF.

const TODAY = '2026-11-30'

t.test('the aimag report in Chromium', async (t) => {
  const ctx = await buildTestApp(t, { env: { ...QUIET_ENV }, appOptions: { today: () => TODAY } })
  const { app } = ctx
  await simulate(app.db, { applications: 3000, months: 12, end: '2026-11', seed: 5, now: Date.parse(`${TODAY}T04:00:00Z`) })
  await app.stats.fold()
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const analyst = await ctx.token('analyst', { claims: { sub: 'analyst-62', unit: '62' } })
  const browser = await launchBrowser(t)

  for (const lang of ['en', 'mn'] as const) {
    const url = `${base}/v1/stats/report?period=2026-11&unit=62&lang=${lang}`
    const json = await (await fetch(url, { headers: { authorization: `Bearer ${analyst}` } })).json() as {
      unit: { name: string }, headline: Array<{ indicator: string, value: unknown }>, series: unknown[]
    }
    const context = await browser.newContext({ extraHTTPHeaders: { authorization: `Bearer ${analyst}` }, viewport: { width: 794, height: 1123 } })
    t.teardown(() => context.close())
    const page = await context.newPage()
    const requests: string[] = []
    const problems: string[] = []
    page.on('request', (r) => requests.push(r.url()))
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text()) })
    page.on('pageerror', (e) => problems.push(e.message))
    const res = await page.goto(`${url}&format=html`)
    t.equal(res?.status(), 200, `${lang}: the report opens`)
    t.match(res?.headers()['content-type'], /^text\/html/)
    t.match(res?.headers()['content-security-policy'], /default-src 'none'/, 'the browser is told the page fetches nothing')
    t.same(requests, [`${url}&format=html`], `${lang}: the page asked for nothing but itself`)
    t.same(problems, [], `${lang}: no console errors or warnings`)
    t.equal(await page.getAttribute('html', 'lang'), lang)
    t.match(await page.title(), json.unit.name, `${lang}: the title names ${json.unit.name}`)
    const text = await page.innerText('body')
    const received = json.headline.find((h) => h.indicator === 'applications.received')!.value
    t.ok(typeof received === 'number' && received > 0, `applications received: ${received}`)
    t.match(text.replace(/\s/g, ''), String(received), `${lang}: the headline figure is on the page`)
    // The series first, each drawn; then the breakdowns, whose bars may all be
    // hidden in a small aimag (their labels and marks are text).
    const charts = await page.$$eval('svg', (svgs) => svgs.map((s) => {
      const b = s.getBoundingClientRect()
      return { w: b.width, h: b.height, marks: s.querySelectorAll('path, rect, circle, polyline').length, texts: s.querySelectorAll('text').length }
    }))
    t.ok(charts.length >= json.series.length, `${lang}: ${charts.length} charts for ${json.series.length} series`)
    t.same(charts.filter((c) => c.w < 100 || c.h < 40 || c.texts === 0), [], `${lang}: every chart has a size and its labels: ${JSON.stringify(charts)}`)
    t.same(charts.slice(0, json.series.length).filter((c) => c.marks === 0), [], `${lang}: every series is drawn`)
    // Printed: nothing wider than an A4 page.
    await page.emulateMedia({ media: 'print' })
    const width = page.viewportSize()!.width
    const overflow = await page.$$eval('body *', (els, w) => els.filter((e) => e.getBoundingClientRect().right > w + 1).map((e) => e.tagName.toLowerCase()), width)
    t.same(overflow, [], `${lang}: in print, nothing runs off the page`)
    const pdf = await page.pdf({ format: 'A4', printBackground: true })
    t.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-', `${lang}: a PDF`)
    const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length
    t.ok(pages >= 1 && pages <= 8, `${lang}: ${pages} A4 pages`)
  }
})
