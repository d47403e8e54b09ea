import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { transliterate } from '../domain/transliterate.ts'
import type { CatalogueDocument, Level, Unit } from './document.ts'

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

// The seed catalogue: the code list plus seed/catalogue.yaml.
export function buildSeedDocument (dir: string = SEED_DIR): CatalogueDocument {
  const doc = parse(readFileSync(join(dir, 'catalogue.yaml'), 'utf8')) as CatalogueDocument
  return { ...doc, format: 'oss-catalogue/1', units: loadUnits(join(dir, 'mn-admin-units.json')) }
}
