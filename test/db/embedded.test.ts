import t from 'tap'
import { createEmbeddedDatabase } from '../../src/db/embedded.ts'
import { migrate, loadMigrations } from '../../src/db/migrate.ts'

// Smoke test of the embedded store: the same migrations, persistence across a
// restart, and the lock that keeps a second process off the same directory.
t.test('embedded store runs the migrations and keeps its data', async (tt) => {
  const dir = tt.testdir()
  const db = await createEmbeddedDatabase({ dataDir: dir, schema: 'public' })
  const shipped = loadMigrations()
  tt.same((await migrate(db, shipped)).applied, shipped.map((m) => m.version))
  await db.query('CREATE TABLE notes (id integer PRIMARY KEY, body text)')
  await db.transaction(async (tx) => {
    await tx.query('INSERT INTO notes VALUES ($1, $2)', [1, 'сайн байна уу'])
  })
  await tt.rejects(db.transaction(async (tx) => {
    await tx.query('INSERT INTO notes VALUES ($1, $2)', [2, 'rolled back'])
    throw new Error('abort')
  }))

  await tt.rejects(createEmbeddedDatabase({ dataDir: dir, schema: 'public' }), { code: 'EMBEDDED_STORE_LOCKED' },
    'a second opener is refused while the first holds the lock')
  await db.close()

  const reopened = await createEmbeddedDatabase({ dataDir: dir, schema: 'public' })
  tt.teardown(() => reopened.close())
  tt.same((await migrate(reopened, shipped)).applied, [], 'nothing to apply the second time')
  const { rows } = await reopened.query<{ id: number, body: string }>('SELECT id, body FROM notes ORDER BY id')
  tt.same(rows, [{ id: 1, body: 'сайн байна уу' }])
})
