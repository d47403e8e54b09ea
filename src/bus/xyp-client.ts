import { sign, type KeyObject } from 'node:crypto'
import { Pool } from 'undici'
import { XMLBuilder, XMLParser } from 'fast-xml-parser'
import { deadline } from './deadline.ts'
import { BusTransportError, isAnswerTimeout } from './rest-client.ts'

// KHUR's XYP transport: SOAP 1.1 with three headers, accessToken, timestamp
// (Unix seconds) and signature = Base64(RSA-SHA256(accessToken + "." + timestamp)).

export const XYP_NAMESPACE = 'http://citizen.xyp.gov.mn/'

export interface XypAuthEntity {
  regnum?: string
  // The citizen's checked one-time code (meta-1.5.0 WS100009): consent for
  // the services it was asked for. An xs:int on the wire.
  otp?: string
  civilId?: string
  fingerprint?: string
}

// authorizationEntity is an xs:sequence: its elements go in this order.
const AUTH_ENTITY_ORDER = ['civilId', 'fingerprint', 'otp', 'regnum'] as const

function authEntity (entity: XypAuthEntity | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const key of AUTH_ENTITY_ORDER) {
    const value = entity?.[key]
    if (value !== undefined) out[key] = value
  }
  return out
}

export interface XypCall {
  // Path of the SOAP endpoint on the bus, e.g. /xyp/citizen-1.5.0/ws
  endpoint: string
  // The service's namespace, http://meta.xyp.gov.mn/ for meta-1.5.0;
  // citizen-1.5.0's when not given.
  namespace?: string
  operation: string
  auth: { citizen?: XypAuthEntity, operator?: XypAuthEntity }
  fields: Record<string, string>
  timeoutMs: number
}

export interface XypAnswer {
  resultCode: number
  resultMessage: string
  requestId: string
  request: unknown
  response: Record<string, unknown> | null
}

export class XypFaultError extends Error {
  readonly code = 'XYP_FAULT'
  readonly faultCode: string
  readonly side: 'Client' | 'Server'
  constructor (faultCode: string, side: 'Client' | 'Server', message: string) {
    super(message)
    this.name = 'XypFaultError'
    this.faultCode = faultCode
    this.side = side
  }
}

export interface XypClientOptions {
  baseUrl: string
  accessToken: string
  privateKey: KeyObject
  connections?: number
  connectTimeoutMs?: number
  now?: () => number
}

export interface XypClient {
  call(request: XypCall): Promise<XypAnswer>
  close(): Promise<void>
}

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', suppressEmptyNode: false })
const parser = new XMLParser({ removeNSPrefix: true, ignoreAttributes: true, parseTagValue: false, trimValues: true, processEntities: false })

function arrayOf (value: unknown): unknown[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value]
}

export function createXypClient (options: XypClientOptions): XypClient {
  const base = new URL(options.baseUrl)
  const prefix = base.pathname.replace(/\/$/, '')
  const pool = new Pool(base.origin, { connections: options.connections ?? 16, connectTimeout: options.connectTimeoutMs ?? 2000 })
  const now = options.now ?? Date.now

  return {
    async call (request) {
      const timestamp = String(Math.floor(now() / 1000))
      const signature = sign('sha256', Buffer.from(`${options.accessToken}.${timestamp}`), options.privateKey).toString('base64')
      const xml = builder.build({
        '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' },
        'soapenv:Envelope': {
          '@_xmlns:soapenv': 'http://schemas.xmlsoap.org/soap/envelope/',
          '@_xmlns:cit': request.namespace ?? XYP_NAMESPACE,
          'soapenv:Body': {
            [`cit:${request.operation}`]: {
              request: { auth: { citizen: authEntity(request.auth.citizen), operator: authEntity(request.auth.operator) }, ...request.fields },
            },
          },
        },
      }) as string
      let status: number
      let text: string
      const limit = deadline(request.timeoutMs)
      try {
        const res = await pool.request({
          method: 'POST',
          path: prefix + request.endpoint,
          headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""', accesstoken: options.accessToken, timestamp, signature },
          body: xml,
          signal: limit.signal,
          headersTimeout: request.timeoutMs,
          bodyTimeout: request.timeoutMs,
        })
        status = res.statusCode
        text = await res.body.text()
      } catch (err) {
        if (isAnswerTimeout(err)) {
          throw new BusTransportError('BUS_TIMEOUT', `no XYP answer within ${request.timeoutMs} ms`, { cause: err })
        }
        throw new BusTransportError('BUS_NETWORK', `the XYP endpoint could not be reached: ${(err as Error).message}`, { cause: err })
      } finally {
        limit.clear()
      }
      let doc: Record<string, any>
      try {
        doc = parser.parse(text)
      } catch (err) {
        throw new BusTransportError('BUS_BAD_BODY', 'the XYP answer is not XML', { cause: err })
      }
      const body = doc?.Envelope?.Body
      if (body?.Fault !== undefined) {
        const fault = body.Fault
        const side = String(fault.faultcode ?? '').endsWith('Server') ? 'Server' : 'Client'
        throw new XypFaultError(String(fault.detail?.code ?? 'XYP.Fault'), side, String(fault.faultstring ?? 'SOAP fault'))
      }
      const ret = body?.[`${request.operation}Response`]?.return
      if (status !== 200 || ret === undefined) {
        throw new BusTransportError('BUS_BAD_BODY', `the XYP answer has no ${request.operation}Response (HTTP ${status})`)
      }
      return {
        resultCode: Number(ret.resultCode),
        resultMessage: String(ret.resultMessage ?? ''),
        requestId: String(ret.requestId ?? ''),
        request: ret.request ?? null,
        response: ret.response === undefined || ret.response === '' ? null : ret.response,
      }
    },
    async close () {
      await pool.close()
    },
  }
}

export { arrayOf }
