import { createHash, randomUUID } from 'node:crypto'
import { request, type Dispatcher } from 'undici'
import type { MemberKey } from '../bus/member-keys.ts'
import { CallbackRefusedError } from '../callbacks/url-guard.ts'
import { ProblemError } from '../errors/problem-error.ts'
import type { Partner, PartnerRegistryCredentials, PartnerStore } from './partners.ts'
import type { DciEnvelope } from './service.ts'
import { signDciMessage, verifyDciMessage } from './signature.ts'
import { loadDciSpec, type DciRegistry } from './spec.ts'

// The gateway as a DCI client of a partner's registry: a client-credentials
// token from the partner's token URL (kept until shortly before it expires),
// envelopes signed with the gateway's key, every connection through the SSRF
// guard, and a partner's answer used only once its signature (by a key the
// partner registered) and its shape (the spec's) are checked.

// Far above a real answer; bounds what a partner can make the gateway hold.
const MAX_ANSWER_BYTES = 5 * 1024 * 1024
// A token is renewed this long before it expires (or halfway, if it is shorter-lived).
const TOKEN_MARGIN_MS = 30_000
const RETRY_AFTER_SECONDS = '5'

export class PartnerRegistryUnavailableError extends ProblemError {
  readonly partner: string
  constructor (partner: string, detail: string, cause?: unknown) {
    super('PARTNER_REGISTRY_UNAVAILABLE', `the registry of partner ${partner} could not be reached: ${detail}`, { cause, headers: { 'retry-after': RETRY_AFTER_SECONDS }, extensions: { partner } })
    this.name = 'PartnerRegistryUnavailableError'
    this.partner = partner
  }
}

// The partner answered, and said no (NACK, ERR, an HTTP error, a refused token request).
export class PartnerRegistryRefusedError extends ProblemError {
  readonly partner: string
  readonly dciCode: string | null
  constructor (partner: string, detail: string, dciCode: string | null = null) {
    super('PARTNER_REGISTRY_REFUSED', `the registry of partner ${partner} refused the request: ${detail}`, { extensions: { partner, ...(dciCode === null ? {} : { dciCode }) } })
    this.name = 'PartnerRegistryRefusedError'
    this.partner = partner
    this.dciCode = dciCode
  }
}

// An answer the gateway will not use: not signed by the partner, or not what the spec says.
export class PartnerRegistryInvalidAnswerError extends ProblemError {
  readonly partner: string
  constructor (partner: string, detail: string) {
    super('PARTNER_REGISTRY_INVALID_ANSWER', `the answer of partner ${partner}'s registry is not usable: ${detail}`, { extensions: { partner } })
    this.name = 'PartnerRegistryInvalidAnswerError'
    this.partner = partner
  }
}

export interface DciClientDeps {
  partners: Pick<PartnerStore, 'registryCredentials'>
  // The gateway's DCI sender id, and the key its messages are signed with.
  senderId: string
  signingKey: MemberKey
  // The SSRF-guarded agent (callbackDispatcher).
  dispatcher: Dispatcher
  timeoutMs: number
  now?: () => number
}

export interface SearchQuery {
  registry: DciRegistry
  idType: string
  idValue: string
  recordType: string
  purpose: string
}

export interface SignedSearch {
  envelope: DciEnvelope
  messageId: string
  transactionId: string
  referenceId: string
}

// One subscription asked of a partner's registry (one subscribe_request item).
export interface SubscribeQuery {
  registry: DciRegistry
  regEventType: string
  filterType: 'idtype-value' | 'predicate' | 'expression'
  filter: unknown
  notifyRecordType: string
  purpose: string
  frequency?: { start_time: string, end_time: string, frequency: string }
}

// A signed subscribe or unsubscribe; an unsubscribe has no reference_id of its own.
export type SignedMessage = SignedSearch

// A message of a partner's: signed by one of its registered keys, from it, to us.
export function checkPartnerMessage (partner: Pick<Partner, 'id' | 'jwks'>, body: Pick<DciEnvelope, 'signature' | 'header' | 'message'>, ourId: string):
  { ok: true } | { ok: false, code: 'err.signature.missing' | 'err.signature.invalid' | 'err.sender_id.invalid' | 'err.receiver_id.invalid', reason: string } {
  const verified = verifyDciMessage({ signature: body.signature, header: body.header, message: body.message, keys: partner.jwks.keys, expectedSenderId: partner.id })
  if (!verified.ok) return { ok: false, code: verified.code, reason: `/signature: ${verified.reason}` }
  if (body.header.sender_id !== partner.id) return { ok: false, code: 'err.sender_id.invalid', reason: `/header/sender_id: ${String(body.header.sender_id)} is not the partner that signed the message` }
  if (body.header.receiver_id !== undefined && body.header.receiver_id !== ourId) return { ok: false, code: 'err.receiver_id.invalid', reason: `/header/receiver_id: the receiver is ${ourId}` }
  return { ok: true }
}

// The records of one search_response item, or why there are none.
export function searchOutcome (message: Record<string, unknown>, referenceId: string): { status: string, records: unknown[], reason: string | null } {
  const items = (message.search_response ?? []) as Array<Record<string, unknown>>
  const item = items.find((i) => i.reference_id === referenceId)
  if (item === undefined) return { status: 'rjct', records: [], reason: `no answer for reference_id ${referenceId}` }
  const data = item.data as { reg_records?: unknown } | undefined
  const records = data?.reg_records === undefined ? [] : Array.isArray(data.reg_records) ? data.reg_records : [data.reg_records]
  const reason = typeof item.status_reason_code === 'string' ? `${item.status_reason_code}${typeof item.status_reason_message === 'string' ? `: ${item.status_reason_message}` : ''}` : null
  return { status: String(item.status), records, reason }
}

async function readText (body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += (chunk as Buffer).length
    if (size > MAX_ANSWER_BYTES) {
      body.destroy()
      throw new Error(`the answer is larger than ${MAX_ANSWER_BYTES} bytes`)
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function parseJson (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

// The first HttpErrorResponse error of an answer, if it has one.
function dciErrorOf (body: unknown): { code: string, message: string } | null {
  const first = (body as { errors?: Array<{ code?: unknown, message?: unknown }> } | undefined)?.errors?.[0]
  return first === undefined || typeof first.code !== 'string' ? null : { code: first.code, message: String(first.message ?? '').slice(0, 300) }
}

const joinPath = (base: string, path: string) => base.replace(/\/+$/, '') + path

export function createDciClient (deps: DciClientDeps) {
  const now = deps.now ?? Date.now
  // Per partner: the token and what it was issued for (a changed secret is a new token).
  const tokens = new Map<string, { token: string, expiresAt: number, issuedFor: string }>()
  const pending = new Map<string, Promise<string>>()

  const issuedFor = (c: PartnerRegistryCredentials) => createHash('sha256').update(`${c.tokenUrl}\n${c.clientId}\n${c.clientSecret ?? ''}`).digest('base64url')

  async function post (partnerId: string, url: string, headers: Record<string, string>, body: string): Promise<{ status: number, text: string }> {
    try {
      const res = await request(url, {
        method: 'POST',
        dispatcher: deps.dispatcher,
        headers: { 'user-agent': 'oss-gateway', accept: 'application/json', ...headers },
        body,
        headersTimeout: deps.timeoutMs,
        bodyTimeout: deps.timeoutMs,
        signal: AbortSignal.timeout(deps.timeoutMs),
      })
      return { status: res.statusCode, text: await readText(res.body) }
    } catch (err) {
      // Never the URL's credentials or the request: the reason only.
      const reason = err instanceof CallbackRefusedError || (err as { code?: string }).code === 'ECALLBACKREFUSED' ? 'the address is refused by the gateway\'s outbound rules' : (err as Error).message
      throw new PartnerRegistryUnavailableError(partnerId, reason, err)
    }
  }

  async function fetchToken (partnerId: string, c: PartnerRegistryCredentials & { clientSecret: string }): Promise<string> {
    // RFC 6749 section 2.3.1: form-urlencoded id and secret, then Basic.
    const basic = Buffer.from(`${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.clientSecret)}`).toString('base64')
    const res = await post(partnerId, c.tokenUrl, { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` }, 'grant_type=client_credentials')
    const body = parseJson(res.text) as { access_token?: unknown, token_type?: unknown, expires_in?: unknown, error?: unknown } | undefined
    if (res.status === 400 || res.status === 401) throw new PartnerRegistryRefusedError(partnerId, `its token endpoint answered ${res.status}${typeof body?.error === 'string' ? ` (${body.error})` : ''}: check the client id and secret registered for it`)
    if (res.status !== 200) throw new PartnerRegistryUnavailableError(partnerId, `its token endpoint answered ${res.status}`)
    if (typeof body?.access_token !== 'string' || body.access_token === '' || String(body.token_type).toLowerCase() !== 'bearer') {
      throw new PartnerRegistryInvalidAnswerError(partnerId, 'its token endpoint did not answer with a bearer token')
    }
    const lifetimeMs = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in * 1000 : 0
    const expiresAt = now() + lifetimeMs - Math.min(TOKEN_MARGIN_MS, lifetimeMs / 2)
    tokens.set(partnerId, { token: body.access_token, expiresAt, issuedFor: issuedFor(c) })
    return body.access_token
  }

  async function tokenFor (partnerId: string, c: PartnerRegistryCredentials): Promise<string> {
    if (c.clientSecret === null) {
      throw new PartnerRegistryRefusedError(partnerId, c.unreadable === true
        ? 'its registry\'s client secret was sealed with a member key this gateway no longer holds; register the secret again'
        : 'no client secret is registered for its registry')
    }
    const cached = tokens.get(partnerId)
    if (cached !== undefined && cached.issuedFor === issuedFor(c) && cached.expiresAt > now()) return cached.token
    // Requests at the same moment share one token request.
    let inflight = pending.get(partnerId)
    if (inflight === undefined) {
      inflight = fetchToken(partnerId, { ...c, clientSecret: c.clientSecret }).finally(() => pending.delete(partnerId))
      pending.set(partnerId, inflight)
    }
    return inflight
  }

  // POSTs a signed envelope with a bearer token; a 401 (a token the partner
  // no longer takes) gets one more try with a new token.
  async function send (partnerId: string, path: string, envelope: DciEnvelope): Promise<{ status: number, text: string, body: unknown }> {
    const c = await deps.partners.registryCredentials(partnerId)
    if (c === null) throw new ProblemError('NOT_FOUND', `partner ${partnerId} has no registry registered`)
    const text = JSON.stringify(envelope)
    for (let attempt = 0; ; attempt++) {
      const token = await tokenFor(partnerId, c)
      const res = await post(partnerId, joinPath(c.url, path), { 'content-type': 'application/json', authorization: `Bearer ${token}` }, text)
      if (res.status === 401 && attempt === 0) {
        tokens.delete(partnerId)
        continue
      }
      const body = parseJson(res.text)
      if (res.status >= 500 || res.status === 408 || res.status === 429) throw new PartnerRegistryUnavailableError(partnerId, `it answered ${res.status}`)
      if (res.status !== 200) {
        const err = dciErrorOf(body)
        throw new PartnerRegistryRefusedError(partnerId, `it answered ${res.status}${err === null ? '' : ` ${err.code}: ${err.message}`}`, err?.code ?? null)
      }
      if (body === undefined) throw new PartnerRegistryInvalidAnswerError(partnerId, 'the answer is not JSON')
      return { status: res.status, text: res.text, body }
    }
  }

  // An async request: its acknowledgement, spec-valid and an ACK, or why not.
  async function sendAsync (partnerId: string, registry: DciRegistry, path: string, envelope: DciEnvelope): Promise<{ ack: string }> {
    const res = await send(partnerId, path, envelope)
    const problems = loadDciSpec(registry).validateAck(res.body)
    if (problems.length > 0) throw new PartnerRegistryInvalidAnswerError(partnerId, `the acknowledgement does not match the DCI specification: ${problems.map((p) => `${p.pointer} ${p.message}`).join('; ')}`)
    const ack = (res.body as { message: { ack_status: string, error?: { code?: string, message?: string } } }).message
    if (ack.ack_status !== 'ACK') throw new PartnerRegistryRefusedError(partnerId, `${ack.ack_status}${ack.error === undefined ? '' : ` ${String(ack.error.code)}: ${String(ack.error.message ?? '').slice(0, 300)}`}`, ack.error?.code ?? null)
    return { ack: res.text }
  }

  // A message of the gateway's, signed and checked against the spec before it may leave.
  function signed (partnerId: string, registry: DciRegistry, action: string, path: string, messageOf: (transactionId: string) => Record<string, unknown>, referenceId: string, total = 1): SignedMessage {
    const messageId = randomUUID()
    const transactionId = randomUUID()
    const header = { version: '1.0.0', message_id: messageId, message_ts: new Date(now()).toISOString(), action, sender_id: deps.senderId, receiver_id: partnerId, total_count: total, is_msg_encrypted: false }
    const message = messageOf(transactionId)
    const signature = signDciMessage({ header, message, senderId: deps.senderId, key: deps.signingKey, now })
    const envelope = { signature, header, message }
    // Our message breaking the spec is our bug (the route checks what it is given): it never leaves.
    const problems = loadDciSpec(registry).validateRequest(path, envelope)
    if (problems.length > 0) throw new Error(`the ${action} message does not match the DCI specification: ${problems.map((p) => `${p.pointer} ${p.message}`).join('; ')}`)
    return { envelope, messageId, transactionId, referenceId }
  }

  return {
    // A search for one person, signed: sent by search or syncSearch.
    searchEnvelope (partnerId: string, query: SearchQuery): SignedSearch {
      const at = new Date(now()).toISOString()
      const messageId = randomUUID()
      const transactionId = randomUUID()
      const referenceId = randomUUID()
      const header = { version: '1.0.0', message_id: messageId, message_ts: at, action: 'search', sender_id: deps.senderId, receiver_id: partnerId, total_count: 1, is_msg_encrypted: false }
      const message = {
        transaction_id: transactionId,
        search_request: [{
          reference_id: referenceId,
          timestamp: at,
          search_criteria: { reg_record_type: query.recordType, query_type: 'idtype-value', query: { type: query.idType, value: query.idValue }, authorize: { purpose: { code: query.purpose } } },
        }],
      }
      const signature = signDciMessage({ header, message, senderId: deps.senderId, key: deps.signingKey, now })
      const envelope = { signature, header, message }
      // Our message breaking the spec is our bug: it never leaves.
      const problems = loadDciSpec(query.registry).validateRequest('/registry/search', envelope)
      if (problems.length > 0) throw new Error(`the search message does not match the DCI specification: ${problems.map((p) => `${p.pointer} ${p.message}`).join('; ')}`)
      return { envelope, messageId, transactionId, referenceId }
    },

    // A subscription to one event type, signed: sent by subscribe.
    subscribeEnvelope (partnerId: string, query: SubscribeQuery): SignedMessage {
      const at = new Date(now()).toISOString()
      const referenceId = randomUUID()
      const criteria = {
        reg_event_type: query.regEventType,
        ...(query.frequency === undefined ? {} : { frequency: query.frequency }),
        filter_type: query.filterType,
        filter: query.filter,
        notify_record_type: query.notifyRecordType,
        authorize: { purpose: { code: query.purpose } },
      }
      return signed(partnerId, query.registry, 'subscribe', '/registry/subscribe', (transactionId) => ({ transaction_id: transactionId, subscribe_request: [{ reference_id: referenceId, timestamp: at, subscribe_criteria: criteria }] }), referenceId)
    },

    // The end of subscriptions, by the codes the partner gave them: sent by unsubscribe.
    unsubscribeEnvelope (partnerId: string, registry: DciRegistry, codes: string[]): SignedMessage {
      const at = new Date(now()).toISOString()
      return signed(partnerId, registry, 'unsubscribe', '/registry/unsubscribe', (transactionId) => ({ transaction_id: transactionId, timestamp: at, subscription_codes: codes }), randomUUID(), codes.length)
    },

    // registry/search: the partner acknowledges; its on-search comes to the receiver.
    async search (partner: Pick<Partner, 'id'>, registry: DciRegistry, signed: SignedSearch): Promise<{ ack: string }> {
      return sendAsync(partner.id, registry, '/registry/search', signed.envelope)
    },

    // registry/subscribe: acknowledged; the on-subscribe, then notify, come to the receiver.
    async subscribe (partner: Pick<Partner, 'id'>, registry: DciRegistry, signed: SignedMessage): Promise<{ ack: string }> {
      return sendAsync(partner.id, registry, '/registry/subscribe', signed.envelope)
    },

    // registry/unsubscribe: acknowledged; the on-unsubscribe comes to the receiver.
    async unsubscribe (partner: Pick<Partner, 'id'>, registry: DciRegistry, signed: SignedMessage): Promise<{ ack: string }> {
      return sendAsync(partner.id, registry, '/registry/unsubscribe', signed.envelope)
    },

    // registry/sync/search: the answer, signed by the partner and spec-valid, for this search.
    async syncSearch (partner: Pick<Partner, 'id' | 'jwks'>, registry: DciRegistry, signed: SignedSearch): Promise<{ text: string, envelope: DciEnvelope }> {
      const path = '/registry/sync/search'
      const res = await send(partner.id, path, signed.envelope)
      const problems = loadDciSpec(registry).validateResponse(path, res.body)
      if (problems.length > 0) throw new PartnerRegistryInvalidAnswerError(partner.id, `the answer does not match the DCI specification: ${problems.map((p) => `${p.pointer} ${p.message}`).join('; ')}`)
      const envelope = res.body as DciEnvelope
      const checked = checkPartnerMessage(partner, envelope, deps.senderId)
      if (!checked.ok) throw new PartnerRegistryInvalidAnswerError(partner.id, `${checked.code} ${checked.reason}`)
      if (envelope.header.action !== 'on-search') throw new PartnerRegistryInvalidAnswerError(partner.id, `/header/action is ${envelope.header.action}, not on-search`)
      if (envelope.message.transaction_id !== signed.transactionId) throw new PartnerRegistryInvalidAnswerError(partner.id, '/message/transaction_id is not the one asked')
      const status = envelope.header.status as string | undefined
      if (status === 'rjct') {
        const code = typeof envelope.header.status_reason_code === 'string' ? envelope.header.status_reason_code : null
        throw new PartnerRegistryRefusedError(partner.id, `the message was rejected${code === null ? '' : ` (${code})`}${typeof envelope.header.status_reason_message === 'string' ? `: ${envelope.header.status_reason_message.slice(0, 300)}` : ''}`, code)
      }
      return { text: res.text, envelope }
    },

    // Drops a partner's token (its registration changed).
    forget (partnerId: string): void {
      tokens.delete(partnerId)
    },
  }
}

export type DciClient = ReturnType<typeof createDciClient>
