import dns from 'node:dns'
import net from 'node:net'
import ipaddr from 'ipaddr.js'
import { Agent, buildConnector } from 'undici'
import { ProblemError, type FieldError } from '../errors/problem-error.ts'

// The SSRF guard for portal status-callback URLs. A portal names a URL and the
// gateway POSTs to it from inside the network, so the URL must not reach
// loopback, private networks, link-local (cloud metadata) or other special
// ranges. It is checked twice: at registration (checkCallbackUrl, so the portal
// gets a clear 422) and at every connection (createCallbackAgent), because a
// name can resolve elsewhere later (DNS rebinding).

export const MAX_CALLBACK_URL_LENGTH = 2048

export interface AddressPolicy {
  // True when the gateway may connect to this address.
  isPublic: (address: string) => boolean
  // Why the address is refused, or null when it is allowed.
  why: (address: string) => string | null
}

export interface AddressPolicyOptions {
  // Exceptions to the refused ranges, as CIDRs ('10.1.0.0/16', '::1/128'): a
  // deployment's own portal network, or a test portal on loopback.
  allowedCidrs: string[]
}

export interface ResolvedAddress {
  address: string
  family: number
}

export type LookupAll = (host: string) => Promise<ResolvedAddress[]>

export interface CheckCallbackUrlOptions {
  // Resolves a name to all its addresses; dns.promises.lookup by default.
  lookup?: LookupAll
}

export interface CallbackAgentOptions {
  connectTimeoutMs?: number
  headersTimeoutMs?: number
  bodyTimeoutMs?: number
}

// What guardedLookup and the agent's connector fail with, so that delivery can
// tell a refused destination from a network error.
export class CallbackRefusedError extends Error {
  readonly code = 'ECALLBACKREFUSED'
  readonly hostname: string
  readonly address: string
  readonly reason: string
  constructor (hostname: string, address: string, reason: string) {
    super(`callback host ${hostname} refused: ${address} is in a refused range (${reason})`)
    this.name = 'CallbackRefusedError'
    this.hostname = hostname
    this.address = address
    this.reason = reason
  }
}

type Address = ipaddr.IPv4 | ipaddr.IPv6
type Cidr = [Address, number]

// The ranges come from ipaddr.js's classification (IANA's special-purpose
// registries): only its 'unicast' is public. These name its ranges for people.
const REASONS: Record<string, string> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade NAT',
  private: 'private network',
  uniqueLocal: 'private network',
  deprecatedSiteLocal: 'private network',
  // 192.0.0.0/24, documentation, benchmarking, the 6to4 relay anycast
  // 192.88.99.0/24, 240.0.0.0/4; in IPv6, 2001::/23, 2001:db8::/32, 3fff::/20.
  reserved: 'reserved',
  benchmarking: 'documentation/benchmark range',
  as112: 'AS112 sink',
  as112v6: 'AS112 sink',
  amt: 'AMT relay',
  discard: 'discard-only',
  rfc6052: 'NAT64',
  rfc6145: 'IPv4-translated',
  '6to4': '6to4',
  teredo: 'Teredo',
  deprecatedOrchid: 'ORCHID',
  orchid2: 'ORCHID',
  droneRemoteIdProtocolEntityTags: 'DRIP entity tags',
  segmentRouting: 'segment routing',
}

// Unicast to ipaddr.js, but never to be called: instance metadata services
// (168.63.129.16 is Azure's platform endpoint, reachable from every VM).
const METADATA: Cidr[] = ['169.254.169.254/32', '168.63.129.16/32', 'fd00:ec2::254/128'].map((c) => ipaddr.parseCIDR(c))

// IANA allocates IPv6 unicast only from 2000::/3; ipaddr.js calls the rest
// (IPv4-compatible ::/96, unallocated space) 'unicast' too.
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3')

function inAny (address: Address, cidrs: Cidr[]): boolean {
  return cidrs.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits))
}

function v4 (high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff])
}

// The IPv4 address that NAT64, SIIT, 6to4 and Teredo addresses carry (for
// Teredo the server's; the client's is obfuscated and behind NAT anyway).
function embeddedIpv4 (address: ipaddr.IPv6, range: string): ipaddr.IPv4 | null {
  const p = address.parts
  switch (range) {
    case 'rfc6052':
    case 'rfc6145': return v4(p[6]!, p[7]!)
    case '6to4': return v4(p[1]!, p[2]!)
    case 'teredo': return v4(p[2]!, p[3]!)
    default: return null
  }
}

// '[::1]' → '::1', 'fe80::1%eth0' → 'fe80::1'.
function bareAddress (address: string): string {
  let text = address.trim().toLowerCase()
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1)
  const zone = text.indexOf('%')
  return zone === -1 ? text : text.slice(0, zone)
}

// Strict: an address and a prefix length, as net.isIP reads addresses
// (ipaddr.js alone would also take '10.0.0/8' or '0x0a.0.0.0/8').
function parseAllowedCidr (cidr: string): Cidr {
  const slash = cidr.indexOf('/')
  const address = slash === -1 ? '' : cidr.slice(0, slash).trim()
  const prefix = slash === -1 ? '' : cidr.slice(slash + 1).trim()
  if (net.isIP(address) === 0 || !/^\d{1,3}$/.test(prefix) || !ipaddr.isValidCIDR(`${address}/${prefix}`)) {
    throw new Error(`invalid CIDR in allowedCidrs: ${JSON.stringify(cidr)} (expected an address and a prefix length, like 10.1.0.0/16 or ::1/128)`)
  }
  return ipaddr.parseCIDR(`${address}/${prefix}`)
}

export function createAddressPolicy (options: AddressPolicyOptions): AddressPolicy {
  const allowed = options.allowedCidrs.map(parseAllowedCidr)

  // Why an address is refused by the ranges alone, exceptions aside.
  const classify = (address: Address): string | null => {
    if (inAny(address, METADATA)) return 'cloud metadata'
    const range = address.range()
    if (address.kind() === 'ipv6') {
      const inside = embeddedIpv4(address as ipaddr.IPv6, range)
      if (inside !== null) {
        // Refused whatever it carries; the address inside says what it may reach.
        const reason = classify(inside)
        return reason === null ? REASONS[range]! : `${reason} (${REASONS[range]})`
      }
      if (range === 'unicast' && !address.match(GLOBAL_UNICAST_V6)) return 'reserved'
    }
    if (range === 'unicast') return null
    return REASONS[range] ?? range
  }

  const why = (input: string): string | null => {
    const text = bareAddress(input)
    if (net.isIP(text) === 0) return 'not an IP address'
    // An IPv4-mapped address reaches the IPv4 host: judged as that host,
    // exceptions included.
    const address = ipaddr.process(text)
    if (inAny(address, allowed)) return null
    return classify(address)
  }

  return { why, isPublic: (address) => why(address) === null }
}

function refuse (detail: string): never {
  const errors: FieldError[] = [{ in: 'body', pointer: '/url', detail }]
  throw new ProblemError('CALLBACK_URL_REFUSED', detail, { extensions: { errors } })
}

// Names that are local or internal whatever DNS says about them.
function isInternalName (hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') ||
    hostname === 'metadata.google.internal' || hostname.endsWith('.internal')
}

const defaultLookup: LookupAll = (host) => dns.promises.lookup(host, { all: true, verbatim: true })

// The registration-time check. Resolves to the parsed URL, or throws
// CALLBACK_URL_REFUSED (422) saying why.
export async function checkCallbackUrl (raw: string, policy: AddressPolicy, options: CheckCallbackUrlOptions = {}): Promise<URL> {
  if (raw.length > MAX_CALLBACK_URL_LENGTH) refuse(`the callback URL is longer than ${MAX_CALLBACK_URL_LENGTH} characters`)
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    refuse('the callback URL is not a valid absolute URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') refuse('the callback URL must use http or https')
  if (url.username !== '' || url.password !== '') refuse('the callback URL must not carry a user name or password')
  // 'https://x/#' has an empty hash but still a fragment
  if (url.hash !== '' || url.href.includes('#')) refuse('the callback URL must not have a fragment')

  // A trailing dot names the same host ('localhost.' is localhost).
  const hostname = url.hostname.replace(/\.+$/, '')
  if (hostname === '') refuse('the callback URL has no host')
  if (isInternalName(hostname)) refuse(`the callback URL host ${hostname} is a local or internal name`)

  const literal = bareAddress(hostname)
  if (net.isIP(literal) !== 0) {
    const reason = policy.why(literal)
    if (reason !== null) refuse(`the callback URL host ${url.hostname} is in a refused range (${reason})`)
    return url
  }

  let addresses: ResolvedAddress[]
  try {
    addresses = await (options.lookup ?? defaultLookup)(hostname)
  } catch {
    refuse(`the callback URL host ${hostname} does not resolve`)
  }
  if (addresses.length === 0) refuse(`the callback URL host ${hostname} does not resolve`)
  // Every address must pass: a connection may pick any of them. The address
  // itself is not echoed, so the check is no probe of internal DNS.
  for (const { address } of addresses) {
    const reason = policy.why(address)
    if (reason !== null) refuse(`the callback URL host ${hostname} resolves to an address in a refused range (${reason})`)
  }
  return url
}

// A `lookup` for net.connect (and so for undici's `connect` option) that
// resolves as usual and then refuses the name when any of its addresses is
// not allowed, so a name re-pointed after registration reaches nothing inside.
export function guardedLookup (policy: AddressPolicy): net.LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err !== null) {
        callback(err, options.all === true ? [] : '')
        return
      }
      for (const { address } of addresses) {
        const reason = policy.why(address)
        if (reason !== null) {
          callback(new CallbackRefusedError(hostname, address, reason), options.all === true ? [] : '')
          return
        }
      }
      const first = addresses[0]
      if (options.all === true) callback(null, addresses)
      else if (first === undefined) callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '')
      else callback(null, first.address, first.family)
    })
  }
}

// The undici Agent to deliver callbacks with. net.connect skips `lookup` for
// IP-literal hosts, so the connector checks those itself before connecting.
// No redirect interceptor: a 3xx answer is returned as is, never followed.
export function createCallbackAgent (policy: AddressPolicy, options: CallbackAgentOptions = {}): Agent {
  const connector = buildConnector({
    lookup: guardedLookup(policy),
    timeout: options.connectTimeoutMs ?? 10_000,
  })
  const connect: buildConnector.connector = (connectOptions, callback) => {
    const host = bareAddress(connectOptions.hostname)
    if (net.isIP(host) !== 0) {
      const reason = policy.why(host)
      if (reason !== null) {
        callback(new CallbackRefusedError(connectOptions.hostname, host, reason), null)
        return
      }
    }
    connector(connectOptions, callback)
  }
  return new Agent({
    connect,
    headersTimeout: options.headersTimeoutMs ?? 30_000,
    bodyTimeout: options.bodyTimeoutMs ?? 30_000,
  })
}
