// Fixed histogram bounds for durations, in seconds. Percentiles are read from
// the histogram, so roll-ups stay additive; the day bounds include every
// standard processing time the catalogue uses, so "decided within the
// standard time" is exact for them.
const MINUTE = 60
const HOUR = 3600
const DAY = 86400

export const BUCKET_BOUNDS_S: readonly number[] = [
  1 * MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  1 * HOUR, 4 * HOUR, 12 * HOUR,
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 20, 21, 30, 45, 60, 90, 180].map((d) => d * DAY),
]

// Bucket i holds durations in [bound[i-1], bound[i]); the last one is open.
export const BUCKETS = BUCKET_BOUNDS_S.length + 1

export function bucketOf (seconds: number): number {
  let i = 0
  while (i < BUCKET_BOUNDS_S.length && seconds >= BUCKET_BOUNDS_S[i]!) i++
  return i
}

export function emptyHistogram (): number[] {
  return new Array<number>(BUCKETS).fill(0)
}

// The q-quantile in seconds, interpolated linearly within its bucket; null
// for an empty histogram. In the open last bucket it is that bucket's lower
// bound (a floor, said so in the indicator's definition).
export function quantileSeconds (hist: readonly number[], q: number): number | null {
  const total = hist.reduce((a, b) => a + b, 0)
  if (total === 0) return null
  const rank = q * total
  let below = 0
  for (let i = 0; i < hist.length; i++) {
    const n = hist[i]!
    if (n > 0 && below + n >= rank) {
      const lo = i === 0 ? 0 : BUCKET_BOUNDS_S[i - 1]!
      const hi = BUCKET_BOUNDS_S[i]
      if (hi === undefined) return lo
      return lo + (hi - lo) * Math.max(0, rank - below) / n
    }
    below += n
  }
  return BUCKET_BOUNDS_S[BUCKET_BOUNDS_S.length - 1]!
}

// How many durations were under `days` days (0 days: under one day). Exact
// when the limit is one of the bounds; otherwise those under the bound below it.
export function countWithinDays (hist: readonly number[], days: number): number {
  const limit = Math.max(1, days) * DAY
  let n = 0
  for (let i = 0; i < BUCKET_BOUNDS_S.length && BUCKET_BOUNDS_S[i]! <= limit; i++) n += hist[i]!
  return n
}
