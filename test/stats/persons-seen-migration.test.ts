import t from 'tap'
import { createPostgresDatabase } from '../../src/db/postgres.ts'
import { loadMigrations, migrate } from '../../src/db/migrate.ts'
import { dropSchema, TEST_DATABASE_URL, uniqueName } from '../helpers/services.ts'

// Migration 0012 turns "a row per person, month or year and unit (with every
// unit above)" into "a row per person and year listing where they applied
// in each month".
t.test('0012 keeps, per person and year, the units of each month with nothing of theirs beneath', async (t) => {
  const schema = uniqueName('persons_seen')
  t.teardown(() => dropSchema(schema))
  const db = createPostgresDatabase({ url: TEST_DATABASE_URL, schema, poolMax: 2 })
  t.teardown(() => db.close())
  const all = loadMigrations()
  await migrate(db, all.filter((m) => m.version <= 11))

  const a = '00000000-0000-4000-8000-00000000000a'
  const b = '00000000-0000-4000-8000-00000000000b'
  const c = '00000000-0000-4000-8000-00000000000c'
  const rows: Array<[string, string, string, string]> = [
    // a: a bag of aimag 62, then a soum of aimag 21 in the same month
    ...['', '62', '6201', '620101', '21', '2101'].map((u): [string, string, string, string] => ['month', '2026-11-01', u, a]),
    // a in October, in soum 6213; and the year (made from the months)
    ...['', '62', '6213'].map((u): [string, string, string, string] => ['month', '2026-10-01', u, a]),
    ...['', '62', '6201', '620101', '6213', '21', '2101'].map((u): [string, string, string, string] => ['year', '2026-01-01', u, a]),
    // a in December 2025, another year
    ...['', '21', '2101'].map((u): [string, string, string, string] => ['month', '2025-12-01', u, a]),
    // b: two bags of one soum
    ...['', '62', '6201', '620101', '620102'].map((u): [string, string, string, string] => ['month', '2026-11-01', u, b]),
    // c: at an aimag's own office
    ...['', '62'].map((u): [string, string, string, string] => ['month', '2026-10-01', u, c]),
  ]
  await db.query(`INSERT INTO stats_persons_seen (grain, period, unit, person) SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::uuid[])`,
    [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2]), rows.map((r) => r[3])])

  t.same((await migrate(db, all)).applied.includes(12), true, '0012 applied')
  const { rows: after } = await db.query<{ year: string, person: string, seen: string[] }>(
    'SELECT year::text, person::text, seen FROM stats_persons_seen ORDER BY person, year')
  t.same(after, [
    { year: '2025-01-01', person: a, seen: ['12:2101'] },
    { year: '2026-01-01', person: a, seen: ['10:6213', '11:2101', '11:620101'] },
    { year: '2026-01-01', person: b, seen: ['11:620101', '11:620102'] },
    { year: '2026-01-01', person: c, seen: ['10:62'] },
  ])
})
