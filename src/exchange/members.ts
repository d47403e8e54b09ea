import { createPublicKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { JSONWebKeySet } from 'jose'
import { publicKeysByKid, type PublicKeyEntry } from '../auth/jwt.ts'

// The bus's member registry: who may connect, with which keys, and which
// services each may call. Access is denied unless a rule allows it.

export interface MemberDefinition {
  // X-Road style `MN/GOV/<code>/<subsystem>`.
  id: string
  name?: string
  // Public keys that verify the member's REST request JWTs.
  jwks: JSONWebKeySet
  // Key ids that must no longer be accepted.
  revokedKids?: string[]
  // KHUR XYP credentials: the access token it sends and the RSA public key
  // that verifies its `signature` header.
  xyp?: { accessToken: string, publicKeyPem: string }
  // Service ids it may call: exact (`MN/GOV/GASR/civil/getIdCard`), a
  // provider's services (`MN/GOV/GASR/civil/*`), or everything (`*`).
  allowedServices: string[]
  // When set, the JWKS is re-read from this file on an unknown key id (at
  // most once a second), so keys the gateway writes later are picked up.
  jwksFile?: string
}

export interface Member {
  id: string
  name: string
  revokedKids: Set<string>
  allowedServices: readonly string[]
  xyp?: { accessToken: string, publicKey: KeyObject }
  kids: () => Set<string>
  keys: () => ReadonlyMap<string, PublicKeyEntry>
  // Re-reads jwksFile if there is one; true when the keys changed.
  refresh: () => boolean
}

export const MEMBER_ID_PATTERN = /^MN\/(GOV|COM|NGO|NEE)\/[A-Za-z0-9-]{1,64}\/[A-Za-z0-9._-]{1,64}$/

export class MemberConfigError extends Error {
  readonly code = 'EXCHANGE_MEMBER_INVALID'
  constructor (message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'MemberConfigError'
  }
}

function toMember (def: MemberDefinition): Member {
  if (!MEMBER_ID_PATTERN.test(def.id)) throw new MemberConfigError(`member id ${def.id} is not MN/<class>/<code>/<subsystem>`)
  let jwks = def.jwks
  let keySet = publicKeysByKid(jwks as never)
  let lastRefresh = 0
  let xyp: Member['xyp']
  if (def.xyp !== undefined) {
    try {
      const publicKey = createPublicKey(def.xyp.publicKeyPem)
      if (publicKey.asymmetricKeyType !== 'rsa') throw new Error(`key type ${publicKey.asymmetricKeyType ?? 'unknown'}`)
      xyp = { accessToken: def.xyp.accessToken, publicKey }
    } catch (err) {
      throw new MemberConfigError(`member ${def.id}: the XYP public key must be an RSA public key in PEM`, { cause: err })
    }
  }
  return {
    id: def.id,
    name: def.name ?? def.id,
    revokedKids: new Set(def.revokedKids ?? []),
    allowedServices: def.allowedServices,
    ...(xyp === undefined ? {} : { xyp }),
    kids: () => new Set(jwks.keys.map((k) => k.kid).filter((k): k is string => typeof k === 'string')),
    keys: () => keySet,
    refresh: () => {
      if (def.jwksFile === undefined || Date.now() - lastRefresh < 1000) return false
      lastRefresh = Date.now()
      try {
        const next = JSON.parse(readFileSync(def.jwksFile, 'utf8')) as JSONWebKeySet
        if (JSON.stringify(next) === JSON.stringify(jwks)) return false
        jwks = next
        keySet = publicKeysByKid(jwks as never)
        return true
      } catch {
        return false
      }
    },
  }
}

export function isAllowed (rules: readonly string[], serviceId: string): boolean {
  return rules.some((rule) => rule === '*' || rule === serviceId || (rule.endsWith('/*') && serviceId.startsWith(rule.slice(0, -1))))
}

export class MemberRegistry {
  readonly #members = new Map<string, Member>()
  readonly #byAccessToken = new Map<string, Member>()

  constructor (definitions: readonly MemberDefinition[]) {
    for (const def of definitions) this.add(def)
  }

  add (def: MemberDefinition): void {
    if (this.#members.has(def.id)) throw new MemberConfigError(`member ${def.id} is registered twice`)
    const member = toMember(def)
    if (member.xyp !== undefined) {
      if (this.#byAccessToken.has(member.xyp.accessToken)) throw new MemberConfigError(`member ${def.id}: XYP access token already in use`)
      this.#byAccessToken.set(member.xyp.accessToken, member)
    }
    this.#members.set(member.id, member)
  }

  get (id: string): Member | undefined {
    return this.#members.get(id)
  }

  byAccessToken (token: string): Member | undefined {
    return this.#byAccessToken.get(token)
  }

  list (): Member[] {
    return [...this.#members.values()]
  }
}
