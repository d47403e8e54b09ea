import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import type { Page } from 'playwright-core'
import { buildTestApp } from '../helpers/app.ts'
import { launchBrowser } from '../helpers/browser.ts'
import { browserSignIn } from '../helpers/console.ts'
import { adults } from '../helpers/delivery.ts'

// The OSS desk in Chromium on a tablet-sized screen, against the bus
// emulator: an officer looks a citizen up for a purpose and a case and sees
// each source's answer, takes a Child Money application at the counter,
// sees it accepted and in the unit's list, then looks up again in Mongolian
// with the keyboard. Every request stays on the gateway's origin, and the
// registration number is in no URL the browser visits.

const SCREENSHOTS = join(import.meta.dirname, '..', '..', '.tap', 'screenshots')

t.test('an officer looks a citizen up, takes an application and finds it in the unit\'s list', async (t) => {
  const { app } = await buildTestApp(t, { exchange: true })
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const origin = new URL(base).origin
  const browser = await launchBrowser(t)
  const context = await browser.newContext({ viewport: { width: 820, height: 1180 }, locale: 'en-GB', hasTouch: true })
  t.teardown(() => context.close())
  const page = await context.newPage()
  const urls: string[] = []
  const problems: string[] = []
  page.on('request', (r) => urls.push(r.url()))
  page.on('framenavigated', (f) => urls.push(f.url()))
  page.on('pageerror', (e) => problems.push(e.message))
  mkdirSync(SCREENSHOTS, { recursive: true })
  const shot = (p: Page, name: string) => p.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true })
  const citizen = adults[0]!

  await browserSignIn(page, base, 'officer', '/console/desk')
  t.equal(await page.getAttribute('html', 'lang'), 'en')

  // 1. The look-up, bound to a purpose and a case.
  await page.getByLabel(/^Registration number/).fill(citizen.regnum)
  t.equal(await page.getByLabel('Purpose').inputValue(), '', 'the agency has two purposes: none is chosen for the officer')
  await page.getByLabel('Purpose').selectOption('welfare.eligibility')
  await page.getByLabel('Case reference').fill('CASE-2026-17')
  await page.getByRole('button', { name: 'Look up' }).click()
  await page.getByRole('heading', { name: 'What the registries say' }).waitFor()
  t.equal(new URL(page.url()).pathname, '/console/desk/lookup')
  const sections = page.locator('section[data-source]')
  t.same((await sections.evaluateAll((all) => all.map((s) => s.getAttribute('data-source')))).sort(),
    ['civil', 'employment', 'land', 'social_insurance', 'welfare'], 'each source of the purpose has its own section')
  for (const status of await sections.evaluateAll((all) => all.map((s) => s.getAttribute('data-status')))) {
    t.ok(status === 'ok' || status === 'not_found', `a source answered: ${status}`)
  }
  const civil = page.getByRole('region', { name: 'Civil registration' })
  t.match(await civil.innerText(), /Clan name[\s\S]*Given name[\s\S]*Date of birth/, 'the civil registry\'s fields, by name')
  t.match(await page.locator('main').innerText(), /Audit record: \d+/, 'the audit record of the look-up')
  t.equal(await page.getByLabel(/^Registration number/).inputValue(), '', 'the next look-up starts blank')
  await shot(page, 'desk-en')

  // 2. An application at the counter.
  await page.getByRole('link', { name: 'Submit an application' }).click()
  await page.getByLabel('Service').selectOption('welfare.child-money')
  await page.getByRole('button', { name: 'Open the form' }).click()
  await page.getByRole('heading', { name: 'Child Money Programme' }).waitFor()
  await page.getByLabel(/^Registration number/).fill(citizen.regnum)
  await page.getByLabel('Children\'s registration numbers').fill('ЧБ21270342\nЧБ24301159')
  await page.getByLabel('Relationship to the children').selectOption('mother')
  await page.getByLabel('Bank account (IBAN)').fill('MN120005005012345678')
  await page.getByRole('button', { name: 'Submit the application' }).click()
  await page.getByRole('heading', { name: 'Application accepted' }).waitFor()
  const id = await page.locator('#application-id').innerText()
  t.match(id, /^[0-9a-f-]{36}$/, 'the application\'s number')

  await page.getByRole('link', { name: 'Follow its status' }).click()
  await page.waitForURL(`${base}/console/desk/applications/${id}`)
  t.ok(await page.locator('#application-status').innerText(), 'its status')

  // 3. The unit's applications.
  await page.getByRole('link', { name: 'The unit\'s applications' }).first().click()
  await page.waitForURL(`${base}/console/desk/applications`)
  t.equal(await page.locator(`tr[data-id="${id}"]`).count(), 1, 'the application is in the unit\'s list')
  await page.locator(`tr[data-id="${id}"] a`).click()
  await page.waitForURL(`${base}/console/desk/applications/${id}`)

  // 4. In Mongolian, by the keyboard alone: Enter submits the look-up.
  await page.getByRole('link', { name: 'Монгол' }).click()
  await page.getByRole('link', { name: 'Иргэний мэдээлэл лавлах' }).click()
  t.equal(await page.getAttribute('html', 'lang'), 'mn')
  await page.getByLabel('Хэргийн дугаар').fill('CASE-2026-18')
  await page.getByLabel('Зорилго').selectOption('welfare.eligibility')
  const regnum = page.getByLabel(/^Регистрийн дугаар/)
  await regnum.focus()
  await page.keyboard.type(citizen.regnum)
  await page.keyboard.press('Enter')
  await page.getByRole('heading', { name: 'Бүртгэлүүдийн мэдээлэл' }).waitFor()
  t.match(await page.getByRole('region', { name: 'Иргэний бүртгэл' }).innerText(), /Ургийн овог/)
  await shot(page, 'desk-mn')

  t.same(urls.filter((u) => new URL(u).origin !== origin), [], 'no request left the gateway\'s origin')
  t.same(urls.filter((u) => u.includes(citizen.regnum) || u.includes(encodeURIComponent(citizen.regnum))), [], 'the registration number is in no URL')
  t.same(problems, [], 'no script errors')
})
