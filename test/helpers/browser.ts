import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import type { Test } from 'tap'

// Debian's Chromium, headless; .ci/run installs it.
export const CHROMIUM = '/usr/bin/chromium'
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run']

export async function launchBrowser (t: Test): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS })
  t.teardown(() => browser.close())
  return browser
}

// Screenshots the tests write (not committed; the README's are copies).
export const SCREENSHOTS = join(import.meta.dirname, '..', '..', '.tap', 'screenshots')

export interface WatchedPage {
  page: Page
  // Requests that left the gateway's origin, and script errors.
  elsewhere: string[]
  problems: string[]
  shot: (p: Page, name: string) => Promise<Buffer>
}

// A page in a context of its own that records every request leaving
// `base`'s origin and every script error, for the test to assert on.
export async function watchedPage (t: Test, browser: Browser, base: string, options: { viewport?: { width: number, height: number }, locale?: string } = {}): Promise<WatchedPage> {
  const origin = new URL(base).origin
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1024, height: 768 }, locale: options.locale ?? 'en-GB' })
  t.teardown(() => context.close())
  const page = await context.newPage()
  const elsewhere: string[] = []
  const problems: string[] = []
  page.on('request', (r) => { if (new URL(r.url()).origin !== origin) elsewhere.push(r.url()) })
  page.on('pageerror', (e) => problems.push(e.message))
  // A policy the browser cannot read, or that blocks something, is a fault too.
  page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy/.test(m.text())) problems.push(m.text()) })
  mkdirSync(SCREENSHOTS, { recursive: true })
  return { page, elsewhere, problems, shot: (p, name) => p.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true }) }
}
