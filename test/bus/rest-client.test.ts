import { generateKeyPairSync } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import t, { type Test } from 'tap'
import { createRestClient, type RestClient } from '../../src/bus/rest-client.ts'
import { createEd25519Signer, sha256b64url } from '../../src/bus/jws.ts'

// A bus that signs its answers as the exchange does, and does what the test
// asks of each call: answer, answer wrongly signed, or never answer.
async function fakeBus (t: Test, behave: (req: IncomingMessage, res: ServerResponse, answer: (status: number, body: string, tamper?: boolean) => void) => void) {
  const busKey = generateKeyPairSync('ed25519')
  const signer = createEd25519Signer(busKey.privateKey, 'bus1')
  const server = createServer((req, res) => {
    if (req.url === '/.well-known/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [{ ...busKey.publicKey.export({ format: 'jwk' }), kid: 'bus1' }] }))
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '')
      behave(req, res, (status, body, tamper = false) => {
        const signature = signer.sign({ rqh: sha256b64url(token), status, bdh: sha256b64url(tamper ? `${body} ` : body), iat: Math.floor(Date.now() / 1000) }, 'xroad-resp+jwt')
        res.writeHead(status, { 'content-type': 'application/json', 'x-road-signature': signature }).end(body)
      })
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`
}

function client (t: Test, baseUrl: string, connections = 4): RestClient {
  const c = createRestClient({ baseUrl, memberId: 'MN/GOV/OSS/gateway', signingKey: { kid: 'm1', privateKey: generateKeyPairSync('ed25519').privateKey, created: new Date().toISOString() }, connections })
  t.teardown(() => c.close())
  return c
}

t.test('an answer is checked against the bus keys and handed back parsed', async (t) => {
  const url = await fakeBus(t, (req, _res, answer) => answer(200, JSON.stringify({ path: req.url, issue: req.headers['x-road-issue'] ?? null })))
  const bus = client(t, url)
  const answer = await bus.call({ service: 'MN/GOV/GASR/civil/getIdCard', body: { regnum: 'УБ99032712' }, issue: 'T-1', xRoadId: 'x-1', timeoutMs: 2000 })
  t.same(answer, { status: 200, body: { path: '/r1/MN/GOV/GASR/civil/getIdCard', issue: 'T-1' }, xRoadId: 'x-1' })
  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => bus.call({ service: `MN/GOV/X/s${i % 3}/get`, body: { i }, timeoutMs: 2000 })))
  t.same(many.map((a) => (a.body as { path: string }).path), Array.from({ length: 20 }, (_, i) => `/r1/MN/GOV/X/s${i % 3}/get`))
})

t.test('a tampered answer, an unsigned one, a silent bus and an absent one each fail as they should', async (t) => {
  const url = await fakeBus(t, (req, res, answer) => {
    const body = JSON.stringify({ ok: true })
    if (req.url!.endsWith('/tampered')) answer(200, body, true)
    else if (req.url!.endsWith('/unsigned')) res.writeHead(200, { 'content-type': 'application/json' }).end(body)
    else if (req.url!.endsWith('/silent')) { /* never answers */ } else answer(200, body)
  })
  const bus = client(t, url, 2)
  await t.rejects(bus.call({ service: 'A/B/C/d/tampered', body: {}, timeoutMs: 2000 }), { code: 'BUS_BAD_SIGNATURE', message: /body does not match/ })
  await t.rejects(bus.call({ service: 'A/B/C/d/unsigned', body: {}, timeoutMs: 2000 }), { code: 'BUS_BAD_SIGNATURE', message: /not signed/ })
  const started = Date.now()
  // Two silent calls take both connections; the third waits for one and times out waiting.
  const silent = await Promise.allSettled([0, 1, 2].map(() => bus.call({ service: 'A/B/C/d/silent', body: {}, timeoutMs: 300 })))
  t.same(silent.map((s) => s.status === 'rejected' && (s.reason as { code: string }).code), ['BUS_TIMEOUT', 'BUS_TIMEOUT', 'BUS_TIMEOUT'])
  t.ok(Date.now() - started < 1500, 'each within its deadline')
  t.same((await bus.call({ service: 'A/B/C/d/fine', body: {}, timeoutMs: 2000 })).body, { ok: true }, 'the client still works')
  const absent = client(t, 'http://127.0.0.1:9')
  await t.rejects(absent.call({ service: 'A/B/C/d/fine', body: {}, timeoutMs: 2000 }), { code: 'BUS_NETWORK' })
})
