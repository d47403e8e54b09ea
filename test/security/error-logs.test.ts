import { Writable } from 'node:stream'
import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'
import { eventually } from '../helpers/eventually.ts'
import { privateRedis } from '../helpers/redis-server.ts'

// Errors do not vanish: while Redis is away the queues' connections say so in
// the log, with the error's stack, and a connection retrying every moment
// does not write a line each time.

t.test('Redis away: every connection logs its error whole, and not once per retry', async (tt) => {
  const redis = await privateRedis(tt)
  const lines: Array<Record<string, any>> = []
  const logStream = new Writable({ write (chunk, _e, done) { lines.push(JSON.parse(String(chunk))); done() } })
  const { app } = await buildTestApp(tt, { env: { REDIS_URL: redis.url, LOG_LEVEL: 'info', OUTBOX_POLL_MS: '50' }, appOptions: { logStream } })
  await app.ready()
  await redis.stop()
  const about = (msg: RegExp) => lines.filter((l) => msg.test(l.msg ?? ''))
  // Each connection retries many times over these seconds.
  await eventually(async () => (about(/delivery queue's Redis connection failed/).length > 0 && about(/callback queue's Redis connection failed/).length > 0 && about(/^redis connection error$/).length > 0) || undefined, 30000)
  for (const msg of [/delivery queue's Redis connection failed/, /callback queue's Redis connection failed/, /^redis connection error$/]) {
    const found = about(msg)
    tt.match(found[0], { level: 40, err: { type: String, message: /ECONN|closed|connect/i, stack: /\n\s+at / } }, `${msg} with the stack`)
    tt.ok(found.length <= 4, `${msg}: ${found.length} line(s), not one per retry`)
  }
  tt.notOk(lines.some((l) => l.err !== undefined && l.err.stack === undefined && l.err.type === undefined), 'no error logged as a bare message')
  await redis.start()
})
