import { readFileSync } from 'node:fs'
import { join } from 'node:path'

// The national statistics code list, read from the project's seed copy at run
// time (never from ../shared). A child's code starts with its parent's code.
export type UnitLevel = 'capital' | 'aimag' | 'district' | 'soum' | 'khoroo' | 'bag'

export interface AdminUnit {
  code: string
  name_mn: string
  name_en?: string
  level: UnitLevel
  parent: string | null
}

export interface AdminUnits {
  all: readonly AdminUnit[]
  byCode: ReadonlyMap<string, AdminUnit>
  // Bags and khoroos: the units people live in.
  homes: readonly AdminUnit[]
  khoroos: readonly AdminUnit[]
  bags: readonly AdminUnit[]
  // The aimag/capital and soum/district above a bag or khoroo.
  chain: (code: string) => { top: AdminUnit, middle: AdminUnit, home: AdminUnit }
}

export const ADMIN_UNITS_FILE = join(import.meta.dirname, '..', '..', 'seed', 'mn-admin-units.json')

let cached: AdminUnits | undefined

export function loadAdminUnits (file: string = ADMIN_UNITS_FILE): AdminUnits {
  if (cached !== undefined && file === ADMIN_UNITS_FILE) return cached
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { units: AdminUnit[] }
  const byCode = new Map(doc.units.map((u) => [u.code, u]))
  const khoroos = doc.units.filter((u) => u.level === 'khoroo')
  const bags = doc.units.filter((u) => u.level === 'bag')
  const chain = (code: string): { top: AdminUnit, middle: AdminUnit, home: AdminUnit } => {
    const home = byCode.get(code)
    const middle = home?.parent == null ? undefined : byCode.get(home.parent)
    const top = middle?.parent == null ? undefined : byCode.get(middle.parent)
    if (home === undefined || middle === undefined || top === undefined) {
      throw new RangeError(`unit ${code} is not a bag or khoroo with a full parent chain`)
    }
    return { top, middle, home }
  }
  const units: AdminUnits = { all: doc.units, byCode, homes: [...khoroos, ...bags], khoroos, bags, chain }
  if (file === ADMIN_UNITS_FILE) cached = units
  return units
}
