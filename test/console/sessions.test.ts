import t from 'tap'
import { createConsoleSessions, sameSecret, type ConsoleIdentity } from '../../src/console/sessions.ts'
import { openTestDatabase } from '../helpers/services.ts'

const ADMIN: ConsoleIdentity = { role: 'admin', sub: 'admin', issuer: 'https://login.example.mn', name: 'D. Batbold' }
const MINUTE = 60_000

t.test('sessions end when idle too long or alive too long, and are kept only as a digest', async (t) => {
  const db = await openTestDatabase(t)
  let now = Date.parse('2026-12-01T00:00:00Z')
  const sessions = createConsoleSessions({ db, idleMs: 30 * MINUTE, maxMs: 120 * MINUTE, loginMs: 10 * MINUTE, now: () => now })

  const { id, session } = await sessions.create(ADMIN)
  t.match(id, /^[A-Za-z0-9_-]{43}$/, '256 random bits')
  const { rows } = await db.query<{ id: string }>('SELECT id FROM console_sessions')
  t.not(rows[0]!.id, id, 'the cookie value is not stored')
  t.same((await sessions.find(id))?.identity, ADMIN)
  t.equal((await sessions.find(id))?.csrf, session.csrf)
  t.equal(await sessions.find('not-a-session'), null)

  // Used every 20 minutes it lives past the idle limit, up to the absolute one.
  for (let i = 0; i < 5; i++) {
    now += 20 * MINUTE
    t.ok(await sessions.find(id), `still open after ${(i + 1) * 20} minutes of use`)
  }
  now += 20 * MINUTE
  t.equal(await sessions.find(id), null, 'ended at two hours however busy')
  t.equal((await db.query('SELECT 1 FROM console_sessions')).rowCount, 0, 'and removed')

  const idle = await sessions.create(ADMIN)
  now += 30 * MINUTE - 1
  t.ok(await sessions.find(idle.id), 'idle just under the limit')
  now += 30 * MINUTE
  t.equal(await sessions.find(idle.id), null, 'idle for the limit: ended')

  const ended = await sessions.create(ADMIN)
  await sessions.end(ended.id)
  t.equal(await sessions.find(ended.id), null, 'logout ends it')
})

t.test('a sign-in under way is taken once and expires', async (t) => {
  const db = await openTestDatabase(t)
  let now = Date.parse('2026-12-01T00:00:00Z')
  const sessions = createConsoleSessions({ db, idleMs: 30 * MINUTE, maxMs: 120 * MINUTE, loginMs: 10 * MINUTE, now: () => now })
  const pending = { state: 's', nonce: 'n', verifier: 'v', redirectUri: 'http://127.0.0.1:3000/console/callback', returnTo: '/console/' }
  const id = await sessions.startLogin(pending)
  t.same(await sessions.takeLogin(id), pending)
  t.equal(await sessions.takeLogin(id), null, 'taken once')
  const late = await sessions.startLogin(pending)
  now += 10 * MINUTE
  t.equal(await sessions.takeLogin(late), null, 'too old')

  const abandoned = await sessions.startLogin(pending)
  const open = await sessions.create(ADMIN)
  now += 31 * MINUTE
  t.equal(await sessions.sweep(), 2, 'the sweep removes the abandoned sign-in and the idle session')
  t.equal(await sessions.takeLogin(abandoned), null)
  t.equal(await sessions.find(open.id), null)
})

t.test('secrets compare in constant time and only when equal', async (t) => {
  t.ok(sameSecret('abc', 'abc'))
  t.notOk(sameSecret('abc', 'abd'))
  t.notOk(sameSecret('abc', 'abcd'))
  t.notOk(sameSecret('', 'a'))
})
