import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'

t.test('GET /v1/me needs a token and describes the caller', async (tt) => {
  const { app, token } = await buildTestApp(tt)
  const anonymous = await app.inject({ method: 'GET', url: '/v1/me' })
  tt.equal(anonymous.statusCode, 401)
  tt.match(anonymous.headers['content-type'], /^application\/problem\+json/)

  const officer = await app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${await token('officer')}` } })
  tt.equal(officer.statusCode, 200)
  tt.match(officer.json(), { role: 'officer', unit: '1101', agency: 'GASR', sub: 'officer-1', expiresAt: /^\d{4}-\d\d-\d\dT/ })
  tt.notOk('tokenId' in officer.json())

  const citizen = await app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${await token('citizen')}` } })
  tt.match(citizen.json(), { role: 'citizen', regnum: 'УБ99032712', portal: 'test-portal' })
})
