import t from 'tap'
import { createPostgresDatabase } from '../../src/db/postgres.ts'
import { loadMigrations, migrate, splitStatements, type Migration } from '../../src/db/migrate.ts'
import { dropSchema, TEST_DATABASE_URL, uniqueName } from '../helpers/services.ts'

function migration (version: number, name: string, sql: string): Migration {
  return { version, name, sql, checksum: `c-${version}-${sql.length}` }
}

const SAMPLE = [
  migration(1, 'people', 'CREATE TABLE people (id serial PRIMARY KEY, name text NOT NULL); INSERT INTO people (name) VALUES (\'Бат\')'),
  migration(2, 'visits', `CREATE TABLE visits (id serial PRIMARY KEY, person integer REFERENCES people(id));
    CREATE FUNCTION touch() RETURNS integer LANGUAGE sql AS $$ SELECT 1; $$;`),
]

function database (schema: string) {
  return createPostgresDatabase({ url: TEST_DATABASE_URL, schema, poolMax: 2 })
}

t.test('pending migrations apply once; a second run does nothing', async (tt) => {
  const schema = uniqueName('mig')
  tt.teardown(() => dropSchema(schema))
  const db = database(schema)
  tt.teardown(() => db.close())
  tt.same(await migrate(db, SAMPLE), { applied: [1, 2], current: 2 })
  tt.same(await migrate(db, SAMPLE), { applied: [], current: 2 })
  const { rows } = await db.query<{ n: number }>('SELECT count(*) AS n FROM people')
  tt.equal(rows[0]?.n, 1, 'the seed row was inserted exactly once')
})

t.test('two processes starting together apply each migration exactly once', async (tt) => {
  const schema = uniqueName('mig')
  tt.teardown(() => dropSchema(schema))
  const dbs = [database(schema), database(schema), database(schema)]
  tt.teardown(() => Promise.all(dbs.map((d) => d.close())))
  const results = await Promise.all(dbs.map((d) => migrate(d, SAMPLE)))
  tt.same(results.flatMap((r) => r.applied).sort(), [1, 2], 'each version applied by exactly one of them')
  const { rows } = await dbs[0]!.query<{ n: number }>('SELECT count(*) AS n FROM people')
  tt.equal(rows[0]?.n, 1)
})

t.test('a migration edited after it was applied stops the start', async (tt) => {
  const schema = uniqueName('mig')
  tt.teardown(() => dropSchema(schema))
  const db = database(schema)
  tt.teardown(() => db.close())
  await migrate(db, SAMPLE)
  const edited = [SAMPLE[0]!, { ...SAMPLE[1]!, checksum: 'different' }]
  await tt.rejects(migrate(db, edited), { code: 'MIGRATION_CHANGED' })
})

t.test('a failing migration leaves nothing behind', async (tt) => {
  const schema = uniqueName('mig')
  tt.teardown(() => dropSchema(schema))
  const db = database(schema)
  tt.teardown(() => db.close())
  await tt.rejects(migrate(db, [SAMPLE[0]!, migration(2, 'broken', 'CREATE TABLE oops (; ')]))
  const { rows } = await db.query<{ n: number }>('SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = $1', [schema])
  tt.equal(rows[0]?.n, 0, 'the transaction rolled back, including migration 1')
})

t.test('the shipped migrations apply on PostgreSQL', async (tt) => {
  const schema = uniqueName('mig')
  tt.teardown(() => dropSchema(schema))
  const db = database(schema)
  tt.teardown(() => db.close())
  const shipped = loadMigrations()
  tt.ok(shipped.length > 0)
  const result = await migrate(db, shipped)
  tt.same(result.applied, shipped.map((m) => m.version))
})

t.test('statements split outside quotes, comments and dollar quotes', async (tt) => {
  tt.same(splitStatements(`-- a; comment
    SELECT 'a;b'; /* c; */ SELECT "x;y" FROM t;
    CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;`), [
    "-- a; comment\n    SELECT 'a;b'",
    '/* c; */ SELECT "x;y" FROM t',
    'CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql',
  ])
})
