import t from 'tap'
import { request } from 'undici'
import { checkCallbackUrl, createAddressPolicy, createCallbackAgent } from '../../src/callbacks/url-guard.ts'
import { noLookup, refusal } from '../helpers/url-guard.ts'

// Finding 8: special-purpose ranges that passed the SSRF guard as public
// (Teredo, the 6to4 relay anycast) and addresses that embed an IPv4 address.

const strict = createAddressPolicy({ allowedCidrs: [] })

t.test('Teredo and the 6to4 relay anycast are refused', async (tt) => {
  for (const address of [
    '2001::1', // Teredo 2001::/32
    '2001:0:4136:e378:8000:63bf:3fff:fdd2', // a Teredo address (server 65.54.227.120)
    '2001:0:ffff:ffff:ffff:ffff:ffff:ffff',
    '192.88.99.1', // 6to4 relay anycast 192.88.99.0/24
    '192.88.99.255',
    '::ffff:192.88.99.1', // the same, IPv4-mapped
    '::ffff:c058:6301', // and in the hex form the URL parser writes
    '2002:c058:6301::1', // 6to4 for the relay itself
  ]) {
    tt.notOk(strict.isPublic(address), `${address} is refused`)
    tt.type(strict.why(address), 'string', address)
  }
  tt.match(strict.why('2001::1'), /teredo/i)
})

t.test('addresses that embed a private IPv4 address are refused, naming the range inside', async (tt) => {
  const cases: Array<[string, RegExp]> = [
    ['::ffff:10.0.0.1', /private/],
    ['::ffff:7f00:1', /loopback/],
    ['::ffff:169.254.169.254', /cloud metadata/],
    ['64:ff9b::10.0.0.1', /private.*NAT64|NAT64.*private/],
    ['64:ff9b::7f00:1', /loopback.*NAT64|NAT64.*loopback/],
    ['64:ff9b::a9fe:a9fe', /NAT64/],
    ['2002:0a00:0001::1', /private.*6to4|6to4.*private/],
    ['2002:7f00:1::1', /loopback.*6to4|6to4.*loopback/],
    ['2002:c0a8:0101::', /private.*6to4|6to4.*private/],
    ['2002:a9fe:a9fe::', /6to4/],
    ['::ffff:0:10.0.0.1', /private|translated/i], // RFC 6145 IPv4-translated
    ['::7f00:1', /./], // IPv4-compatible (deprecated ::/96)
    ['::10.0.0.1', /./],
  ]
  for (const [address, reason] of cases) {
    const why = strict.why(address)
    tt.type(why, 'string', `${address} is refused`)
    tt.match(why ?? '', reason, `${address}: ${why}`)
  }
  // NAT64 and 6to4 are refused whatever they carry: the gateway has no
  // business reaching a portal through a translator or a deprecated tunnel.
  tt.notOk(strict.isPublic('64:ff9b::808:808'))
  tt.notOk(strict.isPublic('2002:5db8:d70e::1'))
})

t.test('every other special-purpose range is refused', async (tt) => {
  const table: string[] = [
    // IPv4
    '0.0.0.0', '0.255.255.255', '10.1.2.3', '100.64.0.1', '127.0.0.1', '169.254.0.1', '172.16.0.1', '192.168.0.1',
    '192.0.0.1', '192.0.2.1', '198.18.0.1', '198.51.100.1', '203.0.113.1', '224.0.0.1', '239.255.255.255',
    '240.0.0.1', '255.255.255.255',
    '192.175.48.1', '192.31.196.1', // AS112
    '192.52.193.1', // AMT
    '168.63.129.16', // Azure's platform endpoint
    // IPv6
    '::', '::1', 'fe80::1', 'fc00::1', 'fd00:ec2::254', 'fec0::1', 'ff02::1', '100::1', '2001:db8::1', '2001:2::1',
    '2001:3::1', '2001:4:112::1', '2620:4f:8000::1', '2001:10::1', '2001:20::1', '2001:30::1', '3fff::1', '5f00::1',
    '2001:1::1', // IETF protocol assignments 2001::/23
    '4000::1', 'e000::1', // outside the global unicast space 2000::/3
  ]
  for (const address of table) {
    tt.notOk(strict.isPublic(address), `${address} is refused (${strict.why(address)})`)
  }
})

t.test('public addresses are still allowed', async (tt) => {
  for (const address of ['8.8.8.8', '1.1.1.1', '93.184.215.14', '192.88.98.255', '192.88.100.1', '202.131.0.1',
    '::ffff:8.8.8.8', '2606:4700:4700::1111', '2001:4860:4860::8888', '2a00:1450:4001::200e', '2001:200::1',
    '2406:da14::1']) {
    tt.equal(strict.why(address), null, address)
    tt.ok(strict.isPublic(address), address)
  }
})

t.test('registration refuses Teredo and 6to4-relay callback URLs', async (tt) => {
  for (const url of ['https://[2001::1]/cb', 'https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/cb', 'https://192.88.99.1/cb',
    'https://[2002:c0a8:101::1]/cb', 'https://[64:ff9b::a00:1]/cb']) {
    const err = await refusal(checkCallbackUrl(url, strict, { lookup: noLookup }))
    tt.equal(err.code, 'CALLBACK_URL_REFUSED', url)
  }
  const byName = await refusal(checkCallbackUrl('https://relay.example.org/cb', strict, {
    lookup: async () => [{ address: '2001:0:4136:e378:8000:63bf:3fff:fdd2', family: 6 }],
  }))
  tt.match(byName.detail, /resolves to an address in a refused range/)
})

t.test('the connection-time check refuses them too, before connecting', async (tt) => {
  const agent = createCallbackAgent(strict, { connectTimeoutMs: 500, bodyTimeoutMs: 500 })
  tt.teardown(() => agent.close())
  for (const host of ['[2001::1]', '192.88.99.1', '[2002:a00:1::1]', '[::ffff:c058:6301]']) {
    await tt.rejects(request(`http://${host}:9/cb`, { method: 'POST', body: '{}', dispatcher: agent }),
      { code: 'ECALLBACKREFUSED' }, host)
  }
})

t.test('CALLBACK_ALLOWED_CIDRS still names exceptions, and bad ones fail', async (tt) => {
  const policy = createAddressPolicy({ allowedCidrs: ['192.88.99.0/24', '2001::/32', '10.1.0.0/16', 'fd00:1::/32'] })
  tt.equal(policy.why('192.88.99.7'), null)
  tt.equal(policy.why('::ffff:192.88.99.7'), null, 'the mapped form of an allowed address')
  tt.equal(policy.why('2001::5'), null)
  tt.equal(policy.why('10.1.2.3'), null)
  tt.equal(policy.why('fd00:1::9'), null)
  tt.type(policy.why('10.2.0.1'), 'string')
  tt.type(policy.why('2002:c058:6301::1'), 'string', 'an allowed IPv4 range does not open its 6to4 form')
  for (const cidr of ['10.0.0.0', '10.0.0.0/33', '::1/129', 'nope/8', '10.0.0/8', '']) {
    tt.throws(() => createAddressPolicy({ allowedCidrs: [cidr] }), /invalid CIDR in allowedCidrs/, JSON.stringify(cidr))
  }
})
