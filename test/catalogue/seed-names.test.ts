import t from 'tap'
import { buildSeedDocument } from '../../src/catalogue/seed.ts'

// Names are shown, searched and compared as they are: a stray space makes
// "Эрдэнэтолгой " a different bag from "Эрдэнэтолгой".
const STRAY = /^\s|\s$|\s{2}|[^\S ]/u

function* names (value: unknown, path: string): Generator<[string, string]> {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) yield * names(v, `${path}/${i}`)
  } else if (value !== null && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'name' && v !== null && typeof v === 'object') {
        for (const [lang, text] of Object.entries(v)) yield [`${path}/name/${lang}`, text as string]
      } else {
        yield * names(v, `${path}/${key}`)
      }
    }
  }
}

t.test('no seed name, mn or en, has stray whitespace', async (tt) => {
  const doc = buildSeedDocument()
  const all = [...names(doc, '')]
  // Every unit, agency, category and service has a name in both languages.
  tt.ok(all.length >= 2 * (doc.units.length + doc.agencies.length + doc.categories.length + doc.services.length))
  const stray = all.filter(([, text]) => typeof text !== 'string' || STRAY.test(text)).map(([path, text]) => `${path}: ${JSON.stringify(text)}`)
  tt.same(stray, [], 'names with leading, trailing, doubled or non-space whitespace')
})
