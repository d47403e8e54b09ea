import { createHash } from 'node:crypto'

// A small, fast, seedable generator (sfc32). Math.random is never used for
// generated data: the same seed must give the same registry on every machine.
export interface Random {
  // Uniform in [0, 1).
  next: () => number
  // Integer in [min, max], both inclusive.
  int: (min: number, max: number) => number
  pick: <T>(items: readonly T[]) => T
  chance: (p: number) => boolean
}

export function seedWords (...parts: Array<string | number>): [number, number, number, number] {
  const digest = createHash('sha256').update(parts.join('\u001f')).digest()
  return [digest.readUInt32LE(0), digest.readUInt32LE(4), digest.readUInt32LE(8), digest.readUInt32LE(12)]
}

export function createRandom (...seedParts: Array<string | number>): Random {
  let [a, b, c, d] = seedWords(...seedParts)
  const next = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0
    let t = (a + b) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    d = (d + 1) | 0
    t = (t + d) | 0
    c = (c + t) | 0
    return (t >>> 0) / 4294967296
  }
  // Discard the first outputs: sfc32 mixes poorly right after seeding.
  for (let i = 0; i < 12; i++) next()
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1))
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new RangeError('pick from an empty list')
      return items[int(0, items.length - 1)] as T
    },
    chance: (p: number) => next() < p,
  }
}
