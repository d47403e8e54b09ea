import { Writable } from 'node:stream'
import t from 'tap'
import { generatePopulation, type Citizen } from '../../src/exchange/index.ts'
import { buildTestApp } from '../helpers/app.ts'
import { dpopProof, makeDpopKey } from '../helpers/tokens.ts'

// Access tokens are reusable until they expire; where an issuer requires DPoP
// for a role, every request brings a fresh proof of the token's key.

const population = generatePopulation({ citizens: 500 })
const [alice] = population.livingAdults() as [Citizen]
const officer = { sub: 'officer-w1', unit: '8322', agency: 'GOSW' }
const path = (regnum: string) => `/v1/citizens/${encodeURIComponent(regnum)}`
const query = 'purpose=welfare.eligibility&case=CASE-1'
// What the gateway sees behind app.inject: http, Host localhost:80.
const htu = (p: string) => `http://localhost${p}`

function lineSink (lines: string[]) {
  return new Writable({ write (chunk, _e, done) { lines.push(String(chunk)); done() } })
}

t.test('one token for a whole walk-through: reused, and its jti (never the token) is logged', async (tt) => {
  const lines: string[] = []
  const { app, token } = await buildTestApp(tt, { env: { LOG_LEVEL: 'info' }, appOptions: { logStream: lineSink(lines) } })
  const admin = await token('admin')
  const jti = JSON.parse(Buffer.from(admin.split('.')[1]!, 'base64url').toString()).jti
  for (let i = 0; i < 3; i++) {
    const res = await app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${admin}` } })
    tt.equal(res.statusCode, 200, `use ${i + 1}`)
  }
  const text = lines.join('')
  tt.notMatch(text, admin, 'the token is never logged')
  const completed = lines.map((l) => JSON.parse(l)).filter((l) => l.res?.route === '/v1/me')
  tt.equal(completed.length, 3)
  tt.ok(completed.every((l) => l.jti === jti), 'each request\'s completion line carries the token id')
})

t.test('development accepts DPoP-bound tokens and bearer tokens alike', async (tt) => {
  const { app, token } = await buildTestApp(tt, { exchange: { citizens: 500 } })
  const bearer = await app.inject({ method: 'GET', url: `${path(alice.regnum)}?${query}`, headers: { authorization: `Bearer ${await token('officer', { claims: officer })}` } })
  tt.equal(bearer.statusCode, 200, bearer.body)
  const key = await makeDpopKey()
  const bound = await token('officer', { claims: { ...officer, cnf: { jkt: key.jkt } } })
  const proof = await dpopProof(key, { method: 'GET', url: htu(path(alice.regnum)), token: bound })
  const dpop = await app.inject({ method: 'GET', url: `${path(alice.regnum)}?${query}`, headers: { authorization: `DPoP ${bound}`, dpop: proof } })
  tt.equal(dpop.statusCode, 200, dpop.body)
  const asBearer = await app.inject({ method: 'GET', url: `${path(alice.regnum)}?${query}`, headers: { authorization: `Bearer ${bound}` } })
  tt.equal(asBearer.statusCode, 401, 'a bound token is not a bearer token')
  tt.equal(asBearer.json().code, 'DPOP_REQUIRED')
  tt.match(asBearer.headers['www-authenticate'], /^DPoP /)
})

t.test('where DPoP is required: a proof per request, refused when missing or replayed, even on another instance; the audit keeps its jti and key', async (tt) => {
  const a = await buildTestApp(tt, { exchange: { citizens: 500 }, issuer: { dpop: { required: ['officer'] } } })
  const b = await buildTestApp(tt, {
    dataDir: a.dataDir,
    issuer: { dpop: { required: ['officer'] } },
    env: { REDIS_KEY_PREFIX: a.config.redis.keyPrefix },
  })
  const url = `${path(alice.regnum)}?${query}`

  const plain = await a.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${await a.token('officer', { claims: officer })}` } })
  tt.equal(plain.statusCode, 401)
  tt.equal(plain.json().code, 'DPOP_REQUIRED')
  tt.match(plain.headers['www-authenticate'], /^DPoP realm="oss-gateway", algs="[^"]*ES256[^"]*"/, 'a DPoP challenge')

  const key = await makeDpopKey()
  const bound = await a.token('officer', { claims: { ...officer, cnf: { jkt: key.jkt } } })
  const noProof = await a.app.inject({ method: 'GET', url, headers: { authorization: `DPoP ${bound}` } })
  tt.equal(noProof.statusCode, 401)
  tt.equal(noProof.json().code, 'DPOP_REQUIRED')
  tt.match(noProof.headers['www-authenticate'], /^DPoP /)

  const proof = await dpopProof(key, { method: 'GET', url: htu(path(alice.regnum)), token: bound })
  const ok = await a.app.inject({ method: 'GET', url, headers: { authorization: `DPoP ${bound}`, dpop: proof } })
  tt.equal(ok.statusCode, 200, ok.body)

  const proofJti = JSON.parse(Buffer.from(proof.split('.')[1]!, 'base64url').toString()).jti
  const admin = { authorization: `Bearer ${await a.token('admin')}` }
  const audit = (await a.app.inject({ method: 'GET', url: `/v1/admin/audit?citizen=${encodeURIComponent(alice.regnum)}`, headers: admin })).json()
  tt.match(audit.records[0], { seq: ok.json().auditSeq, result: 'ok', details: { dpop: { jti: proofJti, jkt: key.jkt } } })

  const replayedHere = await a.app.inject({ method: 'GET', url, headers: { authorization: `DPoP ${bound}`, dpop: proof } })
  tt.equal(replayedHere.json().code, 'DPOP_PROOF_REPLAYED')
  // Instance b has no bus, so a fresh proof there stops at the look-up itself; the replay stops before.
  const replayedThere = await b.app.inject({ method: 'GET', url, headers: { authorization: `DPoP ${bound}`, dpop: proof } })
  tt.equal(replayedThere.statusCode, 401)
  tt.equal(replayedThere.json().code, 'DPOP_PROOF_REPLAYED', 'the other instance knows the proof too')
  tt.match(replayedThere.headers['www-authenticate'], /^DPoP /)
  const fresh = await b.app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `DPoP ${bound}`, dpop: await dpopProof(key, { method: 'GET', url: htu('/v1/me'), token: bound }) } })
  tt.equal(fresh.statusCode, 200, 'a fresh proof with the same token is fine there')

  const wrongUrl = await a.app.inject({ method: 'GET', url, headers: { authorization: `DPoP ${bound}`, dpop: await dpopProof(key, { method: 'GET', url: htu('/v1/me'), token: bound }) } })
  tt.equal(wrongUrl.json().code, 'DPOP_PROOF_INVALID')

})

t.test('an officer token for a unit or agency missing from the catalogue is refused', async (tt) => {
  const { app, token } = await buildTestApp(tt)
  const unit = await app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${await token('officer', { claims: { unit: '0101' } })}` } })
  tt.equal(unit.statusCode, 403)
  tt.match(unit.json(), { code: 'OFFICER_UNKNOWN_UNIT', detail: /0101/ })
  const agency = await app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${await token('officer', { claims: { agency: 'NOPE' } })}` } })
  tt.equal(agency.statusCode, 403)
  tt.match(agency.json(), { code: 'OFFICER_UNKNOWN_AGENCY', detail: /NOPE/ })
  const known = await app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${await token('officer', { claims: officer })}` } })
  tt.equal(known.statusCode, 200)
})
