import { loadAdapterSchemas } from './adapters/load.ts'

// Which keys of a logged object hold personal data, by what the data is: every
// property the agencies' records have (the adapters' request, bus and result
// schemas) is personal unless named below, so a field a new adapter brings is
// kept out of the logs until someone decides it is harmless.

// Fields of the agencies' records that describe the exchange, not a person,
// and that operational log lines use; `applicant` is a container whose own
// fields (regnum, names) are judged one by one.
const NOT_PERSONAL = [
  'applicationId', 'agencyReference', 'status', 'reason', 'type', 'title', 'service', 'unit', 'channel', 'provider',
  'receivedAt', 'decidedAt', 'applicant',
]

// Names the gateway's own inputs and other systems use for the same data.
const OTHER_PERSONAL = [
  'givenName', 'familyName', 'fatherName', 'fullName', 'firstName', 'lastName', 'middleName', 'dateOfBirth', 'phone', 'email',
  'address',
]

// Keys whose value is a registration number: masked (АА******33) rather than
// removed, so a support person can still join lines.
const REGNUM_KEYS = ['regnum', 'citizen', 'citizenRegnum', 'applicantRegnum', 'registerNumber']

// Credentials, whatever they are called.
const SECRET_KEYS = [
  'authorization', 'proxyAuthorization', 'cookie', 'setCookie', 'token', 'accessToken', 'refreshToken', 'idToken', 'jwt',
  'bearer', 'signature', 'xJwsSignature', 'password', 'secret', 'clientSecret', 'apiKey', 'privateKey', 'xAccessToken',
  'xRoadUserId', 'session',
]

// Keys compare without case, '-' or '_': accessToken, access_token and
// Access-Token are one key.
export function keyOf (name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '')
}

function propertyNames (schema: unknown, into: Set<string>): void {
  if (schema === null || typeof schema !== 'object') return
  if (Array.isArray(schema)) {
    for (const s of schema) propertyNames(s, into)
    return
  }
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'properties' && value !== null && typeof value === 'object') {
      for (const name of Object.keys(value)) into.add(name)
    }
    propertyNames(value, into)
  }
}

// Every property name in the adapters' schemas ($defs request, busResponse
// and result), nested ones included.
export function schemaPropertyNames (schemas: Array<Record<string, unknown>>): Set<string> {
  const names = new Set<string>()
  for (const schema of schemas) propertyNames(schema.$defs ?? schema, names)
  return names
}

export type KeyKind = 'secret' | 'regnum' | 'personal'

export function buildKeyKinds (schemas: Array<Record<string, unknown>> = loadAdapterSchemas()): ReadonlyMap<string, KeyKind> {
  const kinds = new Map<string, KeyKind>()
  const notPersonal = new Set(NOT_PERSONAL.map(keyOf))
  for (const name of [...schemaPropertyNames(schemas), ...OTHER_PERSONAL]) {
    if (!notPersonal.has(keyOf(name))) kinds.set(keyOf(name), 'personal')
  }
  for (const name of REGNUM_KEYS) kinds.set(keyOf(name), 'regnum')
  for (const name of SECRET_KEYS) kinds.set(keyOf(name), 'secret')
  return kinds
}
