import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Database } from '../db/database.ts'

// Who is signed in to the console, as the console's API calls will assert it.
export interface ConsoleIdentity {
  role: 'admin' | 'analyst' | 'officer'
  // The identity provider's subject and issuer, and a name to greet.
  sub: string
  issuer: string
  name: string
  unit?: string
  agency?: string
}

export interface ConsoleSession {
  identity: ConsoleIdentity
  csrf: string
  createdMs: number
}

export interface PendingLogin {
  state: string
  nonce: string
  verifier: string
  redirectUri: string
  returnTo: string
}

export interface ConsoleSessions {
  // A new session; the id goes in the cookie and is never stored as it is.
  create(identity: ConsoleIdentity): Promise<{ id: string, session: ConsoleSession }>
  // The live session for a cookie's id, or null when there is none, or it has
  // been idle too long or lived too long (and is then removed).
  find(id: string): Promise<ConsoleSession | null>
  end(id: string): Promise<void>
  // A sign-in under way, bound to the browser by its own cookie's id.
  startLogin(login: PendingLogin): Promise<string>
  // The sign-in for that cookie, taken once; null when unknown or too old.
  takeLogin(id: string): Promise<PendingLogin | null>
  // Removes ended sessions and abandoned sign-ins.
  sweep(): Promise<number>
}

export interface ConsoleSessionOptions {
  db: Database
  idleMs: number
  maxMs: number
  // How long a sign-in may take at the identity provider.
  loginMs: number
  now?: () => number
}

// A session's last use is written at most this often: a page load that
// follows another within it costs no write.
const TOUCH_EVERY_MS = 30_000

const digest = (id: string) => createHash('sha256').update(id).digest('base64url')
const randomId = () => randomBytes(32).toString('base64url')

export function sameSecret (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

export function createConsoleSessions (options: ConsoleSessionOptions): ConsoleSessions {
  const { db } = options
  const now = options.now ?? Date.now

  return {
    async create (identity) {
      const id = randomId()
      const session: ConsoleSession = { identity, csrf: randomId(), createdMs: now() }
      await db.query('INSERT INTO console_sessions (id, principal, csrf, created_ms, seen_ms) VALUES ($1, $2, $3, $4, $4)',
        [digest(id), JSON.stringify(identity), session.csrf, session.createdMs])
      return { id, session }
    },

    async find (id) {
      const key = digest(id)
      const { rows } = await db.query<{ principal: ConsoleIdentity | string, csrf: string, created_ms: string, seen_ms: string }>(
        'SELECT principal, csrf, created_ms::text, seen_ms::text FROM console_sessions WHERE id = $1', [key])
      const row = rows[0]
      if (row === undefined) return null
      const t = now()
      const created = Number(row.created_ms)
      const seen = Number(row.seen_ms)
      if (t - seen >= options.idleMs || t - created >= options.maxMs) {
        await db.query('DELETE FROM console_sessions WHERE id = $1', [key])
        return null
      }
      if (t - seen >= TOUCH_EVERY_MS) await db.query('UPDATE console_sessions SET seen_ms = $2 WHERE id = $1', [key, t])
      const identity = typeof row.principal === 'string' ? JSON.parse(row.principal) as ConsoleIdentity : row.principal
      return { identity, csrf: row.csrf, createdMs: created }
    },

    async end (id) {
      await db.query('DELETE FROM console_sessions WHERE id = $1', [digest(id)])
    },

    async startLogin (login) {
      const id = randomId()
      await db.query('INSERT INTO console_logins (id, state, nonce, verifier, redirect_uri, return_to, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [digest(id), login.state, login.nonce, login.verifier, login.redirectUri, login.returnTo, now()])
      return id
    },

    async takeLogin (id) {
      const { rows } = await db.query<{ state: string, nonce: string, verifier: string, redirect_uri: string, return_to: string, created_ms: string }>(
        'DELETE FROM console_logins WHERE id = $1 RETURNING state, nonce, verifier, redirect_uri, return_to, created_ms::text', [digest(id)])
      const row = rows[0]
      if (row === undefined || now() - Number(row.created_ms) >= options.loginMs) return null
      return { state: row.state, nonce: row.nonce, verifier: row.verifier, redirectUri: row.redirect_uri, returnTo: row.return_to }
    },

    async sweep () {
      const t = now()
      const sessions = await db.query('DELETE FROM console_sessions WHERE seen_ms <= $1 OR created_ms <= $2', [t - options.idleMs, t - options.maxMs])
      const logins = await db.query('DELETE FROM console_logins WHERE created_ms <= $1', [t - options.loginMs])
      return sessions.rowCount + logins.rowCount
    },
  }
}
