import { generateKeyPairSync } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { buildExchange } from '../../src/exchange/app.ts'
import { MemberConfigError } from '../../src/exchange/members.ts'
import { defaultGatewayMember, DEV_XYP_ACCESS_TOKEN, loadMembersFile } from '../../src/exchange/members-file.ts'
import { CIVIL, makeSigningKey, makeXypCredentials, signedHeaders, testPopulation, verifyResponseSignature } from './helpers.ts'

t.test('key rotation: the JWKS holds both bus keys and the newest signs', async (t) => {
  const older = generateKeyPairSync('ed25519').privateKey
  const newer = generateKeyPairSync('ed25519').privateKey
  const client = await makeSigningKey('k1')
  const app = buildExchange({
    population: testPopulation(),
    signingKeys: [{ privateKey: older, kid: 'bus-2024' }, { privateKey: newer, kid: 'bus-2025' }],
    members: [{ id: 'MN/GOV/OSS/gateway', jwks: { keys: [client.publicJwk] }, allowedServices: ['*'] }],
  })
  t.teardown(() => app.close())
  const jwks = (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json()
  t.same(jwks.keys.map((k: { kid: string }) => k.kid), ['bus-2024', 'bus-2025'])
  t.notOk(jwks.keys.some((k: Record<string, unknown>) => 'd' in k), 'no private parts')
  const url = `/r1/${CIVIL}/checkRegnum`
  const body = JSON.stringify({ regnum: testPopulation().citizens[0]?.regnum })
  const res = await app.inject({ method: 'POST', url, headers: await signedHeaders({ key: client, url, body }), payload: body })
  t.equal(res.statusCode, 200)
  const signature = String(res.headers['x-road-signature'])
  t.equal(JSON.parse(Buffer.from(signature.split('.')[0] ?? '', 'base64url').toString()).kid, 'bus-2025')
  await verifyResponseSignature(jwks, signature)
})

t.test('a members file with inline and file-based keys', async (t) => {
  const dir = t.testdir({ keys: {} })
  const key = await makeSigningKey('file-key')
  const xyp = makeXypCredentials('file-token')
  writeFileSync(join(dir, 'keys', 'member.jwks.json'), JSON.stringify({ keys: [key.publicJwk] }))
  writeFileSync(join(dir, 'keys', 'xyp.pem'), xyp.publicKeyPem)
  writeFileSync(join(dir, 'members.json'), JSON.stringify({
    members: [
      { id: 'MN/GOV/OSS/gateway', jwksFile: 'keys/member.jwks.json', xyp: { accessToken: 'file-token', publicKeyFile: 'keys/xyp.pem' }, allowedServices: ['*'] },
      { id: 'MN/GOV/OSS/other', jwks: { keys: [] }, revokedKids: ['x'], allowedServices: [`${CIVIL}/*`] },
    ],
  }))
  const members = loadMembersFile(join(dir, 'members.json'))
  t.equal(members.length, 2)
  t.same(members[0]?.jwks, { keys: [key.publicJwk] })
  t.equal(members[0]?.xyp?.accessToken, 'file-token')
  const app = buildExchange({ population: testPopulation(), members })
  t.teardown(() => app.close())
  const listed = (await app.inject({ method: 'GET', url: '/admin/members' })).json().members
  t.same(listed.map((m: { id: string }) => m.id), ['MN/GOV/OSS/gateway', 'MN/GOV/OSS/other'])

  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ members: [{ id: 'MN/GOV/OSS/x' }] }))
  t.throws(() => loadMembersFile(join(dir, 'bad.json')), MemberConfigError)
  t.throws(() => buildExchange({ population: testPopulation(), members: [{ id: 'not-an-id', jwks: { keys: [] }, allowedServices: [] }] }), MemberConfigError)
})

t.test('the default gateway member reads the keys the gateway writes', async (t) => {
  const empty = t.testdir({})
  const none = defaultGatewayMember(empty, {})
  t.equal(none.member.id, 'MN/GOV/OSS/gateway')
  t.same(none.member.jwks, { keys: [] })
  t.equal(none.missing.length, 2)

  const dir = t.testdir({})
  mkdirSync(join(dir, 'keys'))
  const key = await makeSigningKey('dev')
  const xyp = makeXypCredentials('ignored')
  writeFileSync(join(dir, 'keys', 'member.jwks.json'), JSON.stringify({ keys: [key.publicJwk] }))
  writeFileSync(join(dir, 'keys', 'member-xyp.public.pem'), xyp.publicKeyPem)
  const found = defaultGatewayMember(dir, {})
  t.same(found.missing, [])
  t.same(found.member.allowedServices, ['*'])
  t.equal(found.member.xyp?.accessToken, DEV_XYP_ACCESS_TOKEN)
  t.equal(defaultGatewayMember(dir, { EXCHANGE_GATEWAY_XYP_ACCESS_TOKEN: 'from-env' }).member.xyp?.accessToken, 'from-env')
})
