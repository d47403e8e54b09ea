// Prints a signed access token from the development issuer, and nothing else:
//   npm run --silent token -- <role> [--sub S] [--unit CODE] [--agency CODE] [--azp CLIENT] [--ttl SECONDS]
import { randomUUID } from 'node:crypto'
import { parseArgs } from 'node:util'
import { SignJWT } from 'jose'
import { DEV_AUDIENCE, DEV_ISSUER, DEV_TYP, ensureDevIssuer, loadDevSigningKey } from '../auth/dev-issuer.ts'
import { loadConfig, ROLES, type Role } from '../config.ts'

export interface TokenRequest {
  role: Role
  sub?: string
  unit?: string
  agency?: string
  azp?: string
  ttlSeconds: number
}

const DEFAULT_SUBJECTS: Record<Role, string> = {
  // A well-formed registration number; pass --sub for a real citizen.
  citizen: 'УБ99032712',
  officer: 'officer-dev-1',
  admin: 'admin-dev-1',
  partner: 'partner-dev-1',
}

export async function mintDevToken (dataDir: string, request: TokenRequest, nowSeconds = Math.floor(Date.now() / 1000)): Promise<string> {
  await ensureDevIssuer(dataDir)
  const { key, kid } = await loadDevSigningKey(dataDir)
  const claims: Record<string, unknown> = { role: request.role }
  if (request.role === 'citizen') claims.azp = request.azp ?? 'dev-portal'
  if (request.role === 'officer') {
    claims.unit = request.unit ?? '1101'
    claims.agency = request.agency ?? 'GASR'
  }
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'EdDSA', typ: DEV_TYP, kid })
    .setIssuer(DEV_ISSUER)
    .setAudience(DEV_AUDIENCE)
    .setSubject(request.sub ?? DEFAULT_SUBJECTS[request.role])
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + request.ttlSeconds)
    .setJti(randomUUID())
    .sign(key)
}

async function main (): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      sub: { type: 'string' },
      unit: { type: 'string' },
      agency: { type: 'string' },
      azp: { type: 'string' },
      ttl: { type: 'string', default: '900' },
    },
  })
  const role = positionals[0] as Role | undefined
  const ttlSeconds = Number(values.ttl)
  if (role === undefined || !ROLES.includes(role) || !Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
    console.error(`usage: npm run --silent token -- <${ROLES.join('|')}> [--sub S] [--unit CODE] [--agency CODE] [--azp CLIENT] [--ttl SECONDS]`)
    process.exit(64)
  }
  const config = loadConfig()
  process.stdout.write(await mintDevToken(config.dataDir, { role, ...values, ttlSeconds }) + '\n')
}

if (import.meta.main) await main()
