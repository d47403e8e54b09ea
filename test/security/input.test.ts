import type { AddressInfo } from 'node:net'
import t from 'tap'
import type { Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { COLLECTIONS } from '../../src/catalogue/document.ts'
import { clientError } from '../../src/plugins/problem.ts'
import { buildTestApp } from '../helpers/app.ts'
import { rawGet, rawRequest, type RawResponse } from '../helpers/raw-http.ts'

// Security findings of issue 11: bad input must get a problem+json 4xx with a
// code and the request id, never a 5xx and never Fastify's own JSON.

type Answer = LightMyRequestResponse | RawResponse

function bodyOf (res: Answer): Record<string, unknown> {
  const text = 'payload' in res ? res.payload : res.body
  return JSON.parse(text) as Record<string, unknown>
}

function statusOf (res: Answer): number {
  return 'statusCode' in res ? res.statusCode : res.status
}

// A problem+json answer with a registered code and the request id in both the
// body (`instance`) and the `x-request-id` header.
function assertProblem (tt: Test, res: Answer, status: number, code?: string, label = ''): Record<string, unknown> {
  tt.equal(statusOf(res), status, `${label} status ${status}`.trim())
  tt.match(res.headers['content-type'], /^application\/problem\+json/, 'problem+json')
  const body = bodyOf(res)
  tt.type(body.code, 'string', 'has a code')
  if (code !== undefined) tt.equal(body.code, code)
  tt.equal(body.status, status)
  tt.match(body.instance, /^[\w.:-]{8,}$/, 'has a request id')
  tt.equal(body.instance, res.headers['x-request-id'], 'instance is the x-request-id header')
  return body
}

const BAD_INTEGERS = ['-1', '0', '1e20', String(2 ** 53), '9223372036854775807', '9223372036854775808', '-9223372036854775809', 'abc', '1.5', '', 'NaN', '1e400']

interface IntegerField {
  role: 'admin' | 'officer' | 'citizen' | null
  method: 'GET' | 'POST'
  url: (value: string) => string
  in: 'querystring' | 'params'
  pointer: string
}

function query (role: IntegerField['role'], path: string, name: string): IntegerField {
  const sep = path.includes('?') ? '&' : '?'
  return { role, method: 'GET', url: (v) => `${path}${sep}${name}=${v}`, in: 'querystring', pointer: `/${name}` }
}

// Every integer a route takes in its query string or path.
const INTEGER_FIELDS: IntegerField[] = [
  query('citizen', '/v1/me/data-access', 'before'),
  query('citizen', '/v1/me/data-access', 'limit'),
  query('admin', '/v1/admin/audit', 'before'),
  query('admin', '/v1/admin/audit', 'limit'),
  query('admin', '/v1/admin/catalogue/changes', 'before'),
  query('admin', '/v1/admin/catalogue/changes', 'limit'),
  { role: 'admin', method: 'POST', url: (v) => `/v1/admin/catalogue/versions/${v}/restore`, in: 'params', pointer: '/version' },
  query(null, '/v1/units', 'page'),
  query(null, '/v1/units', 'pageSize'),
  query(null, '/v1/services', 'page'),
  query(null, '/v1/services', 'pageSize'),
  ...Object.keys(COLLECTIONS).flatMap((name) => [
    query('admin', `/v1/admin/catalogue/${name}`, 'page'),
    query('admin', `/v1/admin/catalogue/${name}`, 'pageSize'),
  ]),
  query('admin', '/v1/admin/applications', 'limit'),
  query('citizen', '/v1/me/applications', 'limit'),
  query('officer', '/v1/units/1101/applications', 'limit'),
]

t.test('finding 3: integers out of range are a 400 naming the field, never a 500', async (tt) => {
  const { app, token } = await buildTestApp(tt)
  const headers = async (role: IntegerField['role']) => role === null ? {} : { authorization: `Bearer ${await token(role)}` }

  // The examples of the finding.
  for (const url of ['/v1/me/data-access?before=9223372036854775807']) {
    assertProblem(tt, await app.inject({ method: 'GET', url, headers: await headers('citizen') }), 400, 'VALIDATION_FAILED')
  }
  for (const url of ['/v1/admin/audit?before=1e20', '/v1/admin/catalogue/changes?before=1e20']) {
    assertProblem(tt, await app.inject({ method: 'GET', url, headers: await headers('admin') }), 400, 'VALIDATION_FAILED')
  }
  assertProblem(tt, await app.inject({ method: 'POST', url: '/v1/admin/catalogue/versions/99999999999/restore', headers: await headers('admin') }), 400, 'VALIDATION_FAILED')

  for (const field of INTEGER_FIELDS) {
    for (const value of BAD_INTEGERS) {
      // An empty path segment is another route.
      if (field.in === 'params' && value === '') continue
      const res = await app.inject({ method: field.method, url: field.url(value), headers: await headers(field.role) })
      const body = assertProblem(tt, res, 400, 'VALIDATION_FAILED', `${field.method} ${field.url(value)}`)
      const named = ((body.errors ?? []) as Array<{ in: string, pointer: string }>).some((e) => e.in === field.in && e.pointer === field.pointer)
      tt.ok(named, `${field.method} ${field.url(value)} names ${field.in}${field.pointer}`)
    }
  }
})

t.test('finding 3: the largest accepted values work against the database', async (tt) => {
  const { app, token } = await buildTestApp(tt)
  const as = async (role: string) => ({ authorization: `Bearer ${await token(role)}` })
  const max = String(Number.MAX_SAFE_INTEGER)
  tt.equal((await app.inject({ method: 'GET', url: `/v1/me/data-access?before=${max}`, headers: await as('citizen') })).statusCode, 200)
  tt.equal((await app.inject({ method: 'GET', url: `/v1/admin/audit?before=${max}`, headers: await as('admin') })).statusCode, 200)
  tt.equal((await app.inject({ method: 'GET', url: `/v1/admin/catalogue/changes?before=${max}`, headers: await as('admin') })).statusCode, 200)
  // catalogue versions are int4
  assertProblem(tt, await app.inject({ method: 'POST', url: '/v1/admin/catalogue/versions/2147483647/restore', headers: await as('admin') }), 404, 'NOT_FOUND')
  assertProblem(tt, await app.inject({ method: 'POST', url: '/v1/admin/catalogue/versions/2147483648/restore', headers: await as('admin') }), 400, 'VALIDATION_FAILED')
})

t.test('finding 3: integers in bodies are bounded too', async (tt) => {
  const { app, token } = await buildTestApp(tt)
  const as = async () => ({ authorization: `Bearer ${await token('admin')}` })
  const list = await app.inject({ method: 'GET', url: '/v1/admin/catalogue/services?pageSize=1', headers: await as() })
  const service = list.json().items[0]
  const url = `/v1/admin/catalogue/services/${encodeURIComponent(service.code)}`
  const entry = await app.inject({ method: 'GET', url, headers: await as() })
  // Written as text: 1e400 parses to Infinity, which JSON.stringify cannot write.
  for (const fee of ['1e20', '1e400', '-1', '1.5', String(2 ** 63)]) {
    const payload = JSON.stringify({ ...service, guide: { ...service.guide, feeMnt: 0 } }).replace('"feeMnt":0', `"feeMnt":${fee}`)
    const res = await app.inject({ method: 'PUT', url, headers: { ...(await as()), 'if-match': entry.headers.etag as string, 'content-type': 'application/json' }, payload })
    const body = assertProblem(tt, res, 400, 'VALIDATION_FAILED', `feeMnt ${fee}`)
    tt.ok((body.errors as Array<{ pointer: string }>).some((e) => e.pointer === '/guide/feeMnt'), `feeMnt ${fee} is named`)
  }
})

t.test('finding 4: odd jti and claim types are a 401, never a 5xx', async (tt) => {
  const lines: string[] = []
  const { app, token } = await buildTestApp(tt, { env: { LOG_LEVEL: 'warn' }, appOptions: { logStream: { write: (line: string) => { lines.push(line) } } } })
  const me = async (role: string, claims: Record<string, unknown>, omit: string[] = []) =>
    app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${await token(role, { claims, omit })}` } })

  // Empty: refused every time, so empty ids never share one revocation key.
  for (let i = 0; i < 2; i++) assertProblem(tt, await me('admin', { jti: '' }), 401, 'TOKEN_INVALID')
  for (const jti of [12345, 0, null, true, {}, [], ['a'], 'x'.repeat(257)]) {
    const body = assertProblem(tt, await me('admin', { jti }), 401, 'TOKEN_INVALID')
    tt.match(body.detail, /jti/, `jti ${JSON.stringify(jti).slice(0, 20)} is named`)
  }
  assertProblem(tt, await me('admin', {}, ['jti']), 401, 'TOKEN_INVALID')
  const longest = await token('admin', { claims: { jti: 'x'.repeat(256) } })
  tt.equal((await app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${longest}` } })).statusCode, 200)
  tt.equal((await app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${longest}` } })).statusCode, 200, 'reusable')

  const now = Math.floor(Date.now() / 1000)
  const wrong: Array<[string, string, unknown]> = [
    ['admin', 'iss', 123], ['admin', 'iss', null], ['admin', 'iss', ['x']], ['admin', 'iss', {}],
    ['admin', 'aud', 123], ['admin', 'aud', null], ['admin', 'aud', {}], ['admin', 'aud', [123]],
    ['admin', 'sub', 123], ['admin', 'sub', null], ['admin', 'sub', ''], ['admin', 'sub', {}],
    ['admin', 'exp', String(now + 100)], ['admin', 'exp', null], ['admin', 'exp', {}], ['admin', 'exp', true], ['admin', 'exp', now - 3600],
    ['admin', 'iat', 'now'], ['admin', 'iat', null], ['admin', 'iat', 1e300], ['admin', 'iat', -1], ['admin', 'iat', now + 3600],
    ['admin', 'nbf', 'x'], ['admin', 'nbf', null], ['admin', 'nbf', 1e300],
    ['admin', 'role', 123], ['admin', 'role', ['admin']], ['admin', 'role', 'root'],
    ['citizen', 'azp', 123], ['citizen', 'sub', 'not-a-regnum'],
    ['officer', 'unit', 1101], ['officer', 'agency', {}], ['officer', 'unit', '1'.repeat(100)],
  ]
  for (const [role, claim, value] of wrong) {
    const res = await me(role, { [claim]: value })
    tt.equal(statusOf(res), 401, `${role} ${claim}=${JSON.stringify(value)} is refused`)
    tt.match(res.headers['content-type'], /^application\/problem\+json/)
    tt.match(bodyOf(res).code, /^TOKEN_(INVALID|EXPIRED)$/)
  }

  // Far-future and fractional expiries are valid JSON numbers: accepted, and
  // remembered only as long as the token can be used here.
  for (const exp of [1e300, Number.MAX_SAFE_INTEGER, now + 100.5]) {
    const res = await me('admin', { exp })
    tt.equal(res.statusCode, 200, `exp ${exp} is accepted`)
    tt.ok(Date.parse(res.json().expiresAt) <= (now + 3600 + 60) * 1000, 'expiresAt is when the gateway stops accepting it')
  }

  tt.notMatch(lines.join(''), /Redis is unreachable/, 'no false Redis outage was logged')
})

t.test('finding 6: errors Fastify raises before routing are problem+json', async (tt) => {
  const { app } = await buildTestApp(tt)

  for (const url of ['/v1/services/%ZZ', '/v1/services/%ZZ?lang=en', '/problems/%E0%A4%A', '/v1/admin/portals/%/callback']) {
    assertProblem(tt, await app.inject({ method: 'GET', url }), 400, 'MALFORMED_URL')
  }
  const kept = await app.inject({ method: 'GET', url: '/v1/services/%ZZ', headers: { 'x-request-id': 'portal-req-123456' } })
  tt.equal(bodyOf(kept).instance, 'portal-req-123456', 'a caller\'s request id is kept')

  const long = 'a'.repeat(101)
  for (const url of [`/v1/services/${long}`, `/problems/${long}`, `/v1/admin/portals/${long}/callback`, `/v1/citizens/${long}`]) {
    assertProblem(tt, await app.inject({ method: 'GET', url }), 414, 'URI_TOO_LONG')
  }
})

t.test('finding 6: errors Node\'s HTTP parser raises are problem+json over the socket', async (tt) => {
  const { app } = await buildTestApp(tt)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo

  // Sanity: the same request, encoded, is answered by the route.
  const encoded = await rawRequest(port, rawGet(`/v1/services?q=${encodeURIComponent('хүүхдийн')}`))
  tt.equal(encoded.status, 200)

  // Raw UTF-8 in the URL, as curl sends it: llhttp refuses it before Node
  // hands over a request, so the answer is written on the socket.
  for (const path of ['/v1/services?q=хүүхдийн', '/v1/services/хүүхдийн', '/v1/units?lang=mn&q=Улаанбаатар']) {
    const body = assertProblem(tt, await rawRequest(port, rawGet(path)), 400, 'MALFORMED_URL')
    tt.match(body.detail, /percent-encode/)
  }
  assertProblem(tt, await rawRequest(port, rawGet('/v1/services/%ZZ')), 400, 'MALFORMED_URL')
  assertProblem(tt, await rawRequest(port, rawGet(`/v1/services/${'a'.repeat(101)}`)), 414, 'URI_TOO_LONG')

  assertProblem(tt, await rawRequest(port, rawGet(`/v1/services/${'a'.repeat(100_000)}`)), 431, 'HEADERS_TOO_LARGE')
  assertProblem(tt, await rawRequest(port, rawGet('/v1/services', { 'x-big': 'a'.repeat(20_000) })), 431, 'HEADERS_TOO_LARGE')

  const malformed = [
    'GET /v1/services HTTP/1.1\r\nhost: x\r\nno colon here\r\n\r\n',
    'GET /v1/services HTTP/1.1\r\nhost: x\r\nx-bad: a\u0001b\r\n\r\n',
    'GET /v1/services HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n',
    'POST /v1/applications HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n',
    'GET /v1/services HTTP/9.9\r\nhost: x\r\n\r\n',
    'FOO BAR BAZ\r\n\r\n',
  ]
  for (const request of malformed) {
    assertProblem(tt, await rawRequest(port, request), 400, 'MALFORMED_REQUEST')
  }
})

t.test('finding 6: a request that is not received in time is a 408 problem', async (tt) => {
  const { app } = await buildTestApp(tt)
  // Node raises this on its own timers; driven directly so the test need not wait.
  let written = ''
  let destroyed = false
  const socket = { destroyed: false, writable: true, write: (text: string) => { written += text }, destroy: () => { destroyed = true } }
  clientError.call(app, Object.assign(new Error('timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT', bytesParsed: 0, rawPacket: { type: 'Buffer', data: [] } }), socket as never)
  tt.ok(destroyed, 'the connection is closed')
  const [head = '', body = ''] = written.split('\r\n\r\n')
  tt.match(head, /^HTTP\/1\.1 408 Request Timeout\r\n/)
  const headers = Object.fromEntries(head.split('\r\n').slice(1).map((line) => line.split(': ') as [string, string]))
  assertProblem(tt, { status: 408, headers, body }, 408, 'REQUEST_TIMEOUT')
  tt.equal(Number(headers['content-length']), Buffer.byteLength(body))
})

t.test('bad bodies and headers are problem+json 4xx', async (tt) => {
  const { app, token } = await buildTestApp(tt)
  const submit = async (headers: Record<string, string>, payload: string | Buffer) => app.inject({
    method: 'POST',
    url: '/v1/applications',
    headers: { authorization: `Bearer ${await token('citizen')}`, 'idempotency-key': 'key-0123456789', 'content-type': 'application/json', ...headers },
    payload,
  })
  for (const payload of ['{', '{"service": }', '[', 'null', '"x"', '{"__proto__": {"x": 1}}', '\u0000', '{"a":' + '['.repeat(5000)]) {
    const res = await submit({}, payload)
    tt.ok(res.statusCode >= 400 && res.statusCode < 500, `${payload.slice(0, 12)} is a 4xx`)
    assertProblem(tt, res, res.statusCode)
  }
  // Fastify parses text/plain as a string, which the body schema refuses.
  assertProblem(tt, await submit({ 'content-type': 'text/plain' }, 'hello'), 400, 'VALIDATION_FAILED')
  assertProblem(tt, await submit({ 'content-type': 'application/x-www-form-urlencoded' }, 'a=1'), 415, 'UNSUPPORTED_MEDIA_TYPE')
  assertProblem(tt, await submit({}, JSON.stringify({ pad: 'x'.repeat(1_100_000) })), 413, 'PAYLOAD_TOO_LARGE')
  assertProblem(tt, await submit({ 'idempotency-key': 'no spaces allowed' }, '{}'), 400, 'VALIDATION_FAILED')
  assertProblem(tt, await submit({ 'content-type': 'application/json; charset=utf-16' }, '{}'), 400, 'VALIDATION_FAILED')
  assertProblem(tt, await submit({ authorization: 'Basic YWRtaW46YWRtaW4=' }, '{}'), 401, 'TOKEN_INVALID')
  assertProblem(tt, await submit({ authorization: `Bearer ${'x'.repeat(5000)}` }, '{}'), 401, 'TOKEN_INVALID')
  const odd = await app.inject({ method: 'GET', url: '/v1/services/nope', headers: { 'x-request-id': 'é'.repeat(300), 'accept-language': '\u0000'.repeat(10) } })
  assertProblem(tt, odd, 404, 'NOT_FOUND')
})
