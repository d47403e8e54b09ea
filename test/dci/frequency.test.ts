import t from 'tap'
import { frequencyOf } from '../../src/dci/frequency.ts'

t.test('frequencies are Quartz cron expressions read in Ulaanbaatar time', async (t) => {
  const next = (expression: string, after: string) => {
    const f = frequencyOf(expression)
    if (typeof f === 'string') throw new Error(f)
    return f.next(new Date(after))?.toISOString() ?? null
  }
  // The specification's example: at 00:00:00 on the 5th and 15th of every month.
  t.equal(next('0 0 0 5,15 * ? *', '2026-12-01T00:00:00Z'), '2026-12-04T16:00:00.000Z')
  t.equal(next('0 0 0 5,15 * ? *', '2026-12-04T16:00:00Z'), '2026-12-14T16:00:00.000Z', 'strictly after')
  t.equal(next('0 0/30 8-9 ? * *', '2026-12-01T00:30:00Z'), '2026-12-01T01:00:00.000Z', 'Quartz steps')
  t.equal(next('0 0 12 ? * 2', '2026-12-01T00:00:00Z'), '2026-12-07T04:00:00.000Z', 'day of week 2 is Monday, as in Quartz')
  t.equal(next('0 0 0 1 1 ? 2020', '2026-12-01T00:00:00Z'), null, 'a year gone names no time')
  for (const bad of ['every day', '* * * *', '0 0 0 32 * ?', '']) t.type(frequencyOf(bad), 'string', `"${bad}" is refused`)
})
