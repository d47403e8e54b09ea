import t from 'tap'
import { factsOf, notifyMessageId, notifyRecord, type EventData } from '../../src/dci/events.ts'
import { loadDciPolicy } from '../../src/dci/policy.ts'
import { filterOf, matches, planSubscription, SubscribeRefusal, type SubscribeItem } from '../../src/dci/subscriptions.ts'

// Subscription filters and notify records, without a store.

const policy = loadDciPolicy()
const facts = { uins: ['УБ99032712', 'УК94122605'], unit: '832269', date: '2026-03-14' }

t.test('filters by UIN, administrative unit (the unit and everything below) and event date, in each filter type', async (t) => {
  t.ok(matches(filterOf('idtype-value', { type: 'UIN', value: 'УК94122605' }), facts), 'a related person')
  t.notOk(matches(filterOf('idtype-value', { type: 'ns:org:IdType:UIN', value: 'АА00000000' }), facts))
  t.ok(matches(filterOf('idtype-value', { type: 'admin_unit', value: '83' }), facts), 'the aimag covers its bags')
  t.ok(matches(filterOf('idtype-value', { type: 'area-code', value: '8322' }), facts))
  t.notOk(matches(filterOf('idtype-value', { type: 'admin_unit', value: '11' }), facts))
  t.ok(matches(filterOf('predicate', []), facts), 'no expression: every event')
  const both = [{ seq_num: 1, expression1: { attribute_name: 'admin_unit', operator: 'in', attribute_value: ['11', '83'] }, condition: 'and', expression2: { attribute_name: 'event_date', operator: 'ge', attribute_value: '2026-01-01' } }]
  t.ok(matches(filterOf('predicate', both), facts))
  t.notOk(matches(filterOf('predicate', [{ ...both[0], expression2: { attribute_name: 'event_date', operator: 'lt', attribute_value: '2026-03-14' } }]), facts))
  t.ok(matches(filterOf('expression', { value: { expression: { query: { admin_unit: { $in: ['83'] }, event_date: { $gte: '2026-03-14', $lte: '2026-03-14' } } } } }), facts))
  t.notOk(matches(filterOf('expression', { value: { expression: { query: { UIN: 'АА00000000' } } } }), facts))
  t.ok(matches(filterOf(undefined, [{ seq_num: 1, expression1: { attribute_name: 'UIN', operator: 'eq', attribute_value: 'УБ99032712' } }]), facts), 'a list without filter_type is a predicate')

  const refused = (filterType: string | undefined, filter: unknown) => {
    let reason: string | null = null
    try {
      filterOf(filterType, filter)
    } catch (err) {
      reason = err instanceof SubscribeRefusal ? err.reason : String(err)
    }
    t.equal(reason, 'rjct.notify_details.invalid', JSON.stringify(filter))
  }
  refused('idtype-value', { type: 'MOBILE', value: '99112233' })
  refused('idtype-value', { type: 'admin_unit', value: '832' })
  refused('predicate', [{ seq_num: 1, expression1: { attribute_name: 'admin_unit', operator: 'gt', attribute_value: '11' } }])
  refused('predicate', [{ seq_num: 1, expression1: { attribute_name: 'UIN', operator: 'eq', attribute_value: 'x' }, condition: 'or', expression2: { attribute_name: 'UIN', operator: 'eq', attribute_value: 'y' } }])
  refused('predicate', [{ seq_num: 1, expression1: { attribute_name: 'event_date', operator: 'in', attribute_value: ['2026-01-01'] } }])
  refused('expression', { value: { expression: { query: { UIN: { $regex: '.*' } } } } })
  refused('graphql', { type: 'graphql', value: { expression: '{ births }' } })
  refused('predicate', { not: 'a list' })
})

t.test('a subscription names an event and record type of the registry, a purpose granted, and a sound window', async (t) => {
  const partner = { id: 'p', purposes: ['vital_events.follow_up'], recordTypes: ['Person'] }
  const item = (criteria: Partial<SubscribeItem['subscribe_criteria']>): SubscribeItem => ({ reference_id: 'r', timestamp: '2026-12-01T00:00:00Z', subscribe_criteria: { reg_event_type: 'LiveBirth', filter: [], notify_record_type: 'Person', ...criteria } })
  t.match(planSubscription(item({ reg_event_type: 'spdci-common:RegistryEventType:Death', frequency: { start_time: '2026-12-01T00:00:00+08:00', end_time: '2027-12-01T00:00:00+08:00', frequency: '0 0 0 * * ? *' } }), 'crvs', 'ns:org:RegistryType:Civil', partner, policy),
    { eventType: 'Death', recordType: 'Person', purpose: 'vital_events.follow_up', startsAt: '2026-11-30T16:00:00.000Z' })
  const reason = (f: () => unknown) => { try { f(); return null } catch (err) { return err instanceof SubscribeRefusal ? [err.reason, err.denied] : err } }
  t.same(reason(() => planSubscription(item({ reg_type: 'ns:org:RegistryType:Social' }), 'crvs', 'ns:org:RegistryType:Civil', partner, policy)), ['rjct.notify_types.invalid', false])
  t.same(reason(() => planSubscription(item({ reg_event_type: 'Adoption' }), 'crvs', 'ns:org:RegistryType:Civil', partner, policy)), ['rjct.notify_types.invalid', false])
  t.same(reason(() => planSubscription(item({ notify_record_type: 'Member' }), 'crvs', 'ns:org:RegistryType:Civil', partner, policy)), ['rjct.notify_types.invalid', false])
  t.same(reason(() => planSubscription(item({ reg_event_type: 'REGISTER', notify_record_type: 'Member' }), 'social', 'ns:org:RegistryType:Social', partner, policy)), ['rjct.notify_types.invalid', true], 'a purpose that does not cover the registry is a denial')
  t.same(reason(() => planSubscription(item({ authorize: { purpose: { code: 'social_protection.eligibility' } } }), 'crvs', 'ns:org:RegistryType:Civil', partner, policy)), ['rjct.notify_types.invalid', true])
  t.same(reason(() => planSubscription(item({ frequency: { start_time: '2027-01-01T00:00:00Z', end_time: '2026-01-01T00:00:00Z', frequency: '* * *' } }), 'crvs', 'ns:org:RegistryType:Civil', partner, policy)), ['rjct.notify_details.invalid', false])
})

t.test('notify records are made of what the agency approved; persons the event names stand as identifiers', async (t) => {
  const birth: EventData = {
    eventId: '7',
    service: 'civil.birth-registration',
    unit: '110101',
    applicant: 'УБ99032712',
    form: { childGivenName: 'Тэмүүлэн', childPatronymic: 'Батболд', clanName: 'Боржигин', sex: 'male', birthDate: '2026-03-14', birthUnit: '832269', otherParentRegnum: 'УК94122605' },
    result: { kind: 'registration', regnum: 'ӨВ26031412', certificateNumber: 'Т20260000001' },
    decidedAt: '2026-03-15T02:00:00.000Z',
  }
  const live = policy.events.crvs.LiveBirth!
  t.same(factsOf(live, birth), { subject: 'ӨВ26031412', uins: ['ӨВ26031412', 'УБ99032712', 'УК94122605'], unit: '832269', date: '2026-03-14' })
  t.match(notifyRecord(live, 'Person', birth), { '@type': 'Person', identifier: [{ identifier_value: 'ӨВ26031412' }], name: { given_name: 'Тэмүүлэн', surname: 'Батболд', clan_name: 'Боржигин' }, birth_place: '832269', birth_certificate_number: 'Т20260000001', parent: [{ identifier: [{ identifier_value: 'УБ99032712' }] }, { identifier: [{ identifier_value: 'УК94122605' }] }] })
  t.match(notifyRecord(policy.events.social.NewHouseHoldMember!, 'Member', birth), { '@type': 'Member', member_identifier: [{ identifier_value: 'ӨВ26031412' }], demographic_info: { '@type': 'SRPerson', birth_date: '2026-03-14' } })
  t.equal(factsOf(live, { ...birth, result: null }).subject, undefined, 'no number issued: nobody to notify about')

  const death: EventData = { ...birth, service: 'civil.death-registration', form: { deceasedRegnum: 'АА45010112', dateOfDeath: '2026-11-02', placeOfDeathUnit: '620155', relationship: 'child' }, result: { kind: 'certificate', certificateNumber: 'Н2026' } }
  t.match(notifyRecord(policy.events.crvs.Death!, 'Person', death), { identifier: [{ identifier_value: 'АА45010112' }], death_date: '2026-11-02', death_place: '620155', death_certificate_number: 'Н2026' })
  const enrolment: EventData = { ...birth, service: 'welfare.child-money', form: {}, result: { kind: 'benefit', amountMnt: 100000 } }
  t.match(notifyRecord(policy.events.social.REGISTER!, 'SRPerson', enrolment), { '@type': 'SRPerson', identifier: [{ identifier_value: 'УБ99032712' }], additional_attributes: [{ name: 'welfare_enrolments', value: [{ programme_code: 'welfare.child-money', enrolled_on: '2026-03-15', benefit: { amountMnt: 100000 } }] }] })
  t.equal(notifyMessageId('7', 'a'), notifyMessageId('7', 'a'), 'fixed by event and subscription')
  t.not(notifyMessageId('7', 'a'), notifyMessageId('8', 'a'))
})

t.test('every service seed/dci.yaml names is in the seed catalogue', async (t) => {
  const { buildSeedDocument } = await import('../../src/catalogue/seed.ts')
  const codes = new Set(buildSeedDocument().services.map((s) => s.code))
  const named = Object.values(policy.events).flatMap((events) => Object.values(events).flatMap((e) => e.services))
  t.same(named.filter((s) => !codes.has(s)), [])
})
