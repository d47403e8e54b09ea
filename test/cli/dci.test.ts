import { spawn } from 'node:child_process'
import { createPrivateKey, randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { completeEnvelope, generatePartnerKey, signEnvelope, USAGE, verifyEnvelope } from '../../src/cli/dci.ts'
import { generatePopulation, type Citizen } from '../../src/exchange/index.ts'
import { buildTestApp } from '../helpers/app.ts'

// `npm run dci`: a partner system's key, signature and check, as a README
// reader would use them with curl. The commands run as their own processes
// (each loads the signing modules: seconds on a busy machine).

const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'dci.ts')
const PARTNER = 'spmis.example.org'
const [alice] = generatePopulation({ citizens: 500 }).livingAdults() as [Citizen]

interface Run { code: number | null, stdout: string, stderr: string }

async function dci (args: string[], stdin = ''): Promise<Run> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'], timeout: 120_000 })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => { stdout += String(d) })
  child.stderr.on('data', (d) => { stderr += String(d) })
  child.stdin.end(stdin)
  const [code] = await once(child, 'close') as [number | null]
  return { code, stdout, stderr }
}

const searchMessage = (regnum: string) => ({
  transaction_id: randomUUID().slice(0, 20),
  search_request: [{ reference_id: randomUUID(), timestamp: new Date().toISOString(), search_criteria: { query_type: 'idtype-value', query: { type: 'UIN', value: regnum } } }],
})

t.test('key writes the private JWK (0600), prints the public JWKS, and never overwrites', async (t) => {
  const dir = t.testdir()
  const file = join(dir, 'partner.jwk')
  const made = await dci(['key', file, '--kid', 'k1'])
  t.equal(made.code, 0, made.stderr)
  t.equal(statSync(file).mode & 0o777, 0o600, 'readable by its owner only')
  t.match(made.stdout, /^\{"keys":\[\{.*\}\]\}\n$/, 'one line of compact JSON')
  const jwks = JSON.parse(made.stdout)
  t.equal(jwks.keys.length, 1)
  t.match(jwks.keys[0], { kty: 'OKP', crv: 'Ed25519', kid: 'k1', alg: 'EdDSA', x: String })
  t.notOk('d' in jwks.keys[0], 'no private member')
  const stored = readFileSync(file, 'utf8')
  t.match(JSON.parse(stored), { kid: 'k1', d: String, x: jwks.keys[0].x })

  const again = await dci(['key', file])
  t.equal(again.code, 1)
  t.match(again.stderr, /exists; it is not overwritten/)
  t.equal(again.stdout, '')
  t.equal(readFileSync(file, 'utf8'), stored, 'the key is untouched')

  const p256 = await dci(['key', join(dir, 'p256.jwk'), '--alg', 'ecdsa-p256-sha256'])
  t.equal(p256.code, 0, p256.stderr)
  t.match(JSON.parse(p256.stdout).keys[0], { kty: 'EC', crv: 'P-256', alg: 'ES256', kid: /^partner-\d{4}-\d{2}-\d{2}$/ })
})

t.test('usage: --help and no arguments print it; an unknown command exits 2', async (t) => {
  const help = await dci(['--help'])
  t.equal(help.code, 0)
  t.equal(help.stdout, USAGE)
  t.equal((await dci([])).stdout, USAGE)
  const unknown = await dci(['frobnicate'])
  t.equal(unknown.code, 2)
  t.equal(unknown.stdout, '')
  t.match(unknown.stderr, /unknown command: frobnicate/)
  t.match(unknown.stderr, /usage: npm run --silent dci/)
  const noSender = await dci(['sign', 'whatever.jwk'], '{}')
  t.equal(noSender.code, 2)
  t.match(noSender.stderr, /--sender/)
})

t.test('a message signed by the command is answered by the registry; verify checks both sides', async (t) => {
  const test = await buildTestApp(t, { exchange: { citizens: 500 } })
  const { app } = test
  const dir = join(test.dataDir, 'partner')
  mkdirSync(dir)
  const keyFile = join(dir, 'partner.jwk')
  const made = await dci(['key', keyFile, '--kid', 'k1'])
  t.equal(made.code, 0, made.stderr)
  const jwksFile = join(dir, 'partner.jwks.json')
  writeFileSync(jwksFile, made.stdout)

  // The admin pastes the printed JWKS as it is.
  const admin = { authorization: `Bearer ${await test.token('admin')}` }
  const registered = await app.inject({
    method: 'POST',
    url: '/v1/admin/partners',
    headers: admin,
    payload: { id: PARTNER, name: 'Example MIS', jwks: JSON.parse(made.stdout), purposes: ['social_protection.eligibility'], recordTypes: ['SRPerson', 'Person'] },
  })
  t.equal(registered.statusCode, 201, registered.body)
  const issued = await app.inject({ method: 'POST', url: '/oauth2/client/token', payload: { grant_type: 'client_credentials', client_id: PARTNER, client_secret: registered.json().clientSecret } })
  t.equal(issued.statusCode, 200, issued.body)
  const bearer = { authorization: `Bearer ${issued.json().access_token as string}` }

  const message = searchMessage(alice.regnum)
  const signed = await dci(['sign', keyFile, '--sender', PARTNER], JSON.stringify(message))
  t.equal(signed.code, 0, signed.stderr)
  t.equal(signed.stderr, '')
  const envelope = JSON.parse(signed.stdout)
  t.same(Object.keys(envelope), ['signature', 'header', 'message'])
  t.match(envelope.header, { version: '1.0.0', action: 'search', sender_id: PARTNER, receiver_id: 'oss-gateway.mn', total_count: 1, message_id: String, message_ts: String })
  t.same(envelope.message, message, 'the message as given')
  t.match(envelope.signature, `kidId="${PARTNER}|k1|ed25519"`)

  const res = await app.inject({ method: 'POST', url: '/dci/social/registry/sync/search', headers: { ...bearer, 'content-type': 'application/json' }, payload: signed.stdout })
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json().header.status, 'succ', res.body)
  t.match(res.json().message.search_response[0], { status: 'succ', data: { reg_records: [{ identifier: [{ identifier_value: alice.regnum }] }] } })

  const ok = await dci(['verify', '--jwks', jwksFile, '--sender', PARTNER], signed.stdout)
  t.equal(ok.code, 0, ok.stderr)
  t.equal(ok.stdout, 'ok\n')
  const tampered = { ...envelope, message: { ...envelope.message, transaction_id: 'changed' } }
  const bad = await dci(['verify', '--jwks', jwksFile, '--sender', PARTNER], JSON.stringify(tampered))
  t.equal(bad.code, 1)
  t.equal(bad.stdout, 'invalid: signature does not verify\n')
  const wrongSender = await dci(['verify', '--jwks', jwksFile], signed.stdout)
  t.equal(wrongSender.code, 1)
  t.match(wrongSender.stdout, /^invalid: signed by spmis\.example\.org, expected oss-gateway\.mn/)

  // The gateway's answer, against its published keys, fetched over HTTP.
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  const answer = await dci(['verify', '--jwks-url', `http://127.0.0.1:${port}/.well-known/jwks.json`], res.body)
  t.equal(answer.code, 0, answer.stderr)
  t.equal(answer.stdout, 'ok\n')
  const missing = await dci(['verify', '--jwks-url', `http://127.0.0.1:${port}/no-such-jwks`], res.body)
  t.equal(missing.code, 1)
  t.match(missing.stderr, /answered 404/)
})

t.test('completeEnvelope fills in a header and keeps what an envelope says', async (t) => {
  const now = () => new Date('2026-12-01T09:00:00.000Z')
  const uuid = () => 'm-1'
  const bare = completeEnvelope({ transaction_id: 'T', subscribe_request: [{}, {}, {}] }, { senderId: 'a.org', now, uuid })
  t.same(bare.header, { version: '1.0.0', message_id: 'm-1', message_ts: '2026-12-01T09:00:00.000Z', action: 'search', sender_id: 'a.org', receiver_id: 'oss-gateway.mn', total_count: 3 })
  t.same(Object.keys(bare.header), ['version', 'message_id', 'message_ts', 'action', 'sender_id', 'receiver_id', 'total_count'], 'in the spec\'s order')
  t.equal(completeEnvelope({ txnstatus_request: {} }, { senderId: 'a.org', action: 'txn-status' }).header.total_count, 1)
  t.equal(completeEnvelope({ subscription_codes: ['x', 'y'] }, { senderId: 'a.org' }).header.total_count, 2)

  const given = { header: { action: 'txn-status', message_id: 'mine', sender_id: 'someone', total_count: 7, is_msg_encrypted: false }, message: { transaction_id: 'T', search_request: [] } }
  const completed = completeEnvelope(given, { senderId: 'a.org', receiverId: 'elsewhere' })
  t.match(completed.header, { action: 'txn-status', message_id: 'mine', sender_id: 'a.org', receiver_id: 'elsewhere', total_count: 7, is_msg_encrypted: false })
  t.equal(completeEnvelope(given, { senderId: 'a.org', action: 'search' }).header.action, 'search', '--action wins')
  t.throws(() => completeEnvelope([1], { senderId: 'a.org' }), /JSON object/)
  t.throws(() => completeEnvelope({ transaction_id: 'T' }, { senderId: 'a.org' }), /total_count/)
})

t.test('generatePartnerKey and signEnvelope, without a process: both algorithms verify', async (t) => {
  for (const alg of ['ed25519', 'ecdsa-p256-sha256']) {
    const { privateJwk, jwks } = generatePartnerKey({ kid: `k-${alg}`, alg })
    const signed = signEnvelope(searchMessage(alice.regnum), { kid: privateJwk.kid, privateKey: createPrivateKey({ key: privateJwk, format: 'jwk' }) }, { senderId: 'a.org' })
    t.same(verifyEnvelope(signed, jwks.keys, 'a.org'), { ok: true, kid: `k-${alg}`, algorithm: alg }, alg)
  }
  t.throws(() => generatePartnerKey({ alg: 'rsa' }), /--alg/)
  t.throws(() => generatePartnerKey({ kid: 'a|b' }), /--kid/)
  t.equal(generatePartnerKey({ now: new Date('2026-03-04T00:00:00Z') }).privateJwk.kid, 'partner-2026-03-04')
})
