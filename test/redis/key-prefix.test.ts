import { join } from 'node:path'
import t from 'tap'
import { Redis } from 'ioredis'
import { claimKeyPrefix, databaseIdentity } from '../../src/redis/connection.ts'
import { spawnServer } from '../helpers/process.ts'
import { dropSchema, TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from '../helpers/services.ts'

// Gateways sharing one Redis need their own REDIS_KEY_PREFIX: a second
// database under the same prefix is named at start.

t.test('a prefix is claimed by the first database; the same one again is fine, another is named', async (tt) => {
  const redis = new Redis(TEST_REDIS_URL)
  tt.teardown(() => redis.quit())
  const prefix = `test:${uniqueName('owner')}`
  tt.teardown(() => redis.del(`${prefix}:owner`))
  const a = databaseIdentity({ url: 'postgres://gw:secret@db.example.mn:5433/oss', schema: 'public', embeddedDir: '/x', host: 'h1' })
  const b = databaseIdentity({ schema: 'public', embeddedDir: '/srv/oss/data/db', host: 'h2' })
  tt.equal(a, 'postgres://db.example.mn:5433/oss#public', 'no credentials in the identity')
  tt.equal(b, 'embedded:h2:/srv/oss/data/db#public')
  tt.equal(await claimKeyPrefix(redis, prefix, a), null)
  tt.equal(await claimKeyPrefix(redis, prefix, a), null, 'a restart of the same deployment')
  tt.equal(await claimKeyPrefix(redis, prefix, b), a, 'another database is told whose prefix it is')
})

t.test('the gateway warns at start when its prefix belongs to another database', async (tt) => {
  const redis = new Redis(TEST_REDIS_URL)
  tt.teardown(() => redis.quit())
  const prefix = `test:${uniqueName('shared')}`
  const schema = uniqueName('prefix')
  tt.teardown(async () => { await redis.del(`${prefix}:owner`); await dropSchema(schema) })
  await redis.set(`${prefix}:owner`, 'postgres://other-host:5432/oss#public')
  const server = spawnServer(join(import.meta.dirname, '..', '..', 'src', 'server.ts'), {
    PORT: '0', DATA_DIR: tt.testdir(), DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: prefix,
  })
  tt.teardown(() => { server.child.kill('SIGKILL') })
  const line = JSON.parse(await server.waitFor(/ANOTHER GATEWAY USES THIS REDIS_KEY_PREFIX/))
  tt.match(line, { level: 40, keyPrefix: prefix, otherDatabase: 'postgres://other-host:5432/oss#public', thisDatabase: new RegExp(`#${schema}$`) })
  tt.equal(await redis.get(`${prefix}:owner`), 'postgres://other-host:5432/oss#public', 'the other deployment keeps its claim')
})
