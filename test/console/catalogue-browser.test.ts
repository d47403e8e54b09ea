import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { launchBrowser, watchedPage } from '../helpers/browser.ts'
import { browserSignIn } from '../helpers/console.ts'

// The catalogue's console in Chromium: an administrator imports a file
// with errors and reads them by service code, imports a good one, finds a
// soum by its Latin name and reads what it offers through which channel,
// and restores version 1. Every request stays on the gateway's origin.


interface Doc { services: Array<{ code: string, name: { mn: string, en?: string }, guide: { feeMnt: number } }> }

t.test('an administrator imports, browses the tree to a soum and restores a version', async (t) => {
  const { app, token, dataDir } = await buildTestApp(t, { appOptions: { today: () => '2026-12-01' } })
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const browser = await launchBrowser(t)
  const { page, elsewhere, problems, shot } = await watchedPage(t, browser, base, { viewport: { width: 1024, height: 768 } })

  await browserSignIn(page, base, 'admin', '/console/catalogue')

  // Files made from the draft as the API exports it.
  const exported = await app.inject({ method: 'GET', url: '/v1/admin/catalogue/export?format=json', headers: { authorization: `Bearer ${await token('admin')}` } })
  const doc = JSON.parse(exported.body) as Doc
  const childMoney = doc.services.find((s) => s.code === 'welfare.child-money')!
  const other = doc.services.find((s) => s.code !== childMoney.code)!
  const fee = childMoney.guide.feeMnt
  // The test's own directory (the app's data lives there too).
  const dir = join(dataDir, 'files')
  mkdirSync(dir, { recursive: true })
  childMoney.guide.feeMnt = -5
  delete other.name.en
  const brokenFile = join(dir, 'catalogue-with-errors.json')
  writeFileSync(brokenFile, JSON.stringify(doc))
  childMoney.guide.feeMnt = fee + 1000
  other.name.en = 'Renamed in the file'
  const goodFile = join(dir, 'catalogue.json')
  writeFileSync(goodFile, JSON.stringify(doc))

  // The file with errors: refused, every problem listed by the service's code.
  await page.getByRole('link', { name: 'Import and export' }).click()
  await page.waitForURL(`${base}/console/catalogue/import`)
  const file = page.getByLabel('File (YAML or JSON)')
  await file.waitFor({ state: 'visible' })
  await file.setInputFiles(brokenFile)
  await page.getByRole('button', { name: 'Import into the draft' }).click()
  await page.getByRole('heading', { name: /Problems in the file/ }).waitFor()
  const feeRow = page.locator('table.import-problems tr', { hasText: 'welfare.child-money' })
  t.equal(await feeRow.count(), 1, 'the service with the bad fee has its row')
  t.match(await feeRow.innerText(), /welfare\.child-money\s+\/guide\/feeMnt\s+must be >= 0/, 'named by its code, with the field and the reason')
  const nameRow = page.locator('table.import-problems tr', { hasText: other.code })
  t.match(await nameRow.innerText(), /\/name\/en\s+must have required property/, 'the other service by its code too')
  await shot(page, 'catalogue-import-en')

  // The good file goes into the draft.
  await page.getByLabel('File (YAML or JSON)').setInputFiles(goodFile)
  await page.getByRole('button', { name: 'Import into the draft' }).click()
  await page.getByText('Imported into the draft.').waitFor()

  // The tree: a soum by a Latin search, then what it offers.
  await page.getByRole('link', { name: 'Administrative units' }).click()
  await page.getByLabel('Find a unit by name').fill('Deluun')
  await page.getByRole('button', { name: 'Find' }).click()
  await page.getByRole('link', { name: 'Delüün', exact: true }).click()
  await page.waitForURL(`${base}/console/catalogue/units/8322`)
  t.equal(await page.locator('h1').innerText(), 'Delüün')
  const head = await page.locator('#offers thead').innerText()
  t.match(head, /OSS counter\s+Mobile OSS\s+Online/, 'a column per channel')
  const offer = await page.locator('#offers tr', { hasText: 'welfare.child-money' }).innerText()
  t.match(offer, /Delüün/, 'Child Money at the soum\'s counter…')
  t.match(offer, /2026-12-\d\d – 2026-12-\d\d/, '…by the mobile OSS round of December…')
  t.match(offer, /Yes, online/, '…and online')
  t.match(await page.getByText(/^Next round:/).innerText(), /2026-12-\d\d – 2026-12-\d\d/, 'the next mobile round')
  t.ok(await page.getByRole('link', { name: 'mobile-8322-2026-12' }).count() === 1, 'the draft\'s rounds from the soum, to edit')
  await shot(page, 'catalogue-tree-en')

  // Version 1 restored: the draft is what is published again.
  await page.getByRole('link', { name: 'Versions' }).click()
  await page.getByRole('button', { name: 'Restore version 1' }).click()
  await page.getByText('Version 1 is now in the draft.').waitFor()
  await page.getByRole('link', { name: 'Draft and publish' }).first().click()
  await page.getByText('The draft is the same as what is published.').waitFor()
  const draft = await app.inject({ method: 'GET', url: '/v1/admin/catalogue/services/welfare.child-money', headers: { authorization: `Bearer ${await token('admin')}` } })
  t.equal(draft.json().guide.feeMnt, fee, 'the imported fee is gone from the draft')

  // The same soum in Mongolian, found in Cyrillic.
  await page.getByRole('link', { name: 'Монгол' }).click()
  await page.getByRole('link', { name: 'Засаг захиргааны нэгжүүд' }).click()
  t.equal(await page.getAttribute('html', 'lang'), 'mn')
  await page.getByLabel('Нэгжийг нэрээр хайх').fill('Дэлүүн')
  await page.getByRole('button', { name: 'Хайх' }).click()
  await page.getByRole('link', { name: 'Дэлүүн', exact: true }).click()
  await page.waitForURL(`${base}/console/catalogue/units/8322`)
  t.equal(await page.locator('h1').innerText(), 'Дэлүүн')
  t.match(await page.locator('#offers thead').innerText(), /Явуулын ТҮЦ/)
  await shot(page, 'catalogue-tree-mn')

  t.same(elsewhere, [], 'no request left the gateway\'s origin')
  t.same(problems, [], 'no script errors')
})
