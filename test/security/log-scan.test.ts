import { Writable } from 'node:stream'
import t from 'tap'
import type { InjectOptions } from 'fastify'
import { generatePopulation, type Citizen } from '../../src/exchange/index.ts'
import { buildSeedDocument } from '../../src/catalogue/seed.ts'
import { buildTestApp } from '../helpers/app.ts'
import { eventually } from '../helpers/eventually.ts'

// Issue 11, item 2: drives every served route with personal data and tokens in
// the path, the query, the headers and the body, in every spelling the gateway
// accepts and several it refuses, then greps the whole log (level trace).

const population = generatePopulation({ citizens: 500 })
const LATIN: Readonly<Record<string, string>> = { А: 'A', В: 'B', Е: 'E', К: 'K', М: 'M', Н: 'H', О: 'O', Р: 'P', С: 'C', Т: 'T', Х: 'X' }
const hasLookalike = (c: Citizen) => LATIN[c.regnum[0]!] !== undefined
const adults = population.livingAdults()
// Half the subjects have a Latin look-alike letter, so that spelling is real.
const subjects = [...adults.filter(hasLookalike).slice(0, 12), ...adults.filter((c) => !hasLookalike(c)).slice(0, 12)]
const used = new Set<Citizen>()
let turn = 0
const nextCitizen = (): Citizen => {
  const c = subjects[turn++ % subjects.length]!
  used.add(c)
  return c
}

const fullwidth = (digits: string) => [...digits].map((d) => String.fromCodePoint(0xFF10 + Number(d))).join('')

// Spellings of one registration number: the gateway normalises the first
// ones to the number itself and refuses the others.
function spellings (regnum: string): { accepted: string[], refused: string[] } {
  const letters = regnum.slice(0, 2)
  const digits = regnum.slice(2)
  const latin = [...letters].map((c) => LATIN[c] ?? c).join('')
  return {
    accepted: [
      regnum,
      `${letters}-${digits}`,
      `${letters} ${digits}`,
      `${latin}${digits}`,
      `${latin[0]}${letters[1]}${digits}`,
      regnum.toLowerCase(),
      `${letters.toLowerCase()}-${digits.slice(0, 4)} ${digits.slice(4)}`,
    ],
    refused: [
      `${letters}${fullwidth(digits)}`,
      `${letters}\u200B${digits.slice(0, 4)}\u200B${digits.slice(4)}`,
      `${letters}\u00AD${digits}`,
      `${regnum}7`,
      `${latin}${fullwidth(digits)}`,
    ],
  }
}
const allSpellings = (regnum: string) => { const s = spellings(regnum); return [...s.accepted, ...s.refused] }
let spellingTurn = 0
const someSpelling = (c: Citizen) => { const all = allSpellings(c.regnum); return all[spellingTurn++ % all.length]! }

// What a log is searched in: percent-decoded, NFKC (fullwidth digits become
// ASCII), without zero-width characters, soft hyphens, spaces and hyphens.
function normalise (text: string): string {
  let s = text
  for (let i = 0; i < 3; i++) {
    s = s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (m) => { try { return decodeURIComponent(m) } catch { return m } })
  }
  return s.normalize('NFKC').replace(/[\u200B-\u200D\u2060\uFEFF\u00AD\s-]+/gu, '').replace(/\\u200b|\\u00ad/gi, '')
}

const JWT_SHAPE = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{8,}/

t.test('no registration number, name or token reaches the log, whatever route and spelling', async (tt) => {
  const lines: string[] = []
  const logStream = new Writable({ write (chunk, _e, done) { lines.push(String(chunk)); done() } })
  const { app, token } = await buildTestApp(tt, {
    exchange: { citizens: 500, decisionDelayMs: 50 },
    env: { LOG_LEVEL: 'trace', UNIT_LOOKUPS_PER_MINUTE: '100000', DELIVERY_BACKOFF_BASE_MS: '20', DELIVERY_BACKOFF_MAX_MS: '100', OUTBOX_POLL_MS: '50', DECISION_POLL_MS: '50' },
    appOptions: { logStream },
  })
  const tokens: string[] = []
  const sign = async (role: string, claims: Record<string, unknown> = {}) => {
    const jwt = await token(role, { claims })
    tokens.push(jwt)
    return jwt
  }
  let officers = 0
  const officerClaims = () => ({ agency: 'GOSW', unit: '8322', sub: `officer-${officers++}` })
  const bearer = async (role: string, c: Citizen): Promise<Record<string, string>> => {
    if (role === 'none') return {}
    const claims = role === 'citizen' ? { sub: c.regnum } : role === 'officer' ? officerClaims() : {}
    return { authorization: `Bearer ${await sign(role, claims)}` }
  }
  // Headers that carry tokens and personal data besides Authorization.
  const extraHeaders = async (c: Citizen) => ({
    cookie: `oss_queues_session=${await sign('admin')}; regnum=${encodeURIComponent(c.regnum)}`,
    'x-access-token': await sign('admin'),
    'x-road-userid': c.regnum,
    'x-citizen-name': encodeURIComponent(`${c.surname} ${c.lastname} ${c.firstname}`),
    referer: `https://portal.example.mn/citizens/${encodeURIComponent(c.regnum)}?jwt=${await sign('admin')}`,
  })
  const personalBody = async (c: Citizen) => ({
    regnum: someSpelling(c),
    citizen: c.regnum,
    applicant: { regnum: someSpelling(c), firstname: c.firstname, lastname: c.lastname, surname: c.surname, givenName: c.firstname, birthDate: c.birthDate, civilId: c.civilId },
    name: `${c.surname} ${c.lastname} ${c.firstname}`,
    token: await sign('admin'),
    jwt: await sign('admin'),
    url: `https://portal.example.mn/cb?access_token=${await sign('admin')}&regnum=${encodeURIComponent(c.regnum)}`,
  })

  const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
    paths: Record<string, Record<string, { parameters?: Array<{ in: string, name: string, schema?: { type?: string | string[], enum?: unknown[] } }> }>>
  }
  const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).filter(([m]) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map(([method, op]) => ({ path, method: method.toUpperCase(), op })))
  tt.ok(operations.length > 40, `${operations.length} operations served`)
  tt.ok(operations.some((o) => o.path === '/v1/citizens/{regnum}'))

  const fillPath = (path: string, c: Citizen, spelling: string, raw = false) => path.replace(/\{([^}]+)\}/g, (_m, name: string) =>
    name === 'source' ? 'civil' : raw ? spelling : encodeURIComponent(spelling))

  let requests = 0
  const send = async (opts: InjectOptions) => {
    requests++
    return app.inject(opts)
  }

  // Every operation: each role, a path parameter in another spelling, every
  // declared query parameter carrying personal data, tokens in the query and a
  // personal body for writes.
  for (const { path, method, op } of operations) {
    for (const role of ['none', 'citizen', 'officer', 'admin']) {
      const c = nextCitizen()
      const query = new URLSearchParams()
      for (const p of op.parameters ?? []) {
        if (p.in !== 'query') continue
        if (p.name === 'purpose') query.set(p.name, 'welfare.eligibility')
        else if (p.name === 'case') query.set(p.name, 'CASE-1')
        else if (p.name === 'citizen' || p.name === 'regnum') query.set(p.name, someSpelling(c))
        else if (p.schema?.enum === undefined) query.set(p.name, p.name.endsWith('name') ? c.firstname : someSpelling(c))
      }
      const spelling = someSpelling(c)
      const qs = query.toString()
      const payload = ['POST', 'PUT', 'PATCH'].includes(method) ? await personalBody(c) : undefined
      await send({
        method: method as InjectOptions['method'],
        url: `${fillPath(path, c, spelling)}${qs === '' ? '' : `?${qs}`}`,
        headers: { ...await bearer(role, c), ...await extraHeaders(c), 'idempotency-key': `log-scan-${requests}` },
        ...(payload === undefined ? {} : { payload }),
      })
    }
    // Tokens in the query string, as a bearer would replay them.
    const c = nextCitizen()
    for (const name of ['jwt', 'access_token', 'token']) {
      await send({ method: method as InjectOptions['method'], url: `${fillPath(path, c, someSpelling(c))}?${name}=${await sign('admin')}&regnum=${encodeURIComponent(c.regnum)}&name=${encodeURIComponent(c.firstname)}` })
    }
  }

  // The routes that take a registration number, in every accepted spelling
  // (answered with the citizen's data) and in refused ones; encoded and raw.
  for (const c of subjects.slice(0, 6)) {
    used.add(c)
    const { accepted, refused } = spellings(c.regnum)
    for (const s of [...accepted, ...refused]) {
      const res = await send({ method: 'GET', url: `/v1/citizens/${encodeURIComponent(s)}?purpose=welfare.eligibility&case=CASE-1`, headers: await bearer('officer', c) })
      tt.equal(res.statusCode, accepted.includes(s) ? 200 : 400, `${JSON.stringify(s)} is ${accepted.includes(s) ? 'accepted' : 'refused'}`)
      await send({ method: 'GET', url: `/v1/citizens/${s}?purpose=welfare.eligibility&case=CASE-1&token=${await sign('officer')}`, headers: await bearer('officer', c) })
      await send({ method: 'GET', url: `/v1/citizens/${encodeURIComponent(s)}/civil?purpose=welfare.eligibility&case=CASE-1`, headers: await bearer('officer', c) })
      await send({ method: 'GET', url: `/v1/admin/audit?citizen=${encodeURIComponent(s)}`, headers: await bearer('admin', c) })
      // Routes that do not exist still see the number.
      await send({ method: 'GET', url: `/v1/citizens/${encodeURIComponent(s)}/civil/extra?jwt=${await sign('admin')}`, headers: await bearer('officer', c) })
      await send({ method: 'GET', url: `/v2/people/${encodeURIComponent(s)}?regnum=${encodeURIComponent(s)}` })
    }
  }
  const looked = await send({ method: 'GET', url: `/v1/citizens/${encodeURIComponent(subjects[0]!.regnum)}?purpose=welfare.eligibility&case=CASE-1`, headers: await bearer('officer', subjects[0]!) })
  tt.equal(looked.statusCode, 200, 'a look-up answers with the citizen\'s data')
  tt.equal(looked.json().sources.civil.data.givenName, subjects[0]!.firstname)
  const latinLooked = await send({ method: 'GET', url: `/v1/citizens/${spellings(subjects[1]!.regnum).accepted[3]!}?purpose=welfare.eligibility&case=CASE-1`, headers: await bearer('officer', subjects[1]!) })
  tt.equal(latinLooked.statusCode, 200, 'a Latin look-alike letter is accepted')

  // Tokens in the query string instead of the header: refused.
  for (const name of ['jwt', 'access_token', 'token']) {
    const res = await send({ method: 'GET', url: `/v1/me?${name}=${await sign('admin')}` })
    tt.match(res.json(), { status: 400, code: 'TOKEN_IN_URL' }, `?${name}= is not a credential`)
  }
  // A citizen's own token: its subject is their registration number.
  const me = nextCitizen()
  tt.equal((await send({ method: 'GET', url: '/v1/me', headers: await bearer('citizen', me) })).statusCode, 200)

  // Applications with personal data in the body, delivered to the agency.
  const seed = buildSeedDocument()
  const childMoney = seed.services.find((s) => s.code === 'welfare.child-money')!
  const ids: string[] = []
  for (const c of subjects.slice(0, 3)) {
    used.add(c)
    const res = await send({
      method: 'POST',
      url: '/v1/applications',
      headers: { ...await bearer('citizen', c), 'idempotency-key': `log-scan-app-${c.index}` },
      payload: { service: childMoney.code, unit: c.homeUnit, channel: 'online', applicant: { regnum: c.regnum }, form: (childMoney.formSchema.examples as object[])[0] },
    })
    tt.equal(res.statusCode, 202, res.body)
    ids.push(res.json().id)
    // Refused: a name where it does not belong, and a misspelt number.
    await send({
      method: 'POST',
      url: '/v1/applications',
      headers: { ...await bearer('citizen', c), 'idempotency-key': `log-scan-bad-${c.index}` },
      payload: { service: childMoney.code, unit: c.homeUnit, channel: 'online', applicant: { regnum: spellings(c.regnum).refused[0], firstname: c.firstname }, form: { ...(childMoney.formSchema.examples as object[])[0], name: c.firstname } },
    })
  }
  const batchOf = subjects.slice(3, 6)
  for (const c of batchOf) used.add(c)
  await send({
    method: 'POST',
    url: '/v1/applications/batch',
    headers: await bearer('officer', batchOf[0]!),
    payload: {
      items: batchOf.map((c, i) => ({
        idempotencyKey: `log-scan-batch-${c.index}`,
        application: {
          service: childMoney.code,
          unit: '8322',
          channel: 'oss_counter',
          applicant: { regnum: i === 0 ? c.regnum : spellings(c.regnum).accepted[i]! },
          form: i === 2 ? { name: c.firstname } : (childMoney.formSchema.examples as object[])[0],
        },
      })),
    },
  })
  // A portal callback URL with a token and a number in its query.
  await send({
    method: 'PUT',
    url: '/v1/admin/portals/test-portal/callback',
    headers: await bearer('admin', subjects[0]!),
    payload: { url: `https://portal.example.mn/hook?access_token=${await sign('admin')}&regnum=${encodeURIComponent(subjects[0]!.regnum)}` },
  })
  // Let the worker deliver, so its lines are in the log too.
  const admin = async () => ({ authorization: `Bearer ${await sign('admin')}` })
  for (const id of ids) {
    await eventually(async () => {
      const s = (await app.inject({ method: 'GET', url: `/v1/applications/${id}`, headers: await admin() })).json()
      return ['delivered', 'decided', 'failed'].includes(s.status)
    })
  }

  const text = lines.join('')
  tt.ok(lines.length > requests, `${lines.length} log lines for ${requests} requests`)
  tt.match(text, /incoming request/, 'request lines were captured')
  // JSON numbers are timings, counts and times, never identifiers (those are
  // strings): a response time such as 21.198500000013 holds any digit run.
  const flat = normalise(text.replace(/":-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?=[,}\]])/g, '":0'))
  const leaks: string[] = []
  for (const c of used) {
    if (flat.includes(c.regnum.slice(2))) leaks.push(`registration number ${c.regnum}`)
    for (const name of [c.firstname, c.lastname, c.surname]) {
      if (text.includes(name) || flat.includes(name)) leaks.push(`name ${name}`)
    }
    if (flat.includes(c.civilId)) leaks.push(`civil id ${c.civilId}`)
    if (text.includes(`"${c.birthDate}"`)) leaks.push(`birth date ${c.birthDate}`)
  }
  if (JWT_SHAPE.test(text) || JWT_SHAPE.test(flat)) leaks.push(`a JWT: ${(JWT_SHAPE.exec(text) ?? JWT_SHAPE.exec(flat))![0].slice(0, 40)}…`)
  for (const jwt of tokens) {
    if (text.includes(jwt.slice(-24))) { leaks.push('a token signature'); break }
  }
  tt.same([...new Set(leaks)], [], 'nothing personal and no token in the log')
  tt.ok(used.size >= 20, `${used.size} citizens used`)
  if (leaks.length > 0) {
    // Which lines leaked, to make a failure readable.
    const sample = lines.filter((l) => [...used].some((c) => normalise(l).includes(c.regnum.slice(2)) || l.includes(c.firstname)) || JWT_SHAPE.test(l)).slice(0, 8)
    tt.comment(sample.map((l) => l.slice(0, 400)).join('\n'))
  }
})
