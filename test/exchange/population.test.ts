import { createHash } from 'node:crypto'
import t from 'tap'
import { Ajv } from 'ajv'
import { parseRegnum } from '../../src/domain/regnum.ts'
import { loadAdminUnits } from '../../src/exchange/admin-units.ts'
import { ApplicationDesk } from '../../src/exchange/applications.ts'
import { coreDigest, generatePopulation, type Population } from '../../src/exchange/population.ts'
import { PROVIDERS } from '../../src/exchange/providers.ts'

// Every record of every registry for every citizen, hashed in a fixed order.
function fullDigest (population: Population): string {
  const hash = createHash('sha256').update(coreDigest(population))
  for (const c of population.citizens) {
    for (const p of PROVIDERS) {
      const desk = new ApplicationDesk(p.memberCode, { decisionDelayMs: 0, now: () => 0 })
      for (const s of p.services.values()) {
        if (s.kind !== 'read' || s.code === 'getApplicationStatus') continue
        const out = s.handle({ population, desk, clientId: 'x', xRoadId: 'x', body: { regnum: c.regnum } })
        hash.update(`${p.name}/${s.code}:${JSON.stringify(out)}\n`)
      }
    }
  }
  return hash.digest('hex')
}

t.test('the same seed gives the same data; another seed does not', async (t) => {
  const a = fullDigest(generatePopulation({ seed: 'digest-seed', citizens: 400 }))
  const b = fullDigest(generatePopulation({ seed: 'digest-seed', citizens: 400 }))
  const c = fullDigest(generatePopulation({ seed: 'another-seed', citizens: 400 }))
  t.match(a, /^[0-9a-f]{64}$/)
  t.equal(a, b, 'digest is reproducible')
  t.not(a, c, 'a different seed gives different data')
})

t.test('the population is prefix-stable, so samples exist at any size', async (t) => {
  const small = generatePopulation({ seed: 'prefix', citizens: 200 })
  const large = generatePopulation({ seed: 'prefix', citizens: 5000 })
  t.same(small.citizens.slice(0, 190).map((c) => c.regnum), large.citizens.slice(0, 190).map((c) => c.regnum))
})

t.test('registration numbers are well formed, unique and match the person', async (t) => {
  const population = generatePopulation({ seed: 'regnum-seed', citizens: 20_000 })
  t.equal(population.citizens.length, 20_000)
  const seen = new Set<string>()
  let bad = 0
  for (const c of population.citizens) {
    const parsed = parseRegnum(c.regnum)
    if (!parsed.ok || parsed.birthDate !== c.birthDate || parsed.sex !== c.sex || seen.has(c.regnum)) bad++
    seen.add(c.regnum)
  }
  t.equal(bad, 0, 'every number parses, carries the birth date and sex, and is unique')
  t.ok(population.citizens.some((c) => c.birthDate >= '2000-01-01'), 'includes people born from 2000 (month + 20)')
  for (const c of population.citizens.slice(0, 50)) {
    t.match(c.firstname, /^[А-ЯЁӨҮа-яёөү-]+$/u)
    t.match(c.lastname, /^[А-ЯЁӨҮа-яёөү-]+$/u)
  }
})

t.test('home units come from the national code list, with full parent chains', async (t) => {
  const units = loadAdminUnits()
  const population = generatePopulation({ seed: 'unit-seed', citizens: 5000 })
  let bad = 0
  for (const c of population.citizens) {
    const home = units.byCode.get(c.homeUnit)
    const middle = home?.parent == null ? undefined : units.byCode.get(home.parent)
    const top = middle?.parent == null ? undefined : units.byCode.get(middle.parent)
    if (home === undefined || !['bag', 'khoroo'].includes(home.level) || middle === undefined || top === undefined || !c.homeUnit.startsWith(middle.code) || !middle.code.startsWith(top.code)) bad++
  }
  t.equal(bad, 0)
  const levels = new Set(population.citizens.map((c) => units.byCode.get(c.homeUnit)?.level))
  t.same([...levels].sort(), ['bag', 'khoroo'])
})

t.test('families link both ways', async (t) => {
  const population = generatePopulation({ seed: 'family-seed', citizens: 5000 })
  const { citizens } = population
  let children = 0
  let marriages = 0
  for (const c of citizens) {
    for (const p of [c.fatherIndex, c.motherIndex]) {
      if (p === null) continue
      children++
      const parent = citizens[p]
      t.ok(parent?.childIndexes.includes(c.index), 'a parent lists the child')
      t.ok(parent !== undefined && parent.birthDate < c.birthDate, 'a parent is older than the child')
    }
    for (const k of c.childIndexes) {
      const child = citizens[k]
      t.ok(child?.fatherIndex === c.index || child?.motherIndex === c.index, 'a child names the parent')
    }
    if (c.spouseIndex !== null) {
      marriages++
      const spouse = citizens[c.spouseIndex]
      t.equal(spouse?.spouseIndex, c.index, 'marriage is symmetric')
      t.equal(spouse?.marriageCertificate, c.marriageCertificate)
    }
    const father = c.fatherIndex === null ? undefined : citizens[c.fatherIndex]
    if (father !== undefined) t.equal(c.lastname, father.firstname, "the patronymic is the father's given name")
  }
  t.ok(children > 1000, `many parent links (${children})`)
  t.ok(marriages > 500, `many marriages (${marriages / 2})`)
})

t.test('every read service answers within its published schema', async (t) => {
  const population = generatePopulation({ seed: 'schema-seed', citizens: 600 })
  const ajv = new Ajv({ strict: false })
  for (const p of PROVIDERS) {
    const desk = new ApplicationDesk(p.memberCode, { decisionDelayMs: 0, now: () => 0 })
    for (const s of p.services.values()) {
      if (s.kind !== 'read' || s.code === 'getApplicationStatus') continue
      const validate = ajv.compile(s.response)
      let failures = 0
      let first = ''
      for (const c of population.citizens) {
        const out = s.handle({ population, desk, clientId: 'x', xRoadId: 'x', body: { regnum: c.regnum } })
        if (!validate(out)) {
          failures++
          first ||= JSON.stringify(validate.errors)
        }
      }
      t.equal(failures, 0, `${p.name}/${s.code} ${first}`)
    }
  }
})
