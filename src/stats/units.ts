// Administrative unit codes are hierarchical prefixes: aimag or capital 2
// digits, soum or district 4, bag or khoroo 6. The country is ''.

export const COUNTRY = ''

// The country and every unit above and including `unit`, each with its parent.
export function ancestry (unit: string): Array<{ unit: string, parent: string | null }> {
  const out: Array<{ unit: string, parent: string | null }> = [{ unit: COUNTRY, parent: null }]
  for (let n = 2; n <= unit.length; n += 2) out.push({ unit: unit.slice(0, n), parent: unit.slice(0, n - 2) })
  return out
}

export function parentOf (unit: string): string | null {
  return unit === COUNTRY ? null : unit.slice(0, unit.length - 2)
}

// Whether `unit` is `scope` or beneath it.
export function within (unit: string, scope: string): boolean {
  return unit.startsWith(scope)
}
