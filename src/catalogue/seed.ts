import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { transliterate } from '../domain/transliterate.ts'
import type { CatalogueDocument, Level, MobileRound, Office, Unit } from './document.ts'
import { createSnapshot } from './snapshot.ts'

export const SEED_DIR = join(import.meta.dirname, '..', '..', 'seed')

interface CodeListUnit { code: string, name_mn: string, name_en?: string, level: Level, parent: string | null }

// Units from the national statistics code list; English names the list lacks
// are transliterated (MNS 5217).
export function loadUnits (file: string = join(SEED_DIR, 'mn-admin-units.json')): Unit[] {
  const list = JSON.parse(readFileSync(file, 'utf8')) as { units: CodeListUnit[] }
  return list.units.map((u) => ({
    code: u.code,
    level: u.level,
    parent: u.parent,
    name: { mn: u.name_mn, en: u.name_en ?? transliterate(u.name_mn) },
  }))
}

// The seed catalogue: the code list plus seed/catalogue.yaml, with the
// generated mobile OSS schedule and example offices (below).
export function buildSeedDocument (dir: string = SEED_DIR): CatalogueDocument {
  const doc = parse(readFileSync(join(dir, 'catalogue.yaml'), 'utf8')) as CatalogueDocument
  const base: CatalogueDocument = { ...doc, format: 'oss-catalogue/1', units: loadUnits(join(dir, 'mn-admin-units.json')) }
  return {
    ...base,
    units: withOffices(base),
    mobileRounds: [...base.mobileRounds, ...scheduledRounds(base)],
  }
}

// The mobile OSS schedule of the seed, one year from a fixed start (never
// today, so the seed is the same document whenever it is built). Every soum's
// van visits all of its bags, one bag a day, once a quarter and every month
// of the summer, when herders are on their summer pastures and the roads are
// open: December, March, June, July, August and October. Soums of an aimag
// start on different days so the aimag's officers are not all out at once.
export const SCHEDULE_START = '2026-12-01'
const SCHEDULE_MONTHS = ['2026-12', '2027-03', '2027-06', '2027-07', '2027-08', '2027-10']

export function scheduledRounds (doc: CatalogueDocument): MobileRound[] {
  const snap = createSnapshot(0, '', { ...doc, mobileRounds: [] })
  const rounds: MobileRound[] = []
  for (const aimag of doc.units.filter((u) => u.level === 'aimag')) {
    snap.children(aimag.code).filter((s) => s.level === 'soum').forEach((soum, index) => {
      const bags = snap.children(soum.code).filter((b) => b.level === 'bag').map((b) => b.code)
      // What the soum's OSS offers and may also take on the road.
      const services = [...snap.offers(soum.code).values()]
        .filter((o) => o.channels.includes('mobile_oss') && o.service.applicants.includes('officer'))
        .map((o) => o.service.code)
      if (bags.length === 0 || services.length === 0) return
      const startDay = 1 + (index * 2) % 7
      for (const month of SCHEDULE_MONTHS) {
        rounds.push({
          id: `mobile-${soum.code}-${month}`,
          unit: soum.code,
          from: `${month}-${String(startDay).padStart(2, '0')}`,
          to: `${month}-${String(startDay + bags.length - 1).padStart(2, '0')}`,
          bags,
          services,
        })
      }
    })
  }
  return rounds
}

// Example offices for every unit whose OSS offers something. They are NOT
// real offices: addresses are the governor's office of the unit, hours the
// civil service's, and every phone number follows the fictitious pattern
// +976-000-<unit code>, which no Mongolian number can have (subscriber
// numbers never start with 0), so no one's real number is published.
const KAZAKH_AIMAG = '83' // Bayan-Ölgii: officers speak Kazakh as well

export function withOffices (doc: CatalogueDocument): Unit[] {
  const snap = createSnapshot(0, '', doc)
  const units = new Map(doc.units.map((u) => [u.code, u]))
  return doc.units.map((u) => {
    if (u.office !== undefined || snap.offers(u.code).size === 0) return u
    return { ...u, office: exampleOffice(u, (code) => units.get(code)) }
  })
}

function exampleOffice (u: Unit, unit: (code: string) => Unit | undefined): Office {
  const parent = u.parent === null ? undefined : unit(u.parent)
  const grand = parent?.parent == null ? undefined : unit(parent.parent)
  const n = (x: Unit | undefined) => x?.name ?? { mn: '', en: '' }
  const address = {
    capital: { mn: `${u.name.mn} хот, Засаг даргын Тамгын газар, Нэг цэгийн үйлчилгээний төв`, en: `One-Stop-Shop, Governor's Office of ${u.name.en}` },
    aimag: { mn: `${u.name.mn} аймаг, Засаг даргын Тамгын газар, Нэг цэгийн үйлчилгээний төв`, en: `One-Stop-Shop, Governor's Office of ${u.name.en} aimag` },
    district: { mn: `${n(parent).mn} хот, ${u.name.mn} дүүрэг, Засаг даргын Тамгын газар`, en: `Governor's Office of ${u.name.en} district, ${n(parent).en}` },
    soum: { mn: `${n(parent).mn} аймаг, ${u.name.mn} сум, Засаг даргын Тамгын газар`, en: `Governor's Office of ${u.name.en} soum, ${n(parent).en} aimag` },
    khoroo: { mn: `${n(grand).mn} хот, ${n(parent).mn} дүүрэг, ${u.name.mn}, Засаг даргын Тамгын газар`, en: `Governor's Office of ${u.name.en}, ${n(parent).en} district, ${n(grand).en}` },
    bag: { mn: `${n(grand).mn} аймаг, ${n(parent).mn} сум, ${u.name.mn}, багийн Засаг даргын байр`, en: `Bag Governor's office, ${u.name.en}, ${n(parent).en} soum, ${n(grand).en} aimag` },
  }[u.level]
  const small = u.level === 'bag' || u.level === 'khoroo'
  const hours = small
    ? { mn: 'Даваа–Баасан 09:00–17:00 (цайны цаг 13:00–14:00)', en: 'Mon–Fri 09:00–17:00 (lunch 13:00–14:00)' }
    : { mn: 'Даваа–Баасан 08:30–17:30, цайны цагаар ажиллана; Бямба 10:00–14:00', en: 'Mon–Fri 08:30–17:30, open at lunchtime; Sat 10:00–14:00' }
  const languages = u.code.startsWith(KAZAKH_AIMAG) ? ['mn', 'kk'] : u.level === 'capital' || u.level === 'district' ? ['mn', 'en'] : ['mn']
  return { address, phone: `+976-000-${u.code}`, hours, languages, example: true }
}
