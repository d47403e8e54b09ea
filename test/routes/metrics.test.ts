import t from 'tap'
import { buildTestApp } from '../helpers/app.ts'

t.test('metrics expose defaults and request durations by route template', async (tt) => {
  const { app } = await buildTestApp(tt, {
    extend (app) {
      app.get('/test/things/:id', async () => ({ ok: true }))
    },
  })
  await app.inject({ method: 'GET', url: '/test/things/АА00112233' })
  await app.inject({ method: 'GET', url: '/test/things/42' })
  await app.inject({ method: 'GET', url: '/no/such/route' })
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  tt.equal(res.statusCode, 200)
  tt.match(res.headers['content-type'], /^text\/plain/)
  tt.match(res.body, /process_cpu_user_seconds_total/)
  tt.match(res.body, /http_request_duration_seconds_count\{route="\/test\/things\/:id",method="GET",status_code="200"\} 2/)
  tt.match(res.body, /http_request_duration_seconds_count\{route="unmatched",method="GET",status_code="404"\} 1/)
  tt.notMatch(res.body, /АА00112233|things\/42/, 'raw URLs never become labels')
})
