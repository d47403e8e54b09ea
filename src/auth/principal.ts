import type { Role } from '../config.ts'

interface Base {
  role: Role
  // Subject id from the token; for a citizen, the registration number.
  sub: string
  issuer: string
  tokenId: string
  expiresAt: number
  // Present when the request proved possession of the token's key (RFC 9449):
  // the proof's jti and the key's thumbprint, kept in the audit record.
  dpop?: { jkt: string, proofId: string }
}

export interface CitizenPrincipal extends Base {
  role: 'citizen'
  regnum: string
  // The portal the citizen came through (OAuth `azp`).
  portal: string
}

export interface OfficerPrincipal extends Base {
  role: 'officer'
  unit: string
  agency: string
}

export interface AdminPrincipal extends Base { role: 'admin' }
export interface PartnerPrincipal extends Base { role: 'partner' }

// Monitoring and evaluation staff of a ministry or a governor's office: the
// statistics of one unit and the units below it, nothing personal.
export interface AnalystPrincipal extends Base {
  role: 'analyst'
  unit: string
}

export type Principal = CitizenPrincipal | OfficerPrincipal | AdminPrincipal | PartnerPrincipal | AnalystPrincipal
