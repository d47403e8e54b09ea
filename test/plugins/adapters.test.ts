import t from 'tap'
import { generatePopulation } from '../../src/exchange/index.ts'
import { buildTestApp } from '../helpers/app.ts'

const adult = generatePopulation({ citizens: 500 }).livingAdults()[0]!

t.test('a route calling an adapter sends its request id to the bus as X-Road-Id', async (tt) => {
  const { app, exchange } = await buildTestApp(tt, {
    exchange: { citizens: 500 },
    extend (app) {
      app.get('/test/pension', async (request) => request.callAdapter('insurance.getPension', { regnum: adult.regnum }, { userId: 'officer-9' }))
    },
  })
  const res = await app.inject({ method: 'GET', url: '/test/pension', headers: { 'x-request-id': 'portal-req-000042' } })
  tt.equal(res.statusCode, 200)
  tt.match(res.json(), { regnum: adult.regnum, receivesPension: Boolean })
  const log = await exchange!.app.inject({ method: 'GET', url: '/admin/message-log?service=MN/GOV/GASI/social-insurance/getPension' })
  tt.match(log.json().records, [{ id: 'portal-req-000042', userId: 'officer-9', status: 200 }])
})

t.test('adapter failures reach the caller as problem+json', async (tt) => {
  const { app, exchange } = await buildTestApp(tt, {
    exchange: { citizens: 500 },
    env: { BUS_READ_RETRIES: '0' },
    extend (app) {
      app.get('/test/plots', async (request) => request.callAdapter('land.getPlots', { regnum: adult.regnum }))
    },
  })
  await exchange!.app.inject({ method: 'PUT', url: '/admin/faults/land', payload: { down: true } })
  const res = await app.inject({ method: 'GET', url: '/test/plots' })
  tt.equal(res.statusCode, 502)
  tt.match(res.headers['content-type'], /^application\/problem\+json/)
  tt.match(res.json(), { code: 'UPSTREAM_UNAVAILABLE', detail: /land/ })
  tt.notMatch(res.body, /ECONNRESET|socket|stack/i, 'no transport internals')
})
