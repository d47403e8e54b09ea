import { createHash, randomBytes, timingSafeEqual, type JsonWebKey } from 'node:crypto'
import { changeRecord, type AuditEntry } from '../audit/record.ts'
import { isoTime, storeOutageOf, type Database, type Queryable } from '../db/database.ts'
import { createGrouper } from '../db/grouper.ts'
import type { SecretBox } from '../secrets/sealed.ts'

// Partner systems registered by admins: who may reach the DCI face, with
// which keys, for which purposes and record types (nothing else: deny by
// default). The client secret is shown once, at registration or rotation.

// The partner's own DCI registry, which the gateway queries as a client. The
// client secret it issued to the gateway is write-only: stored, never shown.
export interface PartnerRegistry {
  url: string
  tokenUrl: string
  clientId: string
  hasClientSecret: boolean
}

export interface PartnerRegistryInput {
  url: string
  tokenUrl: string
  clientId: string
  // Absent on a change: the stored one is kept.
  clientSecret?: string
}

// What the DCI client needs to reach the partner's registry.
export interface PartnerRegistryCredentials {
  url: string
  tokenUrl: string
  clientId: string
  clientSecret: string | null
  // A secret is stored but this gateway's keys do not open it.
  unreadable?: boolean
}

export interface Partner {
  id: string
  name: string
  jwks: { keys: JsonWebKey[] }
  callbackUrl: string | null
  registry: PartnerRegistry | null
  purposes: string[]
  recordTypes: string[]
  active: boolean
  createdBy: string
  createdAt: string
  updatedBy: string
  updatedAt: string
}

// What an admin sets; the rest is kept by the store.
export type PartnerInput = Pick<Partner, 'name' | 'jwks' | 'callbackUrl' | 'purposes' | 'recordTypes' | 'active'> & { registry: PartnerRegistryInput | null }

// The gateway makes every secret itself, 256 random bits: a plain SHA-256 is
// as strong as a slow hash for such a secret, and costs an attacker-driven
// token endpoint nothing.
export function hashSecret (secret: string): string {
  return `sha256$${createHash('sha256').update(secret).digest('base64url')}`
}

export function checkSecret (secret: string, stored: string): boolean {
  const expected = Buffer.from(stored)
  const got = Buffer.from(hashSecret(secret))
  return got.length === expected.length && timingSafeEqual(got, expected)
}

// 256 random bits, URL-safe.
export function newSecret (): string {
  return randomBytes(32).toString('base64url')
}

// Never the registry's client secret: only whether there is one.
const COLUMNS = `id, name, jwks, callback_url AS "callbackUrl", purposes, record_types AS "recordTypes", active,
  registry_url AS "registryUrl", registry_token_url AS "registryTokenUrl", registry_client_id AS "registryClientId",
  registry_client_secret IS NOT NULL AS "hasClientSecret",
  created_by AS "createdBy", created_at AS "createdAt", updated_by AS "updatedBy", updated_at AS "updatedAt"`

function toPartner (r: Record<string, unknown>): Partner {
  const { registryUrl, registryTokenUrl, registryClientId, hasClientSecret, ...rest } = r
  const registry = registryUrl === null || registryUrl === undefined
    ? null
    : { url: registryUrl as string, tokenUrl: registryTokenUrl as string, clientId: registryClientId as string, hasClientSecret: hasClientSecret === true }
  return { ...(rest as unknown as Partner), registry, createdAt: isoTime(r.createdAt), updatedAt: isoTime(r.updatedAt) }
}

// The partner registry's client secret is stored sealed, bound to the partner.
const secretContext = (id: string) => `dci partner ${id} registry client secret`

export function createPartnerStore (db: Queryable, secrets: SecretBox) {
  const registryParams = (id: string, r: PartnerRegistryInput | null): Array<string | null> =>
    r === null ? [null, null, null, null] : [r.url, r.tokenUrl, r.clientId, r.clientSecret === undefined ? null : secrets.seal(r.clientSecret, secretContext(id))]
  return {
    // Null when the id is taken.
    async create (id: string, input: PartnerInput, secretHash: string, actor: string): Promise<Partner | null> {
      const { rows } = await db.query<Record<string, unknown>>(
        `INSERT INTO dci_partners (id, name, secret_hash, jwks, callback_url, purposes, record_types, active, created_by, updated_by,
           registry_url, registry_token_url, registry_client_id, registry_client_secret)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13) ON CONFLICT (id) DO NOTHING RETURNING ${COLUMNS}`,
        [id, input.name, secretHash, JSON.stringify(input.jwks), input.callbackUrl, input.purposes, input.recordTypes, input.active, actor, ...registryParams(id, input.registry)])
      return rows[0] === undefined ? null : toPartner(rows[0])
    },

    async update (id: string, input: PartnerInput, actor: string): Promise<Partner | null> {
      const { rows } = await db.query<Record<string, unknown>>(
        // A change without a client secret keeps the stored one; no registry clears it.
        `UPDATE dci_partners SET name = $2, jwks = $3, callback_url = $4, purposes = $5, record_types = $6, active = $7,
           registry_url = $9, registry_token_url = $10, registry_client_id = $11,
           registry_client_secret = CASE WHEN $9::text IS NULL THEN NULL ELSE COALESCE($12::text, registry_client_secret) END,
           updated_by = $8, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
        [id, input.name, JSON.stringify(input.jwks), input.callbackUrl, input.purposes, input.recordTypes, input.active, actor, ...registryParams(id, input.registry)])
      return rows[0] === undefined ? null : toPartner(rows[0])
    },

    async setSecret (id: string, secretHash: string, actor: string): Promise<boolean> {
      const res = await db.query('UPDATE dci_partners SET secret_hash = $2, updated_by = $3, updated_at = now() WHERE id = $1', [id, secretHash, actor])
      return (res.rowCount ?? 0) > 0
    },

    async get (id: string): Promise<Partner | null> {
      const { rows } = await db.query<Record<string, unknown>>(`SELECT ${COLUMNS} FROM dci_partners WHERE id = $1`, [id])
      return rows[0] === undefined ? null : toPartner(rows[0])
    },

    // The partners of the messages of one turn, read in one statement.
    current: groupedLookup(db),

    // The partner, with what is kept for its message_id (null when the id is
    // new): what a sync request needs before it is answered, in one read.
    admission: groupedAdmission(db),

    // The partner's registry with the secret the gateway presents there; null without a registry.
    async registryCredentials (id: string): Promise<PartnerRegistryCredentials | null> {
      const { rows } = await db.query<PartnerRegistryCredentials & { sealed: string | null }>(
        `SELECT registry_url AS url, registry_token_url AS "tokenUrl", registry_client_id AS "clientId", registry_client_secret AS sealed
         FROM dci_partners WHERE id = $1 AND registry_url IS NOT NULL`, [id])
      const r = rows[0]
      if (r === undefined) return null
      const { sealed, ...rest } = r
      if (sealed === null) return { ...rest, clientSecret: null }
      const clientSecret = secrets.open(sealed, secretContext(id))
      return clientSecret === null ? { ...rest, clientSecret: null, unreadable: true } : { ...rest, clientSecret }
    },

    // Seals again what is stored unsealed (before sealing existed) or under
    // an older member key that is still held; returns how many. What no key
    // held here opens is left as it is.
    async reseal (): Promise<number> {
      const { rows } = await db.query<{ id: string, stored: string }>('SELECT id, registry_client_secret AS stored FROM dci_partners WHERE registry_client_secret IS NOT NULL')
      let changed = 0
      for (const r of rows) {
        if (!secrets.stale(r.stored)) continue
        const plain = secrets.isSealed(r.stored) ? secrets.open(r.stored, secretContext(r.id)) : r.stored
        if (plain === null) continue
        const res = await db.query('UPDATE dci_partners SET registry_client_secret = $3 WHERE id = $1 AND registry_client_secret = $2', [r.id, r.stored, secrets.seal(plain, secretContext(r.id))])
        changed += res.rowCount ?? 0
      }
      return changed
    },

    async secretHashOf (id: string): Promise<{ hash: string, active: boolean } | null> {
      const { rows } = await db.query<{ hash: string, active: boolean }>('SELECT secret_hash AS hash, active FROM dci_partners WHERE id = $1', [id])
      return rows[0] ?? null
    },

    async list (): Promise<Partner[]> {
      const { rows } = await db.query<Record<string, unknown>>(`SELECT ${COLUMNS} FROM dci_partners ORDER BY id`)
      return rows.map(toPartner)
    },

    async remove (id: string): Promise<boolean> {
      return ((await db.query('DELETE FROM dci_partners WHERE id = $1', [id])).rowCount ?? 0) > 0
    },
  }
}

function groupedLookup (db: Queryable): (id: string) => Promise<Partner | null> {
  const reads = createGrouper<string, Partner | null>({
    maxGroup: 200,
    async write (ids) {
      const { rows } = await db.query<Record<string, unknown>>(`SELECT ${COLUMNS} FROM dci_partners WHERE id = ANY($1::text[])`, [[...new Set(ids)]])
      const byId = new Map(rows.map((r) => [r.id as string, toPartner(r)]))
      return ids.map((id) => byId.get(id) ?? null)
    },
    isolate: (err) => storeOutageOf(err) === undefined,
  })
  return (id) => reads.add(id)
}

// What is kept for a message_id already received from the partner.
export interface PriorMessage { digest: string, response: string | null }

// Partners as last read, by id, with the version (xmin: any change of the
// row gives it another) they were read at. An admission asks the database
// whether that version is still the row's, every time: only a partner read
// anew comes back whole. Shared by every store of this process on the same
// database; the objects are frozen, as several requests hold them at once.
const MAX_KNOWN_PARTNERS = 1000
const knownPartners = new WeakMap<Queryable, Map<string, { version: string, partner: Partner }>>()

function deepFreeze<T> (value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

// The partner's row is read whole only when its version is not the one
// known here; otherwise the known partner is used, as it is still the row.
// Each look-up a key lookup (LIMIT 1 keeps the planner from joining the
// tables whole, which it may choose as dci_messages grows).
const ADMISSION_SQL = `
SELECT i.n, p.version, m.digest AS "priorDigest", m.response AS "priorResponse", f.*
FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS i(partner_id, message_id, known, n)
LEFT JOIN LATERAL (SELECT xmin::text AS version FROM dci_partners WHERE id = i.partner_id LIMIT 1) p ON true
LEFT JOIN LATERAL (SELECT ${COLUMNS} FROM dci_partners WHERE id = i.partner_id AND p.version IS DISTINCT FROM i.known LIMIT 1) f ON true
LEFT JOIN LATERAL (SELECT digest, response FROM dci_messages WHERE sender_id = i.partner_id AND message_id = i.message_id LIMIT 1) m ON true`

function groupedAdmission (db: Queryable): (id: string, messageId: string) => Promise<{ partner: Partner | null, prior: PriorMessage | null }> {
  let known = knownPartners.get(db)
  if (known === undefined) knownPartners.set(db, known = new Map())
  const partners = known
  const reads = createGrouper<{ id: string, messageId: string }, { partner: Partner | null, prior: PriorMessage | null }>({
    maxGroup: 200,
    // What arrives while a read is out waits for it and leaves as the next
    // group: under load, fewer and larger reads.
    maxInFlight: 1,
    async write (asked) {
      // What is known as the read leaves: its answer is about these versions.
      const held = asked.map((a) => partners.get(a.id))
      const { rows } = await db.query<Record<string, unknown> & { n: number, version: string | null, priorDigest: string | null, priorResponse: string | null }>(
        ADMISSION_SQL, [asked.map((a) => a.id), asked.map((a) => a.messageId), held.map((h) => h?.version ?? null)])
      const byN = new Map(rows.map((r) => [Number(r.n), r]))
      return asked.map((a, i) => {
        const r = byN.get(i + 1)
        if (r === undefined) return { partner: null, prior: null }
        const { n: _n, version, priorDigest, priorResponse, ...columns } = r
        const prior = priorDigest === null ? null : { digest: priorDigest, response: priorResponse }
        if (version === null) {
          partners.delete(a.id)
          return { partner: null, prior }
        }
        if (columns.id === null || columns.id === undefined) {
          // Unchanged since it was read here: the row's version is the one asked about.
          const h = held[i]
          if (h !== undefined && h.version === version) return { partner: h.partner, prior }
          throw new Error(`partner ${a.id}: version ${version} was not read whole and is not the one known here`)
        }
        const partner = deepFreeze(toPartner(columns))
        if (!partners.has(a.id) && partners.size >= MAX_KNOWN_PARTNERS) {
          const oldest = partners.keys().next()
          if (oldest.done !== true) partners.delete(oldest.value)
        }
        partners.set(a.id, { version, partner })
        return { partner, prior }
      })
    },
    isolate: (err) => storeOutageOf(err) === undefined,
  })
  return (id, messageId) => reads.add({ id, messageId })
}

export type PartnerStore = ReturnType<typeof createPartnerStore>

// A registration change goes into the audit chain in the same transaction:
// who granted which partner what. Secrets never appear, only that one was set.
export function partnerChange (actor: string, action: 'create' | 'update' | 'secret' | 'delete', id: string, before: Partner | null, after: Partner | null, requestId: string): AuditEntry {
  return changeRecord('partner_change', { requestId, actor, result: action, details: { partner: id, before, after } })
}

// Runs a change of the partner store and its audit record in one transaction.
export async function auditedPartnerChange<T> (db: Pick<Database, 'transaction'>, secrets: SecretBox, appendWithin: (tx: Queryable, entries: AuditEntry[]) => Promise<unknown>, change: (store: PartnerStore) => Promise<{ result: T, entry: AuditEntry | null }>): Promise<T> {
  return db.transaction(async (tx) => {
    const { result, entry } = await change(createPartnerStore(tx, secrets))
    if (entry !== null) await appendWithin(tx, [entry])
    return result
  })
}
