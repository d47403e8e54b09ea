import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { buildTestApp } from '../../helpers/app.ts'

function publicJwk (kid: string, type: 'ed25519' | 'ec' = 'ed25519') {
  const { publicKey } = type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { ...publicKey.export({ format: 'jwk' }), kid }
}

const ENV = { CALLBACK_ALLOWED_CIDRS: '127.0.0.0/8' }

function registration (id: string) {
  return {
    id,
    name: 'Example social-protection MIS',
    jwks: { keys: [publicJwk('k1'), publicJwk('k2', 'ec')] },
    callbackUrl: 'http://127.0.0.1:9/dci',
    purposes: ['social_protection.eligibility'],
    recordTypes: ['SRPerson', 'Person'],
  }
}

t.test('an admin registers, reads, changes, rotates and removes a partner; the secret is shown once', async (t) => {
  const { app, token } = await buildTestApp(t, { env: ENV })
  const admin = { authorization: `Bearer ${await token('admin')}` }

  const created = await app.inject({ method: 'POST', url: '/v1/admin/partners', headers: admin, payload: registration('spmis.example.org') })
  t.equal(created.statusCode, 201, created.body)
  t.equal(created.headers['cache-control'], 'no-store')
  const body = created.json()
  t.match(body, { id: 'spmis.example.org', active: true, purposes: ['social_protection.eligibility'], recordTypes: ['SRPerson', 'Person'], callbackUrl: 'http://127.0.0.1:9/dci', createdBy: 'admin:admin-1' })
  t.match(body.clientSecret, /^[A-Za-z0-9_-]{43}$/)

  const again = await app.inject({ method: 'POST', url: '/v1/admin/partners', headers: admin, payload: registration('spmis.example.org') })
  t.equal(again.statusCode, 409)
  t.equal(again.json().code, 'CONFLICT')

  const read = await app.inject({ method: 'GET', url: '/v1/admin/partners/spmis.example.org', headers: admin })
  t.equal(read.statusCode, 200)
  t.notOk('clientSecret' in read.json(), 'the secret is not shown again')
  const listed = await app.inject({ method: 'GET', url: '/v1/admin/partners', headers: admin })
  t.same(listed.json().partners.map((p: { id: string }) => p.id), ['spmis.example.org'])

  const { id: _id, ...change } = registration('x')
  const updated = await app.inject({ method: 'PUT', url: '/v1/admin/partners/spmis.example.org', headers: admin, payload: { ...change, active: false, callbackUrl: null } })
  t.equal(updated.statusCode, 200, updated.body)
  t.match(updated.json(), { active: false, callbackUrl: null })

  const rotated = await app.inject({ method: 'POST', url: '/v1/admin/partners/spmis.example.org/secret', headers: admin })
  t.equal(rotated.statusCode, 200)
  t.not(rotated.json().clientSecret, body.clientSecret)

  t.equal((await app.inject({ method: 'DELETE', url: '/v1/admin/partners/spmis.example.org', headers: admin })).statusCode, 204)
  t.equal((await app.inject({ method: 'GET', url: '/v1/admin/partners/spmis.example.org', headers: admin })).statusCode, 404)
  t.equal((await app.inject({ method: 'DELETE', url: '/v1/admin/partners/spmis.example.org', headers: admin })).statusCode, 404)

  // Every change is in the hash-chained audit log; no secret is.
  const audit = await app.inject({ method: 'GET', url: '/v1/admin/audit?type=partner_change', headers: admin })
  t.equal(audit.statusCode, 200, audit.body)
  t.same(audit.json().records.map((r: { result: string }) => r.result).sort(), ['create', 'delete', 'secret', 'update'])
  t.match(audit.json().records.find((r: { result: string }) => r.result === 'update'), { actor: 'admin:admin-1', details: { partner: 'spmis.example.org', before: { active: true }, after: { active: false } } })
  t.notOk(audit.body.includes(body.clientSecret) || audit.body.includes(rotated.json().clientSecret), 'no secret in the audit log')
  t.match((await app.inject({ method: 'GET', url: '/v1/admin/audit/verify', headers: admin })).json(), { ok: true })
})

t.test('bad registrations get a 4xx naming the field', async (t) => {
  const { app, token } = await buildTestApp(t, { env: ENV })
  const admin = { authorization: `Bearer ${await token('admin')}` }
  const post = (payload: unknown) => app.inject({ method: 'POST', url: '/v1/admin/partners', headers: admin, payload: payload as object })
  const base = registration('p1')
  const cases: Array<[string, unknown, number, string]> = [
    ['an unknown purpose', { ...base, purposes: ['marketing'] }, 400, '/purposes/0'],
    ['an unknown record type', { ...base, recordTypes: ['Car'] }, 400, '/recordTypes/0'],
    ['a private key', { ...base, jwks: { keys: [{ ...publicJwk('k'), d: 'AAAA' }] } }, 400, '/jwks/keys/0/d'],
    ['an RSA key', { ...base, jwks: { keys: [{ kty: 'RSA', kid: 'r', n: 'AQAB', e: 'AQAB' }] } }, 400, '/jwks/keys/0/kty'],
    ['a key that does not import', { ...base, jwks: { keys: [{ kty: 'OKP', crv: 'Ed25519', kid: 'k', x: 'short' }] } }, 400, '/jwks/keys/0'],
    ['two keys with one kid', { ...base, jwks: { keys: [publicJwk('k'), publicJwk('k')] } }, 400, '/jwks/keys'],
    ['no name', { ...base, name: undefined }, 400, '/name'],
    ['a bad id', { ...base, id: 'has space' }, 400, '/id'],
  ]
  for (const [what, payload, status, pointer] of cases) {
    const res = await post(payload)
    t.equal(res.statusCode, status, what)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8', what)
    t.ok(res.json().errors.some((e: { pointer: string }) => e.pointer === pointer), `${what}: names ${pointer} (${res.body})`)
  }
  const privateUrl = await post({ ...base, callbackUrl: 'http://10.0.0.1/dci' })
  t.equal(privateUrl.statusCode, 422, 'a callback URL into a private network')
  t.equal(privateUrl.json().code, 'CALLBACK_URL_REFUSED')
})

t.test('only admins manage partners', async (t) => {
  const { app, token } = await buildTestApp(t, { env: ENV })
  for (const role of ['officer', 'partner', 'citizen']) {
    const res = await app.inject({ method: 'GET', url: '/v1/admin/partners', headers: { authorization: `Bearer ${await token(role)}` } })
    t.equal(res.statusCode, 403, role)
  }
  t.equal((await app.inject({ method: 'GET', url: '/v1/admin/partners' })).statusCode, 401)
})

t.test('a partner\'s own registry: its URLs pass the SSRF rules, its client secret is written, never read', async (t) => {
  const { app, token } = await buildTestApp(t, { env: ENV })
  const admin = { authorization: `Bearer ${await token('admin')}` }
  const registry = { url: 'http://127.0.0.1:9/dci/social', tokenUrl: 'http://127.0.0.1:9/oauth2/client/token', clientId: 'oss-gateway.mn', clientSecret: 'issued-by-the-partner-0001' }
  const created = await app.inject({ method: 'POST', url: '/v1/admin/partners', headers: admin, payload: { ...registration('mis.example.org'), registry } })
  t.equal(created.statusCode, 201, created.body)
  t.same(created.json().registry, { url: registry.url, tokenUrl: registry.tokenUrl, clientId: registry.clientId, hasClientSecret: true })
  const { id: _id, ...change } = registration('x')
  const put = (payload: unknown) => app.inject({ method: 'PUT', url: '/v1/admin/partners/mis.example.org', headers: admin, payload: payload as object })

  // A change without the secret keeps it; without a registry, all of it goes.
  const { clientSecret: _secret, ...noSecret } = registry
  t.match((await put({ ...change, registry: { ...noSecret, clientId: 'renamed' } })).json().registry, { clientId: 'renamed', hasClientSecret: true })
  t.equal((await app.inject({ method: 'GET', url: '/v1/admin/partners/mis.example.org', headers: admin })).json().registry.hasClientSecret, true)
  t.equal((await put({ ...change, registry: null })).json().registry, null)
  t.match((await put({ ...change, registry: noSecret })).json().registry, { hasClientSecret: false }, 'a cleared secret is not brought back')
  t.match((await put({ ...change, registry })).json().registry, { hasClientSecret: true })

  const bodies = [
    (await app.inject({ method: 'GET', url: '/v1/admin/partners', headers: admin })).body,
    (await app.inject({ method: 'GET', url: '/v1/admin/audit?type=partner_change', headers: admin })).body,
    created.body,
  ]
  t.notOk(bodies.some((b) => b.includes(registry.clientSecret)), 'the secret is in no answer and not in the audit log')

  // Stored sealed, bound to the partner; the client gets it back.
  const stored = async () => (await app.db.query<{ s: string }>("SELECT registry_client_secret AS s FROM dci_partners WHERE id = 'mis.example.org'")).rows[0]!.s
  t.notOk((await stored()).includes(registry.clientSecret), 'not in the database as given')
  t.match(await stored(), /^sealed\.v1\./)
  t.match(await app.dci.partners.registryCredentials('mis.example.org'), { clientId: registry.clientId, clientSecret: registry.clientSecret })
  // A value stored before sealing existed is sealed when the gateway starts (onReady).
  await app.db.query("UPDATE dci_partners SET registry_client_secret = 'from-before-sealing' WHERE id = 'mis.example.org'")
  t.equal(await app.dci.partners.reseal(), 1)
  t.match(await stored(), /^sealed\.v1\./)
  t.equal((await app.dci.partners.registryCredentials('mis.example.org'))!.clientSecret, 'from-before-sealing')
  t.equal(await app.dci.partners.reseal(), 0, 'nothing left to seal')
  // Sealed for another partner, it does not open here.
  await app.db.query("UPDATE dci_partners SET registry_client_secret = $1 WHERE id = 'mis.example.org'", [app.dci.secrets.seal('x', 'dci partner other registry client secret')])
  t.match(await app.dci.partners.registryCredentials('mis.example.org'), { clientSecret: null, unreadable: true })

  for (const [field, bad] of [['url', 'http://10.0.0.1/dci'], ['tokenUrl', 'http://169.254.169.254/token']] as const) {
    const res = await put({ ...change, registry: { ...registry, [field]: bad } })
    t.equal(res.statusCode, 422, `${field} into a refused range`)
    t.equal(res.json().code, 'CALLBACK_URL_REFUSED')
    t.same(res.json().errors.map((e: { pointer: string }) => e.pointer), [`/registry/${field}`], res.body)
  }
  const missing = await put({ ...change, registry: { url: registry.url } })
  t.equal(missing.statusCode, 400)
  t.ok(missing.json().errors.some((e: { pointer: string }) => e.pointer === '/registry/tokenUrl'), missing.body)
})
