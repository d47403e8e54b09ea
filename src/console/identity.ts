import type { ConsoleIdentity } from './sessions.ts'

// How the identity provider's claims become a console role: which claim holds
// the role (a string or a list, such as groups), which values mean which
// role, and which claims hold an officer's or analyst's unit and agency.
export interface RoleMapping {
  roleClaim: string
  unitClaim: string
  agencyClaim: string
  // Claim value → console role; a value not listed gives no role.
  roles: ReadonlyMap<string, ConsoleIdentity['role']>
}

export class SignInRefusedError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'SignInRefusedError'
  }
}

const CODE = /^[0-9]{1,12}$/
const AGENCY = /^[A-Z0-9_-]{1,32}$/

// "ministry-admins=admin,oss-staff=officer"; empty maps each role's own name.
export function parseRoleMap (text: string): ReadonlyMap<string, ConsoleIdentity['role']> {
  const map = new Map<string, ConsoleIdentity['role']>()
  if (text.trim() === '') return new Map([['admin', 'admin'], ['analyst', 'analyst'], ['officer', 'officer']])
  for (const pair of text.split(',')) {
    const [value = '', role = ''] = pair.split('=').map((x) => x.trim())
    if (value === '' || (role !== 'admin' && role !== 'analyst' && role !== 'officer')) {
      throw new Error(`"${pair.trim()}" is not claim-value=role with a role of admin, analyst or officer`)
    }
    map.set(value, role)
  }
  return map
}

function strings (value: unknown): string[] {
  if (typeof value === 'string') return [value]
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string')
  return []
}

// Deny by default: no mapped role, several roles, or a unit or agency missing
// where the role needs one refuses the sign-in with the reason.
export function identityFromClaims (claims: Record<string, unknown>, issuer: string, mapping: RoleMapping): ConsoleIdentity {
  const sub = claims.sub
  if (typeof sub !== 'string' || sub === '' || sub.length > 256) throw new SignInRefusedError('the identity provider gave no subject')
  const roles = new Set(strings(claims[mapping.roleClaim]).map((v) => mapping.roles.get(v)).filter((r) => r !== undefined))
  if (roles.size === 0) throw new SignInRefusedError(`no console role for this account: its "${mapping.roleClaim}" claim has no value that CONSOLE_ROLE_MAP maps to admin, analyst or officer`)
  if (roles.size > 1) throw new SignInRefusedError(`this account maps to several console roles (${[...roles].join(', ')}); it must map to one`)
  const role = [...roles][0]!
  const name = typeof claims.name === 'string' && claims.name !== '' ? claims.name.slice(0, 200) : sub
  const identity: ConsoleIdentity = { role, sub, issuer, name }
  if (role === 'officer' || role === 'analyst') {
    const unit = claims[mapping.unitClaim]
    if (typeof unit !== 'string' || !CODE.test(unit)) throw new SignInRefusedError(`an ${role} needs an administrative unit code in the "${mapping.unitClaim}" claim`)
    identity.unit = unit
  }
  if (role === 'officer') {
    const agency = claims[mapping.agencyClaim]
    if (typeof agency !== 'string' || !AGENCY.test(agency)) throw new SignInRefusedError(`an officer needs an agency code in the "${mapping.agencyClaim}" claim`)
    identity.agency = agency
  }
  return identity
}
