import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { launchBrowser, watchedPage } from '../helpers/browser.ts'
import { browserSignIn } from '../helpers/console.ts'
import { adults, deliveryKit } from '../helpers/delivery.ts'
import { eventually } from '../helpers/eventually.ts'

// The operations pages in Chromium, end to end: the welfare agency fails
// every delivery until an application is dead-lettered; an administrator
// sees it on the delivery page and the failures on the adapters page, fixes
// nothing but the agency, retries it from the keyboard, and it goes back to
// delivery and arrives. The audit page shows the chain's head, verification
// agrees, and the pair written down checks out. Every request stays on the
// gateway's origin; the pages fit a tablet held upright.


t.test('an administrator retries a dead-lettered delivery and checks the audit chain', async (t) => {
  const ctx = await buildTestApp(t, {
    exchange: true,
    env: { DELIVERY_ATTEMPTS: '2', DELIVERY_BACKOFF_BASE_MS: '20', DELIVERY_BACKOFF_MAX_MS: '100', OUTBOX_POLL_MS: '50', DECISION_POLL_MS: '60000' },
  })
  const { app, token } = ctx
  const kit = deliveryKit(ctx)
  const admin = { authorization: `Bearer ${await token('admin')}` }

  // The agency answers 500 to everything: two attempts, then dead-lettered.
  await kit.fault('welfare', { errorRate: 1 })
  const submitted = await kit.submit(adults[0]!)
  t.equal(submitted.statusCode, 202, submitted.body)
  const id = submitted.json().id as string
  await eventually(async () => (await kit.count([id], "status = 'failed'")) === 1, 60000)
  await kit.fault('welfare', null)

  // A few catalogue changes, so the audit chain has a head.
  for (const en of ['One', 'Two']) {
    const read = await app.inject({ method: 'GET', url: '/v1/admin/catalogue/agencies/GASR', headers: admin })
    const agency = read.json<{ name: { mn: string, en: string } }>()
    const put = await app.inject({ method: 'PUT', url: '/v1/admin/catalogue/agencies/GASR', headers: { ...admin, 'if-match': read.headers.etag as string }, payload: { ...agency, name: { ...agency.name, en } } })
    t.equal(put.statusCode, 200)
  }

  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const browser = await launchBrowser(t)
  const { page, elsewhere, problems, shot } = await watchedPage(t, browser, base, { viewport: { width: 768, height: 1024 } })
  // Policy violations are reported on the console.
  page.on('console', (m) => { if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) problems.push(m.text()) })
  // Nothing wider than the screen but the tables' own scrolling boxes.
  const fits = async () => Number(await page.evaluate('document.documentElement.scrollWidth')) <= Number(await page.evaluate('document.documentElement.clientWidth'))

  await browserSignIn(page, base, 'admin', '/console/operations')
  t.equal(await page.locator('h1').innerText(), 'Delivery health')
  const row = page.locator(`#app-${id}`)
  t.match(await row.innerText(), /Dead-lettered[\s\S]*dead-lettered after 2 attempts/, 'the dead-lettered application, with its reason')
  const welfare = page.locator('tbody tr', { hasText: 'welfare.submitApplication' })
  t.match(await welfare.innerText(), /welfare\.submitApplication\s+0\s+0\s+0\s+—\s+0\s+1/, 'counted against its agency as dead-lettered')
  t.ok(await fits(), 'the delivery page fits a tablet')
  await shot(page, 'operations-en')

  // The adapters page shows the agency's failures.
  await page.getByRole('link', { name: 'Adapters and breakers' }).click()
  t.equal(await page.locator('h1').innerText(), 'Adapters and circuit breakers')
  const provider = await page.locator('tbody tr', { has: page.locator('th', { hasText: /^welfare$/ }) }).innerText()
  t.match(provider, /^welfare\s+Closed: calls go through\s+—\s+2\s+2\s*$/, 'two calls, two failures, the circuit closed again')
  t.ok(await fits(), 'the adapters page fits a tablet')

  // Back to the deliveries; Retry from the keyboard.
  await page.getByRole('link', { name: 'Deliveries' }).click()
  const retry = page.getByRole('button', { name: `Retry application ${id}` })
  await retry.focus()
  await page.keyboard.press('Enter')
  await page.getByRole('status').filter({ hasText: `Application ${id} is on its way to its agency again` }).waitFor()
  t.equal(await page.locator(`#app-${id}`).count(), 0, 'no longer among the failed')
  const { rows: [now] } = await app.db.query<{ status: string }>('SELECT status FROM applications WHERE id = $1', [id])
  t.not(now!.status, 'failed', `back on its way (${now!.status})`)
  await kit.settled([id], 15000)
  t.same(await kit.reached([id]), { reached: 1 }, 'and it reached the agency')

  // The audit log: its head is what verification names.
  const verified = (await app.inject({ method: 'GET', url: '/v1/admin/audit/verify', headers: admin })).json<{ ok: boolean, last: { seq: number, hash: string } }>()
  t.ok(verified.ok)
  await page.getByRole('link', { name: 'Audit log' }).click()
  t.equal(await page.locator('#head-seq').innerText(), String(verified.last.seq), 'the head\'s sequence number')
  t.equal(await page.locator('#head-hash').getAttribute('data-hash'), verified.last.hash, 'and its hash')
  t.equal((await page.locator('#head-hash').innerText()).replace(/\s+/g, ''), verified.last.hash, 'shown in full, in groups')
  t.ok(await fits(), 'the audit page fits a tablet')
  await page.getByRole('link', { name: 'Verify the chain' }).click()
  t.match(await page.locator('#chain-result').innerText(), /The chain verifies/)
  t.equal(await page.locator('#head-hash').getAttribute('data-hash'), verified.last.hash)
  // The pair, typed back as it was written down.
  await page.getByLabel('Sequence').fill(String(verified.last.seq))
  await page.getByLabel('Hash').fill(await page.locator('#head-hash').innerText())
  await page.getByRole('button', { name: 'Check' }).click()
  t.match(await page.locator('#check-result').innerText(), new RegExp(`Record ${verified.last.seq} still has the hash written down`))

  await page.getByRole('link', { name: 'Portal callbacks' }).click()
  t.equal(await page.locator('h1').innerText(), 'Portal callbacks')

  // In Mongolian, by the switch.
  await page.getByRole('link', { name: 'Монгол' }).click()
  t.equal(await page.getAttribute('html', 'lang'), 'mn')
  await page.goto(`${base}/console/operations`)
  t.equal(await page.locator('h1').innerText(), 'Хүргэлтийн байдал')
  t.match(await page.locator('main').innerText(), /Амжилтгүй болсон өргөдөл алга\./)
  t.ok(await fits(), 'the Mongolian page fits a tablet too')
  await shot(page, 'operations-mn')

  t.same(elsewhere, [], 'no request left the gateway\'s origin')
  t.same(problems, [], 'no script errors')
})
