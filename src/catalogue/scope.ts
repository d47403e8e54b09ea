// An OSS serves the units below it: an officer's scope is their unit and every
// unit beneath it (soum → bags, district → khoroos, aimag → soums and bags).
// Codes are hierarchical (a unit's code starts with its parent's, which the
// catalogue validation enforces), so the subtree is a code prefix; that also
// holds for applications of units a later catalogue version removed.
export function withinScope (scope: string, unit: string): boolean {
  return unit.startsWith(scope)
}
