import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { request } from 'undici'
import {
  checkCallbackUrl,
  createAddressPolicy,
  createCallbackAgent,
  guardedLookup,
  type LookupAll,
} from '../../src/callbacks/url-guard.ts'
import { noLookup, refusal } from '../helpers/url-guard.ts'

const strict = createAddressPolicy({ allowedCidrs: [] })

// A lookup that never touches DNS: the machine is offline.
function fakeLookup (table: Record<string, string[]>): LookupAll {
  return async (host) => {
    const addresses = table[host]
    if (addresses === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
  }
}


t.test('refused IPv4 ranges, each with its reason', async (tt) => {
  const cases: Array<[string, string]> = [
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.0.0.1', 'private network'],
    ['10.255.255.255', 'private network'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.254', 'carrier-grade NAT'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['169.254.169.254', 'cloud metadata'],
    ['169.254.1.1', 'link-local'],
    ['172.16.0.1', 'private network'],
    ['172.31.255.255', 'private network'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.10', 'reserved'],
    ['192.168.1.1', 'private network'],
    ['198.18.0.1', 'reserved'],
    ['198.19.255.1', 'reserved'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.5', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
  ]
  for (const [address, reason] of cases) {
    tt.equal(strict.why(address), reason, address)
    tt.notOk(strict.isPublic(address), `${address} is not public`)
  }
})

t.test('public IPv4 addresses next to the refused ranges are allowed', async (tt) => {
  for (const address of ['93.184.215.14', '8.8.8.8', '1.1.1.1', '11.0.0.1', '100.63.255.255', '100.128.0.1',
    '172.15.255.255', '172.32.0.1', '192.169.0.1', '198.17.255.255', '198.20.0.1', '223.255.255.255', '169.253.0.1']) {
    tt.equal(strict.why(address), null, address)
    tt.ok(strict.isPublic(address), address)
  }
})

t.test('refused IPv6 ranges, each with its reason', async (tt) => {
  const cases: Array<[string, string]> = [
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fc00::1', 'private network'],
    ['fd12:3456::1', 'private network'],
    ['fd00:ec2::254', 'cloud metadata'],
    ['ff02::1', 'multicast'],
    ['ff0e::101', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['64:ff9b::808:808', 'NAT64'],
    ['64:ff9b::7f00:1', 'loopback (NAT64)'],
    ['::7f00:1', 'reserved'],
    ['FE80::ABCD', 'link-local'],
  ]
  for (const [address, reason] of cases) {
    tt.equal(strict.why(address), reason, address)
    tt.notOk(strict.isPublic(address), `${address} is not public`)
  }
  for (const address of ['2606:2800:220:1:248:1893:25c8:1946', '2a00:1450:4001::200e', '2001:4860:4860::8888']) {
    tt.equal(strict.why(address), null, address)
  }
})

t.test('IPv4-mapped IPv6 addresses are judged by the IPv4 inside', async (tt) => {
  tt.equal(strict.why('::ffff:127.0.0.1'), 'loopback')
  tt.equal(strict.why('::ffff:7f00:1'), 'loopback', 'hex form, as the URL parser writes it')
  tt.equal(strict.why('::ffff:169.254.169.254'), 'cloud metadata')
  tt.equal(strict.why('::ffff:a9fe:a9fe'), 'cloud metadata')
  tt.equal(strict.why('::ffff:10.0.0.1'), 'private network')
  tt.equal(strict.why('0:0:0:0:0:ffff:c0a8:101'), 'private network')
  tt.equal(strict.why('::ffff:0.0.0.0'), 'unspecified')
  tt.equal(strict.why('::ffff:93.184.215.14'), null, 'a mapped public address is public')
  tt.equal(strict.why('2002:7f00:1::1'), 'loopback (6to4)', 'a 6to4 address carries its IPv4 too')
  tt.equal(strict.why('2002:5db8:d70e::1'), '6to4', 'refused whatever it carries')
})

t.test('not an address at all', async (tt) => {
  tt.equal(strict.why('example.org'), 'not an IP address')
  tt.equal(strict.why(''), 'not an IP address')
  tt.equal(strict.why('127.1'), 'not an IP address')
})

t.test('allowedCidrs are exceptions to the refused ranges', async (tt) => {
  const policy = createAddressPolicy({ allowedCidrs: ['127.0.0.1/32', '10.1.0.0/16', '::1/128', 'fd00:1::/32'] })
  tt.equal(policy.why('127.0.0.1'), null)
  tt.equal(policy.why('127.0.0.2'), 'loopback', 'only the address named')
  tt.equal(policy.why('10.1.200.3'), null)
  tt.equal(policy.why('10.2.0.1'), 'private network')
  tt.equal(policy.why('::1'), null)
  tt.equal(policy.why('::ffff:127.0.0.1'), null, 'the mapped form of an allowed IPv4 address')
  tt.equal(policy.why('::ffff:10.2.0.1'), 'private network')
  tt.equal(policy.why('fd00:1:2::3'), null)
  tt.equal(policy.why('fd00:2::3'), 'private network')
  tt.equal(policy.why('169.254.169.254'), 'cloud metadata')
  tt.equal(policy.why('93.184.215.14'), null, 'public stays public')
})

t.test('an invalid CIDR in allowedCidrs fails at creation', async (tt) => {
  for (const cidr of ['10.0.0.0', '10.0.0.0/33', '::1/129', 'nope/8', '10.0.0/8', '10.0.0.0/', '10.0.0.0/x', '']) {
    tt.throws(() => createAddressPolicy({ allowedCidrs: [cidr] }), /invalid CIDR in allowedCidrs/, JSON.stringify(cidr))
  }
  tt.doesNotThrow(() => createAddressPolicy({ allowedCidrs: ['0.0.0.0/0', '::/0', '192.168.0.0/16'] }))
})

t.test('checkCallbackUrl refuses by the URL itself', async (tt) => {
  const cases: Array<[string, RegExp]> = [
    ['not a url', /not a valid absolute URL/],
    ['/relative/path', /not a valid absolute URL/],
    ['ftp://portal.example.org/cb', /http or https/],
    ['file:///etc/passwd', /http or https/],
    ['gopher://portal.example.org/', /http or https/],
    ['javascript:alert(1)', /http or https/],
    ['https://user:secret@portal.example.org/cb', /user name or password/],
    ['https://user@portal.example.org/cb', /user name or password/],
    ['https://portal.example.org/cb#frag', /fragment/],
    ['https://portal.example.org/cb#', /fragment/],
    [`https://portal.example.org/${'a'.repeat(2048)}`, /longer than 2048/],
  ]
  for (const [url, detail] of cases) {
    const err = await refusal(checkCallbackUrl(url, strict, { lookup: noLookup }))
    tt.equal(err.code, 'CALLBACK_URL_REFUSED', url.slice(0, 60))
    tt.equal(err.status, 422)
    tt.match(err.detail, detail, url.slice(0, 60))
    tt.same(err.extensions, { errors: [{ in: 'body', pointer: '/url', detail: err.detail }] })
  }
  const longest = `https://portal.example.org/${'a'.repeat(2048 - 'https://portal.example.org/'.length)}`
  tt.equal(longest.length, 2048)
  const url = await checkCallbackUrl(longest, strict, { lookup: fakeLookup({ 'portal.example.org': ['93.184.215.14'] }) })
  tt.equal(url.href, longest, 'exactly 2048 characters is fine')
})

t.test('checkCallbackUrl refuses local and internal names without resolving them', async (tt) => {
  for (const url of ['http://localhost/cb', 'http://LOCALHOST:8080/cb', 'http://localhost./cb', 'https://portal.localhost/',
    'http://metadata.google.internal/computeMetadata/v1/', 'https://api.corp.internal/cb']) {
    const err = await refusal(checkCallbackUrl(url, strict, { lookup: noLookup }))
    tt.match(err.detail, /local or internal name/, url)
  }
})

t.test('checkCallbackUrl checks IP-literal hosts directly', async (tt) => {
  const cases: Array<[string, string]> = [
    ['http://127.0.0.1:8080/cb', 'loopback'],
    ['http://2130706433/cb', 'loopback'],
    ['http://0x7f.1/cb', 'loopback'],
    ['http://0/cb', 'unspecified'],
    ['http://169.254.169.254/latest/meta-data/', 'cloud metadata'],
    ['http://10.0.0.5/cb', 'private network'],
    ['https://[::1]/cb', 'loopback'],
    ['https://[::ffff:127.0.0.1]/cb', 'loopback'],
    ['https://[::ffff:169.254.169.254]/cb', 'cloud metadata'],
    ['https://[fd00:ec2::254]/cb', 'cloud metadata'],
    ['https://[fe80::1]/cb', 'link-local'],
    ['https://[64:ff9b::a00:1]/cb', 'NAT64'],
  ]
  for (const [url, reason] of cases) {
    const err = await refusal(checkCallbackUrl(url, strict, { lookup: noLookup }))
    tt.equal(err.code, 'CALLBACK_URL_REFUSED')
    tt.ok(err.detail.includes(`(${reason})`), `${url}: ${err.detail}`)
  }
  const ok = await checkCallbackUrl('https://93.184.215.14:8443/status?x=1', strict, { lookup: noLookup })
  tt.equal(ok.href, 'https://93.184.215.14:8443/status?x=1')
  const ok6 = await checkCallbackUrl('https://[2606:2800:220:1:248:1893:25c8:1946]/cb', strict, { lookup: noLookup })
  tt.equal(ok6.hostname, '[2606:2800:220:1:248:1893:25c8:1946]')
  const allowed = createAddressPolicy({ allowedCidrs: ['127.0.0.1/32'] })
  tt.equal((await checkCallbackUrl('http://127.0.0.1:3000/cb', allowed, { lookup: noLookup })).port, '3000')
})

t.test('checkCallbackUrl resolves names and wants every address allowed', async (tt) => {
  const lookup = fakeLookup({
    'portal.example.org': ['93.184.215.14'],
    'dual.example.org': ['93.184.215.14', '2606:2800:220:1:248:1893:25c8:1946'],
    'mixed.example.org': ['93.184.215.14', '10.0.0.7'],
    'mixed6.example.org': ['2606:2800:220:1:248:1893:25c8:1946', '::1'],
    'metadata.example.org': ['169.254.169.254'],
    'empty.example.org': [],
  })
  const url = await checkCallbackUrl('https://portal.example.org/oss/status', strict, { lookup })
  tt.ok(url instanceof URL)
  tt.equal(url.href, 'https://portal.example.org/oss/status')
  tt.equal((await checkCallbackUrl('https://dual.example.org/', strict, { lookup })).hostname, 'dual.example.org')

  let err = await refusal(checkCallbackUrl('https://mixed.example.org/cb', strict, { lookup }))
  tt.match(err.detail, /resolves to an address in a refused range \(private network\)/)
  tt.notMatch(err.detail, /10\.0\.0\.7/, 'the internal address is not echoed')
  err = await refusal(checkCallbackUrl('https://mixed6.example.org/cb', strict, { lookup }))
  tt.match(err.detail, /\(loopback\)/)
  err = await refusal(checkCallbackUrl('https://metadata.example.org/cb', strict, { lookup }))
  tt.match(err.detail, /\(cloud metadata\)/)

  err = await refusal(checkCallbackUrl('https://nowhere.example.org/cb', strict, { lookup }))
  tt.match(err.detail, /nowhere\.example\.org does not resolve/)
  err = await refusal(checkCallbackUrl('https://empty.example.org/cb', strict, { lookup }))
  tt.match(err.detail, /does not resolve/)

  const allowed = createAddressPolicy({ allowedCidrs: ['10.0.0.0/24'] })
  tt.ok(await checkCallbackUrl('https://mixed.example.org/cb', allowed, { lookup }), 'allowedCidrs apply to resolved addresses')
})

t.test('checkCallbackUrl with the default lookup refuses a name that does not resolve', async (tt) => {
  // .invalid never resolves (RFC 6761), and fails fast offline.
  const err = await refusal(checkCallbackUrl('https://portal.invalid/cb', strict))
  tt.match(err.detail, /does not resolve/)
})

t.test('guardedLookup refuses a name that resolves to a refused address', async (tt) => {
  const lookup = guardedLookup(strict)
  const single = await new Promise<{ err: NodeJS.ErrnoException | null, address: unknown }>((resolve) => {
    lookup('localhost', { all: false }, (err, address) => resolve({ err, address }))
  })
  tt.equal(single.err?.code, 'ECALLBACKREFUSED')
  tt.match(single.err?.message, /localhost refused: 127\.0\.0\.1 .*\(loopback\)/)
  const all = await new Promise<{ err: NodeJS.ErrnoException | null, address: unknown }>((resolve) => {
    lookup('localhost', { all: true }, (err, address) => resolve({ err, address }))
  })
  tt.equal(all.err?.code, 'ECALLBACKREFUSED')

  const open = guardedLookup(createAddressPolicy({ allowedCidrs: ['127.0.0.0/8', '::1/128'] }))
  const ok = await new Promise<{ err: unknown, address: unknown, family: unknown }>((resolve) => {
    open('localhost', { all: false }, (err, address, family) => resolve({ err, address, family }))
  })
  tt.same(ok, { err: null, address: '127.0.0.1', family: 4 })
  const okAll = await new Promise<{ err: unknown, address: unknown }>((resolve) => {
    open('localhost', { all: true }, (err, address) => resolve({ err, address }))
  })
  tt.equal(okAll.err, null)
  tt.ok(Array.isArray(okAll.address) && okAll.address.some((a: { address: string }) => a.address === '127.0.0.1'))

  const missing = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
    lookup('portal.invalid', { all: false }, (err) => resolve(err))
  })
  tt.equal(missing?.code, 'ENOTFOUND', 'DNS errors pass through')
})

// A portal on loopback that counts what reaches it.
async function startPortal (tt: Test): Promise<{ port: number, hits: () => number }> {
  let hits = 0
  const server = http.createServer((req, res) => {
    hits++
    req.resume()
    if (req.url === '/redirect') {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end()
      return
    }
    res.writeHead(204).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  tt.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return { port: (server.address() as AddressInfo).port, hits: () => hits }
}

t.test('the callback agent refuses loopback at connection time', async (tt) => {
  const portal = await startPortal(tt)
  const agent = createCallbackAgent(strict, { connectTimeoutMs: 2000, bodyTimeoutMs: 2000 })
  tt.teardown(() => agent.close())

  await tt.rejects(
    request(`http://127.0.0.1:${portal.port}/status`, { method: 'POST', body: '{}', dispatcher: agent }),
    { code: 'ECALLBACKREFUSED', reason: 'loopback' },
    'an IP-literal host is checked before connecting',
  )
  await tt.rejects(
    request(`http://localhost:${portal.port}/status`, { method: 'POST', body: '{}', dispatcher: agent }),
    { code: 'ECALLBACKREFUSED', hostname: 'localhost', reason: 'loopback' },
    'a name is checked after resolving it',
  )
  await tt.rejects(
    request(`http://[::ffff:127.0.0.1]:${portal.port}/status`, { method: 'POST', body: '{}', dispatcher: agent }),
    { code: 'ECALLBACKREFUSED', reason: 'loopback' },
    'the IPv4-mapped form too',
  )
  tt.equal(portal.hits(), 0, 'nothing reached the portal')
})

t.test('the callback agent connects where allowedCidrs allow it, and follows no redirect', async (tt) => {
  const portal = await startPortal(tt)
  const agent = createCallbackAgent(createAddressPolicy({ allowedCidrs: ['127.0.0.1/32'] }), { connectTimeoutMs: 2000, bodyTimeoutMs: 2000 })
  tt.teardown(() => agent.close())

  const res = await request(`http://127.0.0.1:${portal.port}/status`, { method: 'POST', body: '{}', dispatcher: agent })
  await res.body.dump()
  tt.equal(res.statusCode, 204)
  tt.equal(portal.hits(), 1)

  const byName = await request(`http://localhost:${portal.port}/status`, { method: 'POST', body: '{}', dispatcher: agent })
  await byName.body.dump()
  tt.equal(byName.statusCode, 204, 'localhost resolves to the allowed 127.0.0.1')
  tt.equal(portal.hits(), 2)

  const redirected = await request(`http://127.0.0.1:${portal.port}/redirect`, { method: 'POST', body: '{}', dispatcher: agent })
  await redirected.body.dump()
  tt.equal(redirected.statusCode, 302, 'the 3xx is returned, not followed')
  tt.equal(portal.hits(), 3)
})
