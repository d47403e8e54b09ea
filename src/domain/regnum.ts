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

// One character of a text as the gateway may have received it: raw, or
// percent-encoded UTF-8 (`%D0%9A` is К), so masking keeps the text's form.
interface Unit { ch: string, raw: string }

function utf8Length (firstByte: number): number {
  if (firstByte < 0x80) return 1
  if (firstByte >= 0xC2 && firstByte <= 0xDF) return 2
  if (firstByte >= 0xE0 && firstByte <= 0xEF) return 3
  if (firstByte >= 0xF0 && firstByte <= 0xF4) return 4
  return 0
}

const HEX_BYTE = /^%[0-9A-Fa-f]{2}$/

function unitsOf (text: string): Unit[] {
  const units: Unit[] = []
  let i = 0
  while (i < text.length) {
    if (text[i] === '%' && HEX_BYTE.test(text.slice(i, i + 3))) {
      const n = utf8Length(parseInt(text.slice(i + 1, i + 3), 16))
      const raw = text.slice(i, i + 3 * n)
      if (n > 0 && /^(?:%[0-9A-Fa-f]{2})+$/.test(raw) && raw.length === 3 * n) {
        const ch = Buffer.from(raw.replaceAll('%', ''), 'hex').toString('utf8')
        if (!ch.includes('\uFFFD')) {
          units.push({ ch, raw })
          i += raw.length
          continue
        }
      }
    }
    const ch = String.fromCodePoint(text.codePointAt(i)!)
    units.push({ ch, raw: ch })
    i += ch.length
  }
  return units
}

const LETTER = /^\p{L}$/u
const DIGIT = /^\p{Nd}$/u
// What people and forms put inside a number: spaces, dashes, dots,
// underscores, a form-encoded '+', soft hyphens and zero-width characters.
const SEPARATOR = /^[\s\u2010-\u2015\u2212+._\u00AD\u200B-\u200D\u2060\uFEFF-]$/u
// A letter pair inside a word, an id or a hash is not a number's start.
const WORD = /^[\p{L}\p{N}]$/u
const UUID = /([0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})/
const MAX_SEPARATORS = 3

function skipSeparators (units: Unit[], at: number): number {
  let i = at
  while (i < units.length && i - at < MAX_SEPARATORS && SEPARATOR.test(units[i]!.ch)) i++
  return i
}

// Where a registration number in any spelling starts at `start`: two letters
// (Cyrillic, Latin look-alikes, either case, fullwidth) and eight digits (any
// script's, fullwidth too), with separators between. Returns the indexes of
// its letters and digits, or undefined.
function numberAt (units: Unit[], start: number): number[] | undefined {
  if (!LETTER.test(units[start]!.ch)) return undefined
  if (start > 0 && WORD.test(units[start - 1]!.ch)) return undefined
  const picked = [start]
  let i = skipSeparators(units, start + 1)
  if (i >= units.length || !LETTER.test(units[i]!.ch)) return undefined
  picked.push(i)
  i++
  while (picked.length < 10) {
    i = skipSeparators(units, i)
    if (i >= units.length || !DIGIT.test(units[i]!.ch)) return undefined
    picked.push(i)
    i++
  }
  return picked
}

function maskSpellings (text: string): string {
  const units = unitsOf(text)
  let out = ''
  let i = 0
  while (i < units.length) {
    const picked = numberAt(units, i)
    if (picked === undefined) {
      out += units[i]!.raw
      i++
      continue
    }
    const [a, b, , , , , , , y, z] = picked.map((k) => units[k]!.raw)
    out += `${a}${b}******${y}${z}`
    i = picked[9]! + 1
  }
  return out
}

// Masks anything shaped like a registration number inside free text such as a
// request URL or an error message: raw or percent-encoded, with separators,
// Latin look-alike letters, other cases, fullwidth digits or zero-width
// characters inside, whether or not the gateway would accept that spelling.
export function maskRegnumsInText (text: string): string {
  if (!/[\p{Nd}%]/u.test(text)) return text
  return text.split(UUID).map((part, i) => i % 2 === 1 ? part : maskSpellings(part)).join('')
}
