import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import t from 'tap'
import { base64url, exportJWK, generateKeyPair, SignJWT } from 'jose'
import { buildTestApp } from '../helpers/app.ts'
import { createTokenVerifier, type ReplayCache } from '../../src/auth/token-verifier.ts'
import { devIssuerFiles } from '../../src/auth/dev-issuer.ts'

const run = promisify(execFile)
const openCache: ReplayCache = { claim: async () => true, revoke: async () => {}, isRevoked: async () => false }

async function setup (tt: Parameters<typeof buildTestApp>[0]) {
  return buildTestApp(tt, {
    extend (app) {
      app.get('/test/officers', { config: { auth: { roles: ['officer'] } } }, async (request) => ({ principal: request.principal }))
      app.get('/test/citizens', { config: { auth: { roles: ['citizen'] } } }, async (request) => ({ principal: request.principal }))
    },
  })
}

function assertUnauthorized (tt: { equal: Function, match: Function }, res: { statusCode: number, headers: Record<string, unknown>, json: () => any }, code: string) {
  tt.equal(res.statusCode, 401)
  tt.match(res.headers['content-type'], /^application\/problem\+json/)
  tt.match(res.headers['www-authenticate'], /^Bearer realm="oss-gateway"/)
  tt.equal(res.json().code, code)
}

t.test('no token on a protected route: 401 problem with a Bearer challenge', async (tt) => {
  const { app } = await setup(tt)
  const res = await app.inject({ method: 'GET', url: '/test/officers' })
  assertUnauthorized(tt, res, 'AUTH_REQUIRED')
  tt.equal(res.headers['www-authenticate'], 'Bearer realm="oss-gateway"')
  const basic = await app.inject({ method: 'GET', url: '/test/officers', headers: { authorization: 'Basic Zm9vOmJhcg==' } })
  assertUnauthorized(tt, basic, 'TOKEN_INVALID')
})

t.test('a valid officer token passes and carries unit and agency', async (tt) => {
  const { app, token } = await setup(tt)
  const res = await app.inject({ method: 'GET', url: '/test/officers', headers: { authorization: `Bearer ${await token('officer')}` } })
  tt.equal(res.statusCode, 200)
  tt.match(res.json().principal, { role: 'officer', unit: '1101', agency: 'GASR', sub: 'officer-1' })
})

t.test('a token minted by `npm run token` is reusable until it expires', async (tt) => {
  const { app, dataDir } = await setup(tt)
  const { stdout } = await run('npm', ['run', '--silent', 'token', '--', 'officer', '--unit', '1101', '--agency', 'GASI'], {
    env: { ...process.env, DATA_DIR: dataDir },
  })
  const lines = stdout.split('\n').filter((l) => l !== '')
  tt.equal(lines.length, 1, 'prints the token and nothing else')
  const headers = { authorization: `Bearer ${lines[0]}` }
  const first = await app.inject({ method: 'GET', url: '/test/officers', headers })
  tt.equal(first.statusCode, 200)
  tt.match(first.json().principal, { unit: '1101', agency: 'GASI' })
  const second = await app.inject({ method: 'GET', url: '/test/officers', headers })
  tt.equal(second.statusCode, 200, 'the same token again')
})

t.test('forged and malformed tokens are refused with 401', async (tt) => {
  const { app, dataDir, token } = await setup(tt)
  const now = Math.floor(Date.now() / 1000)
  const header = (b: string) => ({ authorization: `Bearer ${b}` })
  const send = async (bearer: string) => app.inject({ method: 'GET', url: '/test/officers', headers: header(bearer) })

  // alg: none, with the claims of a good token
  const good = await token('officer')
  const payload = good.split('.')[1] as string
  const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${payload}.`
  assertUnauthorized(tt, await send(none), 'TOKEN_INVALID')

  // HS256 "signed" with the issuer's public key as the HMAC secret
  const jwks = JSON.parse(readFileSync(devIssuerFiles(dataDir).jwksFile, 'utf8'))
  const publicKeyBytes = new TextEncoder().encode(JSON.stringify(jwks.keys[0]))
  const hs = await new SignJWT(JSON.parse(Buffer.from(payload, 'base64url').toString()))
    .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: jwks.keys[0].kid }).sign(publicKeyBytes)
  assertUnauthorized(tt, await send(hs), 'TOKEN_INVALID')
  const rawKey = Buffer.from(jwks.keys[0].x, 'base64url')
  const hsRaw = await new SignJWT({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), jti: 'hs-raw' })
    .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: jwks.keys[0].kid }).sign(rawKey)
  assertUnauthorized(tt, await send(hsRaw), 'TOKEN_INVALID')

  // expired well beyond the 30 s skew
  assertUnauthorized(tt, await send(await token('officer', { iat: now - 600, ttlSeconds: 300 })), 'TOKEN_EXPIRED')
  // wrong audience, wrong issuer, missing exp, missing jti, wrong typ
  assertUnauthorized(tt, await send(await token('officer', { claims: { aud: 'another-api' } })), 'TOKEN_INVALID')
  assertUnauthorized(tt, await send(await token('officer', { claims: { iss: 'https://evil.example' } })), 'TOKEN_INVALID')
  assertUnauthorized(tt, await send(await token('officer', { omit: ['exp'] })), 'TOKEN_INVALID')
  assertUnauthorized(tt, await send(await token('officer', { omit: ['jti'] })), 'TOKEN_INVALID')
  assertUnauthorized(tt, await send(await token('officer', { omit: ['iat'] })), 'TOKEN_INVALID')
  assertUnauthorized(tt, await send(await token('officer', { header: { typ: 'JWT' } })), 'TOKEN_INVALID')

  // an unknown kid: a fresh key the gateway has never seen
  const stranger = await generateKeyPair('EdDSA')
  const unknownKid = await new SignJWT({ role: 'officer', sub: 'x', unit: '1101', agency: 'GASR' })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: 'not-a-known-kid' })
    .setIssuer('urn:oss-gateway:dev-issuer').setAudience('oss-gateway').setIssuedAt().setExpirationTime('5m').setJti('u1')
    .sign(stranger.privateKey)
  assertUnauthorized(tt, await send(unknownKid), 'TOKEN_INVALID')
  // the right kid but another key's signature
  const wrongSig = await new SignJWT({ role: 'officer', sub: 'x', unit: '1101', agency: 'GASR' })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: jwks.keys[0].kid })
    .setIssuer('urn:oss-gateway:dev-issuer').setAudience('oss-gateway').setIssuedAt().setExpirationTime('5m').setJti('u2')
    .sign(stranger.privateKey)
  assertUnauthorized(tt, await send(wrongSig), 'TOKEN_INVALID')
  assertUnauthorized(tt, await send('not.a.jwt'), 'TOKEN_INVALID')
})

t.test('clock skew is 30 s at most', async (tt) => {
  const { app, token } = await setup(tt)
  const now = Math.floor(Date.now() / 1000)
  const send = async (bearer: string) => app.inject({ method: 'GET', url: '/test/officers', headers: { authorization: `Bearer ${bearer}` } })
  tt.equal((await send(await token('officer', { iat: now - 310, ttlSeconds: 300 }))).statusCode, 200, 'expired 10 s ago: within skew')
  tt.equal((await send(await token('officer', { iat: now - 340, ttlSeconds: 300 }))).statusCode, 401, 'expired 40 s ago: refused')
  tt.equal((await send(await token('officer', { iat: now - 7200, ttlSeconds: 7500 }))).statusCode, 401, 'older than the maximum token age')
})

t.test('role claims are checked', async (tt) => {
  const { app, token } = await setup(tt)
  const send = async (url: string, bearer: string) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${bearer}` } })

  const wrongRole = await send('/test/officers', await token('citizen'))
  tt.equal(wrongRole.statusCode, 403)
  tt.equal(wrongRole.json().code, 'ROLE_FORBIDDEN')

  const citizen = await send('/test/citizens', await token('citizen', { claims: { sub: 'уб99032712' } }))
  tt.equal(citizen.statusCode, 200)
  tt.match(citizen.json().principal, { role: 'citizen', regnum: 'УБ99032712', portal: 'test-portal' })

  tt.equal((await send('/test/citizens', await token('citizen', { claims: { sub: 'not-a-regnum' } }))).statusCode, 401)
  tt.equal((await send('/test/citizens', await token('citizen', { omit: ['azp'] }))).statusCode, 401)
  tt.equal((await send('/test/officers', await token('officer', { omit: ['unit'] }))).statusCode, 401)
  tt.equal((await send('/test/officers', await token('officer', { claims: { unit: 'UB' } }))).statusCode, 401)
  tt.equal((await send('/test/officers', await token('officer', { claims: { role: 'superuser' } }))).statusCode, 401)
})

t.test('an issuer may only grant its own roles', async (tt) => {
  const { app, token, config } = await setup(tt)
  const portalOnly = createTokenVerifier({
    issuers: [{ ...config.auth.issuers[0]!, roles: ['citizen'] }],
    replayCache: openCache,
    clockSkewSeconds: 30,
    maxTokenAgeSeconds: 3600,
    dpopProofMaxAgeSeconds: 60,
  })
  await tt.rejects(portalOnly.verify(await token('admin')), { code: 'TOKEN_INVALID' })
  tt.match(await portalOnly.verify(await token('citizen')), { role: 'citizen' })
  tt.ok(app)
})

t.test('ES256 issuers are accepted when configured; the revocation store failing closes the door with 503', async (tt) => {
  const { privateKey, publicKey } = await generateKeyPair('ES256')
  const jwk = { ...(await exportJWK(publicKey)), kid: 'es-1', alg: 'ES256' }
  const dir = tt.testdir({ 'jwks.json': JSON.stringify({ keys: [jwk] }) })
  const issuer = { issuer: 'https://portal.example.mn', audience: 'oss-gateway', algorithms: ['ES256' as const], jwksFile: `${dir}/jwks.json`, typ: 'at+jwt', roles: ['citizen' as const] }
  const sign = (jti: string) => new SignJWT({ role: 'citizen', azp: 'portal' })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'es-1' })
    .setIssuer(issuer.issuer).setAudience('oss-gateway').setSubject('АА00112233').setIssuedAt().setExpirationTime('5m').setJti(jti)
    .sign(privateKey)
  const seen = new Set<string>()
  const ok = createTokenVerifier({
    issuers: [issuer],
    replayCache: { ...openCache, claim: async (_ns, jti) => !seen.has(jti) && seen.add(jti) !== undefined },
    clockSkewSeconds: 30,
    maxTokenAgeSeconds: 3600,
    dpopProofMaxAgeSeconds: 60,
  })
  tt.match(await ok.verify(await sign('a')), { role: 'citizen', regnum: 'АА00112233' })
  const broken = createTokenVerifier({
    issuers: [issuer],
    replayCache: { ...openCache, isRevoked: async () => { throw new Error('connection refused') } },
    clockSkewSeconds: 30,
    maxTokenAgeSeconds: 3600,
    dpopProofMaxAgeSeconds: 60,
  })
  await tt.rejects(broken.verify(await sign('b')), { code: 'DEPENDENCY_UNAVAILABLE', status: 503 })
})
