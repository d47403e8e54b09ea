import t from 'tap'
import { diffFields } from '../../src/catalogue/diff.ts'

t.test('changed fields as JSON pointers with before and after', async (tt) => {
  const before = { code: 'a/b', name: { mn: 'Нэр', en: 'Name' }, guide: { steps: [{ en: 'one' }, { en: 'two' }], feeMnt: 0 }, channels: ['online'], note: 'x' }
  const after = { code: 'a/b', name: { mn: 'Нэр', en: 'Renamed' }, guide: { steps: [{ en: 'one' }, { en: '2' }], feeMnt: 500 }, channels: ['online', 'mobile_oss'], 'a/b': 1 }
  tt.same(diffFields(before, after), [
    { op: 'replace', path: '/channels', before: ['online'], after: ['online', 'mobile_oss'] },
    { op: 'replace', path: '/guide/feeMnt', before: 0, after: 500 },
    { op: 'replace', path: '/guide/steps/1/en', before: 'two', after: '2' },
    { op: 'replace', path: '/name/en', before: 'Name', after: 'Renamed' },
    { op: 'remove', path: '/note', before: 'x' },
    { op: 'add', path: '/a~1b', after: 1 },
  ])
  tt.same(diffFields(before, structuredClone(before)), [])
})
