import t from 'tap'
import { createGrouper } from '../../src/db/grouper.ts'

t.test('what arrives in one turn is written as one group; each gets its own result', async (tt) => {
  const groups: number[][] = []
  const g = createGrouper<number, number>({ maxGroup: 4, async write (group) { groups.push(group); return group.map((x) => x * 10) } })
  const results = await Promise.all([1, 2, 3, 4, 5, 6].map((x) => g.add(x)))
  tt.same(results, [10, 20, 30, 40, 50, 60])
  tt.same(groups, [[1, 2, 3, 4], [5, 6]], 'split at maxGroup')
  tt.same(await g.add(7), 70)
  tt.same(groups.at(-1), [7], 'alone, a write waits for nothing')
})

t.test('entries with the same identity never share a group', async (tt) => {
  const groups: string[][] = []
  const g = createGrouper<string, string>({ maxGroup: 10, identity: (x) => x.split(':')[0]!, async write (group) { groups.push(group); return group } })
  await Promise.all(['a:1', 'b:1', 'a:2', 'a:3', 'c:1'].map((x) => g.add(x)))
  tt.same(groups, [['a:1', 'b:1', 'c:1'], ['a:2'], ['a:3']])
})

t.test('a failed group is written again one by one when the error allows; otherwise every entry fails', async (tt) => {
  const bad = new Error('bad row')
  const away = new Error('store away')
  const calls: number[][] = []
  const write = async (group: number[]) => {
    calls.push(group)
    if (group.includes(-1)) throw group.length > 1 || group[0] === -1 ? bad : away
    return group.map(() => true)
  }
  const isolating = createGrouper<number, boolean>({ maxGroup: 10, write, isolate: (err) => err === bad })
  const settled = await Promise.allSettled([1, -1, 2].map((x) => isolating.add(x)))
  tt.same(settled.map((s) => s.status), ['fulfilled', 'rejected', 'fulfilled'], 'only the bad entry fails')
  tt.same(calls, [[1, -1, 2], [1], [-1], [2]])

  const failing = createGrouper<number, boolean>({ maxGroup: 10, write: async () => { throw away }, isolate: (err) => err === bad })
  const all = await Promise.allSettled([1, 2].map((x) => failing.add(x)))
  tt.same(all.map((s) => s.status === 'rejected' && s.reason), [away, away])
})

t.test('with maxInFlight 1, what arrives while a group is written waits for it and leaves as the next group', async (tt) => {
  const groups: number[][] = []
  let open = 0
  let most = 0
  const releases: Array<() => void> = []
  const g = createGrouper<number, number>({
    maxGroup: 3,
    maxInFlight: 1,
    async write (group) {
      groups.push(group)
      open++
      most = Math.max(most, open)
      await new Promise<void>((resolve) => releases.push(resolve))
      open--
      return group
    },
  })
  const first = g.add(1)
  // Wait until the first group is being written, then queue more behind it.
  while (releases.length === 0) await new Promise((resolve) => setImmediate(resolve))
  const rest = [2, 3, 4, 5].map((x) => g.add(x))
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
  tt.same(groups, [[1]], 'nothing else starts while the first group is written')
  releases.shift()!()
  tt.same(await first, 1)
  while (groups.length < 2) await new Promise((resolve) => setImmediate(resolve))
  tt.same(groups[1], [2, 3, 4], 'the waiting entries leave together, up to maxGroup')
  releases.shift()!()
  while (groups.length < 3) await new Promise((resolve) => setImmediate(resolve))
  tt.same(groups[2], [5])
  releases.shift()!()
  tt.same(await Promise.all(rest), [2, 3, 4, 5])
  tt.equal(most, 1, 'one group in flight at a time')
})
