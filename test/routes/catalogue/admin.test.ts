import t from 'tap'
import { parse as parseYaml } from 'yaml'
import { buildTestApp } from '../../helpers/app.ts'

async function setup (tt: Parameters<typeof buildTestApp>[0]) {
  const ctx = await buildTestApp(tt)
  const admin = async () => ({ authorization: `Bearer ${await ctx.token('admin')}` })
  return { ...ctx, admin }
}

t.test('writes need the ETag they replace: 428 without, 412 when stale; non-admins get 403', async (tt) => {
  const { app, admin, token } = await setup(tt)
  const read = await app.inject({ method: 'GET', url: '/v1/admin/catalogue/agencies/GASR', headers: await admin() })
  tt.equal(read.statusCode, 200)
  const etag = read.headers.etag as string
  const changed = { ...read.json(), name: { ...read.json().name, en: 'General Authority for State Registration (ХУР)' } }

  const without = await app.inject({ method: 'PUT', url: '/v1/admin/catalogue/agencies/GASR', headers: await admin(), payload: changed })
  tt.equal(without.statusCode, 428)
  tt.equal(without.json().code, 'PRECONDITION_REQUIRED')

  const ok = await app.inject({ method: 'PUT', url: '/v1/admin/catalogue/agencies/GASR', headers: { ...(await admin()), 'if-match': etag }, payload: changed })
  tt.equal(ok.statusCode, 200)
  tt.not(ok.headers.etag, etag)

  const stale = await app.inject({ method: 'PUT', url: '/v1/admin/catalogue/agencies/GASR', headers: { ...(await admin()), 'if-match': etag }, payload: changed })
  tt.equal(stale.statusCode, 412)
  tt.equal(stale.json().code, 'PRECONDITION_FAILED')

  const officer = await app.inject({ method: 'GET', url: '/v1/admin/catalogue/agencies/GASR', headers: { authorization: `Bearer ${await token('officer')}` } })
  tt.equal(officer.statusCode, 403)
  const anonymous = await app.inject({ method: 'DELETE', url: '/v1/admin/catalogue/agencies/GASR' })
  tt.equal(anonymous.statusCode, 401)

  const changes = (await app.inject({ method: 'GET', url: '/v1/admin/catalogue/changes?collection=agencies&key=GASR', headers: await admin() })).json().changes
  tt.match(changes[0], { action: 'update', actor: 'admin:admin-1', before: { name: { en: 'General Authority for State Registration' } }, after: { name: { en: /ХУР/ } } })
})

t.test('create with If-None-Match: *, bad references name the field, deletes refuse dangling references', async (tt) => {
  const { app, admin } = await setup(tt)
  const category = { code: 'local_culture', name: { mn: 'Соёл', en: 'Culture' }, mandated: false }
  const created = await app.inject({ method: 'PUT', url: '/v1/admin/catalogue/categories/local_culture', headers: { ...(await admin()), 'if-none-match': '*' }, payload: category })
  tt.equal(created.statusCode, 201)
  const twice = await app.inject({ method: 'PUT', url: '/v1/admin/catalogue/categories/local_culture', headers: { ...(await admin()), 'if-none-match': '*' }, payload: category })
  tt.equal(twice.statusCode, 412)

  const service = (await app.inject({ method: 'GET', url: '/v1/admin/catalogue/services?pageSize=1', headers: await admin() })).json().items[0]
  const read = await app.inject({ method: 'GET', url: `/v1/admin/catalogue/services/${service.code}`, headers: await admin() })
  const broken = await app.inject({
    method: 'PUT',
    url: `/v1/admin/catalogue/services/${service.code}`,
    headers: { ...(await admin()), 'if-match': read.headers.etag as string },
    payload: { ...service, category: 'no_such_category', agency: 'NOPE' },
  })
  tt.equal(broken.statusCode, 400)
  tt.same(broken.json().errors.map((e: any) => e.pointer).sort(), ['/agency', '/category'])

  const agencyRead = await app.inject({ method: 'GET', url: `/v1/admin/catalogue/agencies/${service.agency}`, headers: await admin() })
  const del = await app.inject({ method: 'DELETE', url: `/v1/admin/catalogue/agencies/${service.agency}`, headers: { ...(await admin()), 'if-match': agencyRead.headers.etag as string } })
  tt.equal(del.statusCode, 409)
  tt.ok(del.json().errors.length > 0)

  const catRead = await app.inject({ method: 'GET', url: '/v1/admin/catalogue/categories/local_culture', headers: await admin() })
  const gone = await app.inject({ method: 'DELETE', url: '/v1/admin/catalogue/categories/local_culture', headers: { ...(await admin()), 'if-match': catRead.headers.etag as string } })
  tt.equal(gone.statusCode, 204)
})

t.test('draft edits stay out of the public API until publish; versions restore', async (tt) => {
  const { app, admin } = await setup(tt)
  const list = (await app.inject({ method: 'GET', url: '/v1/services?pageSize=1' })).json()
  const code = list.items[0].code
  const before = (await app.inject({ method: 'GET', url: `/v1/services/${code}?lang=en` })).json()
  const read = await app.inject({ method: 'GET', url: `/v1/admin/catalogue/services/${code}`, headers: await admin() })
  const renamed = { ...read.json(), name: { ...read.json().name, en: 'Renamed in the draft' } }
  const put = await app.inject({ method: 'PUT', url: `/v1/admin/catalogue/services/${code}`, headers: { ...(await admin()), 'if-match': read.headers.etag as string }, payload: renamed })
  tt.equal(put.statusCode, 200)
  tt.equal((await app.inject({ method: 'GET', url: `/v1/services/${code}?lang=en` })).json().name, before.name, 'not public yet')

  const draft = await app.inject({ method: 'GET', url: '/v1/admin/catalogue/draft', headers: await admin() })
  // The changed fields, not the whole entity before and after.
  tt.same(draft.json().changesSincePublished, {
    services: { added: [], removed: [], changed: [{ key: code, fields: [{ op: 'replace', path: '/name/en', before: read.json().name.en, after: 'Renamed in the draft' }] }] },
  })
  tt.equal((await app.inject({ method: 'POST', url: '/v1/admin/catalogue/publish', headers: await admin(), payload: {} })).statusCode, 428)
  const published = await app.inject({ method: 'POST', url: '/v1/admin/catalogue/publish', headers: { ...(await admin()), 'if-match': draft.headers.etag as string }, payload: { note: 'rename' } })
  tt.equal(published.statusCode, 200)
  tt.equal(published.json().version, 2)
  tt.equal((await app.inject({ method: 'GET', url: `/v1/services/${code}?lang=en` })).json().name, 'Renamed in the draft')

  const versions = (await app.inject({ method: 'GET', url: '/v1/admin/catalogue/versions', headers: await admin() })).json().versions
  tt.same(versions.map((v: any) => [v.version, v.status]), [[3, 'draft'], [2, 'published'], [1, 'archived']])
  const diff = (await app.inject({ method: 'GET', url: '/v1/admin/catalogue/diff?from=1&to=2', headers: await admin() })).json()
  tt.same(Object.keys(diff.changes), ['services'])

  const draft3 = await app.inject({ method: 'GET', url: '/v1/admin/catalogue/draft', headers: await admin() })
  const restored = await app.inject({ method: 'POST', url: '/v1/admin/catalogue/versions/1/restore', headers: { ...(await admin()), 'if-match': draft3.headers.etag as string } })
  tt.equal(restored.statusCode, 200)
  await app.inject({ method: 'POST', url: '/v1/admin/catalogue/publish', headers: { ...(await admin()), 'if-match': restored.headers.etag as string }, payload: {} })
  tt.equal((await app.inject({ method: 'GET', url: `/v1/services/${code}?lang=en` })).json().name, before.name, 'version 1 is back')
  const again = await app.inject({ method: 'GET', url: '/v1/admin/catalogue/draft', headers: await admin() })
  const nothing = await app.inject({ method: 'POST', url: '/v1/admin/catalogue/publish', headers: { ...(await admin()), 'if-match': again.headers.etag as string }, payload: {} })
  tt.equal(nothing.statusCode, 409, 'nothing new to publish')
})

t.test('an import with three errors reports all three and changes nothing', async (tt) => {
  const { app, admin } = await setup(tt)
  const exportBefore = await app.inject({ method: 'GET', url: '/v1/admin/catalogue/export?format=yaml', headers: await admin() })
  tt.equal(exportBefore.statusCode, 200)
  tt.match(exportBefore.headers['content-type'], /application\/yaml/)
  const doc = parseYaml(exportBefore.body)
  doc.services[0].guide.feeMnt = -5
  doc.services[1].category = 'no_such_category'
  doc.standardLists[0].services.push('no.such-service')
  const draft = await app.inject({ method: 'GET', url: '/v1/admin/catalogue/draft', headers: await admin() })
  const res = await app.inject({
    method: 'POST',
    url: '/v1/admin/catalogue/import',
    headers: { ...(await admin()), 'if-match': draft.headers.etag as string, 'content-type': 'application/json' },
    payload: JSON.stringify(doc),
  })
  tt.equal(res.statusCode, 400)
  const pointers = res.json().errors.map((e: any) => e.pointer).sort()
  tt.equal(pointers.length, 3, JSON.stringify(res.json().errors))
  // By the item's key, not its place in the list.
  tt.same(pointers, [`/services/${doc.services[0].code}/guide/feeMnt`, `/services/${doc.services[1].code}/category`,
    `/standardLists/${doc.standardLists[0].level}/services/${doc.standardLists[0].services.length - 1}`].sort())
  const exportAfter = await app.inject({ method: 'GET', url: '/v1/admin/catalogue/export?format=yaml', headers: await admin() })
  tt.equal(exportAfter.body, exportBefore.body, 'the draft is unchanged')

  // The shape is checked first: a broken shape is reported on its own.
  const shape = await app.inject({ method: 'POST', url: '/v1/admin/catalogue/import', headers: { ...(await admin()), 'if-match': draft.headers.etag as string }, payload: { format: 'other' } })
  tt.equal(shape.statusCode, 400)

  // A good import, as YAML, replaces the draft.
  const good = parseYaml(exportBefore.body)
  good.agencies[0].name.en = 'Imported name'
  const yamlRes = await app.inject({
    method: 'POST',
    url: '/v1/admin/catalogue/import',
    headers: { ...(await admin()), 'if-match': draft.headers.etag as string, 'content-type': 'application/yaml' },
    payload: (await import('yaml')).stringify(good),
  })
  tt.equal(yamlRes.statusCode, 200)
  const stale = await app.inject({ method: 'POST', url: '/v1/admin/catalogue/import', headers: { ...(await admin()), 'if-match': draft.headers.etag as string }, payload: good })
  tt.equal(stale.statusCode, 412)
  const bad = await app.inject({ method: 'POST', url: '/v1/admin/catalogue/import', headers: { ...(await admin()), 'if-match': '*', 'content-type': 'application/yaml' }, payload: 'a: [unclosed' })
  tt.equal(bad.statusCode, 400)
})

t.test('a body in neither JSON nor YAML is refused naming both', async (tt) => {
  const { app, admin } = await setup(tt)
  const res = await app.inject({ method: 'POST', url: '/v1/admin/catalogue/import', headers: { ...(await admin()), 'if-match': '*', 'content-type': 'application/xml' }, payload: '<catalogue/>' })
  tt.equal(res.statusCode, 415)
  tt.equal(res.json().code, 'UNSUPPORTED_MEDIA_TYPE')
  tt.match(res.json().detail, /application\/json or application\/yaml/)
})

t.test('import problems point at items by key; a repeated or missing key keeps the index', async (tt) => {
  const { app, admin } = await setup(tt)
  const doc = (await app.inject({ method: 'GET', url: '/v1/admin/catalogue/export', headers: await admin() })).json()
  const i = doc.services.findIndex((s: any) => s.code === 'welfare.child-money')
  doc.services[i].guide.feeMnt = -1
  doc.availability[0].service = 'no.such-service'
  doc.agencies.push({ ...doc.agencies[0] })
  const res = await app.inject({ method: 'POST', url: '/v1/admin/catalogue/import', headers: { ...(await admin()), 'if-match': '*' }, payload: doc })
  tt.equal(res.statusCode, 400)
  const pointers = res.json().errors.map((e: any) => e.pointer)
  tt.ok(pointers.includes('/services/welfare.child-money/guide/feeMnt'), pointers.join(' '))
  tt.ok(pointers.includes(`/availability/${doc.availability[0].unit}~1no.such-service/service`), pointers.join(' '))
  tt.ok(pointers.includes(`/agencies/${doc.agencies.length - 1}`), 'the duplicate is pointed at by its index')
})
