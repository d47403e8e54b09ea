import type { XypAuthEntity } from '../bus/xyp-client.ts'

// Canonical names for Mongolian personal names. Registries say surname /
// lastname / firstname; the gateway says what each one is: the clan name
// (ургийн овог), the patronymic (эцэг/эхийн нэр) and the given name (нэр).
const NAME_FIELDS: Readonly<Record<string, string>> = {
  surname: 'clanName',
  lastname: 'patronymic',
  firstname: 'givenName',
}

export function canonicalNames (value: unknown): any {
  if (Array.isArray(value)) return value.map(canonicalNames)
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) out[NAME_FIELDS[key] ?? key] = canonicalNames(v)
  return out
}

// The same renaming applied to a JSON Schema, so a result schema follows the
// provider's published one.
export function canonicalSchema (schema: unknown): any {
  if (Array.isArray(schema)) return schema.map(canonicalSchema)
  if (schema === null || typeof schema !== 'object') return schema
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(schema)) {
    if (key === 'properties' && v !== null && typeof v === 'object') {
      out[key] = Object.fromEntries(Object.entries(v).map(([k, s]) => [NAME_FIELDS[k] ?? k, canonicalSchema(s)]))
    } else if (key === 'required' && Array.isArray(v)) {
      out[key] = v.map((k) => NAME_FIELDS[k as string] ?? k)
    } else {
      out[key] = canonicalSchema(v)
    }
  }
  return out
}

// The XYP `auth` block: the consenting citizen and the operator (officer).
export function xypAuth (citizenRegnum: string | undefined, operatorId: string | undefined) {
  return {
    citizen: citizenRegnum === undefined ? {} : { regnum: citizenRegnum },
    operator: operatorId === undefined ? {} : { civilId: operatorId },
  }
}

// The citizen's one-time code added to an adapter's auth block, so every XYP
// adapter carries it without each having to. Only with a citizen named: a
// code proves that citizen's consent, and means nothing without them.
export function withCitizenOtp (auth: { citizen?: XypAuthEntity, operator?: XypAuthEntity }, citizenOtp: string | undefined) {
  const citizen = auth.citizen
  if (citizenOtp === undefined || citizen?.regnum === undefined || citizen.otp !== undefined) return auth
  return { ...auth, citizen: { ...citizen, otp: citizenOtp } }
}
