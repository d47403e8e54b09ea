import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { launchBrowser, watchedPage } from '../helpers/browser.ts'
import { browserSignIn } from '../helpers/console.ts'
import { adults } from '../helpers/delivery.ts'

// A look-up that needs the citizen's consent, in Chromium on a tablet, as
// the development officer (GOSW, unit 8322): refused with the reason; KHUR
// sends the citizen a code; a wrong code is refused beside the field with
// the attempts left; the right one (read from the bus emulator's inbox, as
// the citizen would from their phone) gives the consent and the look-up
// runs under it. The registration number is in no URL the browser visits.

const PURPOSE = 'welfare.household_assessment'
// Inside the page (a string: this project type-checks without the DOM library).
const WIDE = 'document.documentElement.scrollWidth > window.innerWidth + 1'

t.test('an officer gets the citizen\'s consent by a KHUR code and looks the citizen up under it', async (t) => {
  const { app, exchange } = await buildTestApp(t, { exchange: true })
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const browser = await launchBrowser(t)
  const { page, elsewhere, problems, shot } = await watchedPage(t, browser, base, { viewport: { width: 820, height: 1180 } })
  const urls: string[] = []
  page.on('request', (r) => urls.push(r.url()))
  page.on('framenavigated', (f) => urls.push(f.url()))
  const citizen = adults[2]!
  const inbox = async (): Promise<string> => {
    const res = await exchange!.app.inject({ method: 'GET', url: `/admin/otp-inbox?regnum=${encodeURIComponent(citizen.regnum)}` })
    t.equal(res.statusCode, 200, 'the emulator\'s inbox')
    return res.json().messages[0].code as string
  }

  await browserSignIn(page, base, 'officer', '/console/desk')

  // 1. The look-up, narrowed to three sources: refused, with the reason.
  await page.getByLabel(/^Registration number/).fill(citizen.regnum)
  await page.getByLabel('Case reference').fill('CASE-2026-31')
  await page.getByLabel('Purpose').selectOption(PURPOSE)
  for (const source of ['Identity card and address (KHUR)', 'Civil registration', 'Social welfare']) await page.getByLabel(source).check()
  await page.getByRole('button', { name: 'Look up' }).click()
  const offer = page.getByRole('region', { name: 'Getting consent' })
  await offer.waitFor()
  t.match(await page.getByRole('alert').innerText(), /This look-up needs the citizen's consent\.[\s\S]*CONSENT_REQUIRED/, 'why the look-up was refused')
  t.match(await offer.innerText(), /one-time code KHUR sends/, 'how the consent is given')
  t.match(await offer.innerText(), /The purpose as a whole needs it\./, 'what needs it')
  t.match(await offer.innerText(), /Sources it covers: Civil registration, Social welfare, Identity card and address \(KHUR\)/, 'the sources of the look-up')
  t.equal(await page.getByLabel('Social welfare').isChecked(), true, 'the form keeps the sources')
  t.equal(await page.getByLabel('Land').isChecked(), false)
  await shot(page, 'desk-consent-needed')

  // 2. KHUR sends the citizen a code; the consent's page asks for it.
  await offer.getByRole('button', { name: 'Send the citizen a code' }).click()
  await page.waitForURL(/\/console\/desk\/consents\/[0-9a-f-]{36}$/)
  const id = page.url().split('/').pop()!
  t.equal(await page.locator('#consent-id').innerText(), id, 'the page names the consent')
  t.equal(await page.locator('#consent-state').getAttribute('data-state'), 'pending')
  const code = page.getByLabel(/^The code the citizen received/)
  t.equal(await code.getAttribute('inputmode'), 'numeric', 'a numeric keypad on a tablet')
  t.equal(await code.getAttribute('autocomplete'), 'one-time-code')
  t.equal(await page.evaluate<boolean>(WIDE), false, 'the page fits the screen')
  const right = await inbox()
  t.match(right, /^[0-9]{6}$/, 'KHUR sent the citizen a code')

  // 3. A wrong code: the API's reason beside the field, with the attempts left.
  await code.fill(String((Number(right) - 100000 + 1) % 900000 + 100000))
  await page.getByRole('button', { name: 'Check the code' }).click()
  await page.locator('#code-error').waitFor()
  t.match(await page.locator('#code-error').innerText(), /does not match the code KHUR sent — Attempts left before the citizen's codes are locked: 4/)
  t.equal(await code.getAttribute('aria-invalid'), 'true')
  t.match(await code.getAttribute('aria-describedby') ?? '', /code-error/, 'the reason is read with the field')
  t.match(await page.getByRole('alert').innerText(), /The code does not match\.[\s\S]*OTP_WRONG/)
  await shot(page, 'desk-consent-wrong-code')

  // 4. The right code: the look-up runs under the consent.
  await code.fill(right)
  await page.getByRole('button', { name: 'Check the code' }).click()
  await page.getByRole('heading', { name: 'What the registries say' }).waitFor()
  t.match(await page.getByRole('status').first().innerText(), /The code is right/)
  t.equal(await page.locator('#lookup-consent').innerText(), id, 'the result names the consent')
  const sections = page.locator('section[data-source]')
  t.same((await sections.evaluateAll((all) => all.map((s) => s.getAttribute('data-source')))).sort(), ['civil', 'id_card', 'welfare'], 'the three sources asked for')
  const card = page.getByRole('region', { name: 'Identity card and address (KHUR)' })
  t.equal(await card.getAttribute('data-status'), 'ok', 'KHUR accepted the code')
  t.match(await card.innerText(), /Given name[\s\S]*Date of birth/, 'the identity card\'s fields, by name')
  t.equal(await page.evaluate<boolean>(WIDE), false, 'the result fits the screen')
  await shot(page, 'desk-consent-result')

  t.same(elsewhere, [], 'no request left the gateway\'s origin')
  t.same(problems, [], 'no script errors')
  t.same(urls.filter((u) => u.includes(citizen.regnum) || u.includes(encodeURIComponent(citizen.regnum))), [], 'the registration number is in no URL')
  t.ok(urls.some((u) => u.endsWith(`/console/desk/consents/${id}`)), 'the consent\'s id is')
})
