import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { INDICATOR_CODES, INDICATORS_FILE, indicatorByCode, label, loadIndicators } from '../../src/stats/indicators.ts'
import { AGE_BANDS, CHANNELS, SEXES } from '../../src/stats/model.ts'

// The indicator catalogue (seed/indicators.yaml) and its loader: the file is
// the contract the computations are written to, so its codes, its languages
// and its shape are checked here.

const catalogue = loadIndicators()
const CYRILLIC = /[А-Яа-яӨөҮүЁё]/

t.test('the seed file loads and validates', async (tt) => {
  tt.equal(catalogue.format, 'oss-indicators/1')
  tt.ok(Number.isInteger(catalogue.version) && catalogue.version >= 1)
  tt.match(catalogue.published, /^\d{4}-\d{2}-\d{2}$/)
  tt.same(Object.keys(catalogue.dimensions.channel.values ?? {}), [...CHANNELS])
  tt.same(Object.keys(catalogue.dimensions.sex.values ?? {}), [...SEXES])
  tt.same(Object.keys(catalogue.dimensions.age_band.values ?? {}), [...AGE_BANDS])
  tt.same(Object.keys(catalogue.dimensions.result.values ?? {}), ['ok', 'partial', 'failed', 'denied'])
  tt.equal(catalogue.units.percent.en, '%')
})

t.test('the codes are exactly INDICATOR_CODES, each once', async (tt) => {
  const codes = catalogue.indicators.map((i) => i.code)
  tt.same(codes, [...INDICATOR_CODES])
  tt.equal(new Set(codes).size, codes.length)
})

t.test('every indicator is written in both languages, the Mongolian in Cyrillic', async (tt) => {
  for (const indicator of catalogue.indicators) {
    for (const field of ['name', 'definition', 'computation'] as const) {
      const text = indicator[field]
      tt.ok(text.mn.trim().length > 0 && text.en.trim().length > 0, `${indicator.code} ${field} in both languages`)
      tt.match(text.mn, CYRILLIC, `${indicator.code} ${field} mn is Cyrillic`)
    }
  }
  for (const dimension of Object.values(catalogue.dimensions)) {
    tt.match(dimension.name.mn, CYRILLIC)
    for (const value of Object.values(dimension.values ?? {})) tt.match(value.mn, CYRILLIC)
  }
})

t.test('distinct counts are by month or year only; stocks have no grains', async (tt) => {
  tt.same(indicatorByCode(catalogue, 'applications.persons_served')?.grains, ['month', 'year'])
  tt.same(indicatorByCode(catalogue, 'applications.persons_served')?.dimensions, ['unit', 'sex', 'age_band'])
  const stocks = catalogue.indicators.filter((i) => i.kind === 'stock')
  tt.same(stocks.map((i) => i.code), ['backlog.open', 'backlog.overdue', 'coverage.mandated_categories', 'coverage.standard_list'])
  for (const stock of stocks) tt.same(stock.grains, [], `${stock.code} has no grains`)
  for (const flow of catalogue.indicators.filter((i) => i.kind !== 'stock')) tt.ok(flow.grains.length > 0, `${flow.code} has grains`)
})

t.test('suppression applies to what counts people or their applications', async (tt) => {
  for (const indicator of catalogue.indicators) {
    const unsuppressed = indicator.code.startsWith('mobile.') || indicator.code.startsWith('coverage.')
    tt.equal(indicator.suppressed, !unsuppressed, indicator.code)
  }
})

t.test('lookups and labels', async (tt) => {
  const received = indicatorByCode(catalogue, 'applications.received')!
  tt.equal(label(received.name, 'en'), 'Applications received')
  tt.equal(label(received.name, 'mn'), 'Хүлээн авсан өргөдөл')
  tt.equal(indicatorByCode(catalogue, 'no.such'), undefined)
  tt.equal(indicatorByCode(catalogue, 'applications.persons_served')?.sdg, '1.3.1 (proxy)')
})

t.test('a broken copy is refused with the pointer of the problem', async (tt) => {
  const dir = mkdtempSync(join(tmpdir(), 'oss-indicators-'))
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const seed = parse(readFileSync(INDICATORS_FILE, 'utf8')) as { indicators: Array<Record<string, unknown>> }
  const broken = (name: string, change: (doc: typeof seed) => void) => {
    const doc = structuredClone(seed)
    change(doc)
    const file = join(dir, `${name}.yaml`)
    writeFileSync(file, stringify(doc))
    return () => loadIndicators(file)
  }

  tt.throws(broken('unit', (d) => { d.indicators[2]!.unit = 'litres' }), /at \/indicators\/2\/unit: /)
  tt.throws(broken('duplicate', (d) => { d.indicators.push(structuredClone(d.indicators[0]!)) }), new RegExp(`at /indicators/${seed.indicators.length}/code: duplicate code applications.received`))
  tt.throws(broken('mn-name', (d) => { delete (d.indicators[1]!.name as Record<string, unknown>).mn }), /at \/indicators\/1\/name\/mn: /)
  tt.throws(broken('unknown-code', (d) => { d.indicators[0]!.code = 'applications.invented' }), /at \/indicators\/0\/code: /)
  tt.throws(broken('bad-code', (d) => { d.indicators[0]!.code = 'Applications' }), /at \/indicators\/0\/code: /)
  tt.throws(broken('missing', (d) => { d.indicators.pop() }), /at \/indicators: missing coverage.standard_list/)
  tt.throws(broken('stock-grains', (d) => { d.indicators.find((i) => i.code === 'backlog.open')!.grains = ['day'] }), /at \/indicators\/\d+\/grains: /)
  tt.throws(broken('extra', (d) => { d.indicators[0]!.owner = 'nobody' }), /at \/indicators\/0\/owner: /)
  tt.throws(broken('channel', (d) => { delete (d as unknown as { dimensions: { channel: { values: Record<string, unknown> } } }).dimensions.channel.values.online }), /at \/dimensions\/channel\/values\/online: /)
  // The untouched copy still loads: the refusals above are the changes'.
  tt.equal(broken('same', () => {})().indicators.length, INDICATOR_CODES.length)
})
