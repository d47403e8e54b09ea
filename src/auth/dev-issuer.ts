import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose'
import type { IssuerConfig } from '../config.ts'
import { ROLES } from '../config.ts'

// THROWAWAY DEVELOPMENT KEYS. When no issuer is configured the gateway makes
// its own EdDSA key pair under DATA_DIR/keys and trusts it, so a newcomer can
// mint tokens with `npm run token`. Never use these outside development.
export const DEV_ISSUER = 'urn:oss-gateway:dev-issuer'
export const DEV_AUDIENCE = 'oss-gateway'
export const DEV_TYP = 'at+jwt'

export interface DevIssuerFiles {
  privateJwkFile: string
  jwksFile: string
}

export function devIssuerFiles (dataDir: string): DevIssuerFiles {
  const dir = join(dataDir, 'keys')
  return {
    privateJwkFile: join(dir, 'dev-issuer.private.jwk.json'),
    jwksFile: join(dir, 'dev-issuer.jwks.json'),
  }
}

function writeOnce (path: string, text: string, mode: number): boolean {
  // Written aside and linked into place, so a racing process never reads half a file.
  const aside = `${path}.${process.pid}.tmp`
  writeFileSync(aside, text, { mode })
  try {
    linkSync(aside, path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  } finally {
    unlinkSync(aside)
  }
}

// Creates the key pair on first use; later calls (and racing processes) keep
// the first one written.
export async function ensureDevIssuer (dataDir: string): Promise<{ config: IssuerConfig, created: boolean }> {
  const files = devIssuerFiles(dataDir)
  mkdirSync(join(dataDir, 'keys'), { recursive: true, mode: 0o700 })
  let created = false
  try {
    readFileSync(files.jwksFile)
  } catch {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { extractable: true })
    const publicJwk = await exportJWK(publicKey)
    const kid = await calculateJwkThumbprint(publicJwk)
    const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: 'EdDSA', use: 'sig' }
    const note = 'THROWAWAY DEVELOPMENT KEY made by the gateway; never use it in production'
    created = writeOnce(files.privateJwkFile, JSON.stringify({ note, ...privateJwk }, null, 2) + '\n', 0o600)
    // Winner or not, publish the key that was written first: the loser of a
    // race must not return before the key set exists.
    const first = JSON.parse(readFileSync(files.privateJwkFile, 'utf8')) as JWK
    const published = { kty: first.kty, crv: first.crv, x: first.x, kid: first.kid, alg: 'EdDSA', use: 'sig' }
    const aside = `${files.jwksFile}.${process.pid}.tmp`
    writeFileSync(aside, JSON.stringify({ note, keys: [published] }, null, 2) + '\n')
    renameSync(aside, files.jwksFile)
  }
  return {
    created,
    config: {
      issuer: DEV_ISSUER,
      audience: DEV_AUDIENCE,
      algorithms: ['EdDSA'],
      jwksFile: files.jwksFile,
      typ: DEV_TYP,
      roles: [...ROLES],
    },
  }
}

export async function loadDevSigningKey (dataDir: string): Promise<{ key: Awaited<ReturnType<typeof importJWK>>, kid: string }> {
  const jwk = JSON.parse(readFileSync(devIssuerFiles(dataDir).privateJwkFile, 'utf8')) as JWK & { note?: string }
  delete jwk.note
  return { key: await importJWK(jwk, 'EdDSA'), kid: jwk.kid as string }
}
