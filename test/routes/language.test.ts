import t from 'tap'
import Fastify from 'fastify'
import { languageOf } from '../../src/routes/language.ts'

// The answer's language, as every route picks it.
t.test('lang, then Accept-Language by q-value, then Mongolian', async (t) => {
  const app = Fastify()
  app.get('/', async (request) => ({ lang: languageOf(request, (request.query as { lang?: 'mn' | 'en' }).lang) }))
  t.teardown(() => app.close())
  const pick = async (header: string | undefined, query = '') =>
    (await app.inject({ url: `/${query}`, headers: header === undefined ? {} : { 'accept-language': header } })).json().lang
  t.equal(await pick(undefined), 'mn', 'nothing asked: Mongolian')
  t.equal(await pick('en'), 'en')
  t.equal(await pick('en-GB,en;q=0.9'), 'en')
  t.equal(await pick('fr, de;q=0.5'), 'mn', 'neither offered: Mongolian')
  t.equal(await pick('fr, en;q=0.2'), 'en', 'the first of ours, after what we do not have')
  t.equal(await pick('mn;q=0.5, en;q=0.8'), 'en', 'the higher q-value wins, whatever the order')
  t.equal(await pick('en;q=0.8, mn'), 'mn', 'no q-value is q=1')
  t.equal(await pick('en;q=0'), 'mn', 'q=0 refuses a language')
  t.equal(await pick('enx, en-US;q=0.3'), 'en', '"enx" is not English; en-US is')
  t.equal(await pick('EN;Q=0.7'), 'en', 'case does not matter')
  t.equal(await pick('en;q=abc, mn;q=0.1'), 'mn', 'a q-value that is no number is ignored')
  t.equal(await pick('en', '?lang=mn'), 'mn', 'lang first')
})
