import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { signDciMessage } from '../../src/dci/signature.ts'
import { buildTestApp } from './app.ts'

// What the DCI face's tests share: a registered partner with its key and
// bearer token, signed messages from it, and the partner's own endpoints
// receiving what the gateway POSTs.

export const PARTNER = 'spmis.example.org'
export interface PartnerKey { kid: string, privateKey: KeyObject }
export interface Grant { purposes?: string[], recordTypes?: string[], callbackUrl?: string }

export async function dciSetup (t: Test, grant: Grant = {}, env: Record<string, string> = {}, exchange: Record<string, unknown> = {}) {
  const test = await buildTestApp(t, { exchange: { citizens: 500, ...exchange }, env: { CALLBACK_ALLOWED_CIDRS: '127.0.0.0/8', ...env } })
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const admin = { authorization: `Bearer ${await test.token('admin')}` }
  const registered = await test.app.inject({
    method: 'POST',
    url: '/v1/admin/partners',
    headers: admin,
    payload: { id: PARTNER, name: 'Example MIS', jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }] }, purposes: grant.purposes ?? ['social_protection.eligibility'], recordTypes: grant.recordTypes ?? ['SRPerson', 'Member', 'Person'], ...(grant.callbackUrl === undefined ? {} : { callbackUrl: grant.callbackUrl }) },
  })
  t.equal(registered.statusCode, 201, registered.body)
  const issued = await test.app.inject({ method: 'POST', url: '/oauth2/client/token', payload: { grant_type: 'client_credentials', client_id: PARTNER, client_secret: registered.json().clientSecret } })
  const bearer = { authorization: `Bearer ${issued.json().access_token as string}` }
  const gatewayKeys = (await test.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json().keys
  const key: PartnerKey = { kid: 'k1', privateKey: privateKey as KeyObject }
  // A message of the partner's, signed (or not, with key null).
  const signed = (action: string, message: Record<string, unknown>, total: number, header: Record<string, unknown> = {}, signWith: PartnerKey | null = key) => {
    const h = { version: '1.0.0', message_id: randomUUID(), message_ts: new Date().toISOString(), action, sender_id: PARTNER, receiver_id: 'oss-gateway.mn', total_count: total, ...header }
    return { ...(signWith === null ? {} : { signature: signDciMessage({ header: h, message, senderId: PARTNER, key: signWith }) }), header: h, message }
  }
  return { ...test, bearer, key, gatewayKeys, admin, signed }
}

// The partner's own DCI endpoints: what the gateway POSTs there, answered
// with the statuses given in turn (then 200).
export async function partnerReceiver (t: Test, statuses: number[] = []) {
  const received: Array<{ path: string, body: Record<string, any> }> = []
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    received.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) })
    res.writeHead(statuses.shift() ?? 200, { 'content-type': 'application/json' }).end('{}')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const at = (path: string) => received.filter((r) => r.path === `/dci${path}`)
  return { received, at, base: `http://127.0.0.1:${(server.address() as { port: number }).port}/dci` }
}

// A gateway listening on a real port, with its own DCI sender id and bus
// emulator, reachable by another gateway on loopback.
export async function listeningGateway (t: Test, senderId: string, env: Record<string, string> = {}, exchange: Record<string, unknown> = {}) {
  // Its own directory: its own development issuer and member keys.
  const dataDir = await mkdtemp(join(tmpdir(), `${senderId}-`))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const test = await buildTestApp(t, { dataDir, exchange: { citizens: 500, ...exchange }, env: { CALLBACK_ALLOWED_CIDRS: '127.0.0.0/8', DCI_SENDER_ID: senderId, DCI_MESSAGES_PER_MINUTE: '100000', CALLBACK_BACKOFF_BASE_MS: '10', CALLBACK_BACKOFF_MAX_MS: '50', ...env } })
  await test.app.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(test.app.server.address() as { port: number }).port}`
  const admin = { authorization: `Bearer ${await test.token('admin')}` }
  const jwks = (await test.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: Array<Record<string, unknown>> }
  return { ...test, senderId, base, admin, jwks }
}

export type ListeningGateway = Awaited<ReturnType<typeof listeningGateway>>

// `client` becomes a partner of `registry` (a client id and secret, callbacks
// to its receiver), and `registry` a partner of `client` with its registry.
export async function pairGateways (t: Test, client: ListeningGateway, registry: ListeningGateway, grant: { purposes: string[], recordTypes: string[] }) {
  const publicOnly = (keys: Array<Record<string, unknown>>) => ({ keys: keys.map(({ kty, crv, kid, x, y }) => ({ kty, crv, kid, x, ...(y === undefined ? {} : { y }) })) })
  const atRegistry = await registry.app.inject({
    method: 'POST',
    url: '/v1/admin/partners',
    headers: registry.admin,
    payload: { id: client.senderId, name: `Gateway ${client.senderId}`, jwks: publicOnly(client.jwks.keys), callbackUrl: `${client.base}/dci/receiver`, ...grant },
  })
  t.equal(atRegistry.statusCode, 201, atRegistry.body)
  const clientSecret = atRegistry.json().clientSecret as string
  const atClient = await client.app.inject({
    method: 'POST',
    url: '/v1/admin/partners',
    headers: client.admin,
    payload: {
      id: registry.senderId,
      name: `Gateway ${registry.senderId}`,
      jwks: publicOnly(registry.jwks.keys),
      purposes: ['social_protection.eligibility'],
      recordTypes: ['SRPerson'],
      registry: { url: `${registry.base}/dci/social`, tokenUrl: `${registry.base}/oauth2/client/token`, clientId: client.senderId, clientSecret },
    },
  })
  t.equal(atClient.statusCode, 201, atClient.body)
  return { clientSecret, partner: atClient.json() }
}

// A parent applies online for the newborn package at a gateway; its id.
export async function submitNewborn (t: Test, gw: Pick<ListeningGateway, 'app' | 'token'>, parent: { regnum: string, homeUnit: string }, form: Record<string, unknown>): Promise<string> {
  const res = await gw.app.inject({
    method: 'POST',
    url: '/v1/applications',
    headers: { authorization: `Bearer ${await gw.token('citizen', { claims: { sub: parent.regnum } })}`, 'idempotency-key': randomUUID() },
    payload: { service: 'package.newborn', unit: parent.homeUnit, channel: 'online', applicant: { regnum: parent.regnum }, form },
  })
  t.equal(res.statusCode, 202, res.body)
  return res.json().id as string
}
