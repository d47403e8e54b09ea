import t, { type Test } from 'tap'
import { createFallbackReplayCache, createTokenVerifier, type ReplayCache, type Presentation } from '../../src/auth/token-verifier.ts'
import { ensureDevIssuer } from '../../src/auth/dev-issuer.ts'
import type { IssuerConfig } from '../../src/config.ts'
import { dpopProof, makeDpopKey, signTestToken } from '../helpers/tokens.ts'

// In memory, as the Redis cache behaves (expiry aside).
function memoryCache (): ReplayCache & { claimed: Set<string>, revoked: Set<string> } {
  const claimed = new Set<string>()
  const revoked = new Set<string>()
  return {
    claimed,
    revoked,
    async claim (namespace, id) {
      const key = `${namespace}\n${id}`
      if (claimed.has(key)) return false
      claimed.add(key)
      return true
    },
    async revoke (issuer, jti) { revoked.add(`${issuer}\n${jti}`) },
    async isRevoked (issuer, jti) { return revoked.has(`${issuer}\n${jti}`) },
  }
}

async function setup (tt: Test, issuer: Partial<IssuerConfig> = {}, now?: () => number) {
  const dataDir = tt.testdir()
  const dev = await ensureDevIssuer(dataDir)
  const cache = memoryCache()
  const verifier = createTokenVerifier({
    issuers: [{ ...dev.config, ...issuer }],
    replayCache: cache,
    clockSkewSeconds: 30,
    maxTokenAgeSeconds: 900,
    dpopProofMaxAgeSeconds: 60,
    ...(now === undefined ? {} : { now }),
  })
  return { verifier, cache, token: (role: string, overrides?: Parameters<typeof signTestToken>[2]) => signTestToken(dataDir, role, overrides) }
}

const URL_ = 'https://oss.example.mn/v1/citizens/АА00112233'

t.test('an access token is reusable until it expires, then refused', async (tt) => {
  let clock = Date.now()
  const { verifier, token } = await setup(tt, {}, () => clock)
  const admin = await token('admin', { ttlSeconds: 120 })
  for (let i = 0; i < 3; i++) tt.match(await verifier.verify(admin), { role: 'admin', tokenId: String }, `use ${i + 1}`)
  clock += 200_000
  await tt.rejects(verifier.verify(admin), { code: 'TOKEN_EXPIRED' }, 'expired (beyond the 30 s skew)')
})

t.test('a token verified before is held to its exp (with the skew) and its maximum age on every later use', async (tt) => {
  let clock = Date.UTC(2026, 10, 30, 8, 0, 0)
  const { verifier, token } = await setup(tt, {}, () => clock)
  const iat = clock / 1000
  // Verified once at iat, then used at each time: [seconds after iat, accepted].
  const cases = [
    { what: 'exp 60 s', ttlSeconds: 60, uses: [[89, true, 'within the 30 s skew after exp'], [90, false, 'at exp + skew']] },
    { what: 'exp in a day', ttlSeconds: 86_400, uses: [[930, true, 'at the maximum age plus the skew'], [931, false, 'older than the maximum age, whatever its exp says']] },
  ] as const
  for (const c of cases) {
    clock = iat * 1000
    const t = await token('admin', { iat, ttlSeconds: c.ttlSeconds })
    tt.equal((await verifier.verify(t)).role, 'admin', c.what)
    for (const [after, accepted, why] of c.uses) {
      clock = (iat + after) * 1000
      if (accepted) tt.equal((await verifier.verify(t)).role, 'admin', `${c.what}: ${why}`)
      else await tt.rejects(verifier.verify(t), { code: 'TOKEN_EXPIRED' }, `${c.what}: ${why}`)
    }
  }
})

t.test('jti is still required', async (tt) => {
  const { verifier, token } = await setup(tt)
  await tt.rejects(verifier.verify(await token('admin', { omit: ['jti'] })), { code: 'TOKEN_INVALID' })
})

t.test('a revoked token is refused with TOKEN_REVOKED; forged or foreign ones are not recorded', async (tt) => {
  const { verifier, cache, token } = await setup(tt)
  const admin = await token('admin')
  tt.equal((await verifier.verify(admin)).role, 'admin')
  tt.equal(await verifier.revoke(admin), true)
  await tt.rejects(verifier.verify(admin), { code: 'TOKEN_REVOKED', status: 401 })
  const forged = (await token('admin', { claims: { jti: 'forged-1' } })).replace(/\.[^.]+$/, '.AAAA')
  tt.equal(await verifier.revoke(forged), false)
  tt.equal(await verifier.revoke('not.a.jwt'), false)
  tt.equal(cache.revoked.size, 1, 'only the valid token was recorded')
})

t.test('DPoP: a bound token with a good proof passes and names the proof', async (tt) => {
  const { verifier, token } = await setup(tt, { dpop: { required: ['officer'] } })
  const key = await makeDpopKey()
  const bound = await token('officer', { claims: { cnf: { jkt: key.jkt } } })
  const proof = await dpopProof(key, { method: 'GET', url: URL_, token: bound })
  const principal = await verifier.verify(bound, { scheme: 'dpop', proof, method: 'GET', url: URL_ })
  tt.match(principal, { role: 'officer', dpop: { jkt: key.jkt, proofId: String } })
  const ed = await makeDpopKey('EdDSA')
  const edBound = await token('officer', { claims: { cnf: { jkt: ed.jkt } } })
  tt.match(await verifier.verify(edBound, { scheme: 'dpop', proof: await dpopProof(ed, { method: 'GET', url: URL_, token: edBound }), method: 'GET', url: URL_ }), { dpop: { jkt: ed.jkt } }, 'EdDSA proofs too')
  // The token is reusable; each request brings a fresh proof.
  const again = await dpopProof(key, { method: 'GET', url: URL_, token: bound })
  tt.match(await verifier.verify(bound, { scheme: 'dpop', proof: again, method: 'GET', url: URL_ }), { role: 'officer' })
  await tt.rejects(verifier.verify(bound, { scheme: 'dpop', proof: again, method: 'GET', url: URL_ }), { code: 'DPOP_PROOF_REPLAYED', status: 401 })
})

t.test('DPoP: required roles need a bound token and a proof; other roles may use either', async (tt) => {
  const { verifier, token } = await setup(tt, { dpop: { required: ['officer'] } })
  const plain: Presentation = { scheme: 'bearer', method: 'GET', url: URL_ }
  await tt.rejects(verifier.verify(await token('officer'), plain), { code: 'DPOP_REQUIRED', status: 401 })
  tt.match(await verifier.verify(await token('admin'), plain), { role: 'admin' }, 'a role without the requirement may use Bearer')
  const key = await makeDpopKey()
  const bound = await token('officer', { claims: { cnf: { jkt: key.jkt } } })
  await tt.rejects(verifier.verify(bound, { scheme: 'dpop', method: 'GET', url: URL_ }), { code: 'DPOP_REQUIRED' }, 'no proof')
  await tt.rejects(verifier.verify(bound, plain), { code: 'DPOP_REQUIRED' }, 'a bound token sent as Bearer')
  await tt.rejects(verifier.verify(bound), { code: 'DPOP_REQUIRED' }, 'a bound token with no presentation at all')
  const boundAdmin = await token('admin', { claims: { cnf: { jkt: key.jkt } } })
  await tt.rejects(verifier.verify(boundAdmin, plain), { code: 'DPOP_REQUIRED' }, 'bound tokens are never bearer tokens, whatever the role')
  const unbound = await token('admin')
  await tt.rejects(verifier.verify(unbound, { scheme: 'dpop', proof: await dpopProof(key, { method: 'GET', url: URL_, token: unbound }), method: 'GET', url: URL_ }), { code: 'TOKEN_INVALID' }, 'DPoP scheme with an unbound token')
})

t.test('DPoP: proofs that do not match the request, the token or the key are refused', async (tt) => {
  const { verifier, token } = await setup(tt, { dpop: { required: ['officer'] } })
  const key = await makeDpopKey()
  const other = await makeDpopKey()
  const bound = await token('officer', { claims: { cnf: { jkt: key.jkt } } })
  const now = Math.floor(Date.now() / 1000)
  const send = (proof: string, method = 'GET', url = URL_) => verifier.verify(bound, { scheme: 'dpop', proof, method, url })
  const refused = async (what: string, proof: string | Promise<string>, method?: string, url?: string) =>
    tt.rejects(send(await proof, method, url), { code: 'DPOP_PROOF_INVALID', status: 401 }, what)

  await refused('wrong htm', dpopProof(key, { method: 'POST', url: URL_, token: bound }))
  await refused('wrong htu (another path)', dpopProof(key, { method: 'GET', url: 'https://oss.example.mn/v1/me', token: bound }))
  await refused('wrong htu (another host)', dpopProof(key, { method: 'GET', url: URL_.replace('oss.example.mn', 'evil.example'), token: bound }))
  await refused('wrong htu (http)', dpopProof(key, { method: 'GET', url: URL_.replace('https:', 'http:'), token: bound }))
  await refused('wrong ath', dpopProof(key, { method: 'GET', url: URL_, token: await token('officer') }))
  await refused('no ath', dpopProof(key, { method: 'GET', url: URL_ }))
  await refused('another key than cnf.jkt', dpopProof(other, { method: 'GET', url: URL_, token: bound }))
  await refused('iat too old', dpopProof(key, { method: 'GET', url: URL_, token: bound }, { iat: now - 300 }))
  await refused('iat in the future', dpopProof(key, { method: 'GET', url: URL_, token: bound }, { iat: now + 300 }))
  await refused('no jti', dpopProof(key, { method: 'GET', url: URL_, token: bound }, { omit: ['jti'] }))
  await refused('wrong typ', dpopProof(key, { method: 'GET', url: URL_, token: bound }, { header: { typ: 'JWT' } }))
  await refused('a private key in the header', dpopProof(key, { method: 'GET', url: URL_, token: bound }, { header: { jwk: { ...key.publicJwk, d: 'AAAA' } } }))
  await refused('signed by another key than the embedded one', dpopProof(other, { method: 'GET', url: URL_, token: bound }, { header: { jwk: key.publicJwk } }))
  await refused('not a JWT', Promise.resolve('nonsense'))
  // Same URL in another spelling: default port, upper-case host; the query is not part of htu.
  const good = await dpopProof(key, { method: 'GET', url: 'https://OSS.example.mn:443/v1/citizens/АА00112233', token: bound })
  tt.match(await send(good, 'GET', URL_), { role: 'officer' }, 'htu compares normalised')
  const withQuery = await dpopProof(key, { method: 'GET', url: URL_, token: bound })
  tt.match(await send(withQuery, 'GET', `${URL_}?purpose=x`), { role: 'officer' }, 'the request query is ignored')
})

t.test('while Redis is away, revocations and proof ids are kept in the database', async (tt) => {
  const rows = new Map<string, number>()
  const db = {
    async query (sql: string, params: unknown[] = []) {
      if (sql.startsWith('DELETE')) return { rows: [], rowCount: 0 }
      if (sql.startsWith('INSERT')) {
        if (rows.has(params[0] as string)) return { rows: [], rowCount: 0 }
        rows.set(params[0] as string, params[1] as number)
        return { rows: [], rowCount: 1 }
      }
      return { rows: rows.has(params[0] as string) ? [{ '?column?': 1 }] : [], rowCount: 0 }
    },
  }
  const down = new Error('Redis is down')
  const failing: ReplayCache = {
    claim: async () => { throw down },
    revoke: async () => { throw down },
    isRevoked: async () => { throw down },
  }
  const fallbacks: unknown[] = []
  const cache = createFallbackReplayCache(failing, db as never, (err) => fallbacks.push(err))
  tt.equal(await cache.claim('dpop:k', 'p1', 2000000000), true)
  tt.equal(await cache.claim('dpop:k', 'p1', 2000000000), false, 'a replayed proof id')
  tt.equal(await cache.isRevoked('iss', 'j1'), false)
  await cache.revoke('iss', 'j1', 2000000000)
  tt.equal(await cache.isRevoked('iss', 'j1'), true)
  tt.equal(await cache.claim('iss', 'j1', 2000000000), true, 'revocations and proof ids do not share keys')
  tt.ok(fallbacks.length > 0)

  const upRevocations = new Set<string>()
  const up: ReplayCache = { claim: async () => true, revoke: async (i, j) => { upRevocations.add(`${i} ${j}`) }, isRevoked: async (i, j) => upRevocations.has(`${i} ${j}`) }
  const both = createFallbackReplayCache(up, db as never)
  await both.revoke('iss', 'j2', 2000000000)
  tt.ok(upRevocations.has('iss j2'))
  tt.equal(await createFallbackReplayCache(failing, db as never).isRevoked('iss', 'j2'), true, 'a revocation made while Redis was up holds through an outage')
})
