import t from 'tap'
import { maskRegnum, maskRegnumsInText, normalizeRegnum, parseRegnum } from '../../src/domain/regnum.ts'

const TODAY = new Date('2026-11-23T00:00:00Z')

t.test('normalisation: trim, upper case, unambiguous Latin look-alikes', async (tt) => {
  tt.equal(normalizeRegnum(' аа00112233 '), 'АА00112233')
  tt.equal(normalizeRegnum('AA00112233'), 'АА00112233', 'Latin A maps to Cyrillic А')
  tt.equal(normalizeRegnum('ХК 9103-1512'), 'ХК91031512')
  tt.equal(normalizeRegnum('УБ99032712'), 'УБ99032712')
})

t.test('valid numbers give the birth date and sex', async (tt) => {
  tt.match(parseRegnum('УБ99032712', TODAY), { ok: true, value: 'УБ99032712', birthDate: '1999-03-27', sex: 'male' })
  tt.match(parseRegnum('ӨЮ05231024', TODAY), { ok: true, birthDate: '2005-03-10', sex: 'female' }, 'month + 20 for births from 2000')
  tt.match(parseRegnum('ҮЁ00222951', TODAY), { ok: true, birthDate: '2000-02-29', sex: 'male' }, 'letters Ү Ё; 2000 was a leap year')
})

t.test('each rule has its own failure', async (tt) => {
  tt.match(parseRegnum('АА001122', TODAY), { ok: false, rule: 'length' })
  tt.match(parseRegnum('DD00112233', TODAY), { ok: false, rule: 'letters' })
  tt.match(parseRegnum('YБ00112233', TODAY), { ok: false, rule: 'ambiguous_letter' })
  tt.match(parseRegnum('АА0011223X', TODAY), { ok: false, rule: 'digits' })
  tt.match(parseRegnum('АА99133112', TODAY), { ok: false, rule: 'birth_date' }, 'month 13')
  tt.match(parseRegnum('АА99023012', TODAY), { ok: false, rule: 'birth_date' }, '30 February')
  tt.match(parseRegnum('АА01022912', TODAY), { ok: false, rule: 'birth_date' }, '29 February 1901')
  tt.match(parseRegnum('АА00022912', TODAY), { ok: false, rule: 'birth_date' }, '1900 was not a leap year')
  tt.match(parseRegnum('АА30320112', TODAY), { ok: false, rule: 'birth_date' }, 'born in 2030')
})

t.test('masking keeps the first two and last two characters', async (tt) => {
  tt.equal(maskRegnum('АА00112233'), 'АА******33')
  tt.equal(maskRegnumsInText('/v1/citizens/АА00112233/land?x=УБ99032712'), '/v1/citizens/АА******33/land?x=УБ******12')
  tt.equal(maskRegnumsInText('/v1/citizens/%D0%90%D0%9000112233'), '/v1/citizens/%D0%90%D0%90******33')
})
