import { chromium, type Browser } from 'playwright-core'
import type { Test } from 'tap'

// Debian's Chromium, headless; .ci/run installs it.
export const CHROMIUM = '/usr/bin/chromium'
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run']

export async function launchBrowser (t: Test): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS })
  t.teardown(() => browser.close())
  return browser
}
