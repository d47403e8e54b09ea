// Writes that arrive in the same turn of the event loop leave as one group:
// one round trip and one commit for all of them instead of one each. Under
// load many requests are read in one turn; alone, a write waits for nothing.

export interface GrouperOptions<T, R> {
  maxGroup: number
  // Entries with the same identity never share a group: a repeat goes in the next.
  identity?: (entry: T) => string
  // One result per entry, in order.
  write(group: T[]): Promise<R[]>
  // Whether a failed group is written again one entry at a time, so that one
  // bad entry cannot fail its neighbours; otherwise each gets the error.
  isolate?: (err: unknown) => boolean
  // Groups written at once (unbounded by default). With 1, what arrives while
  // a group is being written waits for it and leaves as the next group: at a
  // few hundred writes a second, groups of several instead of one each.
  maxInFlight?: number
}

interface Waiting<T, R> {
  entry: T
  resolve(result: R): void
  reject(err: unknown): void
}

export function createGrouper<T, R> (options: GrouperOptions<T, R>) {
  let waiting: Array<Waiting<T, R>> = []
  let scheduled = false
  const maxInFlight = options.maxInFlight ?? Infinity
  let inFlight = 0

  function start (group: Array<Waiting<T, R>>): void {
    inFlight++
    void write(group).finally(() => {
      inFlight--
      if (waiting.length > 0) schedule()
    })
  }

  async function write (group: Array<Waiting<T, R>>): Promise<void> {
    let results: R[]
    try {
      results = await options.write(group.map((w) => w.entry))
    } catch (err) {
      if (group.length > 1 && options.isolate?.(err) === true) {
        await Promise.all(group.map((w) => write([w])))
        return
      }
      for (const w of group) w.reject(err)
      return
    }
    group.forEach((w, i) => w.resolve(results[i]!))
  }

  function flush (): void {
    scheduled = false
    // The group in flight schedules the next when it ends.
    if (inFlight >= maxInFlight) return
    const all = waiting
    waiting = []
    const seen = new Set<string>()
    let group: Array<Waiting<T, R>> = []
    for (let i = 0; i < all.length; i++) {
      if (inFlight >= maxInFlight) {
        waiting.push(...all.slice(i))
        break
      }
      const w = all[i]!
      const id = options.identity?.(w.entry)
      if (id !== undefined && seen.has(id)) {
        waiting.push(w)
        continue
      }
      if (id !== undefined) seen.add(id)
      group.push(w)
      if (group.length === options.maxGroup) {
        start(group)
        group = []
      }
    }
    if (group.length > 0) start(group)
    if (waiting.length > 0 && inFlight < maxInFlight) schedule()
  }

  function schedule (): void {
    if (scheduled) return
    scheduled = true
    setImmediate(flush)
  }

  return {
    add (entry: T): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        waiting.push({ entry, resolve, reject })
        schedule()
      })
    },
  }
}
