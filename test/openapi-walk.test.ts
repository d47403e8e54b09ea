import { randomUUID } from 'node:crypto'
import t from 'tap'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { buildTestApp } from './helpers/app.ts'

// Walks every operation of the served OpenAPI document with a request built
// from the document alone: required path, query and header values from its
// examples, enums and defaults, or from the answer its links point at (the
// If-Match of a write is the ETag of the read that links to it);
// a body from the request schema's example, or from the operation a link
// names; the first content type it declares; and a token for a role its
// description allows (or the session cookie its security scheme describes).
// Each answer must be one the document declares for that operation: a
// declared status, or a success where it declares 2XX. A 4XX range does not
// count, and 400, 401, 403, 412, 415 and 428 never do (below).

type Schema = Record<string, unknown>
interface Parameter { name: string, in: 'path' | 'query' | 'header' | 'cookie', required?: boolean, schema?: Schema, example?: unknown, examples?: Record<string, { value: unknown }> }
interface Link { operationId: string, parameters?: Record<string, string>, requestBody?: string }
interface Response { links?: Record<string, Link>, content?: Record<string, unknown> }
interface Operation {
  operationId: string
  description?: string
  parameters?: Parameter[]
  requestBody?: { required?: boolean, content: Record<string, { schema?: Schema, example?: unknown }> }
  responses: Record<string, Response>
  security?: Array<Record<string, string[]>>
}
interface Doc {
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, Schema>, securitySchemes: Record<string, { type: string, in?: string, name?: string, description?: string }> }
}
interface Op { method: string, path: string, op: Operation }
interface Sent { request: InjectOptions, params: Record<string, string>, response: LightMyRequestResponse }

const METHOD_ORDER = ['get', 'put', 'post', 'delete']

function resolve (doc: Doc, schema: Schema | undefined): Schema {
  let s = schema ?? {}
  for (let i = 0; i < 10 && typeof s.$ref === 'string'; i++) s = doc.components.schemas[(s.$ref as string).replace('#/components/schemas/', '')] ?? {}
  return s
}

// The value the document offers for a parameter, or undefined.
function documented (doc: Doc, p: Parameter): unknown {
  if (p.example !== undefined) return p.example
  const named = p.examples === undefined ? undefined : Object.values(p.examples)[0]
  if (named !== undefined) return named.value
  const s = resolve(doc, p.schema)
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0]
  if (s.default !== undefined) return s.default
  if (Array.isArray(s.enum)) return s.enum[0]
  if (s.format === 'uuid') return randomUUID()
  return undefined
}

function pointer (value: unknown, ptr: string): unknown {
  return ptr.split('/').slice(1).reduce<unknown>((v, token) => (v as Record<string, unknown> | undefined)?.[token.replaceAll('~1', '/').replaceAll('~0', '~')], value)
}

// What a request built from the document must never get, declared or not:
// it is well-formed (400, 415), authorised (401, 403) and names the ETag it
// read (412, 428) when the document says how.
const NEVER = new Set([400, 401, 403, 412, 415, 428])

function declared (op: Operation, status: number): boolean {
  if (NEVER.has(status) || status >= 500) return false
  const codes = Object.keys(op.responses)
  return codes.includes(String(status)) || (status >= 200 && status < 300 && codes.includes('2XX'))
}

t.test('every operation answers a request built from the document alone as the document says', async (tt) => {
  const { app, token } = await buildTestApp(tt, { exchange: true })
  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<Doc>()
  const ops: Op[] = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).filter(([method]) => METHOD_ORDER.includes(method)).map(([method, op]) => ({ method, path, op })))
  const byId = new Map(ops.map((o) => [o.op.operationId, o]))
  tt.ok(ops.length > 80, `${ops.length} operations`)
  tt.ok(ops.every((o) => typeof o.op.operationId === 'string'), 'every operation has an operationId')

  // Links into each operation: which answer of which operation gives what.
  const linksTo = new Map<string, Array<{ from: Op, status: number, link: Link }>>()
  for (const from of ops) {
    for (const [status, response] of Object.entries(from.op.responses)) {
      for (const link of Object.values(response.links ?? {})) {
        const list = linksTo.get(link.operationId) ?? []
        list.push({ from, status: Number(status), link })
        linksTo.set(link.operationId, list)
      }
    }
  }

  // The scheme's description names the operation that gives the credentials;
  // its documented example, under a fresh id, gets them.
  async function basicCredentials (scheme: string, spec: { description?: string }): Promise<Record<string, string>> {
    const [, method, url] = /\b(POST) (\/\S+?)[,;]?\s/.exec(spec.description ?? '') ?? []
    const giver = doc.paths[url!]![method!.toLowerCase()]!
    const media = Object.values(giver.requestBody!.content)[0]!
    const example = (media.example ?? (resolve(doc, media.schema).examples as unknown[])[0]) as Record<string, unknown>
    const id = `walk-${randomUUID().slice(0, 8)}`
    const given = await app.inject({ method: method as 'POST', url: url!, headers: { authorization: `Bearer ${await token('admin')}` }, payload: { ...example, id } })
    tt.equal(given.statusCode, 201, `${url} gives the ${scheme} credentials`)
    return { authorization: `Basic ${Buffer.from(`${id}:${given.json().clientSecret as string}`).toString('base64')}` }
  }

  async function credentials (op: Operation): Promise<Record<string, string>> {
    const roles = /Roles: ([^.]+)\./.exec(op.description ?? '')?.[1]?.split(', ')
    for (const requirement of op.security ?? [{ bearer: [] }]) {
      const scheme = Object.keys(requirement)[0]
      if (scheme === undefined) return {}
      const spec = doc.components.securitySchemes[scheme]!
      if (spec.type === 'apiKey' && spec.in === 'cookie') {
        // The scheme's description names the operation that sells it.
        const [, method, url] = /\b(POST|GET) (\/\S+)/.exec(spec.description ?? '') ?? []
        const bought = await app.inject({ method: method as 'POST', url: url!, headers: { authorization: `Bearer ${await token('admin')}` } })
        const cookie = String(bought.headers['set-cookie'] ?? '').split(';')[0]!
        tt.match(cookie, `${spec.name}=`, `${url} sells the ${scheme} cookie`)
        return { cookie }
      }
      if (spec.type === 'http' && (spec as { scheme?: string }).scheme === 'basic') return basicCredentials(scheme, spec)
      const tokenUrl = (spec as { flows?: { clientCredentials?: { tokenUrl: string } } }).flows?.clientCredentials?.tokenUrl
      if (spec.type === 'oauth2' && tokenUrl !== undefined) {
        // Client credentials from the document's basic scheme, exchanged at the token URL.
        const [name, basic] = Object.entries(doc.components.securitySchemes).find(([, s]) => s.type === 'http' && (s as { scheme?: string }).scheme === 'basic')!
        const issued = await app.inject({ method: 'POST', url: tokenUrl, headers: await basicCredentials(name, basic), payload: { grant_type: 'client_credentials' } })
        tt.equal(issued.statusCode, 200, `${tokenUrl} issues the ${scheme} token`)
        return { authorization: `Bearer ${issued.json().access_token as string}` }
      }
      if (spec.type === 'http' && roles !== undefined) {
        // An admin where allowed: it may see what a citizen or officer would not.
        const role = roles.includes('admin') ? 'admin' : roles[0]!
        return { authorization: `Bearer ${await token(role)}` }
      }
    }
    return {}
  }

  async function send (target: Op, depth = 0, extraQuery: Record<string, string> = {}): Promise<Sent> {
    const { op } = target
    const params: Record<string, string> = {}
    const query: Record<string, string> = { ...extraQuery }
    const headers: Record<string, string> = { ...(await credentials(op)) }
    let body: { payload: string, type: string } | undefined

    // What the links into this operation give, from a fresh call of their source.
    for (const { from, status, link } of depth > 2 ? [] : linksTo.get(op.operationId) ?? []) {
      const source = await send(from, depth + 1)
      tt.equal(source.response.statusCode, status, `${from.op.operationId} answers ${status} for its link to ${op.operationId}`)
      const value = (expr: string): string => {
        if (expr === '$response.body') return source.response.body
        const header = /^\$response\.header\.(.+)$/.exec(expr)?.[1]
        if (header !== undefined) return String(source.response.headers[header.toLowerCase()])
        const inBody = /^\$response\.body#(.*)$/.exec(expr)?.[1]
        if (inBody !== undefined) return String(pointer(source.response.json(), inBody))
        const fromPath = /^\$request\.path\.(.+)$/.exec(expr)?.[1]
        if (fromPath !== undefined) return source.params[fromPath]!
        throw new Error(`no such runtime expression: ${expr}`)
      }
      for (const [name, expr] of Object.entries(link.parameters ?? {})) {
        const [where, key] = name.includes('.') ? name.split('.', 2) as [string, string] : ['path', name]
        // A link fills in the target's parameters; it cannot add one the target does not declare.
        if (!(op.parameters ?? []).some((p) => p.name === key && (where === p.in || (where === 'path' && !name.includes('.'))))) {
          tt.fail(`${from.op.operationId} links ${name} to ${op.operationId}, which declares no such parameter`)
          continue
        }
        if (where === 'header') headers[key] = value(expr)
        else if (where === 'query') query[key] = value(expr)
        else params[key] = value(expr)
      }
      if (link.requestBody !== undefined) {
        // Sent as the target declares its body: the source's media type if it is among them.
        const declaredTypes = Object.keys(op.requestBody?.content ?? {})
        const sourceType = String(source.response.headers['content-type']).split(';')[0]!
        if (declaredTypes.length === 0) tt.fail(`${from.op.operationId} links a body to ${op.operationId}, which declares none`)
        else body = { payload: value(link.requestBody), type: declaredTypes.includes(sourceType) ? sourceType : declaredTypes[0]! }
      }
    }

    for (const p of op.parameters ?? []) {
      const bag = p.in === 'path' ? params : p.in === 'query' ? query : p.in === 'header' ? headers : undefined
      if (bag === undefined || bag[p.name] !== undefined || (p.in === 'header' && headers[p.name.toLowerCase()] !== undefined)) continue
      // Only what is required: If-Match where the document requires it.
      if (p.required !== true) continue
      const value = documented(doc, p)
      if (value === undefined) {
        if (p.required) tt.fail(`${op.operationId}: the document gives no value for the ${p.in} parameter ${p.name}`)
        continue
      }
      bag[p.name] = String(value)
    }

    if (body === undefined && op.requestBody !== undefined) {
      const [type, media] = Object.entries(op.requestBody.content)[0]!
      const example = media.example ?? (resolve(doc, media.schema).examples as unknown[] | undefined)?.[0]
      if (example !== undefined) body = { payload: typeof example === 'string' ? example : JSON.stringify(example), type }
      else if (op.requestBody.required === true) tt.fail(`${op.operationId}: the document gives no example of its request body`)
    }

    const url = target.path.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(params[name] ?? `missing-${name}`))
    const request: InjectOptions = {
      method: target.method.toUpperCase() as 'GET',
      url,
      query,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': body.type }) },
      ...(body === undefined ? {} : { payload: body.payload }),
    }
    return { request, params, response: await app.inject(request) }
  }

  const ordered = [...ops].sort((a, b) => METHOD_ORDER.indexOf(a.method) - METHOD_ORDER.indexOf(b.method))
  const refused: string[] = []
  const check = ({ request, response }: Sent, op: Operation) => {
    if (process.env.WALK_LOG !== undefined) console.error(response.statusCode, op.operationId, request.method, request.url, request.query)
    const what = `${op.operationId} ${request.method} ${request.url} ${JSON.stringify(request.query)}`
    // A body the caller must sign cannot come from the document: its answer is the refusal of a missing signature.
    const unsigned = (op as { 'x-oss-caller-signs'?: boolean })['x-oss-caller-signs'] === true && response.statusCode === 401 &&
      (response.json() as { errors?: Array<{ code: string }> }).errors?.[0]?.code === 'err.signature.missing'
    if (!declared(op, response.statusCode) && !unsigned) refused.push(`${what}: ${response.statusCode} ${response.body.slice(0, 300)}`)
    // The media type answered is one the document declares for that status.
    const content = (op.responses[String(response.statusCode)] ?? op.responses[`${String(response.statusCode)[0]}XX`])?.content
    const type = String(response.headers['content-type'] ?? '').split(';')[0]!
    if (content !== undefined && type !== '' && !(type in content)) refused.push(`${what}: ${type} is not among ${Object.keys(content).join(', ')}`)
  }
  for (const target of ordered) {
    check(await send(target), target.op)
    // Every format an operation offers (JSON, YAML, CSV) is declared as well.
    const format = target.op.parameters?.find((p) => p.in === 'query' && p.name === 'format')
    for (const value of (resolve(doc, format?.schema).enum ?? []) as string[]) check(await send(target, 0, { format: value }), target.op)
  }
  tt.same(refused, [], 'every answer is one the document declares')
  tt.ok(byId.has('importCatalogue') && byId.has('queueDashboardQueues'), 'the walk covered import and the queue dashboard')
})
