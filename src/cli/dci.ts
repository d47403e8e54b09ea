// A partner system's side of DCI, for trying the gateway's registries with curl:
// make a signing key, sign a message, check a signed answer. It needs neither the
// gateway's configuration nor its store; only `verify --jwks-url` goes online.
import { createPrivateKey, generateKeyPairSync, randomUUID, type JsonWebKey, type KeyObject } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { text } from 'node:stream/consumers'
import { parseArgs } from 'node:util'
import { request } from 'undici'
import { signDciMessage, verifyDciMessage, type DciVerifyResult } from '../dci/signature.ts'

export const DEFAULT_RECEIVER = 'oss-gateway.mn'
export const KEY_ALGORITHMS = ['ed25519', 'ecdsa-p256-sha256'] as const
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number]

export const USAGE = `usage: npm run --silent dci -- key FILE [--kid KID] [--alg ed25519|ecdsa-p256-sha256]
       npm run --silent dci -- sign FILE --sender SENDER_ID [options] < BODY.json
       npm run --silent dci -- verify (--jwks-url URL | --jwks FILE) [--sender ID] < ENVELOPE.json

A partner system's side of the DCI registries (/dci/{social,crvs}/registry/...).

key FILE     makes a partner's signing key pair: the private JWK goes to FILE
             (mode 0600, never overwritten) and the public JWKS is printed, for
             the "jwks" of POST /v1/admin/partners.
               --kid KID        the key id (default partner-YYYY-MM-DD)
               --alg ALG        ed25519 (default) or ecdsa-p256-sha256

sign FILE    reads a JSON message, or a whole {header, message} envelope, from
             stdin and prints the signed envelope {signature, header, message}
             with the private key in FILE. Missing header fields are filled in:
             version, message_id, message_ts, action, receiver_id, total_count.
               --sender ID      the partner's id, its sender_id (required)
               --receiver ID    the receiver_id (default ${DEFAULT_RECEIVER})
               --action A       the header's action (default: the envelope's, or search)
               --query-file F   read the JSON from F instead of stdin

verify       reads a signed envelope from stdin and checks its signature
             against a JWKS; prints "ok" (exit 0) or "invalid: <reason>" (exit 1).
               --jwks-url URL   fetch the JWKS, e.g. the gateway's
                                http://127.0.0.1:3000/.well-known/jwks.json
               --jwks FILE      read the JWKS from FILE (e.g. a key's output)
               --sender ID      the expected signer (default ${DEFAULT_RECEIVER})

  -h, --help   this text

example:
  npm run --silent dci -- key partner.jwk --kid k1 > partner.jwks.json
  echo '{"transaction_id":"T-1","search_request":[...]}' |
    npm run --silent dci -- sign partner.jwk --sender spmis.example.org |
    curl -sS -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
      --data-binary @- http://127.0.0.1:3000/dci/social/registry/sync/search |
    npm run --silent dci -- verify --jwks-url http://127.0.0.1:3000/.well-known/jwks.json
`

// An expected failure: one line on stderr and this exit code, no stack.
export class DciCliError extends Error {
  readonly exitCode: number
  constructor (message: string, exitCode = 1) {
    super(message)
    this.name = 'DciCliError'
    this.exitCode = exitCode
  }
}

export interface PartnerKey {
  // The private JWK, with kid and alg, as written to the key file.
  privateJwk: JsonWebKey & { kid: string, alg: string }
  // What an admin registers: the public half only.
  jwks: { keys: Array<JsonWebKey & { kid: string, alg: string, use: 'sig' }> }
}

// The same characters signDciMessage accepts inside kidId="sender|kid|alg".
const KID = /^[^"|\s]{1,200}$/

export function generatePartnerKey (options: { kid?: string, alg?: string, now?: Date } = {}): PartnerKey {
  const alg = options.alg ?? 'ed25519'
  if (!(KEY_ALGORITHMS as readonly string[]).includes(alg)) throw new DciCliError(`--alg must be one of ${KEY_ALGORITHMS.join(', ')}, not ${alg}`, 2)
  const kid = options.kid ?? `partner-${(options.now ?? new Date()).toISOString().slice(0, 10)}`
  if (!KID.test(kid)) throw new DciCliError('--kid must be 1-200 characters without \'|\', \'"\' or spaces', 2)
  const { privateKey, publicKey } = alg === 'ed25519'
    ? generateKeyPairSync('ed25519')
    : generateKeyPairSync('ec', { namedCurve: 'P-256' })
  // JOSE names, which verifyDciMessage matches against the signature's algorithm.
  const jwkAlg = alg === 'ed25519' ? 'EdDSA' : 'ES256'
  return {
    privateJwk: { ...privateKey.export({ format: 'jwk' }), kid, alg: jwkAlg },
    jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: jwkAlg, use: 'sig' }] },
  }
}

// `npm run` starts the script in the project's root: relative names are the
// caller's, from the directory npm was run in.
function fromCaller (file: string): string {
  return resolve(process.env.INIT_CWD ?? process.cwd(), file)
}

// flag 'wx': a key file is never replaced, so a registered key is never lost.
export function writePartnerKey (file: string, options: { kid?: string, alg?: string } = {}): PartnerKey['jwks'] {
  const key = generatePartnerKey(options)
  try {
    writeFileSync(fromCaller(file), JSON.stringify(key.privateJwk, null, 2) + '\n', { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as { code?: string }).code === 'EEXIST') throw new DciCliError(`${file} exists; it is not overwritten (a partner's registered key would be lost)`)
    throw new DciCliError(`cannot write ${file}: ${(err as Error).message}`)
  }
  return key.jwks
}

export function readPartnerKey (file: string): { kid: string, privateKey: KeyObject } {
  let jwk: JsonWebKey & { kid?: unknown }
  try {
    jwk = JSON.parse(readFileSync(fromCaller(file), 'utf8')) as JsonWebKey
  } catch (err) {
    throw new DciCliError(`cannot read the key file ${file}: ${(err as Error).message}`)
  }
  if (typeof jwk.kid !== 'string' || jwk.kid === '') throw new DciCliError(`${file} has no kid; make keys with \`dci -- key\``)
  if (jwk.d === undefined) throw new DciCliError(`${file} holds a public key; signing needs the private one`)
  try {
    return { kid: jwk.kid, privateKey: createPrivateKey({ key: jwk, format: 'jwk' }) }
  } catch (err) {
    throw new DciCliError(`${file} is not a usable private JWK: ${(err as Error).message}`)
  }
}

export interface CompleteOptions {
  senderId: string
  receiverId?: string
  action?: string
  now?: () => Date
  uuid?: () => string
}

export interface Envelope {
  header: Record<string, unknown>
  message: Record<string, unknown>
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value)

// What the registry compares total_count with: the requests in the message.
function itemCount (message: Record<string, unknown>): number | undefined {
  for (const name of ['search_request', 'subscribe_request', 'subscription_codes']) {
    const items = message[name]
    if (Array.isArray(items)) return items.length
  }
  if (message.txnstatus_request !== undefined) return 1
  return undefined
}

// A bare message (no "header") gets a whole header; an envelope keeps what its
// header says, except sender_id, which must be the signer's, and the options given.
export function completeEnvelope (doc: unknown, options: CompleteOptions): Envelope {
  if (!isObject(doc)) throw new DciCliError('the input must be a JSON object: a DCI message or a {header, message} envelope')
  const given = doc.header === undefined ? {} : doc.header
  const message = doc.header === undefined ? doc : doc.message
  if (!isObject(given)) throw new DciCliError('the envelope\'s header must be an object')
  if (!isObject(message)) throw new DciCliError('the envelope has no message object')
  const totalCount = given.total_count ?? itemCount(message)
  if (totalCount === undefined) throw new DciCliError('cannot count the message\'s requests (no search_request, subscribe_request, subscription_codes or txnstatus_request); put a total_count in the header')
  // Literal order first: a fresh header reads in the spec's order.
  const header: Record<string, unknown> = {
    version: '1.0.0',
    message_id: (options.uuid ?? randomUUID)(),
    message_ts: (options.now?.() ?? new Date()).toISOString(),
    action: 'search',
    sender_id: options.senderId,
    receiver_id: DEFAULT_RECEIVER,
    total_count: totalCount,
    ...given,
  }
  header.sender_id = options.senderId
  if (options.action !== undefined) header.action = options.action
  if (options.receiverId !== undefined) header.receiver_id = options.receiverId
  return { header, message }
}

export function signEnvelope (doc: unknown, key: { kid: string, privateKey: KeyObject }, options: CompleteOptions): Envelope & { signature: string } {
  const { header, message } = completeEnvelope(doc, options)
  let signature: string
  try {
    signature = signDciMessage({ header, message, senderId: options.senderId, key })
  } catch (err) {
    throw new DciCliError((err as Error).message)
  }
  return { signature, header, message }
}

export function verifyEnvelope (doc: unknown, keys: readonly JsonWebKey[], expectedSenderId: string): DciVerifyResult {
  if (!isObject(doc)) return { ok: false, code: 'err.signature.invalid', reason: 'the input is not a JSON object' }
  return verifyDciMessage({ signature: doc.signature as string | undefined, header: doc.header, message: doc.message, keys, expectedSenderId })
}

function jwksKeys (value: unknown, where: string): JsonWebKey[] {
  if (!isObject(value) || !Array.isArray(value.keys)) throw new DciCliError(`${where} is not a JWKS ({"keys": [...]})`)
  return value.keys as JsonWebKey[]
}

async function fetchJwks (url: string): Promise<JsonWebKey[]> {
  let res
  try {
    res = await request(url, { headersTimeout: 10_000, bodyTimeout: 10_000 })
  } catch (err) {
    throw new DciCliError(`cannot fetch ${url}: ${(err as Error).message}`)
  }
  const body = await res.body.text()
  if (res.statusCode !== 200) throw new DciCliError(`${url} answered ${res.statusCode}`)
  try {
    return jwksKeys(JSON.parse(body), url)
  } catch (err) {
    if (err instanceof DciCliError) throw err
    throw new DciCliError(`${url} did not answer JSON`)
  }
}

function parseJson (source: string, where: string): unknown {
  try {
    return JSON.parse(source)
  } catch (err) {
    throw new DciCliError(`${where} is not JSON: ${(err as Error).message}`)
  }
}

export interface Io {
  out: (text: string) => void
  err: (text: string) => void
  stdin: () => Promise<string>
}

const standardIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  async stdin () {
    // Waiting silently on a terminal looks like a hang.
    if (process.stdin.isTTY === true) throw new DciCliError('pipe the JSON on stdin (or pass --query-file)', 2)
    return text(process.stdin)
  },
}

export async function runDci (argv: string[], io: Io = standardIo): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        kid: { type: 'string' },
        alg: { type: 'string' },
        sender: { type: 'string' },
        receiver: { type: 'string' },
        action: { type: 'string' },
        'query-file': { type: 'string' },
        jwks: { type: 'string' },
        'jwks-url': { type: 'string' },
      },
    })
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
  const [command, ...args] = positionals
  if (values.help === true || command === undefined) {
    io.out(USAGE)
    return 0
  }
  const usage = (message: string): number => {
    io.err(`${message}\n\n${USAGE}`)
    return 2
  }
  try {
    if (command === 'key') {
      if (args.length !== 1) return usage('key takes one FILE')
      io.out(JSON.stringify(writePartnerKey(args[0]!, { ...(values.kid === undefined ? {} : { kid: values.kid }), ...(values.alg === undefined ? {} : { alg: values.alg }) })) + '\n')
      return 0
    }
    if (command === 'sign') {
      if (args.length !== 1) return usage('sign takes one key FILE')
      if (values.sender === undefined) return usage('sign needs --sender: the partner\'s id, as registered')
      const key = readPartnerKey(args[0]!)
      const file = values['query-file']
      const source = file === undefined ? await io.stdin() : readText(file)
      const signed = signEnvelope(parseJson(source, file ?? 'stdin'), key, {
        senderId: values.sender,
        ...(values.receiver === undefined ? {} : { receiverId: values.receiver }),
        ...(values.action === undefined ? {} : { action: values.action }),
      })
      io.out(JSON.stringify(signed) + '\n')
      return 0
    }
    if (command === 'verify') {
      if (args.length !== 0) return usage('verify takes no positional arguments')
      const url = values['jwks-url']
      const file = values.jwks
      if ((url === undefined) === (file === undefined)) return usage('verify needs one of --jwks-url URL or --jwks FILE')
      const keys = url !== undefined ? await fetchJwks(url) : jwksKeys(parseJson(readText(file!), file!), file!)
      const result = verifyEnvelope(parseJson(await io.stdin(), 'stdin'), keys, values.sender ?? DEFAULT_RECEIVER)
      if (result.ok) {
        io.out('ok\n')
        return 0
      }
      io.out(`invalid: ${result.reason}\n`)
      return 1
    }
    return usage(`unknown command: ${command}`)
  } catch (err) {
    if (err instanceof DciCliError) {
      io.err(`${err.message}\n`)
      return err.exitCode
    }
    throw err
  }
}

function readText (file: string): string {
  try {
    return readFileSync(fromCaller(file), 'utf8')
  } catch (err) {
    throw new DciCliError(`cannot read ${file}: ${(err as Error).message}`)
  }
}

if (import.meta.main) process.exitCode = await runDci(process.argv.slice(2))
