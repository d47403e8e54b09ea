import { readFileSync } from 'node:fs'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import { parse } from 'yaml'

// The DCI (spdci.org) registry API specs, validated with their own schemas.

export type DciRegistry = 'social' | 'crvs'

const SPEC_FILES: Record<DciRegistry, string> = {
  social: 'social_api_v1.0.0-rev-subscribe.yaml',
  crvs: 'crvs_api_v1.0.0.yaml',
}

// components.schemas.Error.properties.code.enum; loadDciSpec refuses a spec that disagrees.
export const DCI_ERROR_CODES = [
  'err.request.bad',
  'err.request.unauthorized',
  'err.request.forbidden',
  'err.request.not_found',
  'err.request.timeout',
  'err.version.not_supported',
  'err.request.too_many_requests',
  'err.sender_id.invalid',
  'err.sender_uri.invalid',
  'err.receiver_id.invalid',
  'err.signature.missing',
  'err.signature.invalid',
  'err.encryption.invalid',
  'err.service.unavailable',
] as const

export type DciErrorCode = (typeof DCI_ERROR_CODES)[number]

export interface DciValidationError {
  // JSON pointer into the validated body, naming the offending field.
  pointer: string
  message: string
  keyword: string
}

export interface DciSpec {
  readonly registry: DciRegistry
  // info.version; '' when missing (the social spec's version line is swallowed by its description).
  readonly version: string
  // Every path of the spec, in document order.
  readonly paths: readonly string[]
  readonly errorCodes: readonly DciErrorCode[]
  // POST requestBody application/json schema of the path; [] means valid. Throws on a path not in the spec.
  validateRequest (path: string, body: unknown): DciValidationError[]
  // The path's default response: the ACK `Response` for async paths, the result message for sync ones.
  validateResponse (path: string, body: unknown): DciValidationError[]
  // components.responses.Response: message.ack_status ACK/NACK/ERR, timestamp, correlation_id, error.
  validateAck (body: unknown): DciValidationError[]
  // Whether the path answers with the ACK `Response` (async) or with a result message (sync).
  responseKind (path: string): 'ack' | 'message'
  // A copy of components.schemas[name], if any.
  schema (name: string): Record<string, unknown> | undefined
  // Any schema of the document by JSON pointer, e.g. '/components/schemas/SearchRequest'.
  validateAt (pointer: string, value: unknown): DciValidationError[]
}

type Json = Record<string, unknown>

const ACK_POINTER = '/components/responses/Response/content/application~1json/schema'

const cache = new Map<DciRegistry, DciSpec>()

export function loadDciSpec (registry: DciRegistry): DciSpec {
  let spec = cache.get(registry)
  if (spec === undefined) {
    spec = buildSpec(registry)
    cache.set(registry, spec)
  }
  return spec
}

function isObject (value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function escapePointer (segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1')
}

function at (value: unknown, ...keys: string[]): unknown {
  let cur = value
  for (const key of keys) cur = isObject(cur) ? cur[key] : undefined
  return cur
}

function readInstance (data: unknown, pointer: string): unknown {
  if (pointer === '') return data
  let cur = data
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~')
    if (Array.isArray(cur)) cur = cur[Number(key)]
    else if (isObject(cur)) cur = cur[key]
    else return undefined
  }
  return cur
}

// The specs say "value: oneOf [string, integer, number, boolean, object]": an integer is
// also a number, so under oneOf every integer value would be rejected. The intent is a type
// union, so such pure type lists become anyOf (nothing the spec lists is refused).
function adaptTypeUnions (node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) adaptTypeUnions(item)
    return
  }
  if (!isObject(node)) return
  const branches = node.oneOf
  if (Array.isArray(branches) && branches.length > 1 && node.anyOf === undefined && branches.every((b) =>
    isObject(b) && typeof b.type === 'string' && Object.keys(b).every((k) => k === 'type' || k === 'description'))) {
    node.anyOf = branches
    delete node.oneOf
  }
  for (const value of Object.values(node)) adaptTypeUnions(value)
}

// Where each object sits in the document, so an ajv error's parentSchema leads back to a pointer.
function indexPointers (node: unknown, pointer: string, out: Map<object, string>): void {
  if (typeof node !== 'object' || node === null || out.has(node)) return
  out.set(node, pointer)
  if (Array.isArray(node)) node.forEach((item, i) => indexPointers(item, `${pointer}/${i}`, out))
  else for (const [key, value] of Object.entries(node)) indexPointers(value, `${pointer}/${escapePointer(key)}`, out)
}

function buildSpec (registry: DciRegistry): DciSpec {
  const text = readFileSync(new URL(`../../specs/dci/${SPEC_FILES[registry]}`, import.meta.url), 'utf8')
  const doc: unknown = parse(text)
  if (!isObject(doc) || !isObject(doc.paths) || !isObject(doc.components)) throw new Error(`DCI ${registry} spec: not an OpenAPI document`)

  const codes = at(doc, 'components', 'schemas', 'Error', 'properties', 'code', 'enum')
  if (!Array.isArray(codes) || codes.length !== DCI_ERROR_CODES.length || codes.some((c, i) => c !== DCI_ERROR_CODES[i])) {
    throw new Error(`DCI ${registry} spec: Error.code enum differs from DCI_ERROR_CODES`)
  }

  adaptTypeUnions(doc)
  const pointers = new Map<object, string>()
  indexPointers(doc, '', pointers)

  // strict: false ignores the OpenAPI-only keywords (example, x-*, xml, discriminator, …);
  // ajv knows OpenAPI's `nullable` itself. verbose gives errors their parentSchema. The
  // document is OpenAPI, not a JSON Schema, so it is not checked against the meta-schema.
  const ajv = new Ajv({ allErrors: true, strict: false, verbose: true, validateSchema: false })
  addFormats.default(ajv as never)
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 })
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) })
  ajv.addFormat('binary', true)
  const id = `urn:spdci:${registry}`
  ajv.addSchema(doc, id)

  const compiled = new Map<string, ValidateFunction>()
  const validatorAt = (pointer: string): ValidateFunction => {
    let fn = compiled.get(pointer)
    if (fn === undefined) {
      fn = ajv.compile({ $ref: `${id}#${pointer}` })
      compiled.set(pointer, fn)
    }
    return fn
  }

  // A response $ref goes to components/responses; the pointer names its JSON schema.
  const responsePointer = (path: string): string | undefined => {
    const base = `/paths/${escapePointer(path)}/post/responses/default`
    const response = at(doc, 'paths', path, 'post', 'responses', 'default')
    if (!isObject(response)) return undefined
    if (typeof response.$ref === 'string') {
      const ref = response.$ref
      if (!ref.startsWith('#/components/responses/')) throw new Error(`DCI ${registry} spec: ${path} response $ref ${ref}`)
      const target = at(doc, 'components', 'responses', ref.slice('#/components/responses/'.length), 'content', 'application/json', 'schema')
      return isObject(target) ? `${ref.slice(1)}/content/application~1json/schema` : undefined
    }
    return isObject(at(response, 'content', 'application/json', 'schema')) ? `${base}/content/application~1json/schema` : undefined
  }

  const paths = Object.keys(doc.paths)
  const requests = new Map<string, ValidateFunction>()
  const responses = new Map<string, { fn: ValidateFunction, kind: 'ack' | 'message' }>()
  // Compiled up front: a spec that does not compile stops the start, not a request.
  for (const path of paths) {
    if (isObject(at(doc, 'paths', path, 'post', 'requestBody', 'content', 'application/json', 'schema'))) {
      requests.set(path, validatorAt(`/paths/${escapePointer(path)}/post/requestBody/content/application~1json/schema`))
    }
    const pointer = responsePointer(path)
    if (pointer !== undefined) responses.set(path, { fn: validatorAt(pointer), kind: pointer === ACK_POINTER ? 'ack' : 'message' })
  }
  const ack = validatorAt(ACK_POINTER)

  const run = (fn: ValidateFunction, body: unknown): DciValidationError[] => {
    if (fn(body)) return []
    return toDciErrors(prune(fn.errors ?? [], body))
  }

  // With allErrors, a failed oneOf/anyOf lists the errors of every branch: a plain search
  // request would also be told it lacks ciphertext/iv/tag (EncryptedMessage). Keep only the
  // branch that came closest (see closestBranch), found by re-validating each branch alone.
  const prune = (errors: ErrorObject[], data: unknown): ErrorObject[] => {
    const out = [...errors]
    for (let i = out.length - 1; i >= 0; i--) {
      const error = out[i]
      if (error === undefined || (error.keyword !== 'oneOf' && error.keyword !== 'anyOf')) continue
      if (error.keyword === 'oneOf' && Array.isArray(error.params.passingSchemas)) continue
      const parent = error.parentSchema
      const base = parent === undefined ? undefined : pointers.get(parent)
      const branches = parent?.[error.keyword]
      if (base === undefined || !Array.isArray(branches)) continue
      const value = readInstance(data, error.instancePath)
      const raw: ErrorObject[][] = branches.map((_, b) => {
        const fn = validatorAt(`${base}/${error.keyword}/${b}`)
        return fn(value) ? [] : (fn.errors ?? []).map((e) => ({ ...e, instancePath: error.instancePath + e.instancePath }))
      })
      // ajv lists the branches' errors in order right before the union's own error; only
      // rewrite when that block is exactly what the branches report on their own.
      const block = raw.flat()
      const start = i - block.length
      if (start < 0 || block.some((e, k) => !sameError(e, out[start + k]))) continue
      const candidates = raw.filter((errs) => errs.length > 0).map((errs) =>
        prune(errs.map((e) => ({ ...e, instancePath: e.instancePath.slice(error.instancePath.length) })), value)
          .map((e) => ({ ...e, instancePath: error.instancePath + e.instancePath })))
      if (candidates.length === 0) continue
      out.splice(start, block.length + 1, ...closestBranch(candidates, error))
      i = start
    }
    return out
  }

  const lookup = <T>(map: Map<string, T>, path: string, what: string): T => {
    const found = map.get(path)
    if (found === undefined) throw new Error(`DCI ${registry} spec has no ${what} for ${path}`)
    return found
  }

  const spec: DciSpec = {
    registry,
    version: String(at(doc, 'info', 'version') ?? ''),
    paths,
    errorCodes: DCI_ERROR_CODES,
    validateRequest: (path, body) => run(lookup(requests, path, 'JSON request body'), body),
    validateResponse: (path, body) => run(lookup(responses, path, 'JSON default response').fn, body),
    validateAck: (body) => run(ack, body),
    responseKind: (path) => lookup(responses, path, 'JSON default response').kind,
    schema: (name) => {
      const found = at(doc, 'components', 'schemas', name)
      return isObject(found) ? structuredClone(found) : undefined
    },
    validateAt: (pointer, value) => {
      if (!isObject(readInstance(doc, pointer))) throw new Error(`DCI ${registry} spec has no schema at ${pointer}`)
      return run(validatorAt(pointer), value)
    },
  }
  return spec
}

// Fewest errors on the value itself (a missing required property says the value is not
// that kind of thing at all), then fewest errors overall; ties go to the first branch.
// A plain type union (each branch only "must be <type>") becomes one error listing the types.
function closestBranch (candidates: ErrorObject[][], union: ErrorObject): ErrorObject[] {
  const types = candidates.map((errs) => errs.length === 1 && errs[0]?.keyword === 'type' && errs[0].instancePath === union.instancePath
    ? errs[0].params.type as unknown
    : undefined)
  if (types.every((t) => typeof t === 'string')) {
    const distinct = [...new Set(types)]
    return [{ ...union, keyword: 'type', params: { type: distinct.join(',') }, message: `must be ${distinct.join(' or ')}` }]
  }
  const shallow = (errs: ErrorObject[]): number => errs.filter((e) => e.instancePath === union.instancePath).length
  let best = candidates[0] ?? []
  for (const errs of candidates.slice(1)) {
    const d = shallow(errs) - shallow(best)
    if (d < 0 || (d === 0 && errs.length < best.length)) best = errs
  }
  return best
}

function sameError (a: ErrorObject, b: ErrorObject | undefined): boolean {
  return b !== undefined && a.keyword === b.keyword && a.instancePath === b.instancePath && a.message === b.message &&
    JSON.stringify(a.params) === JSON.stringify(b.params)
}

function toDciErrors (errors: ErrorObject[]): DciValidationError[] {
  const seen = new Set<string>()
  const out: DciValidationError[] = []
  for (const e of errors) {
    let pointer = e.instancePath
    let message = e.message ?? 'is invalid'
    const params = e.params as Record<string, unknown>
    if (e.keyword === 'required' && typeof params.missingProperty === 'string') {
      pointer += `/${escapePointer(params.missingProperty)}`
      message = 'is required'
    } else if (e.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
      pointer += `/${escapePointer(params.additionalProperty)}`
      message = 'is not allowed'
    } else if (e.keyword === 'enum' && Array.isArray(params.allowedValues)) {
      message = `must be one of: ${params.allowedValues.map(String).join(', ')}`
    }
    const key = `${pointer}\u0000${e.keyword}\u0000${message}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push({ pointer, message, keyword: e.keyword })
  }
  return out
}
