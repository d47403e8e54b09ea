import { readFileSync } from 'node:fs'
import t from 'tap'
import { generateOpenApi, OPENAPI_FILE } from '../src/cli/openapi.ts'
import { buildTestApp } from './helpers/app.ts'

t.test('the committed openapi.yaml is what the code generates', async (tt) => {
  const committed = readFileSync(OPENAPI_FILE, 'utf8')
  const generated = await generateOpenApi()
  tt.equal(committed, generated, 'openapi.yaml is stale: run `npm run openapi` and commit it')
  tt.match(committed, /^openapi: 3\.1\.0$/m)
})

t.test('the document and Swagger UI are served', async (tt) => {
  const { app } = await buildTestApp(tt)
  const doc = await app.inject({ method: 'GET', url: '/openapi.json' })
  tt.equal(doc.statusCode, 200)
  tt.equal(doc.json().openapi, '3.1.0')
  tt.ok(doc.json().paths['/health/ready'])
  const ui = await app.inject({ method: 'GET', url: '/docs/' })
  tt.equal(ui.statusCode, 200)
  tt.match(ui.headers['content-type'], /text\/html/)
})
