import { setTimeout as sleep } from 'node:timers/promises'

// Waits for asynchronous work in another component (a queue worker) to show,
// checking every few milliseconds up to a bound; never a fixed sleep.
export async function eventually<T> (check: () => Promise<T | undefined | false>, timeoutMs = 15000, everyMs = 25): Promise<T> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > until) throw new Error(`not reached within ${timeoutMs} ms`)
    await sleep(everyMs)
  }
}
