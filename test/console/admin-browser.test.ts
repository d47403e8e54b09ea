import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { launchBrowser, watchedPage } from '../helpers/browser.ts'

// The console in Chromium, end to end through the development identity
// provider: an administrator changes a fee in the draft, sees the change
// field by field, publishes, and the public API serves the new fee; a
// request without the CSRF token is refused; signing out ends the session.
// Every request the pages make stays on the gateway's origin.


t.test('an administrator changes a fee, sees the diff, publishes; logout ends the session', async (t) => {
  const { app } = await buildTestApp(t)
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const browser = await launchBrowser(t)
  const { page, elsewhere, problems, shot } = await watchedPage(t, browser, base, { viewport: { width: 1024, height: 768 } })

  // Signing in: the console sends the browser to the provider and back.
  await page.goto(`${base}/console/catalogue`)
  t.match(page.url(), /\/dev-idp\/interaction\//, 'a page without a session goes to the identity provider')
  await shot(page, 'sign-in-en')
  await page.getByLabel(/admin/).check()
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL(`${base}/console/catalogue`)
  t.equal(await page.getAttribute('html', 'lang'), 'en', 'Accept-Language chose English')
  await shot(page, 'catalogue-en')

  // The keyboard alone reaches the menu: the skip link first, then the items.
  await page.keyboard.press('Tab')
  t.equal(await page.evaluate<string | undefined>('document.activeElement?.textContent'), 'Skip to the main content', 'the first Tab lands on the skip link')
  for (let i = 0; i < 10 && await page.evaluate<string | undefined>('document.activeElement?.textContent') !== 'Home'; i++) await page.keyboard.press('Tab')
  await page.keyboard.press('Enter')
  await page.waitForURL(`${base}/console/`)
  await page.goto(`${base}/console/catalogue`)

  // The fee of Child Money, in the draft.
  await page.getByLabel('Search by code or name').fill('child-money')
  await page.getByRole('button', { name: 'Find' }).click()
  await page.getByRole('link', { name: /Edit .*Child/ }).click()
  const fee = page.getByLabel('Fee (MNT)')
  const before = await fee.inputValue()
  // A bad value first: the API's problem is shown beside the field.
  await fee.fill('free')
  await page.getByRole('button', { name: 'Save to the draft' }).click()
  t.equal(await fee.getAttribute('aria-invalid'), 'true', 'the fee field is marked invalid')
  t.match(await page.locator('#fee-error').innerText(), /integer/, 'the API\'s reason is next to the field')
  await fee.fill('12500')
  await page.getByRole('button', { name: 'Save to the draft' }).click()
  await page.getByText('Saved in the draft.').waitFor()
  await shot(page, 'service-en')

  // The draft, field by field, then publish.
  await page.getByRole('link', { name: 'Draft and publish' }).first().click()
  const row = page.locator('tr', { hasText: '/guide/feeMnt' })
  t.equal(await row.count(), 1, 'the changed field is listed')
  t.match(await row.innerText(), new RegExp(`welfare\\.child-money\\s+/guide/feeMnt\\s+${before}\\s+12500`), 'with the value before and after')
  await shot(page, 'draft-en')
  await page.getByLabel('Summary of the change').fill('Child Money fee for the test')
  await page.getByRole('button', { name: 'Publish' }).click()
  await page.getByText(/Published: version \d+/).waitFor()
  const published = await app.inject({ method: 'GET', url: '/v1/services/welfare.child-money' })
  t.equal(published.json().guide.feeMnt, 12500, 'the public API serves the new fee')

  // The same page in Mongolian, by the switch.
  await page.getByRole('link', { name: 'Монгол' }).click()
  t.equal(await page.getAttribute('html', 'lang'), 'mn')
  await page.goto(`${base}/console/catalogue?q=child-money`)
  t.match(await page.locator('h1').innerText(), /Үйлчилгээний каталог/)
  await shot(page, 'catalogue-mn')

  // A change without the session's CSRF token is refused.
  const forged = await page.evaluate(async () => {
    const res = await fetch('/console/catalogue/publish', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: 'etag=%22x%22' })
    return { status: res.status, body: await res.json() as { code: string } }
  })
  t.same(forged, { status: 403, body: { ...forged.body, code: 'CSRF_INVALID' } }, 'no CSRF token: 403 CSRF_INVALID')

  // The queue dashboard opens with the same session.
  const dashboard = await page.goto(`${base}/admin/queues`)
  t.equal(dashboard?.status(), 200, 'the queue dashboard through the console session')

  // Sign out: the console's session ends, then the provider's.
  await page.goto(`${base}/console/`)
  await page.getByRole('button', { name: 'Гарах' }).click()
  await page.getByRole('button', { name: /^Sign out/ }).click()
  await page.waitForURL(/\/console\/signed-out/)
  await page.goto(`${base}/console/`)
  t.match(page.url(), /\/dev-idp\/interaction\//, 'after logout the console asks to sign in again')
  const queues = await page.goto(`${base}/admin/queues`)
  t.equal(queues?.status(), 401, 'and the queue dashboard refuses')

  t.same(elsewhere, [], 'no request left the gateway\'s origin')
  t.same(problems, [], 'no script errors')
})
