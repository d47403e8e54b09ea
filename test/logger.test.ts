import { Writable } from 'node:stream'
import t from 'tap'
import pino from 'pino'
import { genReqId, loggerOptions } from '../src/logger.ts'
import { buildKeyKinds, keyOf } from '../src/personal-keys.ts'
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

t.test('names, birth dates and civil ids of the agencies\' records are removed from logged objects, whatever the case', async (tt) => {
  const { lines, stream } = capture()
  const log = pino(loggerOptions('info'), stream)
  const person = { firstname: 'Болд', lastname: 'Дорж', surname: 'Боржигин', patronymic: 'Дорж', clanName: 'Боржигин', civilId: '123456789012', birthDate: '1985-03-12' }
  log.info({ answer: { data: { ...person, regnum: 'УБ85031212', sex: 'male' } }, records: [person], FirstName: 'Болд', birth_date: '1985-03-12', applicationId: 'a1', status: 'queued' }, 'answer')
  const line = JSON.parse(lines[0] as string)
  for (const key of Object.keys(person)) {
    tt.equal(line.answer.data[key], '[redacted]', key)
    tt.equal(line.records[0][key], '[redacted]', `${key} in an array`)
  }
  tt.equal(line.answer.data.regnum, 'УБ******12')
  tt.equal(line.FirstName, '[redacted]', 'keys compare without case')
  tt.equal(line.birth_date, '[redacted]', 'nor - or _')
  tt.equal(line.applicationId, 'a1', 'what describes the exchange stays')
  tt.equal(line.status, 'queued')
  tt.notMatch(lines[0], /Болд|Дорж|Боржигин|123456789012|1985-03-12/)
})

t.test('the redacted keys come from the adapters\' schemas', async (tt) => {
  const kinds = buildKeyKinds()
  for (const key of ['firstname', 'lastname', 'surname', 'patronymic', 'clanName', 'civilId', 'birthDate', 'givenName', 'passportNum', 'fullAddress']) {
    tt.equal(kinds.get(keyOf(key)), 'personal', key)
  }
  tt.equal(kinds.get(keyOf('regnum')), 'regnum')
  tt.equal(kinds.get(keyOf('access_token')), 'secret')
  // A field a new adapter brings is personal until said otherwise.
  const more = buildKeyKinds([{ $defs: { result: { type: 'object', properties: { motherMaidenName: { type: 'string' }, status: { type: 'string' } } } } }])
  tt.equal(more.get(keyOf('motherMaidenName')), 'personal')
  tt.equal(more.get(keyOf('status')), undefined)
})

t.test('strings, messages and errors lose tokens, queries and registration numbers in any spelling', async (tt) => {
  const { lines, stream } = capture()
  const log = pino(loggerOptions('info'), stream)
  const jwt = 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhZG1pbi0xIn0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU'
  log.info({ url: `/v1/me?jwt=${jwt}`, note: `Bearer ${jwt}`, path: '/v1/citizens/%D0%9A%D0%95-41102410/civil' }, `GET /v1/citizens/K%D0%9541102410?name=%D0%91%D0%BE%D0%BB%D0%B4 with ${jwt}`)
  log.warn(new Error(`no citizen КЕ４１１０２４１０ or К\u200BЕ 4110 2410 for ${jwt}`))
  const text = lines.join('')
  tt.notMatch(text, /eyJ/, 'no token')
  tt.notMatch(text, /41102410|４１１０２４１０|4110 2410/, 'no registration number')
  tt.notMatch(text, /%D0%91%D0%BE/, 'no query')
  const [first, second] = lines.map((l) => JSON.parse(l))
  tt.equal(first.url, '/v1/me?[query]')
  tt.equal(first.path, '/v1/citizens/%D0%9A%D0%95******10/civil')
  tt.match(second.err, { type: 'Error', message: /no citizen КЕ\*{6}１０/, stack: /\n\s+at / })
  tt.match(second.msg, /no citizen КЕ\*{6}/)
})

t.test('an X-Request-Id that carries a number or a token is replaced', async (tt) => {
  const header = (id: string) => ({ headers: { 'x-request-id': id } }) as never
  tt.equal(genReqId(header('req-test-000001')), 'req-test-000001')
  tt.not(genReqId(header('KE41102410')), 'KE41102410')
  tt.not(genReqId(header('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.sig')), 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.sig')
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
