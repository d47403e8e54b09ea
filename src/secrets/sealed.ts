import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import type { MemberKey } from '../bus/member-keys.ts'

// Secrets the gateway must itself present elsewhere (a partner registry's
// client secret) are stored sealed, never as they were given: AES-256-GCM
// under a key derived (HKDF-SHA256, a label of its own) from one of the
// gateway's member signing keys, bound to what the secret is for, and tagged
// with that key's kid. No new key to keep: whoever holds the member keys holds
// these; a database copy alone does not. After a member key rotation the old
// key opens what it sealed until everything is sealed again (resealing).

const PREFIX = 'sealed.v1'
const INFO = 'oss-gateway sealed secrets v1'

export interface SecretBox {
  seal(plain: string, context: string): string
  // Null when it cannot be opened here: another gateway's keys, a key no
  // longer in the file, or a changed value.
  open(sealed: string, context: string): string | null
  // Whether a stored value should be sealed again with the current key
  // (stored before sealing existed, or under an older key).
  stale(stored: string): boolean
  isSealed(stored: string): boolean
}

function derive (key: MemberKey): Buffer {
  const d = key.privateKey.export({ format: 'jwk' }).d
  if (typeof d !== 'string') throw new TypeError(`member key ${key.kid} has no private part`)
  return Buffer.from(hkdfSync('sha256', Buffer.from(d, 'base64url'), Buffer.alloc(0), INFO, 32))
}

// `keys`: every member signing key the gateway holds; `current` seals.
export function createSecretBox (current: MemberKey, keys: readonly MemberKey[] = [current]): SecretBox {
  const derived = new Map<string, Buffer>([[current.kid, derive(current)]])
  for (const k of keys) if (!derived.has(k.kid)) derived.set(k.kid, derive(k))
  const parse = (stored: string) => {
    if (!stored.startsWith(`${PREFIX}.`)) return null
    const parts = stored.slice(PREFIX.length + 1).split('.')
    if (parts.length < 4) return null
    const [iv, data, tag] = parts.slice(-3) as [string, string, string]
    return { kid: parts.slice(0, -3).join('.'), iv, data, tag }
  }
  return {
    seal (plain, context) {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', derived.get(current.kid)!, iv)
      cipher.setAAD(Buffer.from(context, 'utf8'))
      const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
      return [PREFIX, current.kid, iv.toString('base64url'), data.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.')
    },
    open (sealed, context) {
      const p = parse(sealed)
      const key = p === null ? undefined : derived.get(p.kid)
      if (p === null || key === undefined) return null
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(p.iv, 'base64url'))
        decipher.setAAD(Buffer.from(context, 'utf8'))
        decipher.setAuthTag(Buffer.from(p.tag, 'base64url'))
        return Buffer.concat([decipher.update(Buffer.from(p.data, 'base64url')), decipher.final()]).toString('utf8')
      } catch {
        return null
      }
    },
    stale (stored) {
      const p = parse(stored)
      return p === null || p.kid !== current.kid
    },
    isSealed (stored) {
      return parse(stored) !== null
    },
  }
}
