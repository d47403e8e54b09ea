import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { Ajv } from 'ajv'
import type { JSONWebKeySet } from 'jose'
import { MemberConfigError, type MemberDefinition } from './members.ts'

// Where the standalone emulator (main.ts) gets its client members.
//
// EXCHANGE_MEMBERS_FILE names a JSON file:
//   {
//     "members": [
//       {
//         "id": "MN/GOV/OSS/gateway",
//         "name": "One-Stop-Shop gateway",                 (optional)
//         "jwks": { "keys": [ …public JWKs with kid… ] },  (or "jwksFile": "keys/member.jwks.json")
//         "revokedKids": ["old-key"],                      (optional)
//         "xyp": {                                         (optional)
//           "accessToken": "…",
//           "publicKeyPem": "-----BEGIN PUBLIC KEY-----…"  (or "publicKeyFile": "keys/member-xyp.public.pem")
//         },
//         "allowedServices": ["MN/GOV/GASR/civil/*", "MN/GOV/GASI/social-insurance/getPension",
//                             "MN/GOV/KHUR/meta/*"]
//       }
//     ]
//   }
// Relative file paths are resolved from the members file's folder. A
// jwksFile is re-read when an unknown kid arrives. XYP operations are named
// <provider id>/<operation>: MN/GOV/GASR/civil/WS100101_getCitizenIDCardInfo,
// and the KHUR platform's one-time codes MN/GOV/KHUR/meta/WS100008_registerOTPRequest
// and …/WS100009_checkOtp.
//
// Without the file, one member is registered: MN/GOV/OSS/gateway, allowed
// every service, with the JWKS and XYP public key the gateway writes in
// development under ${DATA_DIR:-./data}/keys/.

export const GATEWAY_MEMBER_ID = 'MN/GOV/OSS/gateway'
// The development XYP access token of the default gateway member, unless
// ${DATA_DIR}/keys/member-xyp.token or EXCHANGE_GATEWAY_XYP_ACCESS_TOKEN says otherwise.
export const DEV_XYP_ACCESS_TOKEN = 'oss-gateway-dev-xyp-token'

const fileSchema = {
  type: 'object',
  required: ['members'],
  additionalProperties: false,
  properties: {
    members: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'allowedServices'],
        additionalProperties: false,
        properties: {
          id: { type: 'string' },
          name: { type: 'string' },
          jwks: { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: { type: 'object' } } } },
          jwksFile: { type: 'string' },
          revokedKids: { type: 'array', items: { type: 'string' } },
          xyp: {
            type: 'object',
            required: ['accessToken'],
            additionalProperties: false,
            properties: { accessToken: { type: 'string', minLength: 1 }, publicKeyPem: { type: 'string' }, publicKeyFile: { type: 'string' } },
          },
          allowedServices: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
} as const

interface FileMember {
  id: string
  name?: string
  jwks?: JSONWebKeySet
  jwksFile?: string
  revokedKids?: string[]
  xyp?: { accessToken: string, publicKeyPem?: string, publicKeyFile?: string }
  allowedServices: string[]
}

export function loadMembersFile (file: string): MemberDefinition[] {
  let doc: unknown
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new MemberConfigError(`cannot read the members file ${file}`, { cause: err })
  }
  const validate = new Ajv({ allErrors: true }).compile(fileSchema)
  if (!validate(doc)) {
    throw new MemberConfigError(`the members file ${file} is not valid: ${validate.errors?.map((e) => `${e.instancePath} ${e.message ?? ''}`).join('; ') ?? ''}`)
  }
  const base = dirname(resolve(file))
  return (doc as { members: FileMember[] }).members.map((m) => {
    const jwksFile = m.jwksFile === undefined ? undefined : resolve(base, m.jwksFile)
    let jwks = m.jwks
    if (jwks === undefined && jwksFile !== undefined) {
      jwks = existsSync(jwksFile) ? JSON.parse(readFileSync(jwksFile, 'utf8')) as JSONWebKeySet : { keys: [] }
    }
    if (jwks === undefined) throw new MemberConfigError(`member ${m.id} needs jwks or jwksFile`)
    let xyp: MemberDefinition['xyp']
    if (m.xyp !== undefined) {
      const pem = m.xyp.publicKeyPem ?? (m.xyp.publicKeyFile === undefined ? undefined : readFileSync(resolve(base, m.xyp.publicKeyFile), 'utf8'))
      if (pem === undefined) throw new MemberConfigError(`member ${m.id}: xyp needs publicKeyPem or publicKeyFile`)
      xyp = { accessToken: m.xyp.accessToken, publicKeyPem: pem }
    }
    return {
      id: m.id,
      ...(m.name === undefined ? {} : { name: m.name }),
      jwks,
      ...(jwksFile === undefined ? {} : { jwksFile }),
      ...(m.revokedKids === undefined ? {} : { revokedKids: m.revokedKids }),
      ...(xyp === undefined ? {} : { xyp }),
      allowedServices: m.allowedServices,
    }
  })
}

export function defaultGatewayMember (dataDir: string, env: NodeJS.ProcessEnv = process.env): { member: MemberDefinition, missing: string[] } {
  const keys = join(dataDir, 'keys')
  const jwksFile = resolve(keys, 'member.jwks.json')
  const pemFile = resolve(keys, 'member-xyp.public.pem')
  const tokenFile = resolve(keys, 'member-xyp.token')
  const missing: string[] = []
  let jwks: JSONWebKeySet = { keys: [] }
  if (existsSync(jwksFile)) jwks = JSON.parse(readFileSync(jwksFile, 'utf8')) as JSONWebKeySet
  else missing.push(jwksFile)
  let xyp: MemberDefinition['xyp']
  if (existsSync(pemFile)) {
    const accessToken = env.EXCHANGE_GATEWAY_XYP_ACCESS_TOKEN ??
      (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : DEV_XYP_ACCESS_TOKEN)
    xyp = { accessToken, publicKeyPem: readFileSync(pemFile, 'utf8') }
  } else {
    missing.push(pemFile)
  }
  return {
    member: {
      id: GATEWAY_MEMBER_ID,
      name: 'One-Stop-Shop integration gateway',
      jwks,
      jwksFile,
      ...(xyp === undefined ? {} : { xyp }),
      allowedServices: ['*'],
    },
    missing,
  }
}
