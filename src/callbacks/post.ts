import { request, type Dispatcher } from 'undici'
import { CallbackRefusedError } from './url-guard.ts'

// One POST of a callback body (to a portal, or a DCI partner) through the
// SSRF-guarded dispatcher, with one timeout for every phase.

export type PostOutcome =
  | { outcome: 'sent', status: number }
  // Said no for good (a 4xx other than 408 and 429).
  | { outcome: 'rejected', status: number }
  // The address is not one the gateway may reach: never retried.
  | { outcome: 'refused', reason: string }
  // Worth another attempt: a 5xx, 408, 429, or no answer.
  | { outcome: 'retry', reason: string }

export async function postCallback (url: string, o: { body: string | Buffer, headers: Record<string, string>, dispatcher: Dispatcher, timeoutMs: number }): Promise<PostOutcome> {
  let status: number
  try {
    const res = await request(url, {
      method: 'POST',
      dispatcher: o.dispatcher,
      headers: { 'content-type': 'application/json', 'user-agent': 'oss-gateway', ...o.headers },
      body: o.body,
      headersTimeout: o.timeoutMs,
      bodyTimeout: o.timeoutMs,
      signal: AbortSignal.timeout(o.timeoutMs),
    })
    status = res.statusCode
    await res.body.dump()
  } catch (err) {
    if (err instanceof CallbackRefusedError || (err as { code?: string }).code === 'ECALLBACKREFUSED') return { outcome: 'refused', reason: (err as Error).message }
    return { outcome: 'retry', reason: (err as Error).message }
  }
  if (status >= 200 && status < 300) return { outcome: 'sent', status }
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { outcome: 'rejected', status }
  return { outcome: 'retry', reason: `answered ${status}` }
}
