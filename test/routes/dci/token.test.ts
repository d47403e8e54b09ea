import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { buildTestApp } from '../../helpers/app.ts'

async function withPartner (t: Parameters<typeof buildTestApp>[0]) {
  const test = await buildTestApp(t)
  const { publicKey } = generateKeyPairSync('ed25519')
  const res = await test.app.inject({
    method: 'POST',
    url: '/v1/admin/partners',
    headers: { authorization: `Bearer ${await test.token('admin')}` },
    payload: { id: 'spmis.example.org', name: 'Example MIS', jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }] }, purposes: ['social_protection.eligibility'], recordTypes: ['SRPerson'] },
  })
  t.equal(res.statusCode, 201, res.body)
  return { ...test, secret: res.json().clientSecret as string }
}

const form = (fields: Record<string, string>) => ({ payload: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } })

t.test('client credentials give a short-lived partner token the gateway accepts', async (t) => {
  const { app, secret, config } = await withPartner(t)
  const post = await app.inject({ method: 'POST', url: '/oauth2/client/token', ...form({ grant_type: 'client_credentials', client_id: 'spmis.example.org', client_secret: secret }) })
  t.equal(post.statusCode, 200, post.body)
  t.equal(post.headers['cache-control'], 'no-store')
  const body = post.json()
  t.match(body, { token_type: 'Bearer', expires_in: config.dci.tokenTtlSeconds })
  const claims = decodeJwt(body.access_token)
  t.match(claims, { iss: config.dci.tokenIssuer, aud: config.dci.tokenAudience, sub: 'spmis.example.org', role: 'partner' })
  t.equal((claims.exp as number) - (claims.iat as number), config.dci.tokenTtlSeconds)
  t.type(claims.jti, 'string')
  t.match(decodeProtectedHeader(body.access_token), { alg: 'EdDSA', typ: 'at+jwt' })

  const basic = Buffer.from(`spmis.example.org:${secret}`).toString('base64')
  const viaBasic = await app.inject({ method: 'POST', url: '/oauth2/client/token', ...form({ grant_type: 'client_credentials' }), headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` } })
  t.equal(viaBasic.statusCode, 200, 'client_secret_basic')
  const viaJson = await app.inject({ method: 'POST', url: '/oauth2/client/token', payload: { grant_type: 'client_credentials', client_id: 'spmis.example.org', client_secret: secret } })
  t.equal(viaJson.statusCode, 200, 'JSON body')

  // The token authenticates as a partner: an admin route refuses the role, not the token.
  const asPartner = await app.inject({ method: 'GET', url: '/v1/admin/partners', headers: { authorization: `Bearer ${body.access_token}` } })
  t.equal(asPartner.statusCode, 403, asPartner.body)
  t.equal(asPartner.json().code, 'ROLE_FORBIDDEN')
})

t.test('refusals are in the OAuth shape', async (t) => {
  const { app, secret, token } = await withPartner(t)
  const cases: Array<[string, ReturnType<typeof form> | { payload: string, headers: Record<string, string> }, number, string]> = [
    ['no grant type', form({ client_id: 'spmis.example.org', client_secret: secret }), 400, 'invalid_request'],
    ['another grant type', form({ grant_type: 'password', client_id: 'spmis.example.org', client_secret: secret }), 400, 'unsupported_grant_type'],
    ['a wrong secret', form({ grant_type: 'client_credentials', client_id: 'spmis.example.org', client_secret: 'x' }), 401, 'invalid_client'],
    ['an unknown client', form({ grant_type: 'client_credentials', client_id: 'nobody', client_secret: secret }), 401, 'invalid_client'],
    ['no client', form({ grant_type: 'client_credentials' }), 401, 'invalid_client'],
    ['an over-long field', form({ grant_type: 'client_credentials', client_id: 'x'.repeat(600), client_secret: secret }), 400, 'invalid_request'],
  ]
  for (const [what, request, status, error] of cases) {
    const res = await app.inject({ method: 'POST', url: '/oauth2/client/token', ...request })
    t.equal(res.statusCode, status, what)
    t.equal(res.json().error, error, what)
    t.equal(res.headers['cache-control'], 'no-store', what)
  }
  const badBasic = await app.inject({ method: 'POST', url: '/oauth2/client/token', payload: 'grant_type=client_credentials', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('spmis.example.org:wrong').toString('base64')}` } })
  t.equal(badBasic.statusCode, 401)
  t.match(badBasic.headers['www-authenticate'], /^Basic /)

  // An inactive partner gets no token.
  const admin = { authorization: `Bearer ${await token('admin')}` }
  const current = (await app.inject({ method: 'GET', url: '/v1/admin/partners/spmis.example.org', headers: admin })).json()
  const off = await app.inject({ method: 'PUT', url: '/v1/admin/partners/spmis.example.org', headers: admin, payload: { name: current.name, jwks: current.jwks, purposes: current.purposes, recordTypes: current.recordTypes, active: false } })
  t.equal(off.statusCode, 200, off.body)
  const refused = await app.inject({ method: 'POST', url: '/oauth2/client/token', ...form({ grant_type: 'client_credentials', client_id: 'spmis.example.org', client_secret: secret }) })
  t.equal(refused.statusCode, 401)
  t.equal(refused.json().error, 'invalid_client')
})

t.test('a partner token from another key, or for another audience, is refused', async (t) => {
  const { app, token } = await withPartner(t)
  // The development issuer may not assert partner tokens for the DCI issuer's name.
  const forged = await token('admin', { claims: { iss: 'urn:mn:oss-gateway:dci', aud: 'urn:mn:oss-gateway:dci' } })
  const res = await app.inject({ method: 'GET', url: '/v1/admin/partners', headers: { authorization: `Bearer ${forged}` } })
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'TOKEN_INVALID')
})
