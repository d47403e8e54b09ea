import t from 'tap'
import { searchKey, transliterate } from '../../src/domain/transliterate.ts'

t.test('MNS 5217 transliteration', async (tt) => {
  tt.equal(transliterate('Улаанбаатар'), 'Ulaanbaatar')
  tt.equal(transliterate('Өвөрхангай'), 'Övörkhangai')
  tt.equal(transliterate('Өвөрхангай', { ascii: true }), 'Ovorkhangai')
  tt.equal(transliterate('Хүүхдийн мөнгө'), 'Khüükhdiin möngö')
  tt.equal(transliterate('Цэцэрлэг, Ёлоо, Юу, Яаж, Щ'), 'Tsetserleg, Yoloo, Yuu, Yaaj, Shch')
  tt.equal(transliterate('1-р баг'), '1-r bag')
})

t.test('search keys tolerate Cyrillic and Latin spellings of one word', async (tt) => {
  const key = searchKey('хүүхэд')
  for (const spelling of ['khuukhed', 'huuhed', 'Khüükhed', 'xuuxed', 'ХҮҮХЭД']) tt.equal(searchKey(spelling), key, spelling)
  tt.equal(searchKey('Цагаан сар'), searchKey('tsagaan sar'))
  tt.equal(searchKey('Ерөнхий'), searchKey('eronhii'))
  tt.not(searchKey('газар'), searchKey('хүүхэд'))
})
