import { generateKeyPairSync, createPrivateKey, createPublicKey, createHash, type KeyObject, type JsonWebKey } from 'node:crypto'
import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

// The gateway's identity on the bus: Ed25519 keys for the REST transport and an
// RSA key for KHUR's XYP transport. In production they come from files the
// operator provides; in development the gateway makes THROWAWAY keys under
// DATA_DIR/keys, and the bundled emulator trusts them.

export interface MemberKey {
  kid: string
  privateKey: KeyObject
  // ISO time the key was made; the newest signs during a rotation.
  created: string
}

export interface MemberKeys {
  signing: MemberKey
  // Every signing key in the file, the signing one among them.
  all: MemberKey[]
  // Every public key, for registering the member on the bus.
  publicJwks: { keys: JsonWebKey[] }
  xypPrivateKey: KeyObject
  xypPublicKeyPem: string
}

export function devMemberFiles (dataDir: string) {
  const dir = join(dataDir, 'keys')
  return {
    dir,
    privateJwks: join(dir, 'member.private.jwks.json'),
    publicJwks: join(dir, 'member.jwks.json'),
    xypPrivatePem: join(dir, 'member-xyp.private.pem'),
    xypPublicPem: join(dir, 'member-xyp.public.pem'),
  }
}

function thumbprint (jwk: JsonWebKey): string {
  return createHash('sha256').update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x })).digest('base64url')
}

// Processes starting together share DATA_DIR: a file appears whole or not at
// all (written aside, then linked into place), and the first one written wins.
function writeOnce (path: string, text: string, mode: number): void {
  const aside = `${path}.${process.pid}.tmp`
  writeFileSync(aside, text, { mode })
  try {
    linkSync(aside, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    unlinkSync(aside)
  }
}

function writeWhole (path: string, text: string): void {
  const aside = `${path}.${process.pid}.tmp`
  writeFileSync(aside, text)
  renameSync(aside, path)
}

// A private JWKS file: { keys: [{ kty: 'OKP', crv: 'Ed25519', x, d, kid, created? }] }.
export function loadSigningKeys (file: string): { signing: MemberKey, all: MemberKey[], publicJwks: { keys: JsonWebKey[] } } {
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { keys?: Array<JsonWebKey & { kid?: string, created?: string }> }
  const keys = (doc.keys ?? []).map((jwk, i) => {
    const privateKey = createPrivateKey({ key: jwk, format: 'jwk' })
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${file}: key ${i} is not Ed25519`)
    const pub = createPublicKey(privateKey).export({ format: 'jwk' })
    const kid = jwk.kid ?? thumbprint(pub)
    return { kid, privateKey, created: jwk.created ?? '', publicJwk: { kty: pub.kty, crv: pub.crv, x: pub.x, kid, alg: 'EdDSA', use: 'sig' } }
  })
  if (keys.length === 0) throw new Error(`${file} holds no signing key`)
  // Newest by `created`; among equals, the last listed.
  const signing = keys.reduce((a, b) => (b.created >= a.created ? b : a))
  return { signing, all: keys.map(({ kid, privateKey, created }) => ({ kid, privateKey, created })), publicJwks: { keys: keys.map((k) => k.publicJwk) } }
}

export function ensureDevMemberKeys (dataDir: string): void {
  const files = devMemberFiles(dataDir)
  mkdirSync(files.dir, { recursive: true, mode: 0o700 })
  const note = 'THROWAWAY DEVELOPMENT KEY made by the gateway; never use it in production'
  try {
    readFileSync(files.publicJwks)
  } catch {
    const { privateKey } = generateKeyPairSync('ed25519')
    const jwk = privateKey.export({ format: 'jwk' })
    const kid = thumbprint(jwk)
    writeOnce(files.privateJwks, JSON.stringify({ note, keys: [{ ...jwk, kid, created: new Date().toISOString() }] }, null, 2) + '\n', 0o600)
    const { publicJwks } = loadSigningKeys(files.privateJwks)
    writeWhole(files.publicJwks, JSON.stringify({ note, ...publicJwks }, null, 2) + '\n')
  }
  try {
    readFileSync(files.xypPublicPem)
  } catch {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    writeOnce(files.xypPrivatePem, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600)
    const pem = createPublicKey(readFileSync(files.xypPrivatePem, 'utf8')).export({ type: 'spki', format: 'pem' }) as string
    writeWhole(files.xypPublicPem, pem)
  }
}

export function loadMemberKeys (signingKeysFile: string, xypPrivateKeyFile: string): MemberKeys {
  const { signing, all, publicJwks } = loadSigningKeys(signingKeysFile)
  const xypPrivateKey = createPrivateKey(readFileSync(xypPrivateKeyFile, 'utf8'))
  return {
    signing,
    all,
    publicJwks,
    xypPrivateKey,
    xypPublicKeyPem: createPublicKey(xypPrivateKey).export({ type: 'spki', format: 'pem' }) as string,
  }
}
