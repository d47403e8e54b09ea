// The bare gateway the full one is measured against: Fastify, one undici
// pool to the bus, the inbound token verified, each outbound request signed
// and each response signature checked; nothing else (no policy, audit, rate
// limits, replay cache, schemas, durability or logging).
//   GET  /v1/citizens/:regnum/civil  one source (SERVICE)
//   GET  /v1/citizens/:regnum        every source of SOURCES in parallel
//   POST /v1/applications            the application forwarded to the agency
//                                    (SUBMIT_SERVICE) at once; 202 on its receipt
//   GET  /v1/units/:bag/services     the file STATIC_BODY as it is (JSON)
// Env: PORT, DATA_DIR (the development issuer's and member keys), EXCHANGE_URL,
// SERVICE, and optionally SOURCES (comma list), SUBMIT_SERVICE, STATIC_BODY.
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import Fastify, { type FastifyRequest } from 'fastify'
import { DEV_AUDIENCE, DEV_ISSUER, DEV_TYP, devIssuerFiles } from '../../src/auth/dev-issuer.ts'
import { keySetFromJwks, verifyEd25519 } from '../../src/bus/jws.ts'
import { devMemberFiles, loadMemberKeys } from '../../src/bus/member-keys.ts'
import { createRestClient } from '../../src/bus/rest-client.ts'

const dataDir = process.env.DATA_DIR!
const service = process.env.SERVICE!
const sources = (process.env.SOURCES ?? '').split(',').filter(Boolean)
const submitService = process.env.SUBMIT_SERVICE
const staticBody = process.env.STATIC_BODY === undefined ? undefined : readFileSync(process.env.STATIC_BODY)
const issuerKeys = keySetFromJwks(JSON.parse(readFileSync(devIssuerFiles(dataDir).jwksFile, 'utf8')))
const member = loadMemberKeys(devMemberFiles(dataDir).privateJwks, devMemberFiles(dataDir).xypPrivatePem)
const bus = createRestClient({ baseUrl: process.env.EXCHANGE_URL!, memberId: 'MN/GOV/OSS/gateway', signingKey: member.signing, connections: 64 })

// The bearer token's signature, issuer, audience and expiry.
function authorised (request: FastifyRequest): boolean {
  const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1]
  if (token === undefined) return false
  try {
    const claims = verifyEd25519(token, issuerKeys, DEV_TYP).payload
    return claims.iss === DEV_ISSUER && claims.aud === DEV_AUDIENCE && typeof claims.exp === 'number' && claims.exp * 1000 >= Date.now()
  } catch {
    return false
  }
}

const app = Fastify({ logger: false })
app.get<{ Params: { regnum: string } }>('/v1/citizens/:regnum/civil', async (request, reply) => {
  if (!authorised(request)) return reply.code(401).send({ error: 'unauthorised' })
  const answer = await bus.call({ service, body: { regnum: request.params.regnum }, timeoutMs: 5000 })
  return reply.code(answer.status === 200 ? 200 : 502).send(answer.body)
})

app.get<{ Params: { regnum: string } }>('/v1/citizens/:regnum', async (request, reply) => {
  if (!authorised(request)) return reply.code(401).send({ error: 'unauthorised' })
  const answers = await Promise.all(sources.map((s) => bus.call({ service: s, body: { regnum: request.params.regnum }, timeoutMs: 5000 })))
  const ok = answers.every((a) => a.status === 200)
  return reply.code(ok ? 200 : 502).send({ sources: Object.fromEntries(sources.map((s, i) => [s, answers[i]!.body])) })
})

interface Submission { service: string, unit: string, channel: string, applicant: { regnum: string }, form: Record<string, unknown> }
app.post<{ Body: Submission }>('/v1/applications', async (request, reply) => {
  if (!authorised(request)) return reply.code(401).send({ error: 'unauthorised' })
  if (submitService === undefined) return reply.code(404).send({ error: 'SUBMIT_SERVICE is not set' })
  const { service: code, unit, channel, applicant, form } = request.body
  const applicationId = randomUUID()
  const answer = await bus.call({ service: submitService, body: { applicationId, service: code, unit, channel, applicant, form }, xRoadId: applicationId, timeoutMs: 5000 })
  return reply.code(answer.status >= 200 && answer.status < 300 ? 202 : 502).send({ id: applicationId, receipt: answer.body })
})

app.get('/v1/units/:bag/services', async (_request, reply) => {
  if (staticBody === undefined) return reply.code(404).send({ error: 'STATIC_BODY is not set' })
  return reply.type('application/json; charset=utf-8').send(staticBody)
})

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
const close = async () => { await app.close(); await bus.close(); process.exit(0) }
process.on('SIGTERM', close)
process.on('SIGINT', close)
