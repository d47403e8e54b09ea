import { Writable } from 'node:stream'
import t from 'tap'
import pino from 'pino'
import type { FastifyBaseLogger } from 'fastify'
import { createLimitedErrorLog } from '../../src/errors/limited-log.ts'

function capture () {
  const lines: Array<Record<string, any>> = []
  const log = pino({ level: 'debug' }, new Writable({ write (chunk, _e, done) { lines.push(JSON.parse(String(chunk))); done() } })) as unknown as FastifyBaseLogger
  return { lines, log }
}

t.test('an error is logged whole: its stack and its cause', async (tt) => {
  const { lines, log } = capture()
  const report = createLimitedErrorLog(log, 'queue error')
  report(new Error('connect ECONNREFUSED 127.0.0.1:1', { cause: new Error('the socket closed') }), { queue: 'applications-delivery' })
  tt.equal(lines.length, 1)
  tt.match(lines[0], { level: 40, msg: 'queue error', queue: 'applications-delivery', err: { type: 'Error', message: /ECONNREFUSED/, stack: /limited-log\.test\.ts/ } })
  tt.match(JSON.stringify(lines[0]!.err), /the socket closed/, 'the cause is kept')
})

t.test('the same error again is left out for the interval, then logged with how often it was left out', async (tt) => {
  const { lines, log } = capture()
  let now = 1_000_000
  const report = createLimitedErrorLog(log, 'redis connection error', { intervalMs: 60_000, now: () => now, level: 'error' })
  const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6390'), { code: 'ECONNREFUSED' })
  for (let i = 0; i < 30; i++) {
    report(refused())
    now += 1000
  }
  tt.equal(lines.length, 1, 'one line for 30 retries within a minute')
  now += 30_000
  report(refused())
  tt.equal(lines.length, 2)
  tt.match(lines[1], { level: 50, repeated: 29, err: { message: /ECONNREFUSED/ } })
  report(Object.assign(new Error('READONLY You can\'t write against a read only replica.'), { code: 'READONLY' }))
  tt.equal(lines.length, 3, 'a different error is logged at once')
  tt.notOk('repeated' in lines[2]!)
  report(refused())
  tt.equal(lines.length, 3, 'errors taking turns are each still limited')
})
