import type { AdminUnits } from './admin-units.ts'

// How the emulator issues registration numbers. The real check-digit algorithm
// is not published, so the emulator uses its own (a weighted sum mod 11); the
// gateway must never validate against it, and checkCitizenRegnum answers from
// the register, as the real civil-registration service does.

// Letters used for place codes: Cyrillic capitals without the rare and the
// sign letters, so every pair reads like a real one.
const PLACE_LETTERS = 'АБВГДЕЖЗИКЛМНОӨПРСТУҮФХЦЧШЭЮЯ'
const ALPHABET = 'АБВГДЕЁЖЗИЙКЛМНОӨПРСТУҮФХЦЧШЩЪЫЬЭЮЯ'
const WEIGHTS = [7, 3, 1, 7, 3, 1, 7, 3, 1, 7]

export function checkDigit (letters: string, digits: string): number {
  const values = [...letters].map((ch) => ALPHABET.indexOf(ch) + 1).concat([...digits].map(Number))
  const sum = values.reduce((acc, v, i) => acc + v * (WEIGHTS[i] ?? 1), 0)
  return (sum % 11) % 10
}

export function birthDigits (isoDate: string): string {
  const year = Number(isoDate.slice(0, 4))
  const month = Number(isoDate.slice(5, 7)) + (year >= 2000 ? 20 : 0)
  return `${String(year % 100).padStart(2, '0')}${String(month).padStart(2, '0')}${isoDate.slice(8, 10)}`
}

// Place letters per soum/district: the first letter names the aimag or the
// capital, the second the soum or district within it (synthetic assignment).
export function placeLetters (units: AdminUnits): ReadonlyMap<string, string> {
  const tops = units.all.filter((u) => u.parent === null).sort((a, b) => a.code.localeCompare(b.code))
  const out = new Map<string, string>()
  tops.forEach((top, ti) => {
    const middles = units.all.filter((u) => u.parent === top.code && u.code.length === 4).sort((a, b) => a.code.localeCompare(b.code))
    middles.forEach((m, mi) => {
      out.set(m.code, `${PLACE_LETTERS[ti % PLACE_LETTERS.length]}${PLACE_LETTERS[mi % PLACE_LETTERS.length]}`)
    })
  })
  return out
}

export function alternateLetters (letters: string, step: number): string {
  const first = letters[0] ?? 'А'
  const second = PLACE_LETTERS.indexOf(letters[1] ?? 'А')
  return first + PLACE_LETTERS[(second + step) % PLACE_LETTERS.length]
}

// Compose a registration number; the sex digit is odd for men, even for women.
export function composeRegnum (letters: string, isoBirthDate: string, sexDigit: number): string {
  const digits = `${birthDigits(isoBirthDate)}${sexDigit}`
  return `${letters}${digits}${checkDigit(letters, digits)}`
}
