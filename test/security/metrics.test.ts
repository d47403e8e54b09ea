import { join } from 'node:path'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { buildTestApp } from '../helpers/app.ts'
import { eventually } from '../helpers/eventually.ts'
import { spawnServer } from '../helpers/process.ts'
import { ownServices } from '../helpers/services.ts'

// Finding 9: /metrics was open to anyone who reached the port, and worker
// processes exported nothing.

const WORKER = join(import.meta.dirname, '..', '..', 'src', 'worker.ts')
const TOKEN = 'metrics-token-0123456789abcdef'

// Settings that would otherwise come from the machine's environment.
const quiet = { METRICS_TOKEN: '', TRUST_PROXY: 'false', OSS_DEVELOPMENT: 'false' }

t.test('with METRICS_TOKEN set, /metrics wants it as a bearer token', async (tt) => {
  const { app } = await buildTestApp(tt, { env: { ...quiet, METRICS_TOKEN: TOKEN } })
  const none = await app.inject({ method: 'GET', url: '/metrics' })
  tt.equal(none.statusCode, 401, 'no token')
  tt.match(none.headers['content-type'], /application\/problem\+json/)
  tt.match(none.headers['www-authenticate'], /^Bearer realm="metrics"/)
  tt.equal(none.json().code, 'AUTH_REQUIRED')
  tt.notMatch(none.body, /process_cpu/, 'no metrics in the refusal')

  for (const header of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, 'Bearer short', `Basic ${TOKEN}`, TOKEN, 'Bearer ']) {
    const wrong = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: header } })
    tt.equal(wrong.statusCode, 401, `refused: ${header.slice(0, 12)}…`)
    tt.equal(wrong.json().code, 'TOKEN_INVALID')
    tt.match(wrong.headers['www-authenticate'], /error="invalid_token"|error="invalid_request"/)
  }

  const ok = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } })
  tt.equal(ok.statusCode, 200)
  tt.match(ok.headers['content-type'], /text\/plain/)
  tt.match(ok.body, /process_cpu_user_seconds_total/)
  const lower = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `bearer ${TOKEN}` } })
  tt.equal(lower.statusCode, 200, 'the scheme is case-insensitive')

  const live = await app.inject({ method: 'GET', url: '/health/live' })
  tt.equal(live.statusCode, 200, 'health stays open for probes')
})

t.test('without METRICS_TOKEN: open on loopback, closed on any other address or behind a proxy', async (tt) => {
  const loopback = await buildTestApp(tt, { env: { ...quiet, HOST: '127.0.0.1' } })
  const open = await loopback.app.inject({ method: 'GET', url: '/metrics' })
  tt.equal(open.statusCode, 200, 'loopback: open, as for `npm start`')

  for (const env of [{ HOST: '0.0.0.0' }, { HOST: '::' }, { HOST: '10.0.0.5' }, { HOST: '127.0.0.1', TRUST_PROXY: 'true' }]) {
    const { app } = await buildTestApp(tt, { env: { ...quiet, ...env } })
    const closed = await app.inject({ method: 'GET', url: '/metrics' })
    tt.equal(closed.statusCode, 403, JSON.stringify(env))
    tt.equal(closed.json().code, 'METRICS_CLOSED')
    tt.match(closed.json().detail, /METRICS_TOKEN/, 'says what to set')
    tt.notMatch(closed.body, /process_cpu/)
    tt.equal((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200, 'health stays open')
  }
})

t.test('the token is compared in constant time, whatever its length', async (tt) => {
  const calls: Array<[number, number]> = []
  const crypto = await import('node:crypto')
  const mod = await tt.mockImport<typeof import('../../src/routes/metrics.ts')>('../../src/routes/metrics.ts', {
    'node:crypto': {
      ...crypto,
      timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
        calls.push([a.byteLength, b.byteLength])
        return crypto.timingSafeEqual(a, b)
      },
    },
  })
  const secretsEqual = (mod as { secretsEqual?: (given: string, expected: string) => boolean }).secretsEqual
  tt.type(secretsEqual, 'function', 'src/routes/metrics.ts exports secretsEqual')
  if (secretsEqual === undefined) return
  tt.equal(secretsEqual(TOKEN, TOKEN), true)
  tt.equal(secretsEqual(`${TOKEN}x`, TOKEN), false, 'longer')
  tt.equal(secretsEqual(TOKEN.slice(0, -1), TOKEN), false, 'shorter')
  tt.equal(secretsEqual('', TOKEN), false, 'empty')
  tt.equal(secretsEqual(`${TOKEN.slice(0, -1)}X`, TOKEN), false, 'last character differs')
  tt.equal(calls.length, 5, 'every comparison goes through timingSafeEqual')
  tt.ok(calls.every(([a, b]) => a === b && a === calls[0]![0]), 'on buffers of one fixed length, so the length does not leak either')
})

async function workerEnv (tt: Test, extra: Record<string, string>): Promise<Record<string, string>> {
  return {
    ...ownServices(tt, 'wrkmetrics'),
    EXCHANGE_URL: 'http://127.0.0.1:9',
    HOST: '127.0.0.1',
    WORKER_PORT: '0',
    LOG_LEVEL: 'info',
    ...quiet,
    ...extra,
  }
}

t.test('`npm run worker` serves /metrics and /health/* (and nothing else) on its own port', async (tt) => {
  const worker = spawnServer(WORKER, await workerEnv(tt, { METRICS_TOKEN: TOKEN }))
  tt.teardown(() => { worker.child.kill('SIGKILL') })
  const ready = JSON.parse(await worker.waitFor(/delivery worker ready/)) as { url?: string }
  tt.type(ready.url, 'string', 'the worker says where it listens')
  if (ready.url === undefined) return
  const url = ready.url

  const live = await request(`${url}/health/live`)
  tt.equal(live.statusCode, 200)
  tt.same(await live.body.json(), { status: 'ok' })

  // A process just started on a busy machine may miss a check's deadline once.
  const readiness = await eventually(async () => {
    const res = await request(`${url}/health/ready`)
    const body = await res.body.json() as { status: string }
    return res.statusCode === 200 ? body : undefined
  }, 30000)
  tt.match(readiness, { status: 'ready', checks: { database: { status: 'up' }, redis: { status: 'up' }, delivery: { status: 'up' } } })

  const refused = await request(`${url}/metrics`)
  tt.equal(refused.statusCode, 401, 'the token applies to the worker too')
  await refused.body.dump()
  const metrics = await request(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
  tt.equal(metrics.statusCode, 200)
  const text = await metrics.body.text()
  tt.match(text, /process_cpu_user_seconds_total/)
  tt.match(text, /application_delivery_attempts_total/, 'the delivery worker\'s own metrics')

  const api = await request(`${url}/v1/services`)
  tt.equal(api.statusCode, 404, 'the gateway\'s API is not served by a worker')
  await api.body.dump()

  worker.child.kill('SIGTERM')
  tt.equal((await worker.exit).code, 0)
})

t.test('two workers on one machine start side by side with no set-up', async (tt) => {
  const env = await workerEnv(tt, {})
  const a = spawnServer(WORKER, env)
  const b = spawnServer(WORKER, env)
  tt.teardown(() => { a.child.kill('SIGKILL'); b.child.kill('SIGKILL') })
  const urls = await Promise.all([a, b].map(async (w) => (JSON.parse(await w.waitFor(/delivery worker ready/)) as { url?: string }).url))
  tt.ok(urls[0] !== undefined && urls[1] !== undefined && urls[0] !== urls[1], `two listeners: ${urls.join(', ')}`)
  for (const url of urls) {
    if (url === undefined) continue
    const res = await request(`${url}/metrics`)
    tt.equal(res.statusCode, 200, 'open on loopback without a token')
    await res.body.dump()
  }
})
