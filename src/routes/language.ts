import type { FastifyRequest } from 'fastify'

type Lang = 'mn' | 'en'

// The answer's language: `lang` when asked for, else the most preferred of
// mn and en in Accept-Language (RFC 9110 q-values; q=0 means "not this"),
// else Mongolian.
export function languageOf (request: FastifyRequest, lang?: Lang): Lang {
  if (lang !== undefined) return lang
  let best: { lang: Lang, q: number } | null = null
  for (const part of (request.headers['accept-language'] ?? '').split(',')) {
    const [range = '', ...params] = part.split(';').map((x) => x.trim())
    const tag = range.slice(0, 2).toLowerCase()
    if ((tag !== 'mn' && tag !== 'en') || (range.length > 2 && range[2] !== '-')) continue
    const qParam = params.find((p) => /^q=/i.test(p))
    const q = qParam === undefined ? 1 : Number(qParam.slice(2))
    if (Number.isFinite(q) && q > 0 && (best === null || q > best.q)) best = { lang: tag, q }
  }
  return best?.lang ?? 'mn'
}
