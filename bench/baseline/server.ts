// The bare signed-request gateway the full one is measured against: Fastify,
// one undici pool to the bus, one inbound token verified, one outbound
// request signed and one response signature checked; nothing else (no
// policy, audit, rate limits, replay cache, schemas or logging).
// Env: PORT, DATA_DIR (the development issuer's and member keys), EXCHANGE_URL, SERVICE.
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'
import { DEV_AUDIENCE, DEV_ISSUER, DEV_TYP, devIssuerFiles } from '../../src/auth/dev-issuer.ts'
import { keySetFromJwks, verifyEd25519 } from '../../src/bus/jws.ts'
import { devMemberFiles, loadMemberKeys } from '../../src/bus/member-keys.ts'
import { createRestClient } from '../../src/bus/rest-client.ts'

const dataDir = process.env.DATA_DIR!
const service = process.env.SERVICE!
const issuerKeys = keySetFromJwks(JSON.parse(readFileSync(devIssuerFiles(dataDir).jwksFile, 'utf8')))
const member = loadMemberKeys(devMemberFiles(dataDir).privateJwks, devMemberFiles(dataDir).xypPrivatePem)
const bus = createRestClient({ baseUrl: process.env.EXCHANGE_URL!, memberId: 'MN/GOV/OSS/gateway', signingKey: member.signing, connections: 64 })

const app = Fastify({ logger: false })
app.get<{ Params: { regnum: string } }>('/v1/citizens/:regnum/civil', async (request, reply) => {
  const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1]
  if (token === undefined) return reply.code(401).send({ error: 'no token' })
  let claims: Record<string, unknown>
  try {
    claims = verifyEd25519(token, issuerKeys, DEV_TYP).payload
  } catch {
    return reply.code(401).send({ error: 'bad token' })
  }
  if (claims.iss !== DEV_ISSUER || claims.aud !== DEV_AUDIENCE || typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) {
    return reply.code(401).send({ error: 'bad claims' })
  }
  const answer = await bus.call({ service, body: { regnum: request.params.regnum }, timeoutMs: 5000 })
  return reply.code(answer.status === 200 ? 200 : 502).send(answer.body)
})

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
const close = async () => { await app.close(); await bus.close(); process.exit(0) }
process.on('SIGTERM', close)
process.on('SIGINT', close)
