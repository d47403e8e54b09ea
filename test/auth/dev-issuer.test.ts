import { readFileSync } from 'node:fs'
import t from 'tap'
import { jwtVerify, createLocalJWKSet } from 'jose'
import { devIssuerFiles, ensureDevIssuer } from '../../src/auth/dev-issuer.ts'
import { mintDevToken } from '../../src/cli/token.ts'

t.test('development keys are made once, even by racing processes, and verify what the CLI mints', async (tt) => {
  const dir = tt.testdir()
  const results = await Promise.all([ensureDevIssuer(dir), ensureDevIssuer(dir), ensureDevIssuer(dir)])
  tt.equal(results.filter((r) => r.created).length, 1, 'exactly one call created the key pair')
  const again = await ensureDevIssuer(dir)
  tt.equal(again.created, false)
  const jwks = JSON.parse(readFileSync(devIssuerFiles(dir).jwksFile, 'utf8'))
  tt.equal(jwks.keys.length, 1)
  tt.match(jwks.note, /THROWAWAY DEVELOPMENT KEY/)
  tt.notOk('d' in jwks.keys[0], 'the public JWKS holds no private part')

  const token = await mintDevToken(dir, { role: 'officer', unit: '1101', agency: 'GASI', ttlSeconds: 60 })
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
    issuer: again.config.issuer, audience: again.config.audience, algorithms: ['EdDSA'], typ: 'at+jwt',
  })
  tt.equal(protectedHeader.kid, jwks.keys[0].kid)
  tt.match(payload, { role: 'officer', unit: '1101', agency: 'GASI', jti: String })
  tt.equal((payload.exp as number) - (payload.iat as number), 60)
})
