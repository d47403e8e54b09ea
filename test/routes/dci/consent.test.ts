import { randomUUID } from 'node:crypto'
import t from 'tap'
import { loadDciSpec } from '../../../src/dci/spec.ts'
import { generatePopulation, type Citizen } from '../../../src/exchange/index.ts'
import { dciSetup, PARTNER, partnerReceiver } from '../../helpers/dci.ts'
import { eventually } from '../../helpers/eventually.ts'

const [alice, bob] = generatePopulation({ citizens: 500 }).livingAdults() as [Citizen, Citizen]
const PURPOSE = 'social_protection.case_management'

t.test('a partner\'s look-up for a purpose that needs the citizen\'s consent: refused and audited without it, answered under it, shown to the citizen and to the partner', async (tt) => {
  const { app, bearer, signed, token, admin } = await dciSetup(tt, { purposes: ['social_protection.eligibility', PURPOSE], recordTypes: ['SRPerson'] })
  const spec = loadDciSpec('social')
  const citizen = async (c: Citizen) => ({ authorization: `Bearer ${await token('citizen', { claims: { sub: c.regnum } })}` })
  const search = async (c: Citizen, purpose = PURPOSE) => {
    const envelope = signed('search', {
      transaction_id: randomUUID().slice(0, 20),
      search_request: [{
        reference_id: randomUUID(),
        timestamp: new Date().toISOString(),
        search_criteria: {
          query_type: 'idtype-value',
          query: { type: 'UIN', value: c.regnum },
          consent: { '@type': 'Consent', ts: new Date().toISOString(), purpose: { code: purpose } },
          authorize: { '@type': 'Authorize', ts: new Date().toISOString(), purpose: { code: purpose } },
        },
      }],
    }, 1)
    tt.same(spec.validateRequest('/registry/sync/search', envelope), [], 'a spec-valid request')
    const res = await app.inject({ method: 'POST', url: '/dci/social/registry/sync/search', headers: bearer, payload: envelope })
    tt.equal(res.statusCode, 200, res.body)
    tt.same(spec.validateResponse('/registry/sync/search', res.json()), [], 'a spec-valid answer')
    return res.json().message.search_response[0]
  }

  const refused = await search(alice)
  tt.match(refused, { status: 'rjct', status_reason_code: 'rjct.search_criteria.invalid', status_reason_message: /consent/ })
  tt.notOk(refused.data?.reg_records?.length, 'nothing leaves without consent')
  const audit = async (c: Citizen) => (await app.inject({ method: 'GET', url: `/v1/admin/audit?citizen=${encodeURIComponent(c.regnum)}&type=citizen_lookup`, headers: admin })).json().records
  tt.match((await audit(alice))[0], { actor: `partner:${PARTNER}`, purpose: PURPOSE, result: 'denied', details: { consentNeeded: 'portal' } }, 'the refusal is audited')

  // A consent for another partner does not do; one for this partner does.
  const other = await app.inject({ method: 'POST', url: '/v1/me/consents', headers: await citizen(alice), payload: { purpose: PURPOSE, partner: 'other-mis.example.org' } })
  tt.equal(other.statusCode, 201, other.body)
  tt.match(await search(alice), { status: 'rjct' }, 'consent given to another partner')
  const given = await app.inject({ method: 'POST', url: '/v1/me/consents', headers: await citizen(alice), payload: { purpose: PURPOSE, partner: PARTNER } })
  tt.equal(given.statusCode, 201, given.body)
  tt.match(given.json(), { state: 'active', partner: PARTNER, case: null, method: 'portal', purposeName: { en: /Case management/ } })

  const answered = await search(alice)
  tt.match(answered, { status: 'succ', data: { reg_records: [{ identifier: [{ identifier_value: alice.regnum }] }] } })
  tt.match(answered.consent, { '@type': 'Consent', ts: given.json().givenAt, purpose: { code: PURPOSE } }, 'the answer names the consent it was given under')
  const [lookup] = await audit(alice)
  tt.match(lookup, { result: 'ok', details: { consent: given.json().id } }, 'the audit record names the consent')

  // The citizen sees the look-up, by the partner's name, under the consent.
  const mine = (await app.inject({ method: 'GET', url: '/v1/me/consents?lang=en', headers: await citizen(alice) })).json().consents
  const used = mine.find((c: { id: string }) => c.id === given.json().id)
  tt.match(used.uses, [{ auditSeq: lookup.seq, partner: { id: PARTNER, name: 'Example MIS' }, result: 'ok' }])
  const tracker = (await app.inject({ method: 'GET', url: '/v1/me/data-access?lang=en', headers: await citizen(alice) })).json().accesses
  tt.match(tracker.find((a: { id: number }) => a.id === lookup.seq), { partner: { id: PARTNER, name: 'Example MIS' }, purpose: PURPOSE, consent: { id: given.json().id } })

  // A purpose that needs none names its law to the citizen; another citizen's consent is not this one's.
  tt.match(await search(bob), { status: 'rjct' })
  tt.match(await search(bob, 'social_protection.eligibility'), { status: 'succ' })
  const lawful = (await app.inject({ method: 'GET', url: '/v1/me/data-access?lang=en', headers: await citizen(bob) })).json().accesses[0]
  tt.match(lawful, { purpose: 'social_protection.eligibility', consent: null, legalBasis: { en: 'International social-security agreements' } })

  // Withdrawn: the next search is refused.
  tt.equal((await app.inject({ method: 'DELETE', url: `/v1/me/consents/${given.json().id}`, headers: await citizen(alice) })).statusCode, 200)
  tt.match(await search(alice), { status: 'rjct' })

  // Officers' and partners' purposes stay apart.
  const mixed = await app.inject({ method: 'POST', url: '/v1/me/consents', headers: await citizen(alice), payload: { purpose: 'employment.job_matching', partner: PARTNER } })
  tt.equal(mixed.statusCode, 400)
  tt.match(mixed.json(), { code: 'VALIDATION_FAILED', errors: [{ pointer: '/partner' }] })
})

t.test('a subscription cannot carry each person\'s consent: refused for a purpose that needs it, and audited', async (tt) => {
  const receiver = await partnerReceiver(tt)
  const ctx = await dciSetup(tt, { purposes: [PURPOSE], recordTypes: ['SRPerson', 'Member'], callbackUrl: receiver.base }, { DCI_MESSAGES_PER_MINUTE: '100000' })
  const spec = loadDciSpec('social')
  const request = ctx.signed('subscribe', {
    transaction_id: randomUUID().slice(0, 20),
    subscribe_request: [{
      reference_id: randomUUID(),
      timestamp: new Date().toISOString(),
      subscribe_criteria: { reg_event_type: 'REGISTER', filter_type: 'idtype-value', filter: { type: 'admin_unit', value: '82' }, notify_record_type: 'Member', authorize: { purpose: { code: PURPOSE } } },
    }],
  }, 1)
  tt.same(spec.validateRequest('/registry/subscribe', request), [])
  const res = await ctx.app.inject({ method: 'POST', url: '/dci/social/registry/subscribe', headers: ctx.bearer, payload: request })
  tt.equal(res.json().message.ack_status, 'ACK', res.body)
  const answer = await eventually(async () => receiver.at('/registry/on-subscribe').find((r) => r.body.message.correlation_id === res.json().message.correlation_id), 30_000)
  tt.same(spec.validateRequest('/registry/on-subscribe', answer.body), [], 'a spec-valid on-subscribe')
  tt.match(answer.body.message.subscribe_response[0], { status: 'rjct', status_reason_code: 'rjct.notify_types.invalid', status_reason_message: /consent/ })
  const { rows } = await ctx.app.db.query<{ details: Record<string, unknown> }>("SELECT details FROM audit_log WHERE actor = $1 AND result = 'denied'", [`partner:${PARTNER}`])
  tt.match(rows, [{ details: { action: 'subscribe', reason: /consent/ } }])
})
