// Mongolian Cyrillic to Latin after MNS 5217:2012, the national standard, as
// the national code list spells names (Övörkhangai, Govisümber). The `ascii`
// form writes ө and ү as o and u, for keyboards without them.

const MNS_5217: Readonly<Record<string, string>> = {
  а: 'a', б: 'b', в: 'v', г: 'g', д: 'd', е: 'ye', ё: 'yo', ж: 'j', з: 'z', и: 'i', й: 'i',
  к: 'k', л: 'l', м: 'm', н: 'n', о: 'o', ө: 'ö', п: 'p', р: 'r', с: 's', т: 't', у: 'u',
  ү: 'ü', ф: 'f', х: 'kh', ц: 'ts', ч: 'ch', ш: 'sh', щ: 'shch', ъ: 'i', ы: 'y', ь: 'i',
  э: 'e', ю: 'yu', я: 'ya',
}

export function transliterate (text: string, options: { ascii?: boolean } = {}): string {
  let out = ''
  for (const ch of text.normalize('NFC')) {
    const lower = ch.toLowerCase()
    let latin = MNS_5217[lower]
    if (latin === undefined) {
      out += ch
      continue
    }
    if (options.ascii === true) latin = latin.replace('ö', 'o').replace('ü', 'u')
    // Keep the capital: Х -> Kh, not KH, inside mixed-case names.
    out += ch === lower ? latin : latin.charAt(0).toUpperCase() + latin.slice(1)
  }
  return out
}

// A spelling-tolerant key for search: the same for хүүхэд, khuukhed, huuhed and
// xvvxed-style informal spellings. Applied to both the text and the query.
export function searchKey (text: string): string {
  return transliterate(text.toLowerCase(), { ascii: true })
    .normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
    .replace(/kh|x/g, 'h')
    .replace(/ts/g, 'c')
    .replace(/y([aeiou])/g, '$1')
    .replace(/[^a-z0-9]+/g, ' ')
    .replace(/([a-z])\1+/g, '$1')
    .trim()
}
