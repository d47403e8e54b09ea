import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { errorRegistry } from '../../src/errors/registry.ts'
import { ProblemError } from '../../src/errors/problem-error.ts'
import { fieldErrors, toProblem } from '../../src/plugins/problem.ts'

const PROBLEM_KEYS = ['type', 'title', 'status', 'detail', 'instance', 'code']

async function setup (tt: Parameters<typeof buildTestApp>[0]) {
  return buildTestApp(tt, {
    env: { BODY_LIMIT_BYTES: '2048' },
    extend (app) {
      app.post('/test/echo', {
        schema: {
          body: {
            type: 'object',
            required: ['name', 'applicant'],
            additionalProperties: false,
            properties: {
              name: { type: 'string', minLength: 2 },
              count: { type: 'integer', minimum: 1 },
              applicant: { type: 'object', required: ['regnum'], properties: { regnum: { type: 'string', pattern: '^[А-ЯӨҮЁ]{2}[0-9]{8}$' } } },
              'a/b': { type: 'string' },
            },
          },
          querystring: { type: 'object', properties: { page: { type: 'integer', minimum: 1 } } },
        },
      }, async (request) => request.body)
      app.get('/test/crash', async () => {
        throw new Error('password=hunter2 at db.internal:5432')
      })
      app.get('/test/problem', async () => {
        throw new ProblemError('CONFLICT', 'already there', { cause: new Error('unique violation') })
      })
    },
  })
}

function assertProblem (tt: any, res: any, status: number, code: string) {
  tt.equal(res.statusCode, status, `status ${status}`)
  tt.match(res.headers['content-type'], /^application\/problem\+json/)
  const body = res.json()
  for (const key of PROBLEM_KEYS) tt.ok(key in body, `has ${key}`)
  tt.equal(body.code, code)
  tt.equal(body.status, status)
  tt.equal(body.instance, res.headers['x-request-id'], 'instance is the request id')
  return body
}

t.test('validation errors list every failing field as a JSON pointer', async (tt) => {
  const { app } = await setup(tt)
  // parts are validated one at a time; a good body lets the query's error show
  const res = await app.inject({
    method: 'POST',
    url: '/test/echo?page=0',
    payload: { name: 'ab', applicant: { regnum: 'АА00112233' } },
  })
  const q = assertProblem(tt, res, 400, 'VALIDATION_FAILED')
  tt.same(q.errors.map((e: any) => `${e.in}${e.pointer}`), ['querystring/page'])

  const body = assertProblem(tt, await app.inject({
    method: 'POST',
    url: '/test/echo',
    payload: { name: 'x', count: 'many', applicant: { regnum: 'AA123' }, extra: true },
  }), 400, 'VALIDATION_FAILED')
  const pointers = body.errors.map((e: any) => `${e.in}:${e.pointer}`).sort()
  tt.same(pointers, ['body:/applicant/regnum', 'body:/count', 'body:/extra', 'body:/name'])
  tt.match(body.detail, /^body\//)

  const missing = assertProblem(tt, await app.inject({ method: 'POST', url: '/test/echo', payload: { 'a/b': { not: 'a string' } } }), 400, 'VALIDATION_FAILED')
  tt.same(missing.errors.map((e: any) => e.pointer).sort(), ['/applicant', '/a~1b', '/name'])
})

t.test('malformed JSON, wrong media type, oversized body, empty body', async (tt) => {
  const { app } = await setup(tt)
  assertProblem(tt, await app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: '{"name": "ab",' }), 400, 'MALFORMED_JSON')
  assertProblem(tt, await app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: '' }), 400, 'MALFORMED_JSON')
  assertProblem(tt, await app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/xml' }, payload: '<a/>' }), 415, 'UNSUPPORTED_MEDIA_TYPE')
  assertProblem(tt, await app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ name: 'x'.repeat(4000) }) }), 413, 'PAYLOAD_TOO_LARGE')
  // a prototype-poisoning body is refused, not merged
  assertProblem(tt, await app.inject({ method: 'POST', url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: '{"name":"ab","applicant":{"regnum":"АА00112233"},"__proto__":{"x":1}}' }), 400, 'MALFORMED_JSON')
  const ok = await app.inject({ method: 'POST', url: '/test/echo', payload: { name: 'ab', applicant: { regnum: 'АА00112233' } } })
  tt.equal(ok.statusCode, 200)
})

t.test('unknown route 404, wrong method 405 with Allow', async (tt) => {
  const { app } = await setup(tt)
  assertProblem(tt, await app.inject({ method: 'GET', url: '/nowhere' }), 404, 'ROUTE_NOT_FOUND')
  const wrong = assertProblem(tt, await app.inject({ method: 'DELETE', url: '/test/echo' }), 405, 'METHOD_NOT_ALLOWED')
  tt.match(wrong.detail, /POST/)
  const res = await app.inject({ method: 'PUT', url: '/health/live' })
  assertProblem(tt, res, 405, 'METHOD_NOT_ALLOWED')
  tt.equal(res.headers.allow, 'GET, HEAD')
})

t.test('5xx never carries internals', async (tt) => {
  const { app } = await setup(tt)
  const res = await app.inject({ method: 'GET', url: '/test/crash' })
  const body = assertProblem(tt, res, 500, 'INTERNAL')
  tt.notMatch(res.body, /hunter2|db\.internal|stack|at /)
  tt.notOk('stack' in body)
  const conflict = assertProblem(tt, await app.inject({ method: 'GET', url: '/test/problem' }), 409, 'CONFLICT')
  tt.equal(conflict.detail, 'already there')
  tt.notMatch(JSON.stringify(conflict), /unique violation/)
})

t.test('a caller-supplied request id is kept when well formed', async (tt) => {
  const { app } = await setup(tt)
  const kept = await app.inject({ method: 'GET', url: '/nowhere', headers: { 'x-request-id': 'portal-req-123456' } })
  tt.equal(kept.json().instance, 'portal-req-123456')
  const replaced = await app.inject({ method: 'GET', url: '/nowhere', headers: { 'x-request-id': 'bad id <script>' } })
  tt.match(replaced.json().instance, /^[0-9a-f-]{36}$/)
})

t.test('problem types resolve to the registry', async (tt) => {
  const { app } = await setup(tt)
  const list = await app.inject({ method: 'GET', url: '/problems' })
  tt.equal(list.json().length, Object.keys(errorRegistry).length)
  const one = await app.inject({ method: 'GET', url: '/problems/validation-failed' })
  tt.same(one.json(), { type: '/problems/validation-failed', code: 'VALIDATION_FAILED', status: 400, title: 'Request validation failed' })
  assertProblem(tt, await app.inject({ method: 'GET', url: '/problems/no-such-thing' }), 404, 'NOT_FOUND')
})

t.test('every registry code maps to a 4xx or 5xx and keeps the cause', async (tt) => {
  for (const [code, spec] of Object.entries(errorRegistry)) {
    tt.ok(spec.status >= 400 && spec.status <= 599, code)
  }
  const cause = new Error('root')
  tt.equal(toProblem(new ProblemError('CONFLICT', 'x', { cause })).cause, cause)
  tt.equal(toProblem(cause).code, 'INTERNAL')
  tt.equal(toProblem(cause).cause, cause)
  tt.same(fieldErrors('body', [{ instancePath: '/a', keyword: 'enum', message: 'x', params: { allowedValues: ['p', 'q'] } }]),
    [{ in: 'body', pointer: '/a', detail: 'must be one of: p, q' }])
})
