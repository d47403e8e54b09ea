import t from 'tap'
import type { InjectOptions } from 'fastify'
import { createRandom, type Random } from '../../src/exchange/prng.ts'
import { buildTestApp } from '../helpers/app.ts'
import type { TokenOverrides } from '../helpers/tokens.ts'

// Fuzzes every operation of the served OpenAPI document with requests built
// from its schemas and then broken: wrong types, huge numbers, long strings,
// unicode, empty, null, nested junk, missing fields. Whoever sends them (any
// role or none), the gateway never answers 5xx, and every 4xx is problem+json
// with a code and the request id (on the DCI face, the spec's error body with
// an err.* code; at the OAuth token endpoint, the RFC's). Reproduce with FUZZ_SEED; widen with
// FUZZ_REQUESTS.

const SEED = process.env.FUZZ_SEED ?? 'issue-11'
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 2400)
const PARALLEL = 8

type Schema = Record<string, unknown>
interface Parameter { name: string, in: 'path' | 'query' | 'header' | 'cookie', required?: boolean, schema?: Schema }
interface Operation { id: string, method: string, path: string, parameters: Parameter[], body?: Schema, roles: string[] }
interface Doc { paths: Record<string, Record<string, { operationId?: string, parameters?: Parameter[], requestBody?: { content: Record<string, { schema: Schema }> }, description?: string }>>, components: { schemas: Record<string, Schema> } }

const ROLES = ['admin', 'officer', 'citizen', 'partner']

const JUNK_STRINGS = [
  '', ' ', 'null', 'true', '0', '-1', '1.5', '1e20', '1e400', '-1e400', String(2 ** 53), '9223372036854775807', '9223372036854775808',
  'NaN', 'Infinity', '0x10', 'x'.repeat(101), 'x'.repeat(3000), 'хүүхдийн', 'УБ99032712', 'ub99032712', '😀'.repeat(40), '\u0000', '\u202e\u200b',
  '\ud800', '<script>alert(1)</script>', "' OR 1=1 --", '../../etc/passwd', '%ZZ', '%00', '%', '{}', '[]', '__proto__', 'constructor',
  'draft', 'published', '1101', 'welfare.child-money', 'test-portal', 'a,b', 'civil,civil', '2026-13-45T99:99:99Z', 'http://127.0.0.1:9/x',
]

// Strings that satisfy the patterns the schemas use, tried in order.
const GOOD_STRINGS = [
  '1101', '110101', '11', 'welfare.child-money', 'draft', 'published', '1', 'test-portal', 'key-00000001', 'validation-failed',
  'case-1', 'УБ99032712', 'abc', 'https://portal.example.mn/callbacks',
]

// Bodies that get through to the handlers, for operations whose schemas say
// too little to build one (the service's own form, the caller's regnum).
const APPLICATION = {
  service: 'welfare.child-money',
  unit: '832269',
  channel: 'online',
  applicant: { regnum: 'УБ99032712' },
  form: { children: ['УБ15251234'], relationship: 'mother', bankAccount: 'MN123456789012345678' },
}
const SEEDS: Record<string, unknown> = {
  submitApplication: APPLICATION,
  submitApplicationBatch: { items: [{ idempotencyKey: 'batch-key-0001', application: { ...APPLICATION, unit: '1101', channel: 'oss_counter' } }] },
  publishCatalogue: { note: 'fuzz' },
  setPortalCallback: { url: 'https://203.0.113.10/callbacks' },
}

function resolve (doc: Doc, schema: Schema | undefined): Schema {
  let s = schema ?? {}
  for (let i = 0; i < 10 && typeof s.$ref === 'string'; i++) {
    s = doc.components.schemas[(s.$ref as string).replace('#/components/schemas/', '')] ?? {}
  }
  return s
}

function goodString (rnd: Random, s: Schema, name: string): string {
  if (s.format === 'uuid') return [8, 4, 4, 4, 12].map((n) => Array.from({ length: n }, () => rnd.int(0, 15).toString(16)).join('')).join('-')
  if (s.format === 'date-time') return '2026-01-01T00:00:00Z'
  if (s.format === 'date') return '2026-01-01'
  if (s.format === 'uri') return 'https://portal.example.mn/callbacks'
  if (name === 'regnum') return rnd.pick(['УБ99032712', 'UB99032712', 'АА00112233'])
  if (name === 'idempotency-key') return `key-${rnd.int(0, 999_999)}`
  if (typeof s.pattern === 'string') {
    const pattern = new RegExp(s.pattern, 'u')
    // ^(a|b|c)... : one of the listed words
    const words = /^\^\(([\w|.-]+)\)/.exec(s.pattern)?.[1]?.split('|')
    const fits = [...(words ?? []), ...GOOD_STRINGS].filter((c) => pattern.test(c) &&
      c.length >= (typeof s.minLength === 'number' ? s.minLength : 0) && c.length <= (typeof s.maxLength === 'number' ? s.maxLength : Infinity))
    if (fits.length > 0) return rnd.pick(fits)
  }
  const min = typeof s.minLength === 'number' ? s.minLength : 1
  return 'a'.repeat(Math.max(min, rnd.int(1, 12)))
}

// A value that mostly satisfies the schema.
function sample (doc: Doc, rnd: Random, schema: Schema | undefined, name = '', depth = 0): unknown {
  const s = resolve(doc, schema)
  if ('const' in s) return s.const
  if (Array.isArray(s.enum)) return rnd.pick(s.enum)
  for (const key of ['oneOf', 'anyOf'] as const) {
    if (Array.isArray(s[key])) return sample(doc, rnd, rnd.pick(s[key] as Schema[]), name, depth)
  }
  let type = s.type
  if (Array.isArray(type)) type = type.length > 1 && rnd.chance(0.8) ? type.find((x) => x !== 'null') : rnd.pick(type)
  if (type === undefined && s.properties !== undefined) type = 'object'
  switch (type) {
    case 'string': return goodString(rnd, s, name)
    case 'integer':
    case 'number': {
      const min = typeof s.minimum === 'number' ? s.minimum : 0
      const max = typeof s.maximum === 'number' ? s.maximum : min + 1000
      return rnd.int(min, Math.min(max, min + 1000))
    }
    case 'boolean': return rnd.chance(0.5)
    case 'null': return null
    case 'array': {
      if (depth > 6) return []
      const n = Math.max(typeof s.minItems === 'number' ? s.minItems : 0, rnd.int(0, 2))
      return Array.from({ length: n }, () => sample(doc, rnd, s.items as Schema, name, depth + 1))
    }
    case 'object': {
      const out: Record<string, unknown> = {}
      if (depth > 6) return out
      const props = (s.properties ?? {}) as Record<string, Schema>
      const required = new Set((s.required ?? []) as string[])
      for (const [key, sub] of Object.entries(props)) {
        if (required.has(key) || rnd.chance(0.5)) out[key] = sample(doc, rnd, sub, key, depth + 1)
      }
      return out
    }
    default: return rnd.pick(['x', 1, true, {}])
  }
}

function nested (depth: number, leaf: unknown): unknown {
  let v = leaf
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v }
  return v
}

function junk (rnd: Random, depth = 0): unknown {
  switch (rnd.int(0, 11)) {
    case 0: return null
    case 1: return rnd.pick([true, false])
    case 2: return rnd.pick([0, -1, -0, 1.5, 1e20, 2 ** 53, 2 ** 63, -(2 ** 63), 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2])
    case 3:
    case 4:
    case 5: return rnd.pick(JUNK_STRINGS)
    case 6: return []
    case 7: return {}
    case 8: return depth > 2 ? 'deep' : [junk(rnd, depth + 1), junk(rnd, depth + 1)]
    case 9: return depth > 2 ? 'deep' : { [rnd.pick(JUNK_STRINGS) || 'k']: junk(rnd, depth + 1), '': junk(rnd, depth + 1) }
    case 10: return nested(rnd.pick([50, 500]), rnd.pick(JUNK_STRINGS))
    default: return Array.from({ length: rnd.pick([100, 2000]) }, (_, i) => i)
  }
}

// Breaks one spot of a sampled value: replaced with junk, removed, or joined
// by an unknown property.
function mutate (rnd: Random, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || rnd.chance(0.15)) return junk(rnd)
  const copy = structuredClone(value) as Record<string, unknown>
  const keys = Object.keys(copy)
  const roll = rnd.int(0, 3)
  if (keys.length === 0 || roll === 0) {
    copy[rnd.pick(['extra', '__proto__', 'constructor', 'хүүхдийн', ''])] = junk(rnd)
    return copy
  }
  const key = rnd.pick(keys)
  if (roll === 1) delete copy[key]
  else if (roll === 2) copy[key] = junk(rnd)
  else copy[key] = mutate(rnd, copy[key])
  return copy
}

// A lone surrogate cannot be percent-encoded; it is sent as U+FFFD.
function encode (text: string): string {
  return encodeURIComponent(text.toWellFormed())
}

function scalar (value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value) ?? ''
}

function operations (doc: Doc): Operation[] {
  const ops: Operation[] = []
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue
      const roles = /Roles: ([a-z, ]+)\./.exec(op.description ?? '')?.[1]?.split(', ') ?? []
      const body = op.requestBody?.content['application/json']?.schema
      ops.push({ id: op.operationId ?? '', method: method.toUpperCase(), path, parameters: op.parameters ?? [], roles, ...(body === undefined ? {} : { body }) })
    }
  }
  return ops
}

interface Planned {
  index: number
  op: string
  request: InjectOptions
  auth: { role: string, overrides?: TokenOverrides } | string | null
}

function plan (doc: Doc, rnd: Random, op: Operation, index: number): Planned {
  let path = op.path
  const query: string[] = []
  const headers: Record<string, string> = {}
  for (const p of op.parameters) {
    const schema = resolve(doc, p.schema)
    const roll = rnd.next()
    // mostly valid, so that deeper code is reached; often junk; sometimes missing
    const value = roll < 0.55 ? scalar(sample(doc, rnd, schema, p.name)) : roll < 0.9 ? scalar(junk(rnd)) : undefined
    if (p.in === 'path') {
      const text = value ?? ''
      path = path.replace(`{${p.name}}`, rnd.chance(0.9) ? encode(text) : text.replace(/[\s?#/]/g, ''))
    } else if (p.in === 'query' && value !== undefined) {
      query.push(`${encode(p.name)}=${encode(value)}`)
      if (rnd.chance(0.05)) query.push(`${encode(p.name)}=${encode(scalar(junk(rnd)))}`)
    } else if (p.in === 'header' && value !== undefined) {
      headers[p.name] = value.replace(/[^\t\x20-\x7e\x80-\xff]/g, '')
    }
  }
  if (rnd.chance(0.1)) query.push(`${rnd.pick(['extra', '__proto__', 'q[a]', 'a.b'])}=${encode(scalar(junk(rnd)))}`)
  if (rnd.chance(0.05)) query.push(rnd.pick(['%ZZ', '&&', '=', 'a=%', 'a=%E0%A4%A']))
  if (rnd.chance(0.15)) headers['if-match'] = rnd.pick(['*', '"x"', '', 'W/"v1"', 'x'.repeat(500)])
  if (rnd.chance(0.1)) headers['if-none-match'] = rnd.pick(['*', '"x"', ''])
  if (rnd.chance(0.1)) headers['accept-language'] = rnd.pick(['en', 'mn-MN,en;q=0.5', '*', ',,,', 'x'.repeat(300)])
  if (rnd.chance(0.05)) headers['x-request-id'] = rnd.pick(['', 'x'.repeat(300), 'ok-id-123456', '<b>'])
  if (rnd.chance(0.05)) headers.accept = rnd.pick(['text/html', 'application/xml', '*/*', ''])

  const request: InjectOptions = { method: op.method as InjectOptions['method'], url: path + (query.length > 0 ? `?${query.join('&')}` : ''), headers }
  if (op.method !== 'GET' && op.method !== 'DELETE') {
    const roll = rnd.next()
    if (roll < 0.75) {
      const valid = SEEDS[op.id] ?? (op.body === undefined ? {} : sample(doc, rnd, op.body))
      headers['content-type'] = 'application/json'
      request.payload = JSON.stringify(rnd.chance(0.2) ? valid : mutate(rnd, valid))
    } else if (roll < 0.8) {
      // Nesting deeper than JSON.stringify can recurse, in an otherwise valid
      // body: written as text, since it cannot be built and stringified here.
      const valid = SEEDS[op.id] ?? (op.body === undefined ? {} : sample(doc, rnd, op.body))
      const depth = rnd.pick([2000, 20000])
      const deep = rnd.chance(0.5) ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
      const keys = valid !== null && typeof valid === 'object' && !Array.isArray(valid) ? Object.keys(valid) : []
      const target = keys.length > 0 && rnd.chance(0.7) ? rnd.pick(keys) : 'extra'
      headers['content-type'] = 'application/json'
      request.payload = JSON.stringify({ ...(valid as object), [target]: '@DEEP@' }).replace('"@DEEP@"', deep)
    } else if (roll < 0.9) {
      headers['content-type'] = rnd.pick(['application/json', 'application/json; charset=utf-8', 'application/yaml'])
      request.payload = rnd.pick(['{', '{"a":1e400}', 'null', '', '[1,2', '{"__proto__":{"x":1}}', '"\\ud800"', '{"a":' + '['.repeat(3000),
        '- a\n- b', 'a: &a [*a]', '{"constructor":{"prototype":{"x":1}}}', '\u0000\u0001'])
    } else {
      headers['content-type'] = rnd.pick(['text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', ''])
      request.payload = rnd.pick(['a=1', '<a/>', '--x--', 'plain'])
    }
  }

  const allowed = op.roles.length > 0 && rnd.chance(0.6)
  const roll = rnd.next()
  let auth: Planned['auth']
  if (allowed) auth = { role: rnd.pick(op.roles) }
  else if (roll < 0.55) auth = { role: rnd.pick(ROLES) }
  else if (roll < 0.7) auth = null
  else if (roll < 0.85) auth = rnd.pick(['Bearer', 'Bearer x.y.z', 'Basic YTpi', 'Bearer ' + 'a'.repeat(5000), 'bearer  e30.e30.', 'Bearer eyJhbGciOiJub25lIn0.e30.'])
  else auth = { role: rnd.pick(ROLES), overrides: { claims: { [rnd.pick(['jti', 'sub', 'exp', 'iat', 'nbf', 'aud', 'unit', 'azp', 'role'])]: junk(rnd) } } }
  return { index, op: `${op.method} ${op.path}`, request, auth }
}

t.test('fuzzing every operation never gets a 5xx, and every 4xx is a problem', async (tt) => {
  const { app, token } = await buildTestApp(tt, { exchange: true })
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as Doc
  const ops = operations(doc)
  tt.ok(ops.length > 40, `${ops.length} operations`)

  const rnd = createRandom('fuzz', SEED)
  const planned = Array.from({ length: REQUESTS }, (_, i) => plan(doc, rnd, ops[i % ops.length]!, i))

  // One example per operation and kind of failure, with how often it happened.
  const failures = new Map<string, { count: number, example: string }>()
  const fail = (op: string, kind: string, example: string) => {
    const key = `${op} ${kind}`
    const seen = failures.get(key)
    if (seen === undefined) failures.set(key, { count: 1, example })
    else seen.count++
  }
  const statuses = new Map<number, number>()
  for (let start = 0; start < planned.length; start += PARALLEL) {
    await Promise.all(planned.slice(start, start + PARALLEL).map(async ({ index, op, request, auth }) => {
      const headers = { ...(request.headers as Record<string, string>) }
      if (typeof auth === 'string') headers.authorization = auth
      else if (auth !== null) headers.authorization = `Bearer ${await token(auth.role, auth.overrides)}`
      const res = await app.inject({ ...request, headers })
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      const where = `#${index} ${request.method} ${String(request.url).slice(0, 160)} (${typeof auth === 'object' && auth !== null ? auth.role : String(auth).slice(0, 20)})`
      if (res.statusCode >= 500) {
        fail(op, String(res.statusCode), `${where}: ${res.body.slice(0, 300)}`)
        return
      }
      if (res.statusCode < 400) return
      let body: { code?: unknown, instance?: unknown, errors?: unknown, error?: unknown } = {}
      try { body = res.json() } catch {}
      // Protocols with their own error bodies: the DCI face (HttpErrorResponse,
      // err.* codes) and the OAuth token endpoint (RFC 6749 section 5.2).
      const json = /^application\/json/.test(String(res.headers['content-type']))
      const path = op.slice(op.indexOf(' ') + 1)
      if (path.startsWith('/dci/')) {
        const errors = body.errors as Array<{ code?: unknown }> | undefined
        if (!json || !Array.isArray(errors) || errors.length === 0 || !errors.every((e) => typeof e.code === 'string' && e.code.startsWith('err.'))) {
          fail(op, `${res.statusCode} not a DCI error`, `${where}: ${res.headers['content-type']} ${res.body.slice(0, 200)}`)
        }
        return
      }
      if (path.startsWith('/oauth2/') && json && typeof body.error === 'string') return
      if (!/^application\/problem\+json/.test(String(res.headers['content-type'])) || typeof body.code !== 'string' ||
        typeof body.instance !== 'string' || body.instance !== res.headers['x-request-id']) {
        fail(op, `${res.statusCode} not a problem`, `${where}: ${res.headers['content-type']} ${res.body.slice(0, 200)}`)
      }
    }))
  }
  tt.comment(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`)
  const broken = [...failures].map(([key, { count, example }]) => `${key} (${count}x), e.g. ${example}`)
  tt.same(broken, [], `${broken.length} kinds of failure in ${REQUESTS} requests (seed ${SEED})`)
  tt.ok((statuses.get(200) ?? 0) + (statuses.get(202) ?? 0) > REQUESTS / 20, 'enough requests got through to the handlers')
})
