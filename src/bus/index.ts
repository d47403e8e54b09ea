import { generateKeyPairSync } from 'node:crypto'
import type { Config } from '../config.ts'
import { devMemberFiles, ensureDevMemberKeys, loadMemberKeys, type MemberKeys } from './member-keys.ts'
import { createRestClient, type RestClient } from './rest-client.ts'
import { createXypClient, type XypClient } from './xyp-client.ts'

export interface BusClients {
  rest: RestClient
  xyp: XypClient
  // The gateway's own keys: they also sign what it sends portals.
  identity: MemberKeys
}

// The gateway's member keys: the operator's files, or development keys made
// under DATA_DIR/keys when none are configured.
export function resolveMemberKeys (config: Config): { keys: MemberKeys, development: boolean } {
  if (config.bus.signingKeysFile !== undefined && config.bus.xypPrivateKeyFile !== undefined) {
    return { keys: loadMemberKeys(config.bus.signingKeysFile, config.bus.xypPrivateKeyFile), development: false }
  }
  ensureDevMemberKeys(config.dataDir)
  const files = devMemberFiles(config.dataDir)
  return {
    keys: loadMemberKeys(config.bus.signingKeysFile ?? files.privateJwks, config.bus.xypPrivateKeyFile ?? files.xypPrivatePem),
    development: true,
  }
}

export function createBusClients (config: Config, exchangeUrl: string, keys: MemberKeys): BusClients {
  return {
    rest: createRestClient({
      baseUrl: exchangeUrl,
      memberId: config.bus.memberId,
      signingKey: keys.signing,
      connections: config.bus.connections,
      connectTimeoutMs: config.bus.connectTimeoutMs,
      ...(config.bus.jwksUrl === undefined ? {} : { jwksUrl: config.bus.jwksUrl }),
    }),
    xyp: createXypClient({
      baseUrl: exchangeUrl,
      accessToken: config.bus.xypAccessToken,
      privateKey: keys.xypPrivateKey,
      connectTimeoutMs: config.bus.connectTimeoutMs,
    }),
    identity: keys,
  }
}


// Keys made in memory for an app whose bus is never called (generating the
// OpenAPI document, tests of routes that do not reach agencies).
export function ephemeralMemberKeys (): MemberKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const signing = { kid: 'ephemeral', privateKey, created: new Date(0).toISOString() }
  return {
    signing,
    all: [signing],
    // Published like real keys: what this key signs (partner tokens, callbacks) must verify.
    publicJwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'ephemeral', alg: 'EdDSA', use: 'sig' }] },
    xypPrivateKey: rsa.privateKey,
    xypPublicKeyPem: rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string,
  }
}
