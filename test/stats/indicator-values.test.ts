import t from 'tap'
import { consistencyReport } from '../../src/catalogue/consistency.ts'
import { buildSeedDocument } from '../../src/catalogue/seed.ts'
import { createSnapshot } from '../../src/catalogue/snapshot.ts'
import { buildTestApp } from '../helpers/app.ts'
import { historyKit, QUIET_ENV } from '../helpers/stats-history.ts'

// A small known history, and each indicator's value worked out by hand.
// Today is 2026-11-30 in Mongolia (UTC+8).

const P1 = 'УБ90051223' // female, born 1990-05-12: 36 in October 2026 -> 35-59
const P2 = 'ТА05231517' // male, born 2005-03-15: 21 -> 18-34
const P3 = 'ХО60012048' // female, born 1960-01-20: 66 -> 60+
const P4 = 'ЧБ85070735' // male, born 1985-07-07: 41 -> 35-59
const BOOK = 'insurance.insurance-book' // GASI, social insurance, standard 5 days
const PENSION = 'insurance.old-age-pension' // GASI, standard 30 days
const VOLUNTARY = 'insurance.voluntary-insurance' // GASI, standard 1 day

const h = (iso: string, hours: number) => new Date(Date.parse(iso) + hours * 3600_000).toISOString()

t.test('indicators from a hand-worked history', async (tt) => {
  const ctx = await buildTestApp(tt, { env: { ...QUIET_ENV, STATS_SUPPRESSION_THRESHOLD: '3' }, appOptions: { today: () => '2026-11-30' } })
  const { app } = ctx
  const kit = historyKit(app)
  // A1: decided (approved) 3 days after receipt, within its 5 days.
  const a1 = '2026-10-05T02:00:00.000Z'
  await kit.add({ service: BOOK, unit: '620151', channel: 'oss_counter', regnum: P1, at: a1, steps: [
    { status: 'queued', at: h(a1, 0.1) }, { status: 'delivering', at: h(a1, 1) }, { status: 'delivered', at: h(a1, 2) }, { status: 'approved', at: h(a1, 72) }] })
  // A2: online, rejected after 7 days: over the standard.
  const a2 = '2026-10-06T03:00:00.000Z'
  await kit.add({ service: BOOK, unit: '6201', channel: 'online', regnum: P2, at: a2, steps: [
    { status: 'queued', at: h(a2, 0.1) }, { status: 'delivering', at: h(a2, 0.2) }, { status: 'delivered', at: h(a2, 0.5) }, { status: 'rejected', at: h(a2, 168) }] })
  // A3: mobile OSS; two attempts, dead-lettered, retried by an admin on 20 October, still on its way.
  const a3 = '2026-10-10T04:00:00.000Z'
  await kit.add({ service: PENSION, unit: '6204', channel: 'mobile_oss', regnum: P3, at: a3, steps: [
    { status: 'queued', at: h(a3, 0.1) }, { status: 'delivering', at: h(a3, 0.2) }, { status: 'retry_later', at: h(a3, 0.3) },
    { status: 'delivering', at: h(a3, 1) }, { status: 'failed', at: h(a3, 1.1) }, { status: 'retried', at: '2026-10-20T05:00:00.000Z' },
    { status: 'queued', at: '2026-10-20T05:00:01.000Z' }] })
  // A4: the first person again, in another aimag; delivered, never decided.
  const a4 = '2026-10-25T01:00:00.000Z'
  await kit.add({ service: BOOK, unit: '2101', channel: 'oss_counter', regnum: P1, at: a4, steps: [
    { status: 'queued', at: h(a4, 0.1) }, { status: 'delivering', at: h(a4, 0.2) }, { status: 'delivered', at: h(a4, 0.3) }] })
  // A5: 20:00 UTC on 30 September is 04:00 on 1 October in Mongolia. Decided after 26 hours: over its 1 day.
  const a5 = '2026-09-30T20:00:00.000Z'
  await kit.add({ service: VOLUNTARY, unit: '6201', channel: 'oss_counter', regnum: P4, at: a5, steps: [
    { status: 'queued', at: h(a5, 0.1) }, { status: 'delivering', at: h(a5, 0.5) }, { status: 'delivered', at: h(a5, 1) }, { status: 'approved', at: h(a5, 26) }] })
  // A6: yesterday; open, not yet overdue.
  await kit.add({ service: BOOK, unit: '6201', channel: 'oss_counter', regnum: P2, at: '2026-11-29T03:00:00.000Z' })
  // Three taken by the mobile OSS of soum 6204 in March 2027, during its round; decided at once.
  for (const day of ['03', '04', '05']) {
    const at = `2027-03-${day}T02:00:00.000Z`
    await kit.add({ service: BOOK, unit: '6204', channel: 'mobile_oss', regnum: P4, at, steps: [
      { status: 'queued', at: h(at, 0.1) }, { status: 'delivering', at: h(at, 0.2) }, { status: 'delivered', at: h(at, 0.3) }, { status: 'approved', at: h(at, 1) }] })
  }
  await kit.lookup({ at: '2026-10-07T03:00:00.000Z', unit: '6201', agency: 'GASI', purpose: 'pension_assessment', result: 'ok' })
  await kit.lookup({ at: '2026-10-08T03:00:00.000Z', unit: '6201', agency: 'GASI', purpose: 'pension_assessment', result: 'denied' })
  await kit.lookup({ at: '2026-11-08T03:00:00.000Z', unit: '2101', agency: 'GASI', purpose: 'pension_assessment', result: 'ok' })

  const folded = await app.stats.fold()
  tt.ok(folded.events > 20 && folded.audit >= 3, 'the fold took the events and the audit records')

  const admin = await ctx.token('admin')
  const value = async (indicator: string, query = '', period = '2026-10') => {
    const res = await app.inject({ url: `/v1/stats/values?indicator=${indicator}&period=${period}${query}`, headers: { authorization: `Bearer ${admin}` } })
    tt.equal(res.statusCode, 200, `${indicator} ${query}: ${res.body.slice(0, 300)}`)
    return res.json() as { total: unknown, rows: Array<{ key: Record<string, string>, value: unknown }> }
  }
  const byKey = (rows: Array<{ key: Record<string, string>, value: unknown }>, dim: string) => Object.fromEntries(rows.map((r) => [r.key[dim], r.value]))

  // Received in October (Mongolian time): A1, A2, A3, A4, A5; A3's retry is not a new application; A6 is November's.
  tt.equal((await value('applications.received')).total, 5)
  tt.same(byKey((await value('applications.received', '&by=channel')).rows, 'channel'), { oss_counter: 3, online: 1, mobile_oss: 1 })
  tt.equal((await value('applications.received', '', '2026-11')).total, 1)
  tt.equal((await value('applications.received', '', '2026-10-01')).total, 1, 'A5 falls on 1 October in Mongolia')
  tt.equal((await value('applications.received', '', '2026-09')).total, 0, 'and not in September')
  tt.equal((await value('applications.received', '', '2026')).total, 6)
  // Week 41 of 2026 is 5-11 October: A1, A2, A3.
  tt.equal((await value('applications.received', '', '2026-W41')).total, 3)

  tt.equal((await value('outcomes.delivered')).total, 4, 'A1, A2, A4, A5')
  tt.equal((await value('outcomes.approved')).total, 2, 'A1, A5')
  tt.equal((await value('outcomes.rejected')).total, 1, 'A2')
  tt.equal((await value('outcomes.failed')).total, 1, 'A3 dead-lettered once')
  tt.equal((await value('outcomes.approval_rate')).total, 66.7, '2 of 3 decisions')

  // Decisions: A5 after 26 h ([1d, 2d)), A1 after 3 d ([3d, 4d)), A2 after 7 d ([7d, 8d)).
  // p50: rank 1.5 lies half-way through [3d, 4d) = 3.5 d = 84 h; p90: rank 2.7, 0.7 of [7d, 8d) = 7.7 d = 184.8 h.
  tt.equal((await value('time.received_to_decided.p50')).total, 84)
  tt.equal((await value('time.received_to_decided.p90')).total, 184.8)
  tt.equal((await value('time.decided_within_standard')).total, 33.3, 'only A1 was within its standard time')
  // Deliveries after 2 h ([1h, 4h)), 0.5 h ([30m, 1h)), 0.3 h ([15m, 30m)), 1 h ([1h, 4h)).
  // p50: rank 2 is the whole of [30m, 1h) = 1 h.
  tt.equal((await value('time.received_to_delivered.p50')).total, 1)

  // Now: A3 (retried) and A4 (never decided) are overdue; A6 is open but within its 5 days.
  tt.equal((await value('backlog.open')).total, 3)
  tt.equal((await value('backlog.overdue')).total, 2)
  tt.same(byKey((await value('backlog.open', '&by=service')).rows, 'service'), { [BOOK]: 2, [PENSION]: 1 })

  // Persons in October: P1 (twice), P2, P3, P4.
  const persons = await value('applications.persons_served', '&by=sex,age_band')
  tt.equal(persons.total, 4)
  tt.same(persons.rows.map((r) => `${r.key.sex}/${r.key.age_band}=${r.value}`).sort(), ['female/35-59=1', 'female/60+=1', 'male/18-34=1', 'male/35-59=1'])
  tt.equal((await value('applications.persons_served', '', '2026')).total, 4, 'P2 again in November is the same person in the year')
  tt.equal((await value('applications.persons_served', '', '2026-11')).total, 1)
  // Each unit counts a person once per month and year, wherever below it they
  // applied: P1 in bag 620151 (of soum 6201) and in 2101, P2 in 6201 in October
  // and November, P3 in 6204, P4 in 6201 and, in 2027, three times in 6204.
  const personsAt = async (grain: string, period: string, unit: string) =>
    (await app.db.query<{ n: number }>('SELECT coalesce(sum(n), 0)::int AS n FROM stats_persons WHERE grain = $1 AND period = $2 AND unit = $3', [grain, period, unit])).rows[0]!.n
  for (const [grain, period, unit, n] of [
    ['month', '2026-10-01', '', 4], ['month', '2026-10-01', '62', 4], ['month', '2026-10-01', '6201', 3], ['month', '2026-10-01', '620151', 1],
    ['month', '2026-10-01', '6204', 1], ['month', '2026-10-01', '21', 1], ['month', '2026-10-01', '2101', 1], ['month', '2026-11-01', '6201', 1],
    ['year', '2026-01-01', '', 4], ['year', '2026-01-01', '62', 4], ['year', '2026-01-01', '6201', 3], ['year', '2026-01-01', '21', 1],
    ['month', '2027-03-01', '6204', 1], ['year', '2027-01-01', '6204', 1], ['year', '2027-01-01', '', 1], ['year', '2027-01-01', '62', 1],
  ] as const) tt.equal(await personsAt(grain, period, unit), n, `persons, ${grain} ${period}, unit '${unit}'`)

  // Attempts: A1 1, A2 1, A3 2, A4 1, A5 1 = 6 for 4 deliveries; 1 dead-letter of 5 endings.
  tt.equal((await value('delivery.attempts_per_delivery')).total, 1.5)
  tt.equal((await value('delivery.dead_lettered_share')).total, 20)

  tt.equal((await value('lookups.total')).total, 2)
  tt.equal((await value('lookups.refused')).total, 1)
  tt.same(byKey((await value('lookups.total', '&by=result')).rows, 'result'), { ok: 1, denied: 1 })

  // Deliveries: A2 after 0.5 h ([30m, 1h)), A4 after 0.3 h ([15m, 30m)), A1 after 2 h and A5 after 1 h
  // (both [1h, 4h)). p50: rank 2 ends [30m, 1h): 3600 s; p90: rank 3.6 is 0.8 through [1h, 4h): 3600 + 0.8 * 10800 = 12240 s.
  tt.equal((await value('delivery.queue_time.p50')).total, 3600)
  tt.equal((await value('delivery.queue_time.p90')).total, 12240)
  tt.equal((await value('time.received_to_delivered.p90')).total, 3.4, '12240 s in hours')

  // March 2027: every rural soum with bags has one round; 6204's visits all its bags and took 3 applications.
  const bagsOf6204 = buildSeedDocument().units.filter((u) => u.parent === '6204' && u.level === 'bag').length
  tt.ok(bagsOf6204 > 0)
  const mobile = async (indicator: string) => (await value(indicator, '&unit=6204', '2027-03')).total
  tt.equal(await mobile('mobile.rounds_held'), 1)
  tt.equal(await mobile('mobile.units_reached'), bagsOf6204)
  tt.equal(await mobile('mobile.applications_per_round'), 3)
  tt.equal(await mobile('applications.received'), 3)

  // Coverage, from the catalogue's consistency report: Түргэн (8543) lacks the notary category,
  // Тайшир (8225) the land officer's services; each soum's bags are complete.
  const coverage = async (indicator: string, unit: string) => (await value(indicator, `&unit=${unit}`)).total as number
  const share = (unit: string, gap: (f: { kind: string, unit: string | null }) => boolean) => {
    const units = buildSeedDocument().units.filter((u) => u.code.startsWith(unit))
    const report = consistencyReport(createSnapshot(1, 'seed', buildSeedDocument()), () => true, { unit })
    const gaps = new Set(report.findings.filter(gap).map((f) => f.unit))
    return Math.round(1000 * (units.length - units.filter((u) => gaps.has(u.code)).length) / units.length) / 10
  }
  tt.equal(await coverage('coverage.mandated_categories', '8543'), share('8543', (f) => f.kind === 'missing_mandated_category' || f.kind === 'no_service'))
  tt.ok(await coverage('coverage.mandated_categories', '8543') < 100, 'Түргэн lacks a mandated category')
  tt.equal(await coverage('coverage.standard_list', '8225'), share('8225', (f) => f.kind === 'missing_standard_service' || f.kind === 'no_service'))
  tt.ok(await coverage('coverage.standard_list', '8225') < 100, 'Тайшир lacks part of its list')

  // Below the country, counts under the threshold (3 here) are suppressed.
  const aimags = await value('applications.received', '&by=unit')
  tt.same(byKey(aimags.rows, 'unit'), { 62: 'x', 21: '<3' }, '21 has 1; 62 (4) is hidden with it, or 5 - 4 would give it away')
  tt.equal(aimags.total, 5)
})
