import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { consentNeeded, loadPolicies, type PurposeDef } from '../../src/citizen/policy.ts'

const policies = loadPolicies()

t.test('the consent a look-up needs is the strongest of its purpose, sources and fields', async (tt) => {
  const household = policies.purposes['welfare.household_assessment']!
  tt.same(consentNeeded(household, ['id_card', 'civil']), { level: 'otp', because: [] })
  tt.same(consentNeeded(household, ['civil', 'land']), { level: 'portal', because: ['land'] }, 'land raises it')
  tt.same(consentNeeded(policies.purposes['welfare.eligibility']!, ['civil', 'land']), { level: 'none', because: [] })

  const byField: PurposeDef = {
    name: { mn: 'x', en: 'x' },
    agencies: ['GASR'],
    sources: { civil: ['regnum', 'idCard'], land: ['plots'] },
    consent: { needs: 'none', legalBasis: { mn: 'x', en: 'x' }, validForHours: 1, stronger: { 'civil.idCard': 'otp', land: 'portal' } },
  }
  tt.same(consentNeeded(byField, ['civil']), { level: 'otp', because: ['civil.idCard'] }, 'a field raises it')
  tt.same(consentNeeded(byField, ['civil', 'land']), { level: 'portal', because: ['civil.idCard', 'land'] })
  tt.same(consentNeeded(byField, []), { level: 'none', because: [] })
})

t.test('every purpose of the seed says what consent it needs, and a law when none', async (tt) => {
  for (const [code, p] of Object.entries(policies.purposes)) {
    if (p.consent.needs === 'none') tt.ok(p.consent.legalBasis?.mn && p.consent.legalBasis.en, `${code} names its legal basis in both languages`)
    else tt.ok(p.consent.validForHours! > 0, `${code} says how long a consent lasts`)
  }
})

t.test('a policies file with a consent rule that cannot work is refused at start', async (tt) => {
  const dir = tt.testdir()
  const load = (consent: string, fields = '[regnum, idCard]') => {
    const file = join(dir, `p-${Math.random().toString(36).slice(2)}.yaml`)
    writeFileSync(file, `sources:
  civil: {name: {mn: a, en: a}, operation: civil.getIdCard, timeoutMs: 100}
purposes:
  civil.test:
    name: {mn: a, en: a}
    agencies: [GASR]
    sources: {civil: ${fields}}
    consent: ${consent}
`)
    return () => loadPolicies(file)
  }
  tt.doesNotThrow(load('{needs: otp, validForHours: 2}'))
  tt.throws(load('{needs: none}'), /legalBasis/, 'no consent and no law')
  tt.throws(load('{needs: otp}'), /validForHours/, 'a consent that never says how long')
  tt.throws(load('{needs: none, legalBasis: {mn: a, en: a}, stronger: {civil: otp}}'), /validForHours/, 'a stronger rule needs a lifetime too')
  tt.throws(load('{needs: portal, validForHours: 2, stronger: {civil: otp}}'), /no stronger than the purpose/)
  tt.throws(load('{needs: otp, validForHours: 2, stronger: {civil.plots: portal}}'), /does not read/, 'a field the purpose does not read')
  tt.throws(load('{needs: otp, validForHours: 2, stronger: {land: portal}}'), /does not read/, 'a source the purpose does not read')
  tt.throws(load('{needs: sms, validForHours: 2}'), /needs/)
})
