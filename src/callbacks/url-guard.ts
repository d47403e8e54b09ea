import dns from 'node:dns'
import net from 'node:net'
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

type Family = 'ipv4' | 'ipv6'
type Rules = Array<{ reason: string, list: net.BlockList }>

// Most specific first: the first rule that matches names the reason.
const V4_RULES: Array<[string, string[]]> = [
  // 168.63.129.16 is Azure's platform endpoint, reachable from every VM.
  ['cloud metadata', ['169.254.169.254/32', '168.63.129.16/32']],
  ['unspecified', ['0.0.0.0/8']],
  ['loopback', ['127.0.0.0/8']],
  ['private network', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']],
  ['carrier-grade NAT', ['100.64.0.0/10']],
  ['link-local', ['169.254.0.0/16']],
  ['documentation/benchmark range', ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '198.18.0.0/15']],
  ['multicast', ['224.0.0.0/4']],
  ['broadcast', ['255.255.255.255/32']],
  ['reserved', ['192.0.0.0/24', '240.0.0.0/4']],
]

// IPv4-mapped (::ffff:0:0/96) and 6to4 (2002::/16) addresses are judged by
// the IPv4 address inside them, before these rules.
const V6_RULES: Array<[string, string[]]> = [
  ['cloud metadata', ['fd00:ec2::254/128']],
  ['unspecified', ['::/128']],
  ['loopback', ['::1/128']],
  ['link-local', ['fe80::/10']],
  ['private network', ['fc00::/7', 'fec0::/10']],
  ['multicast', ['ff00::/8']],
  ['documentation/benchmark range', ['2001:db8::/32', '3fff::/20', '2001:2::/48']],
  ['NAT64', ['64:ff9b::/96', '64:ff9b:1::/48']],
  // ::/8 holds the deprecated IPv4-compatible addresses; 100::/64 is discard-only.
  ['reserved', ['::/8', '100::/64']],
]

function parseCidr (cidr: string): { address: string, prefix: number, family: Family } {
  const slash = cidr.indexOf('/')
  const address = slash === -1 ? '' : cidr.slice(0, slash).trim()
  const prefixText = slash === -1 ? '' : cidr.slice(slash + 1).trim()
  const version = net.isIP(address)
  const max = version === 4 ? 32 : 128
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN
  if (version === 0 || !(prefix >= 0 && prefix <= max)) {
    throw new Error(`invalid CIDR in allowedCidrs: ${JSON.stringify(cidr)} (expected an address and a prefix length, like 10.1.0.0/16 or ::1/128)`)
  }
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' }
}

function buildRules (rules: Array<[string, string[]]>): Rules {
  return rules.map(([reason, cidrs]) => {
    const list = new net.BlockList()
    for (const cidr of cidrs) {
      const { address, prefix, family } = parseCidr(cidr)
      list.addSubnet(address, prefix, family)
    }
    return { reason, list }
  })
}

const v4Rules = buildRules(V4_RULES)
const v6Rules = buildRules(V6_RULES)

// '[::1]' → '::1', 'fe80::1%eth0' → 'fe80::1'.
function bareAddress (address: string): string {
  let text = address.trim().toLowerCase()
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1)
  const zone = text.indexOf('%')
  return zone === -1 ? text : text.slice(0, zone)
}

// The eight 16-bit groups of a valid IPv6 address (checked with net.isIPv6).
function ipv6Groups (address: string): number[] {
  let text = address
  const lastColon = text.lastIndexOf(':')
  const tail = text.slice(lastColon + 1)
  if (tail.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number)
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const parse = (part: string): number[] => part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16))
  const gap = text.indexOf('::')
  if (gap === -1) return parse(text)
  const head = parse(text.slice(0, gap))
  const rest = parse(text.slice(gap + 2))
  return [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest]
}

function ipv4FromGroups (high: number, low: number): string {
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`
}

// The IPv4 address an IPv6 address stands for, when it is IPv4-mapped.
function mappedIpv4 (groups: number[]): string | null {
  const [g0, g1, g2, g3, g4, g5 = 0, g6 = 0, g7 = 0] = groups
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff) return ipv4FromGroups(g6, g7)
  return null
}

// The IPv4 address a 6to4 address (2002:AABB:CCDD::/48) routes to.
function sixToFourIpv4 (groups: number[]): string | null {
  const [g0, g1 = 0, g2 = 0] = groups
  return g0 === 0x2002 ? ipv4FromGroups(g1, g2) : null
}

function firstMatch (rules: Rules, address: string, family: Family): string | null {
  for (const { reason, list } of rules) {
    if (list.check(address, family)) return reason
  }
  return null
}

export function createAddressPolicy (options: AddressPolicyOptions): AddressPolicy {
  const allowed = new net.BlockList()
  for (const cidr of options.allowedCidrs) {
    const { address, prefix, family } = parseCidr(cidr)
    allowed.addSubnet(address, prefix, family)
  }

  const whyV4 = (address: string): string | null => {
    if (allowed.check(address, 'ipv4')) return null
    return firstMatch(v4Rules, address, 'ipv4')
  }

  const why = (input: string): string | null => {
    const address = bareAddress(input)
    const version = net.isIP(address)
    if (version === 4) return whyV4(address)
    if (version !== 6) return 'not an IP address'
    const groups = ipv6Groups(address)
    // An IPv4-mapped address reaches the IPv4 host, exceptions included.
    const mapped = mappedIpv4(groups)
    if (mapped !== null) return whyV4(mapped)
    if (allowed.check(address, 'ipv6')) return null
    const sixToFour = sixToFourIpv4(groups)
    if (sixToFour !== null) {
      const reason = firstMatch(v4Rules, sixToFour, 'ipv4')
      if (reason !== null) return `${reason} (6to4)`
    }
    return firstMatch(v6Rules, address, 'ipv6')
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
