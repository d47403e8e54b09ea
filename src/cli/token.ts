// Prints a signed access token from the development issuer, and nothing else.
// The token is reusable until it expires; `--help` says how to use it.
import { createHash, randomUUID } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose'
import { DEV_AUDIENCE, DEV_ISSUER, DEV_TYP, ensureDevIssuer, loadDevSigningKey } from '../auth/dev-issuer.ts'
import { buildSeedDocument } from '../catalogue/seed.ts'
import { loadConfig, ROLES, type Role } from '../config.ts'

export interface TokenRequest {
  role: Role
  sub?: string
  unit?: string
  agency?: string
  azp?: string
  // Binds the token to a DPoP key (RFC 9449 cnf.jkt, its RFC 7638 thumbprint).
  jkt?: string
  ttlSeconds: number
}

// Where officers' units and agencies are looked up.
export interface CatalogueCodes {
  hasUnit(code: string): boolean
  hasAgency(code: string): boolean
}

export class TokenRequestError extends Error {
  readonly code = 'TOKEN_REQUEST_INVALID'
  constructor (message: string) {
    super(message)
    this.name = 'TokenRequestError'
  }
}

const DEFAULT_SUBJECTS: Record<Role, string> = {
  // A well-formed registration number; pass --sub for a real citizen.
  citizen: 'УБ99032712',
  officer: 'officer-dev-1',
  admin: 'admin-dev-1',
  partner: 'partner-dev-1',
  analyst: 'analyst-dev-1',
}

const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/

export const USAGE = `usage: npm run --silent token -- <${ROLES.join('|')}> [options]
       npm run --silent token -- dpop-key FILE
       npm run --silent token -- dpop-proof FILE METHOD URL TOKEN

Prints an access token (RFC 9068 at+jwt) from the development issuer, which
the gateway trusts when AUTH_ISSUERS is unset. Reuse it until it expires.

options:
  --sub S          subject; a citizen's is their registration number (default per role)
  --unit CODE      an officer's or analyst's administrative unit, from the
                   catalogue (officer default 1101; an analyst must name one:
                   an aimag such as 62, the capital 11, a district, a soum)
  --agency CODE    an officer's agency, from the catalogue (default GASR)
  --azp CLIENT     the portal a citizen came through (default dev-portal)
  --ttl SECONDS    lifetime (default 900)
  --jkt THUMBPRINT bind the token to a DPoP key (cnf.jkt): each request then
                   sends "Authorization: DPoP <token>" and a fresh DPoP proof
  -h, --help       this text

Officers' and analysts' units and officers' agencies are checked against the seed catalogue (seed/).

dpop-key FILE makes a client's ES256 key pair in FILE (mode 0600) and prints its
thumbprint, for --jkt. dpop-proof prints a fresh DPoP proof (RFC 9449) for one
request with that key: METHOD, the URL without query, and the access token.
`

// The seed catalogue: what `npm start` publishes first, readable without the
// running gateway's store (and its lock).
export function seedCatalogueCodes (): CatalogueCodes {
  const document = buildSeedDocument()
  const units = new Set(document.units.map((u) => u.code))
  const agencies = new Set(document.agencies.map((a) => a.code))
  return { hasUnit: (code) => units.has(code), hasAgency: (code) => agencies.has(code) }
}

export async function mintDevToken (dataDir: string, request: TokenRequest, nowSeconds = Math.floor(Date.now() / 1000), catalogue: CatalogueCodes = seedCatalogueCodes()): Promise<string> {
  const claims: Record<string, unknown> = { role: request.role }
  if (request.role === 'citizen') claims.azp = request.azp ?? 'dev-portal'
  if (request.role === 'officer') {
    const unit = request.unit ?? '1101'
    const agency = request.agency ?? 'GASR'
    // The gateway would refuse such a token (OFFICER_UNKNOWN_UNIT / _AGENCY).
    if (!catalogue.hasUnit(unit)) throw new TokenRequestError(`unit "${unit}" is not in the catalogue; pass --unit with an administrative unit code from it (e.g. 1101)`)
    if (!catalogue.hasAgency(agency)) throw new TokenRequestError(`agency "${agency}" is not in the catalogue; pass --agency with an agency code from it (e.g. GASR)`)
    claims.unit = unit
    claims.agency = agency
  }
  if (request.role === 'analyst') {
    // An analyst's scope is a decision, not a default.
    if (request.unit === undefined) throw new TokenRequestError('an analyst token needs --unit: the administrative unit whose statistics it may read (e.g. 62)')
    if (!catalogue.hasUnit(request.unit)) throw new TokenRequestError(`unit "${request.unit}" is not in the catalogue; pass --unit with an administrative unit code from it (e.g. 62)`)
    claims.unit = request.unit
  }
  if (request.jkt !== undefined) {
    if (!THUMBPRINT.test(request.jkt)) throw new TokenRequestError('--jkt must be a JWK SHA-256 thumbprint (RFC 7638), 43 base64url characters')
    claims.cnf = { jkt: request.jkt }
  }
  await ensureDevIssuer(dataDir)
  const { key, kid } = await loadDevSigningKey(dataDir)
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

// A client's side of DPoP, for trying the gateway from a shell.
export async function makeDpopKeyFile (file: string): Promise<string> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  writeFileSync(file, JSON.stringify({ ...(await exportJWK(privateKey)), alg: 'ES256' }) + '\n', { mode: 0o600, flag: 'wx' })
  return calculateJwkThumbprint(await exportJWK(publicKey))
}

export async function dpopProofFor (file: string, method: string, url: string, token: string): Promise<string> {
  const { d: _d, ...publicJwk } = JSON.parse(readFileSync(file, 'utf8')) as JWK
  const key = await importJWK({ ...publicJwk, d: _d }, 'ES256')
  return new SignJWT({ htm: method, htu: url, ath: createHash('sha256').update(token).digest('base64url') })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: { kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x, y: publicJwk.y } as JWK })
    .setIssuedAt()
    .setJti(randomUUID())
    .sign(key)
}

function refuse (message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}`)
  process.exit(64)
}

async function main (): Promise<void> {
  let parsed
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        sub: { type: 'string' },
        unit: { type: 'string' },
        agency: { type: 'string' },
        azp: { type: 'string' },
        jkt: { type: 'string' },
        ttl: { type: 'string', default: '900' },
      },
    })
  } catch (err) {
    refuse((err as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help === true) {
    process.stdout.write(USAGE)
    return
  }
  if (positionals[0] === 'dpop-key' && positionals.length === 2) {
    process.stdout.write(await makeDpopKeyFile(positionals[1] as string) + '\n')
    return
  }
  if (positionals[0] === 'dpop-proof' && positionals.length === 5) {
    const [, file, method, url, token] = positionals as [string, string, string, string, string]
    process.stdout.write(await dpopProofFor(file, method, url, token) + '\n')
    return
  }
  const role = positionals[0] as Role | undefined
  if (role === undefined) refuse('name a role')
  if (!ROLES.includes(role) || positionals.length > 1) refuse(`unknown role or extra argument: ${positionals.join(' ')}`)
  const ttlSeconds = Number(values.ttl)
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) refuse('--ttl must be a whole number of seconds')
  const { help: _help, ttl: _ttl, ...claims } = values
  try {
    const config = loadConfig()
    process.stdout.write(await mintDevToken(config.dataDir, { role, ...claims, ttlSeconds }) + '\n')
  } catch (err) {
    if (err instanceof TokenRequestError || (err as { code?: string }).code === 'CONFIG_INVALID') {
      process.stderr.write(`${(err as Error).message}\n`)
      process.exit(65)
    }
    throw err
  }
}

if (import.meta.main) await main()
