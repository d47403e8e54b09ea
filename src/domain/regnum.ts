// Mongolian civil registration number (регистрийн дугаар, РД): two Cyrillic
// letters, birth date YYMMDD, a sex digit and a check digit. The check-digit
// algorithm is not published, so only format and date plausibility are checked
// here; the civil-registration service is the authority on existence.

// Mongolian Cyrillic capitals, including Ё, Ө and Ү.
const CYRILLIC = 'АБВГДЕЁЖЗИЙКЛМНОӨПРСТУҮФХЦЧШЩЪЫЬЭЮЯ'

// Latin capitals that look exactly like one Cyrillic capital. Y is left out on
// purpose: it looks like both У and Ү, so mapping it would be a guess.
const LATIN_LOOKALIKES: Readonly<Record<string, string>> = {
  A: 'А', B: 'В', E: 'Е', K: 'К', M: 'М', H: 'Н', O: 'О', P: 'Р', C: 'С', T: 'Т', X: 'Х',
}

export type RegnumRule = 'length' | 'letters' | 'ambiguous_letter' | 'digits' | 'birth_date'

export type RegnumResult =
  | { ok: true, value: string, birthDate: string, sex: 'male' | 'female' }
  | { ok: false, rule: RegnumRule, message: string }

export const REGNUM_PATTERN = `^[${CYRILLIC}]{2}[0-9]{8}$`
const SHAPE = new RegExp(REGNUM_PATTERN)

export function normalizeRegnum (input: string): string {
  const compact = input.normalize('NFC').replace(/[\s-]+/g, '').toUpperCase()
  let out = ''
  for (const [i, ch] of [...compact].entries()) {
    out += i < 2 ? (LATIN_LOOKALIKES[ch] ?? ch) : ch
  }
  return out
}

function daysInMonth (year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate()
}

export function parseRegnum (input: string, today: Date = new Date()): RegnumResult {
  const value = normalizeRegnum(input)
  const chars = [...value]
  if (chars.length !== 10) {
    return { ok: false, rule: 'length', message: 'a registration number is 2 Cyrillic letters followed by 8 digits' }
  }
  for (const ch of chars.slice(0, 2)) {
    if (ch === 'Y') return { ok: false, rule: 'ambiguous_letter', message: "the Latin letter 'Y' could be 'У' or 'Ү'; type the Cyrillic letter" }
    if (!CYRILLIC.includes(ch)) return { ok: false, rule: 'letters', message: 'the first two characters must be Cyrillic letters' }
  }
  if (!SHAPE.test(value)) {
    return { ok: false, rule: 'digits', message: 'the last 8 characters must be digits' }
  }
  const yy = Number(value.slice(2, 4))
  let mm = Number(value.slice(4, 6))
  const dd = Number(value.slice(6, 8))
  // People born from 2000 on have 20 added to the month.
  let year = 1900 + yy
  if (mm > 20) {
    mm -= 20
    year = 2000 + yy
  }
  if (mm < 1 || mm > 12 || dd < 1 || dd > daysInMonth(year, mm)) {
    return { ok: false, rule: 'birth_date', message: 'digits 1-6 must be a real birth date YYMMDD (month + 20 for births from 2000)' }
  }
  const birth = Date.UTC(year, mm - 1, dd)
  if (birth > today.getTime()) {
    return { ok: false, rule: 'birth_date', message: 'the birth date in the registration number is in the future' }
  }
  const sexDigit = Number(value[8])
  return {
    ok: true,
    value,
    birthDate: `${year}-${String(mm).padStart(2, '0')}-${String(dd).padStart(2, '0')}`,
    sex: sexDigit % 2 === 1 ? 'male' : 'female',
  }
}

// АА00112233 -> АА******33, for logs.
export function maskRegnum (value: string): string {
  const chars = [...value]
  if (chars.length < 4) return '*'.repeat(chars.length)
  return chars.slice(0, 2).join('') + '*'.repeat(chars.length - 4) + chars.slice(-2).join('')
}

const IN_TEXT = new RegExp(`[${CYRILLIC}A-Za-z]{2}[0-9]{8}`, 'gu')
const IN_ENCODED_TEXT = /(?:%D[0-4]%[89AB][0-9A-F]){2}[0-9]{8}/gi

// Masks anything shaped like a registration number, raw or percent-encoded,
// inside free text such as a request URL.
export function maskRegnumsInText (text: string): string {
  return text
    .replace(IN_TEXT, (m) => maskRegnum(m))
    .replace(IN_ENCODED_TEXT, (m) => m.slice(0, -8) + '******' + m.slice(-2))
}
