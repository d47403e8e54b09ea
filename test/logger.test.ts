import { Writable } from 'node:stream'
import t from 'tap'
import pino from 'pino'
import { loggerOptions } from '../src/logger.ts'
import { buildTestApp } from './helpers/app.ts'

function capture () {
  const lines: string[] = []
  const stream = new Writable({
    write (chunk, _enc, done) {
      lines.push(String(chunk))
      done()
    },
  })
  return { lines, stream }
}

t.test('personal data and credentials never reach the log', async (tt) => {
  const { lines, stream } = capture()
  const log = pino(loggerOptions('info'), stream)
  log.info({ regnum: 'АА00112233', applicant: { regnum: 'УБ99032712', givenName: 'Болд', familyName: 'Дорж' }, token: 'eyJabc' }, 'lookup')
  const line = JSON.parse(lines[0] as string)
  tt.equal(line.regnum, 'АА******33')
  tt.equal(line.applicant.regnum, 'УБ******12')
  tt.equal(line.applicant.givenName, '[redacted]')
  tt.equal(line.applicant.familyName, '[redacted]')
  tt.equal(line.token, '[redacted]')
})

t.test('request logs carry the request id and mask URLs and headers', async (tt) => {
  const { lines, stream } = capture()
  const { app, token } = await buildTestApp(tt, {
    env: { LOG_LEVEL: 'info' },
    appOptions: { logStream: stream },
    extend (app) {
      app.get('/test/citizens/:regnum', { config: { auth: { roles: ['officer'] } } }, async () => ({ ok: true }))
    },
  })
  const bearer = await token('officer')
  const start = lines.length
  const res = await app.inject({
    method: 'GET',
    url: `/test/citizens/${encodeURIComponent('АА00112233')}?also=УБ99032712`,
    headers: { authorization: `Bearer ${bearer}`, cookie: 'session=secret', 'x-request-id': 'req-test-000001' },
  })
  tt.equal(res.statusCode, 200)
  const text = lines.join('')
  tt.notMatch(text, bearer.slice(-20), 'no token')
  tt.notMatch(text, /session=secret/)
  tt.notMatch(text, /00112233|99032712/, 'no registration number, raw or percent-encoded')
  const entries = lines.slice(start).map((l) => JSON.parse(l))
  tt.ok(entries.length >= 2)
  tt.ok(entries.every((e) => e.reqId === 'req-test-000001'), 'every line of the request has its id')
})
