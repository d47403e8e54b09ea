import { createPublicKey, hash, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto'
import type { DciErrorCode } from './spec.ts'
import { ed25519Sign, ed25519Verify } from '../crypto/ed25519.ts'

// DCI message signatures (the spec's MsgSignature): the Beckn/ONDC authorization-header
// scheme over {header}+{message}. A BLAKE2b-512 digest of the compact JSON is signed with
// its (created) and (expires) times, so the signature covers exactly what was sent.

// Pinned: a signature naming anything else is refused, whatever keys the sender publishes.
export const DCI_SIGNATURE_ALGORITHMS = ['ed25519', 'ecdsa-p256-sha256'] as const
export type DciSignatureAlgorithm = (typeof DCI_SIGNATURE_ALGORITHMS)[number]

export const DCI_SIGNED_HEADERS = '(created) (expires) digest'
const NAMESPACE = 'spdci'
const DEFAULT_TTL_SECONDS = 300
const DEFAULT_CLOCK_SKEW_SECONDS = 30
// Far above a real header (~300 chars); bounds the work done on hostile input.
const MAX_SIGNATURE_LENGTH = 4096

export interface DciSignatureParams {
  namespace: string | undefined
  senderId: string
  kid: string
  algorithm: string
  created: number
  expires: number
  headers: string
  signature: string
}

export type DciSignatureCode = Extract<DciErrorCode, 'err.signature.missing' | 'err.signature.invalid'>

export type DciVerifyResult =
  | { ok: true, kid: string, algorithm: DciSignatureAlgorithm }
  | { ok: false, code: DciSignatureCode, reason: string }

export interface SignDciMessageOptions {
  header: unknown
  message: unknown
  senderId: string
  key: { kid: string, privateKey: KeyObject }
  // Epoch milliseconds; Date.now by default.
  now?: () => number
  ttlSeconds?: number
}

export interface VerifyDciMessageOptions {
  signature: string | undefined
  header: unknown
  message: unknown
  // The sender's public signing keys (its JWKS `keys`), each with a kid.
  keys: readonly JsonWebKey[]
  expectedSenderId: string
  // Epoch milliseconds; Date.now by default.
  now?: () => number
  clockSkewSeconds?: number
}

// Compact JSON in the objects' own key order: a receiver that JSON.parses the body and
// stringifies it again gets the sender's bytes back. An absent part contributes nothing.
export function dciDigest (header: unknown, message: unknown): string {
  return contentDigest((JSON.stringify(header) ?? '') + (JSON.stringify(message) ?? ''))
}

// The digest of the header's and the message's compact JSON, concatenated.
function contentDigest (content: string): string {
  return `BLAKE-512=${hash('blake2b512', content, 'base64')}`
}

export function dciSigningString (created: number, expires: number, digest: string): string {
  return `(created): ${created}\n(expires): ${expires}\ndigest: ${digest}`
}

export function formatDciSignature (p: Omit<DciSignatureParams, 'namespace'>): string {
  return `Signature: namespace="${NAMESPACE}", kidId="${p.senderId}|${p.kid}|${p.algorithm}", algorithm="${p.algorithm}", ` +
    `created="${p.created}", expires="${p.expires}", headers="${p.headers}", signature="${p.signature}"`
}

const PARAM = /\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*"([^"]*)"\s*(?:,|$)/y
const UNIX_SECONDS = /^\d{1,12}$/

// Lenient on layout (optional "Signature:" prefix, any spacing, any parameter order),
// strict on content. Returns a reason string when the value is not a signature.
export function parseDciSignature (value: string): DciSignatureParams | string {
  if (value.length > MAX_SIGNATURE_LENGTH) return 'signature is too long'
  let rest = value.trim()
  const prefix = /^Signature:/i.exec(rest)
  if (prefix !== null) rest = rest.slice(prefix[0].length).trim()
  if (rest === '') return 'signature has no parameters'
  const params = new Map<string, string>()
  PARAM.lastIndex = 0
  while (PARAM.lastIndex < rest.length) {
    const start = PARAM.lastIndex
    const match = PARAM.exec(rest)
    if (match === null) return `signature is not parseable at character ${start}`
    const [, name = '', val = ''] = match
    if (params.has(name)) return `signature parameter ${name} is repeated`
    params.set(name, val)
  }
  const get = (name: string): string | undefined => params.get(name)
  for (const name of ['kidId', 'algorithm', 'created', 'expires', 'headers', 'signature']) {
    if (get(name) === undefined) return `signature parameter ${name} is missing`
  }
  const parts = (get('kidId') ?? '').split('|')
  if (parts.length !== 3 || parts.some((p) => p === '')) return 'kidId is not "{sender_id}|{key_id}|{algorithm}"'
  const [senderId = '', kid = '', kidAlgorithm = ''] = parts
  const algorithm = get('algorithm') ?? ''
  if (kidAlgorithm !== algorithm) return `kidId names algorithm ${kidAlgorithm} but algorithm is ${algorithm}`
  const created = get('created') ?? ''
  const expires = get('expires') ?? ''
  if (!UNIX_SECONDS.test(created)) return 'created is not a unix time in seconds'
  if (!UNIX_SECONDS.test(expires)) return 'expires is not a unix time in seconds'
  return {
    namespace: get('namespace'),
    senderId,
    kid,
    algorithm,
    created: Number(created),
    expires: Number(expires),
    headers: get('headers') ?? '',
    signature: get('signature') ?? '',
  }
}

function isAlgorithm (value: string): value is DciSignatureAlgorithm {
  return (DCI_SIGNATURE_ALGORITHMS as readonly string[]).includes(value)
}

function algorithmOf (key: KeyObject): DciSignatureAlgorithm | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519'
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256-sha256'
  return undefined
}

function rawSign (algorithm: DciSignatureAlgorithm, data: Buffer, privateKey: KeyObject): Buffer {
  return algorithm === 'ed25519'
    ? ed25519Sign(data, privateKey)
    : sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' })
}

function rawVerify (algorithm: DciSignatureAlgorithm, data: Buffer, publicKey: KeyObject, signature: Buffer): boolean {
  return algorithm === 'ed25519'
    ? ed25519Verify(data, publicKey, signature)
    : verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)
}

export function signDciMessage (options: SignDciMessageOptions): string {
  return signDciContent((JSON.stringify(options.header) ?? '') + (JSON.stringify(options.message) ?? ''), options)
}

// As signDciMessage, for a header and message already in compact JSON: the
// texts of the two, concatenated (a sender that sends those very texts).
export function signDciContent (content: string, options: Omit<SignDciMessageOptions, 'header' | 'message'>): string {
  const { senderId, key } = options
  if (key.privateKey.type !== 'private') throw new TypeError('a DCI signing key must be a private key')
  const algorithm = algorithmOf(key.privateKey)
  if (algorithm === undefined) throw new TypeError('a DCI signing key must be Ed25519 or EC P-256')
  // These end up inside kidId="a|b|c": a '|' or '"' would make the header unparseable.
  for (const [what, value] of [['senderId', senderId], ['kid', key.kid]] as const) {
    if (value === '' || /["|\s]/.test(value)) throw new TypeError(`${what} must be non-empty without '|', '"' or spaces`)
  }
  const ttl = options.ttlSeconds ?? DEFAULT_TTL_SECONDS
  if (!Number.isInteger(ttl) || ttl <= 0) throw new TypeError('ttlSeconds must be a positive integer')
  const created = Math.floor((options.now ?? Date.now)() / 1000)
  const expires = created + ttl
  const data = Buffer.from(dciSigningString(created, expires, contentDigest(content)), 'utf8')
  const signature = rawSign(algorithm, data, key.privateKey).toString('base64')
  return formatDciSignature({ senderId, kid: key.kid, algorithm, created, expires, headers: DCI_SIGNED_HEADERS, signature })
}

// Imported KeyObjects, by JWK object and, for JWKS re-read from the network or disk, by
// the RFC 7638 thumbprint members. null records a JWK that does not import.
const byJwk = new WeakMap<JsonWebKey, KeyObject | null>()
const byThumbprint = new Map<string, KeyObject | null>()
const MAX_THUMBPRINTS = 1024

function publicKeyOf (jwk: JsonWebKey): KeyObject | null {
  const cached = byJwk.get(jwk)
  if (cached !== undefined) return cached
  const thumbprint = JSON.stringify([jwk.crv, jwk.e, jwk.kty, jwk.n, jwk.x, jwk.y])
  let key = byThumbprint.get(thumbprint)
  if (key === undefined) {
    try {
      key = createPublicKey({ key: jwk, format: 'jwk' })
    } catch {
      key = null
    }
    if (byThumbprint.size >= MAX_THUMBPRINTS) {
      const oldest = byThumbprint.keys().next()
      if (oldest.done !== true) byThumbprint.delete(oldest.value)
    }
    byThumbprint.set(thumbprint, key)
  }
  byJwk.set(jwk, key)
  return key
}

// JWK "alg" values that fit each signature algorithm, when the JWK names one.
const JWK_ALGS: Record<DciSignatureAlgorithm, readonly string[]> = {
  'ed25519': ['EdDSA', 'Ed25519'],
  'ecdsa-p256-sha256': ['ES256'],
}

export function verifyDciMessage (options: VerifyDciMessageOptions): DciVerifyResult {
  const { signature, header, message, keys, expectedSenderId } = options
  const invalid = (reason: string): DciVerifyResult => ({ ok: false, code: 'err.signature.invalid', reason })
  if (signature === undefined || signature === null || (typeof signature === 'string' && signature.trim() === '')) {
    return { ok: false, code: 'err.signature.missing', reason: 'the message has no signature' }
  }
  if (typeof signature !== 'string') return invalid('signature is not a string')

  const parsed = parseDciSignature(signature)
  if (typeof parsed === 'string') return invalid(parsed)
  const { algorithm, kid } = parsed
  if (parsed.namespace !== undefined && parsed.namespace !== NAMESPACE) return invalid(`namespace is ${parsed.namespace}, not ${NAMESPACE}`)
  if (!isAlgorithm(algorithm)) return invalid(`algorithm ${algorithm} is not accepted`)
  if (parsed.senderId !== expectedSenderId) return invalid(`signed by ${parsed.senderId}, expected ${expectedSenderId}`)
  if (parsed.headers !== DCI_SIGNED_HEADERS) return invalid(`headers must be "${DCI_SIGNED_HEADERS}"`)

  const now = Math.floor((options.now ?? Date.now)() / 1000)
  const skew = options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS
  if (parsed.expires < parsed.created) return invalid('expires is before created')
  if (parsed.created > now + skew) return invalid('created is in the future')
  if (parsed.expires < now - skew) return invalid('the signature has expired')

  const jwk = keys.find((k) => k.kid === kid)
  if (jwk === undefined) return invalid(`key ${kid} is not among the sender's keys`)
  if (jwk.use !== undefined && jwk.use !== 'sig') return invalid(`key ${kid} is not a signing key`)
  if (jwk.alg !== undefined && !JWK_ALGS[algorithm].includes(String(jwk.alg))) return invalid(`key ${kid} is for ${String(jwk.alg)}, not ${algorithm}`)
  const publicKey = publicKeyOf(jwk)
  if (publicKey === null) return invalid(`key ${kid} is not a usable public key`)
  if (algorithmOf(publicKey) !== algorithm) return invalid(`key ${kid} does not fit algorithm ${algorithm}`)

  // Standard base64 only, in canonical form; both algorithms give 64 raw bytes.
  const raw = Buffer.from(parsed.signature, 'base64')
  if (raw.toString('base64') !== parsed.signature || raw.length !== 64) return invalid('signature value is not a base64 64-byte signature')
  const data = Buffer.from(dciSigningString(parsed.created, parsed.expires, dciDigest(header, message)), 'utf8')
  let good = false
  try {
    good = rawVerify(algorithm, data, publicKey, raw)
  } catch {
    good = false
  }
  if (!good) return invalid('signature does not verify')
  return { ok: true, kid, algorithm }
}
