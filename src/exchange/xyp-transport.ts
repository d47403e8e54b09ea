/**
 * KHUR XYP transport (SOAP 1.1, document/literal), as citizen-1.5.0.
 *
 *   POST /xyp/citizen-1.5.0/ws        Content-Type: text/xml; charset=utf-8
 *   GET  /xyp/citizen-1.5.0/ws?wsdl   the WSDL of the operations served
 *
 * Operations: WS100101_getCitizenIDCardInfo, WS100103_getCitizenAddressInfo,
 * WS100120_childrenInfo (the children of auth.citizen), WS100125_checkCitizenRegnum.
 * The body element is the operation, holding `request` with `auth.citizen`
 * and `auth.operator` blocks and the operation's fields (`regnum`…).
 *
 * HTTP headers (names are case-insensitive; KHUR's own client sends `timeStamp`):
 *   accessToken  the member's XYP access token
 *   timestamp    Unix seconds
 *   signature    Base64(RSA-SHA256(accessToken + "." + timestamp)), PKCS#1 v1.5,
 *                verified with the member's RSA public key
 *
 * Refusals. Authentication happens before the service runs, so a request
 * that fails it gets a SOAP 1.1 Fault (HTTP 500, faultcode soap:Client, the
 * code in faultstring and in detail/code), never a result:
 *   XYP.MissingHeaders      accessToken, timestamp or signature missing
 *   XYP.UnknownAccessToken  no member has this access token
 *   XYP.StaleTimestamp      timestamp more than 120 s away from the bus clock
 *   XYP.InvalidSignature    the signature does not verify
 *   XYP.InvalidRequest      not a SOAP envelope, a DOCTYPE, or a body that
 *                           cannot be read: too large, or cut short (soap:Client)
 *   XYP.UnknownOperation    an operation this service does not have (soap:Client)
 *   XYP.ServiceFailed       injected provider failure (soap:Server)
 * Once authenticated, outcomes are results inside the normal envelope
 * `return { request, requestId, response, resultCode, resultMessage }` (HTTP 200):
 *   0 success · 1 not found · 2 invalid request · 3 access denied
 * `request` echoes the request without its auth block.
 *
 * Citizen consent by one-time code (otp.ts, xyp-meta.ts): when auth.citizen
 * carries an otp (other than the 0 clients send for none), it must be a code
 * of auth.citizen.regnum checked by WS100009, whose approval has not run out
 * and which was asked for this operation (or for every one); otherwise the
 * answer is resultCode 3 and the registry never sees the request.
 *
 * A client that disconnects before the answer is written is handled as on the
 * REST transport: what the registry answered stands, a request cut short is not
 * delivered, and the message log records the exchange once either way.
 *
 * The SOAP machinery here (xypService) also serves meta-1.5.0 (xyp-meta.ts).
 */
import { randomUUID, verify } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { XMLBuilder, XMLParser } from 'fast-xml-parser'
import {
  deliver, dripStream, dropConnection, planFaults, settle, sleepAtLeast, track, tracking,
  type ExchangeContext, type Tracking,
} from './context.ts'
import { isAllowed, type Member } from './members.ts'
import type { MessageRecord } from './message-log.ts'
import type { Citizen } from './population.ts'
import { providerByName, type ProviderDef } from './providers.ts'
import * as reg from './registries.ts'

export const XYP_PATH = '/xyp/citizen-1.5.0/ws'
export const XYP_NAMESPACE = 'http://citizen.xyp.gov.mn/'
const SOAP_NS = 'http://schemas.xmlsoap.org/soap/envelope/'

export type XypFaultCode =
  | 'XYP.MissingHeaders' | 'XYP.UnknownAccessToken' | 'XYP.StaleTimestamp' | 'XYP.InvalidSignature'
  | 'XYP.InvalidRequest' | 'XYP.UnknownOperation' | 'XYP.ServiceFailed'

export class XypFault extends Error {
  readonly code: XypFaultCode
  readonly side: 'Client' | 'Server'
  constructor (code: XypFaultCode, message: string, options: { cause?: unknown, side?: 'Client' | 'Server' } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'XypFault'
    this.code = code
    this.side = options.side ?? 'Client'
  }
}

export interface XypResult { readonly code: number, readonly message: string }

export const RESULT = {
  OK: { code: 0, message: 'амжилттай' },
  NOT_FOUND: { code: 1, message: 'Мэдээлэл олдсонгүй' },
  INVALID: { code: 2, message: 'Хүсэлтийн утга буруу байна' },
  DENIED: { code: 3, message: 'Энэ сервисийг ашиглах эрхгүй байна' },
  OTP_INVALID: { code: 3, message: 'Иргэний нэг удаагийн код (OTP) хүчингүй байна: the citizen\'s one-time password (OTP) is not valid for this service' },
} as const

// resultCode 2 saying what is wrong.
export function invalid (detail: string): XypResult {
  return { code: RESULT.INVALID.code, message: `${RESULT.INVALID.message}: ${detail}` }
}

// Leaves are text (the parser keeps every value a string), unless a client
// sent elements where text belongs: check with typeof before use.
export interface AuthEntity { regnum?: string, civilId?: string, otp?: string, signature?: string, certFingerprint?: string }
export interface XypRequest {
  auth?: { citizen?: AuthEntity, operator?: AuthEntity }
  regnum?: string
  civilId?: string
  date?: string
  [field: string]: unknown
}

export type Outcome = { result: XypResult, response?: Record<string, unknown>, xsiType?: string }

// The code in auth.citizen.otp, if there is one. The WSDL makes otp a
// required xs:int, so clients without a code send 0.
function citizenOtp (citizen: AuthEntity | undefined): string | undefined {
  const otp = citizen?.otp
  return typeof otp === 'string' && otp !== '' && otp !== '0' ? otp : undefined
}

// How auth.citizen identifies the citizen, for the message log.
function citizenAuthOf (citizen: AuthEntity | undefined): MessageRecord['citizenAuth'] {
  const given = (v: unknown): boolean => typeof v === 'string' && v !== ''
  if (citizenOtp(citizen) !== undefined) return 'otp'
  if (given(citizen?.signature)) return 'signature'
  if (given(citizen?.regnum)) return 'regnum'
  return null
}

const parser = new XMLParser({ removeNSPrefix: true, ignoreAttributes: true, parseTagValue: false, trimValues: true })
const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', suppressEmptyNode: true })

function dateTime (isoDate: string): string {
  return `${isoDate}T00:00:00+08:00`
}

function gender (c: Citizen): string {
  return c.sex === 'male' ? 'Эрэгтэй' : 'Эмэгтэй'
}

// Drops nulls, since every optional element is minOccurs="0".
function compact (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(compact)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k, compact(v)]))
  }
  return value
}

function runCitizenOperation (ctx: ExchangeContext, op: string, request: XypRequest): Outcome {
  const population = ctx.population
  const lookup = (): Citizen | undefined => {
    if (typeof request.regnum === 'string' && request.regnum !== '') return population.byRegnum(request.regnum.toUpperCase())
    if (typeof request.civilId === 'string' && request.civilId !== '') return population.citizens.find((c) => c.civilId === request.civilId)
    return undefined
  }
  switch (op) {
    case 'WS100101_getCitizenIDCardInfo': {
      if (request.regnum === undefined && request.civilId === undefined) return { result: RESULT.INVALID }
      const c = lookup()
      if (c === undefined) return { result: RESULT.NOT_FOUND }
      const card = reg.idCard(population, c)
      const addr = reg.address(population, c)
      const born = reg.birth(population, c)
      return {
        result: RESULT.OK,
        xsiType: 'citizenData',
        response: {
          addressDetail: addr.addressDetail,
          aimagCityCode: addr.aimagCityCode,
          aimagCityName: addr.aimagCityName,
          bagKhorooCode: addr.bagKhorooCode,
          bagKhorooName: addr.bagKhorooName,
          birthDate: dateTime(c.birthDate),
          birthDateAsText: c.birthDate,
          birthPlace: `${born.birthPlace.aimagCityName}, ${born.birthPlace.soumDistrictName}`,
          civilId: c.civilId,
          firstname: c.firstname,
          gender: gender(c),
          lastname: c.lastname,
          nationality: 'Халх',
          passportAddress: addr.fullAddress,
          passportExpireDate: card.idCard?.expiryDate ?? null,
          passportIssueDate: card.idCard?.issueDate ?? null,
          passportNum: card.idCard?.cardNumber ?? null,
          personId: String(c.index + 1),
          regnum: c.regnum,
          soumDistrictCode: addr.soumDistrictCode,
          soumDistrictName: addr.soumDistrictName,
          surname: c.surname,
        },
      }
    }
    case 'WS100103_getCitizenAddressInfo': {
      if (request.regnum === undefined && request.civilId === undefined) return { result: RESULT.INVALID }
      const c = lookup()
      if (c === undefined) return { result: RESULT.NOT_FOUND }
      const addr = reg.address(population, c)
      return {
        result: RESULT.OK,
        xsiType: 'citizenAddressData',
        response: {
          addressDetail: addr.addressDetail,
          aimagCityCode: addr.aimagCityCode,
          aimagCityName: addr.aimagCityName,
          bagKhorooCode: addr.bagKhorooCode,
          bagKhorooName: addr.bagKhorooName,
          citizenship: 'Монгол',
          civilId: c.civilId,
          firstname: c.firstname,
          fullAddress: addr.fullAddress,
          lastname: c.lastname,
          regnum: c.regnum,
          soumDistrictCode: addr.soumDistrictCode,
          soumDistrictName: addr.soumDistrictName,
          surname: c.surname,
        },
      }
    }
    case 'WS100125_checkCitizenRegnum': {
      if (typeof request.regnum !== 'string' || request.regnum === '') return { result: RESULT.INVALID }
      return { result: RESULT.OK, xsiType: 'checkCitizenRegnumData', response: { valid: population.byRegnum(request.regnum.toUpperCase()) !== undefined } }
    }
    case 'WS100120_childrenInfo': {
      // The children of the consenting citizen named in auth.citizen.
      const who = request.auth?.citizen?.regnum
      if (typeof who !== 'string' || who === '') return { result: RESULT.INVALID }
      const c = population.byRegnum(who.toUpperCase())
      if (c === undefined) return { result: RESULT.NOT_FOUND }
      const kids = reg.children(population, c).children
      return {
        result: RESULT.OK,
        xsiType: 'childrenInfoData',
        response: {
          listData: kids.map((k) => {
            const child = population.byRegnum(k.regnum)
            return {
              birthCertificateNumber: child === undefined ? null : reg.birth(population, child).certificateNumber,
              firstname: k.firstname,
              lastname: k.lastname,
              regnum: k.regnum,
              sendDate: dateTime(k.birthDate),
              state: child?.deathDate == null ? 'амьд' : 'нас барсан',
            }
          }),
        },
      }
    }
    default:
      throw new XypFault('XYP.UnknownOperation', `citizen-1.5.0 has no operation ${op}`)
  }
}

function envelope (body: Record<string, unknown>): string {
  return builder.build({
    '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' },
    'soap:Envelope': { '@_xmlns:soap': SOAP_NS, 'soap:Body': body },
  }) as string
}

export function faultXml (fault: XypFault): string {
  return envelope({
    'soap:Fault': {
      faultcode: `soap:${fault.side}`,
      faultstring: `${fault.code}: ${fault.message}`,
      detail: { code: fault.code },
    },
  })
}

function resultXml (namespace: string, op: string, requestId: string, echo: unknown, outcome: Outcome): string {
  const response = outcome.response === undefined
    ? undefined
    : { '@_xsi:type': `ns2:${outcome.xsiType ?? 'anyType'}`, ...(compact(outcome.response) as Record<string, unknown>) }
  return envelope({
    [`ns2:${op}Response`]: {
      '@_xmlns:ns2': namespace,
      '@_xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance',
      return: {
        request: compact(echo),
        requestId,
        ...(response === undefined ? {} : { response }),
        resultCode: outcome.result.code,
        resultMessage: outcome.result.message,
      },
    },
  })
}

function headerValue (request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name.toLowerCase()]
  return Array.isArray(v) ? v[0] : v
}

function authenticate (ctx: ExchangeContext, request: FastifyRequest, t: Tracking): Member {
  const token = headerValue(request, 'accessToken')
  const timestamp = headerValue(request, 'timestamp')
  const signature = headerValue(request, 'signature')
  if (token === undefined || timestamp === undefined || signature === undefined || token === '' || signature === '') {
    throw new XypFault('XYP.MissingHeaders', 'accessToken, timestamp and signature headers are required')
  }
  const member = ctx.members.byAccessToken(token)
  if (member?.xyp === undefined) throw new XypFault('XYP.UnknownAccessToken', 'The access token is not registered')
  t.record.client = member.id
  const seconds = /^[0-9]{1,12}$/.test(timestamp) ? Number(timestamp) : Number.NaN
  if (!Number.isFinite(seconds) || Math.abs(ctx.now() / 1000 - seconds) > ctx.settings.xypMaxClockSkewSeconds) {
    throw new XypFault('XYP.StaleTimestamp', `The timestamp must be Unix seconds within ${ctx.settings.xypMaxClockSkewSeconds} s of the bus clock`)
  }
  let ok = false
  try {
    ok = verify('sha256', Buffer.from(`${token}.${timestamp}`), member.xyp.publicKey, Buffer.from(signature, 'base64'))
  } catch (err) {
    throw new XypFault('XYP.InvalidSignature', 'The signature cannot be verified', { cause: err })
  }
  if (!ok) throw new XypFault('XYP.InvalidSignature', 'The signature does not verify against the member key')
  return member
}

// Sends the answer and settles it for the message log.
async function answer (ctx: ExchangeContext, reply: FastifyReply, t: Tracking, status: number, text: string, error: string | null): Promise<FastifyReply> {
  t.record.error = error
  t.responseSize = Buffer.byteLength(text)
  settle(ctx, t, status, status === 200 && error === null)
  reply.code(status).type('text/xml; charset=utf-8')
  if (t.dripMs > 0) return await reply.header('content-length', t.responseSize).send(dripStream(Buffer.from(text), t.dripMs))
  return await reply.send(text)
}

function parseEnvelope (xml: string): { op: string, request: XypRequest } {
  if (/<!DOCTYPE/i.test(xml)) throw new XypFault('XYP.InvalidRequest', 'DOCTYPE is not allowed')
  let doc: Record<string, unknown>
  try {
    doc = parser.parse(xml) as Record<string, unknown>
  } catch (err) {
    throw new XypFault('XYP.InvalidRequest', 'The body is not well-formed XML', { cause: err })
  }
  const body = (doc.Envelope as Record<string, unknown> | undefined)?.Body
  if (body === null || typeof body !== 'object') throw new XypFault('XYP.InvalidRequest', 'The body is not a SOAP envelope')
  const [op, content] = Object.entries(body as Record<string, unknown>)[0] ?? []
  if (op === undefined) throw new XypFault('XYP.InvalidRequest', 'The SOAP body is empty')
  const request = (content !== null && typeof content === 'object' ? (content as { request?: unknown }).request : undefined) ?? {}
  return { op, request: (typeof request === 'object' ? request : {}) as XypRequest }
}

// One KHUR SOAP service (citizen-1.5.0, meta-1.5.0): the same headers,
// faults, access rights, fault injection and message log for each.
export interface XypServiceDef {
  // As KHUR names it: citizen-1.5.0
  name: string
  path: string
  namespace: string
  // The WSDL served at ?wsdl, and the address it gives that is replaced by the caller's.
  wsdlFile: string
  wsdlLocation: string
  // Access rights (`${provider.id}/${op}`), faults and delivery counts are the provider's.
  provider: ProviderDef
  // A bus-side refusal of an otherwise allowed call (null lets it through);
  // refused calls never reach the provider.
  admit?: (ctx: ExchangeContext, op: string, request: XypRequest, t: Tracking) => Outcome | null
  run: (ctx: ExchangeContext, op: string, request: XypRequest, requestId: string) => Outcome
}

export function xypService (ctx: ExchangeContext, def: XypServiceDef) {
  const wsdl = readFileSync(def.wsdlFile, 'utf8')
  const provider = def.provider

  return async function (xyp: FastifyInstance): Promise<void> {
    xyp.removeAllContentTypeParsers()
    xyp.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => { done(null, body) })

    // Only Fastify's own errors get here (a body too large, or cut short by
    // the client): the operation handler answers everything else itself.
    xyp.setErrorHandler(async (err, request, reply) => {
      const status = (err as { statusCode?: number }).statusCode ?? 500
      const fault = status < 500
        ? new XypFault('XYP.InvalidRequest', `The request body cannot be read: ${(err as Error).message}`, { cause: err })
        : new XypFault('XYP.ServiceFailed', 'The bus failed to handle the request', { side: 'Server', cause: err })
      if (status >= 500) request.log.error({ err }, 'XYP request failed')
      const t = tracking(request)
      if (t === undefined) return await reply.code(500).type('text/xml; charset=utf-8').send(faultXml(fault))
      return await answer(ctx, reply, t, 500, faultXml(fault), fault.code)
    })

    xyp.get(def.path, async (request, reply) => {
      const query = request.query as Record<string, unknown>
      if (!('wsdl' in query) && !('WSDL' in query)) return await reply.code(404).type('text/plain').send('add ?wsdl')
      const host = request.headers.host ?? '127.0.0.1'
      return await reply.type('text/xml; charset=utf-8').send(wsdl.replace(def.wsdlLocation, `${request.protocol}://${host}${def.path}`))
    })

    // Tracked from the headers on, so a request cut short while its body
    // arrives is logged too; the client as the access token names it.
    const cutShort = { status: 500, error: 'XYP.InvalidRequest' }
    const onRequest = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const t = track(ctx, request, reply, 'xyp', randomUUID(), cutShort)
      const token = headerValue(request, 'accessToken')
      const member = token === undefined ? undefined : ctx.members.byAccessToken(token)
      if (member?.xyp !== undefined) t.record.client = member.id
    }

    xyp.post(def.path, { onRequest }, async (request: FastifyRequest, reply: FastifyReply) => {
      const t = tracking(request) ?? track(ctx, request, reply, 'xyp', randomUUID(), cutShort)
      const requestId = t.record.id
      const xml = typeof request.body === 'string' ? request.body : ''
      t.record.requestSize = Buffer.byteLength(xml)
      const send = async (status: number, text: string, error: string | null): Promise<FastifyReply> => await answer(ctx, reply, t, status, text, error)
      try {
        if (ctx.faults.get(provider.name).down) {
          dropConnection(ctx, request, reply, t)
          return reply
        }
        const member = authenticate(ctx, request, t)
        const { op, request: xypRequest } = parseEnvelope(xml)
        const serviceId = `${provider.id}/${op}`
        t.record.service = serviceId
        const operator = xypRequest.auth?.operator
        t.record.userId = operator?.regnum ?? operator?.civilId ?? null
        t.record.citizenAuth = citizenAuthOf(xypRequest.auth?.citizen)
        if (!provider.xypOperations.includes(op)) throw new XypFault('XYP.UnknownOperation', `${def.name} has no operation ${op}`)
        const { auth, ...echo } = xypRequest
        void auth
        const result = (outcome: Outcome): string => resultXml(def.namespace, op, requestId, echo, outcome)
        if (!isAllowed(member.allowedServices, serviceId)) {
          return await send(200, result({ result: RESULT.DENIED }), `resultCode:${RESULT.DENIED.code}`)
        }
        const refused = def.admit?.(ctx, op, xypRequest, t) ?? null
        if (refused !== null) return await send(200, result(refused), `resultCode:${refused.result.code}`)
        const plan = planFaults(ctx, ctx.faults.get(provider.name))
        t.dripMs = plan.dripMs
        if (plan.failed) {
          await sleepAtLeast(plan.delayMs, t.gone.signal)
          throw new XypFault('XYP.ServiceFailed', `${provider.id} failed to answer (injected fault)`, { side: 'Server' })
        }
        if (!deliver(ctx, t, provider.name)) {
          throw new XypFault('XYP.InvalidRequest', 'The client closed the connection before the request reached the provider')
        }
        let outcome: Outcome
        try {
          outcome = def.run(ctx, op, xypRequest, requestId)
        } finally {
          // The provider takes this long to answer (see the REST transport).
          await sleepAtLeast(plan.delayMs, t.gone.signal)
        }
        return await send(200, result(outcome), outcome.result.code === 0 ? null : `resultCode:${outcome.result.code}`)
      } catch (err) {
        if (err instanceof XypFault) return await send(500, faultXml(err), err.code)
        request.log.error({ err }, 'XYP request failed')
        return await send(500, faultXml(new XypFault('XYP.ServiceFailed', 'The bus failed to handle the request', { side: 'Server', cause: err })), 'XYP.ServiceFailed')
      }
    })
  }
}

// A citizen-1.5.0 call on a one-time code is let through only while the
// code's approval covers it.
function admitCitizenOtp (ctx: ExchangeContext, op: string, request: XypRequest, t: Tracking): Outcome | null {
  const citizen = request.auth?.citizen
  const otp = citizenOtp(citizen)
  if (otp === undefined) return null
  const regnum = typeof citizen?.regnum === 'string' ? citizen.regnum.toUpperCase() : ''
  const valid = regnum !== '' && ctx.otp.approves(regnum, otp, op)
  t.record.citizenOtpValid = valid
  return valid ? null : { result: RESULT.OTP_INVALID }
}

export function xypTransport (ctx: ExchangeContext) {
  const civil = providerByName('civil')
  if (civil === undefined) throw new Error('the civil provider is missing')
  return xypService(ctx, {
    name: 'citizen-1.5.0',
    path: XYP_PATH,
    namespace: XYP_NAMESPACE,
    wsdlFile: join(import.meta.dirname, 'citizen-1.5.0.wsdl'),
    wsdlLocation: 'http://xyp.gov.mn/citizen-1.5.0/ws',
    provider: civil,
    admit: admitCitizenOtp,
    run: runCitizenOperation,
  })
}
