import t from 'tap'
import pg from 'pg'
import { arrayLiteral } from '../../src/stats/rollup.ts'
import { TEST_DATABASE_URL } from '../helpers/services.ts'

// The fold writes its arrays as literals: PostgreSQL must read back exactly what was meant.
t.test('array literals round-trip through PostgreSQL', async (t) => {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await client.connect()
  t.teardown(() => client.end())
  const texts = ['62', '', null, 'NULL', 'null', 'a,b', 'say "hi"', 'back\\slash', ' lead', 'tab\there', '{x}', 'Өвөрхангай', 'insurance.old-age-pension', '2026-11-01', '10:6213']
  const { rows: [back] } = await client.query<{ a: Array<string | null> }>('SELECT $1::text[] AS a', [arrayLiteral(texts)])
  t.same(back!.a, texts)
  const numbers = [0, -3, 17, 2147483647]
  const { rows: [ints] } = await client.query<{ a: number[] }>('SELECT $1::int[] AS a', [arrayLiteral(numbers)])
  t.same(ints!.a, numbers)
  const { rows: [dates] } = await client.query<{ a: string }>('SELECT $1::date[]::text AS a', [arrayLiteral(['2026-01-01', '2026-12-31'])])
  t.equal(dates!.a, '{2026-01-01,2026-12-31}')
  t.equal(arrayLiteral([]), '{}')
})
