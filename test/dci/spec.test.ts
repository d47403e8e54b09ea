import { readFileSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'
import { DCI_ERROR_CODES, loadDciSpec, type DciRegistry, type DciValidationError } from '../../src/dci/spec.ts'

const registries: DciRegistry[] = ['social', 'crvs']
const files: Record<DciRegistry, string> = { social: 'social_api_v1.0.0-rev-subscribe.yaml', crvs: 'crvs_api_v1.0.0.yaml' }
const readDoc = (registry: DciRegistry): Record<string, any> =>
  parse(readFileSync(new URL(`../../specs/dci/${files[registry]}`, import.meta.url), 'utf8'))

const ts = '2024-05-02T10:20:30+08:00'

function searchRequest (): Record<string, any> {
  return {
    signature: 'Signature: namespace="spdci"',
    header: { message_id: 'm-1', message_ts: ts, action: 'search', sender_id: 'oss.gov.mn', total_count: 1 },
    message: {
      transaction_id: 'txn-1',
      search_request: [{
        reference_id: 'ref-1',
        timestamp: ts,
        search_criteria: { query_type: 'idtype-value', query: { type: 'UIN', value: '1234567890' } },
      }],
    },
  }
}

function searchResponse (): Record<string, any> {
  return {
    header: { message_id: 'm-2', message_ts: ts, action: 'on-search', status: 'succ' },
    message: {
      transaction_id: 'txn-1',
      correlation_id: 'corr-1',
      search_response: [{ reference_id: 'ref-1', timestamp: ts, status: 'succ', data: { reg_records: [{}] } }],
    },
  }
}

const encrypted = { header: { alg: 'ECDH-ES', enc: 'A256GCM', kid: 'k1' }, ciphertext: 'c', encrypted_key: 'e', tag: 't', iv: 'i' }

const pointers = (errors: DciValidationError[]): string[] => errors.map((e) => e.pointer)
const find = (errors: DciValidationError[], pointer: string) => errors.find((e) => e.pointer === pointer)

t.test('the error codes are the specs\' own', async (tt) => {
  for (const registry of registries) {
    tt.same(readDoc(registry).components.schemas.Error.properties.code.enum, DCI_ERROR_CODES, registry)
    tt.same(loadDciSpec(registry).errorCodes, DCI_ERROR_CODES)
  }
  tt.ok(DCI_ERROR_CODES.includes('err.signature.missing'))
})

t.test('the spec is loaded once per registry', async (tt) => {
  tt.equal(loadDciSpec('social'), loadDciSpec('social'))
  tt.not(loadDciSpec('social'), loadDciSpec('crvs'))
  tt.equal(loadDciSpec('crvs').version, '1.0.0')
  tt.equal(loadDciSpec('social').version, '', 'the social spec\'s info.version sits inside its description')
})

for (const registry of registries) {
  t.test(`${registry}: sync search request`, async (tt) => {
    const spec = loadDciSpec(registry)
    const path = '/registry/sync/search'
    tt.same(spec.validateRequest(path, searchRequest()), [])
    tt.same(spec.validateRequest('/registry/search', searchRequest()), [], 'the async search takes the same body')

    const noId = searchRequest()
    delete noId.header.message_id
    tt.match(spec.validateRequest(path, noId), [{ pointer: '/header/message_id', keyword: 'required' }])

    const badType = searchRequest()
    badType.message.search_request[0].search_criteria.query_type = 'by-name'
    tt.match(spec.validateRequest(path, badType), [{ pointer: '/message/search_request/0/search_criteria/query_type', keyword: 'enum', message: /idtype-value/ }])

    const badTs = searchRequest()
    badTs.message.search_request[0].timestamp = '2024-05-02 10:20'
    badTs.header.message_ts = '2024-05-02T10:20:30' // no time zone: the spec asks for one
    const tsErrors = spec.validateRequest(path, badTs)
    tt.match(find(tsErrors, '/message/search_request/0/timestamp'), { keyword: 'format', message: /date-time/ })
    tt.match(find(tsErrors, '/header/message_ts'), { keyword: 'format' })

    const noMessage = searchRequest()
    delete noMessage.message
    tt.match(spec.validateRequest(path, noMessage), [{ pointer: '/message', keyword: 'required' }])

    const wrongAction = searchRequest()
    wrongAction.header.action = 'subscribe'
    tt.match(spec.validateRequest(path, wrongAction), [{ pointer: '/header/action', keyword: 'enum' }])

    tt.match(spec.validateRequest(path, 'text'), [{ pointer: '', keyword: 'type' }])

    const noCriteria = searchRequest()
    delete noCriteria.message.search_request[0].search_criteria.query
    noCriteria.message.search_request[0].search_criteria.pagination = { page_size: 20.5 }
    const criteriaErrors = spec.validateRequest(path, noCriteria)
    tt.ok(find(criteriaErrors, '/message/search_request/0/search_criteria/query'), 'missing query')
    tt.match(find(criteriaErrors, '/message/search_request/0/search_criteria/pagination/page_size'), { keyword: 'format', message: /int32/ })
  })

  t.test(`${registry}: a failed message oneOf names the closest branch only`, async (tt) => {
    const spec = loadDciSpec(registry)
    const path = '/registry/sync/search'
    const noTxn = searchRequest()
    delete noTxn.message.transaction_id
    tt.same(spec.validateRequest(path, noTxn), [{ pointer: '/message/transaction_id', message: 'is required', keyword: 'required' }],
      'a plain search request is not also told it lacks ciphertext')

    tt.same(spec.validateRequest(path, { ...searchRequest(), message: encrypted }), [], 'an encrypted message is accepted')
    const halfEncrypted = { ...searchRequest(), message: { ...encrypted, header: { alg: 'ECDH-ES' } } }
    tt.same(pointers(spec.validateRequest(path, halfEncrypted)), ['/message/header/enc', '/message/header/kid'])

    const both = { ...searchRequest(), message: { ...searchRequest().message, ...encrypted } }
    tt.match(spec.validateRequest(path, both), [{ pointer: '/message', keyword: 'oneOf' }], 'search and encrypted at once is ambiguous')
  })

  t.test(`${registry}: identifier values are a type union`, async (tt) => {
    const spec = loadDciSpec(registry)
    const path = '/registry/sync/search'
    for (const value of ['1980', 1980, 19.8, true, { id: 1 }]) {
      const body = searchRequest()
      body.message.search_request[0].search_criteria.query.value = value
      tt.same(spec.validateRequest(path, body), [], JSON.stringify(value))
    }
    const predicate = searchRequest()
    predicate.message.search_request[0].search_criteria = {
      query_type: 'predicate',
      query: [{ seq_num: 1, expression1: { attribute_name: 'YOB', operator: 'ge', attribute_value: 1980 }, condition: 'and', expression2: { attribute_name: 'area', operator: 'eq', attribute_value: 'UB' } }],
    }
    tt.same(spec.validateRequest(path, predicate), [])
    predicate.message.search_request[0].search_criteria.query[0].expression1.attribute_value = null
    tt.same(spec.validateRequest(path, predicate), [{
      pointer: '/message/search_request/0/search_criteria/query/0/expression1/attribute_value',
      message: 'must be string or integer or number or boolean or object',
      keyword: 'type',
    }])
  })

  t.test(`${registry}: sync search response`, async (tt) => {
    const spec = loadDciSpec(registry)
    const path = '/registry/sync/search'
    tt.equal(spec.responseKind(path), 'message')
    tt.same(spec.validateResponse(path, searchResponse()), [])
    tt.same(spec.validateRequest('/registry/on-search', searchResponse()), [], 'the async callback carries the same body')

    const bad = searchResponse()
    bad.header.status = 'ok'
    delete bad.message.correlation_id
    bad.message.search_response[0].data = { reg_records: {} }
    const errors = spec.validateResponse(path, bad)
    tt.match(find(errors, '/header/status'), { keyword: 'enum' })
    tt.match(find(errors, '/message/correlation_id'), { keyword: 'required' })
    tt.match(find(errors, '/message/search_response/0/data/reg_records'), { keyword: 'type' })
    tt.notOk(errors.some((e) => e.pointer.startsWith('/message/ciphertext')))

    const noHeader = searchResponse()
    delete noHeader.header
    tt.match(spec.validateResponse(path, noHeader), [{ pointer: '/header', keyword: 'required' }])
  })

  t.test(`${registry}: acknowledgements`, async (tt) => {
    const spec = loadDciSpec(registry)
    const ack = { message: { ack_status: 'ACK', timestamp: ts, correlation_id: 'corr-1' } }
    tt.same(spec.validateAck(ack), [])
    const err = { message: { ack_status: 'ERR', timestamp: ts, correlation_id: 'corr-1', error: { code: 'err.signature.invalid', message: 'signature does not verify' } } }
    tt.same(spec.validateAck(err), [])
    tt.equal(spec.responseKind('/registry/search'), 'ack')
    tt.same(spec.validateResponse('/registry/search', err), [], 'async paths answer with the ack')
    tt.same(spec.validateResponse('/registry/notify', ack), [])

    const badCode = { message: { ...err.message, error: { code: 'err.signature.bad', message: 'x'.repeat(1000) } } }
    const errors = spec.validateAck(badCode)
    tt.match(find(errors, '/message/error/code'), { keyword: 'enum', message: /err\.signature\.invalid/ })
    tt.match(find(errors, '/message/error/message'), { keyword: 'maxLength' })

    tt.same(pointers(spec.validateAck({ message: { ack_status: 'OK' } })).sort(), ['/message/ack_status', '/message/correlation_id', '/message/timestamp'])
  })

  t.test(`${registry}: every path compiles`, async (tt) => {
    const spec = loadDciSpec(registry)
    tt.same(spec.paths, Object.keys(readDoc(registry).paths))
    tt.ok(spec.paths.length >= 11)
    for (const path of spec.paths) {
      tt.ok(find(spec.validateRequest(path, {}), '/header'), `${path} request`)
      tt.type(spec.validateResponse(path, {}), Array, `${path} response`)
      tt.equal(spec.responseKind(path), path.includes('/sync/') ? 'message' : 'ack', path)
    }
    tt.throws(() => spec.validateRequest('/registry/nope', {}), /no JSON request body/)
    tt.throws(() => spec.validateAt('/components/schemas/Nope', {}), /no schema/)
  })

  t.test(`${registry}: subscribe, unsubscribe and txn status`, async (tt) => {
    const spec = loadDciSpec(registry)
    const header = (action: string) => ({ message_id: 'm', message_ts: ts, action, sender_id: 'oss.gov.mn', total_count: 1 })
    tt.same(spec.validateRequest('/registry/subscribe', {
      header: header('subscribe'),
      message: {
        transaction_id: 't',
        subscribe_request: [{
          reference_id: 'r',
          timestamp: ts,
          subscribe_criteria: { reg_event_type: 'REGISTER', filter: { type: 'UIN', value: '1' }, notify_record_type: 'Person' },
        }],
      },
    }), [])
    tt.same(spec.validateRequest('/registry/unsubscribe', {
      header: header('unsubscribe'),
      message: { transaction_id: 't', timestamp: ts, subscription_codes: ['s1'] },
    }), [])
    tt.same(spec.validateRequest('/registry/sync/txn/status', {
      header: header('txn-status'),
      message: { transaction_id: 't', txnstatus_request: { reference_id: 'r', txn_type: 'search', attribute_type: 'transaction_id', attribute_value: 't' } },
    }), [])
    const locale = spec.validateRequest('/registry/sync/txn/status', {
      header: header('txn-status'),
      message: { transaction_id: 't', txnstatus_request: { reference_id: 'r', txn_type: 'search', attribute_type: 'transaction_id', attribute_value: 't', locale: 'en' } },
    })
    tt.match(locale, [{ pointer: '/message/txnstatus_request/locale', keyword: 'pattern' }], 'locale is ISO 639-3')
  })

  t.test(`${registry}: component schemas`, async (tt) => {
    const spec = loadDciSpec(registry)
    const schema = spec.schema('SearchRequest')
    tt.match(schema, { type: 'object', required: ['transaction_id', 'search_request'] })
    if (schema !== undefined) schema.required = []
    tt.match(spec.schema('SearchRequest'), { required: ['transaction_id', 'search_request'] }, 'a copy')
    tt.equal(spec.schema('Nope'), undefined)
    tt.same(spec.validateAt('/components/schemas/EncryptedMessage', encrypted), [])
    tt.match(spec.validateAt('/components/schemas/Error', { code: 'nope' }), [{ pointer: '/code', keyword: 'enum' }])
  })

  // The specs' own field examples, each against the schema it illustrates. These few
  // disagree with their schema in the published specs; the list pins them.
  t.test(`${registry}: field examples`, async (tt) => {
    const spec = loadDciSpec(registry)
    const failing: string[] = []
    const walk = (node: unknown, pointer: string): void => {
      if (typeof node !== 'object' || node === null) return
      const obj = node as Record<string, unknown>
      if (!Array.isArray(node) && 'example' in obj && ['type', '$ref', 'anyOf', 'oneOf', 'allOf'].some((k) => k in obj)) {
        if (spec.validateAt(pointer, obj.example).length > 0) failing.push(pointer)
      }
      for (const [key, value] of Object.entries(obj)) {
        if (key !== 'example') walk(value, `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`)
      }
    }
    walk(readDoc(registry).components.schemas, '/components/schemas')
    const known = registry === 'social'
      ? [
          '/components/schemas/SearchRequest/properties/transaction_id', // 0123456789 unquoted: YAML reads a number
          '/components/schemas/SubscriptionInfo/properties/timestamp', // '' is no date-time
          '/components/schemas/SubscriptionInfo/properties/locale', // 'en' against ^[a-z]{3}$
          '/components/schemas/TxnStatusResponse/properties/txnstatus_response', // its "example" is a schema
          '/components/schemas/MsgHeader_V1.0.0/properties/sender_uri', // a {namespace} template, not a URI
        ]
      : [
          '/components/schemas/SearchRequest/properties/transaction_id',
          '/components/schemas/TxnStatusRequest/properties/txnstatus_request/properties/locale',
          '/components/schemas/TxnStatusResponse/properties/txnstatus_response',
          '/components/schemas/MsgHeader_V1.0.0/properties/message_ts',
          '/components/schemas/MsgHeader_V1.0.0/properties/sender_uri',
        ]
    tt.same(failing.sort(), known.sort())
  })
}
