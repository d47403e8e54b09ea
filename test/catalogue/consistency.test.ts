import t from 'tap'
import { consistencyReport, reportCsv } from '../../src/catalogue/consistency.ts'
import { buildSeedDocument } from '../../src/catalogue/seed.ts'
import { createSnapshot } from '../../src/catalogue/snapshot.ts'
import { loadAdapters } from '../../src/adapters/load.ts'
import { buildTestApp } from '../helpers/app.ts'

const seed = buildSeedDocument()
const operations = new Set((await loadAdapters()).map((a) => a.operation))
const report = consistencyReport(createSnapshot(1, 'seed', seed), (op) => operations.has(op))
const find = (kind: string, unit: string | null, service?: string) =>
  report.findings.some((f) => f.kind === kind && f.unit === unit && (service === undefined || f.service === service))

t.test('the report finds the local gaps the seed catalogue contains', async (tt) => {
  // Тайшир soum has no land officer.
  for (const s of ['land.ger-plot-ownership', 'land.possession-certificate', 'land.possession-extension']) {
    tt.ok(find('missing_standard_service', '8225', s), `8225 lacks ${s}`)
  }
  // Цагаан нуур cannot take biometrics for ID cards.
  tt.ok(find('missing_standard_service', '6749', 'civil.id-card-replacement'))
  // Түргэн has no notary: a whole mandated category is missing.
  tt.ok(report.findings.some((f) => f.kind === 'missing_mandated_category' && f.unit === '8543' && f.category === 'bank_notary'))
  // Bag 10 of Дэлүүн offers nothing at all.
  tt.ok(find('no_service', '832269'))
  // Units and their parents competing for the same people.
  tt.ok(find('competing_offer', '8201', 'notary.inheritance-certificate'))
  tt.ok(find('competing_offer', '8301', 'land.transfer'))
  tt.ok(find('competing_offer', '111675', 'welfare.social-pension'))
  // Veterinary services are offered only as local additions, at levels with no list for them…
  tt.ok(report.findings.some((f) => f.kind === 'unlisted_service' && f.unit === '8322' && f.category === 'veterinary'))
  // …and are delivered by an adapter that does not exist yet.
  const missing = report.findings.filter((f) => f.kind === 'unknown_adapter').map((f) => f.service).sort()
  tt.same(missing, seed.services.filter((s) => s.category === 'veterinary').map((s) => s.code).sort())
  tt.equal(report.counts.unknown_adapter, 5)
  tt.ok(report.byAimag['82']! >= 4, 'counted by aimag')
  tt.notOk(report.findings.some((f) => f.unit === '0101'), 'no finding for a unit that does not exist')
})

t.test('filters by level and unit, and the CSV', async (tt) => {
  const soums = consistencyReport(createSnapshot(1, 'seed', seed), (op) => operations.has(op), { level: 'soum' })
  tt.ok(soums.findings.length > 0 && soums.findings.every((f) => f.level === 'soum'))
  const gobiAltai = consistencyReport(createSnapshot(1, 'seed', seed), (op) => operations.has(op), { unit: '82' })
  tt.ok(gobiAltai.findings.every((f) => f.unit?.startsWith('82')))
  const csv = reportCsv(gobiAltai)
  const lines = csv.trimEnd().split('\r\n')
  tt.equal(lines[0], 'kind,aimag,unit,level,service,category,detail')
  // Then the counts by aimag, as in the JSON's byAimag.
  const summary = lines.indexOf('aimag,findings')
  tt.equal(summary, gobiAltai.findings.length + 2, 'after the findings and an empty line')
  tt.equal(lines[summary - 1], '')
  tt.same(Object.fromEntries(lines.slice(summary + 1).map((l) => { const [a, n] = l.split(','); return [a, Number(n)] })), gobiAltai.byAimag)
  tt.ok(Object.keys(gobiAltai.byAimag).length > 0)
})

t.test('GET /v1/admin/catalogue/consistency, as JSON and CSV', async (tt) => {
  const { app, token } = await buildTestApp(tt)
  const headers = { authorization: `Bearer ${await token('admin')}` }
  const json = await app.inject({ method: 'GET', url: '/v1/admin/catalogue/consistency?level=soum', headers })
  tt.equal(json.statusCode, 200)
  tt.ok(json.json().counts.missing_standard_service > 0)
  const csv = await app.inject({ method: 'GET', url: '/v1/admin/catalogue/consistency?unit=8543&format=csv', headers: { authorization: `Bearer ${await token('admin')}` } })
  tt.match(csv.headers['content-type'], /^text\/csv/)
  tt.match(csv.headers['content-disposition'], /attachment; filename="consistency-v1\.csv"/)
  tt.match(csv.body, /missing_mandated_category,85,8543,soum,,bank_notary,/)
})
