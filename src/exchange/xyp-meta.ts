/**
 * KHUR XYP meta-1.5.0: the platform's own services, as far as citizen
 * consent by one-time code goes (otp.ts).
 *
 *   POST /xyp/meta-1.5.0/ws        Content-Type: text/xml; charset=utf-8
 *   GET  /xyp/meta-1.5.0/ws?wsdl   the WSDL of the operations served
 *
 * Headers, faults, access rights (service ids MN/GOV/KHUR/meta/<operation>),
 * injected faults (provider `meta`) and the message log are citizen-1.5.0's
 * (xyp-transport.ts).
 *
 * WS100008_registerOTPRequest
 *   request: regnum; isApp, isEmail, isKiosk, isSms (1 = send that way, at
 *   least one); phoneNum (0 or absent: the phone on the register, else 8
 *   digits); jsonWSList (a JSON array of the citizen-1.5.0 operations the code
 *   will authorise; absent or empty authorises every one).
 *   response (registerOTPData): { status: 'sent', resultMsg }; requestId names
 *   the message in /admin/otp-inbox. A citizen not on the register is
 *   resultCode 1, a request that cannot be read resultCode 2.
 * WS100009_checkOtp
 *   request: regnum, otp. response (checkOtpData): { match }. A match needs
 *   the citizen's latest code, not expired, not checked before and wrongly
 *   guessed fewer than 5 times; it starts the approval that auth.citizen.otp
 *   then carries on citizen-1.5.0.
 */
import { join } from 'node:path'
import type { ExchangeContext } from './context.ts'
import type { OtpChannel } from './otp.ts'
import { providerByName } from './providers.ts'
import { invalid, RESULT, xypService, type Outcome, type XypRequest } from './xyp-transport.ts'

export const XYP_META_PATH = '/xyp/meta-1.5.0/ws'
export const XYP_META_NAMESPACE = 'http://meta.xyp.gov.mn/'

const CHANNELS: ReadonlyArray<[field: string, channel: OtpChannel]> = [['isApp', 'app'], ['isEmail', 'email'], ['isKiosk', 'kiosk'], ['isSms', 'sms']]

function text (value: unknown): string | undefined {
  return typeof value === 'string' ? value.trim() : undefined
}

// The operations a code is for, or an error saying what is wrong.
function servicesOf (jsonWSList: unknown): string[] | string {
  if (jsonWSList === undefined) return []
  const raw = text(jsonWSList)
  if (raw === undefined) return 'jsonWSList must be text'
  if (raw === '') return []
  let list: unknown
  try {
    list = JSON.parse(raw)
  } catch {
    return 'jsonWSList is not JSON'
  }
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string' && s !== '')) return 'jsonWSList must be a JSON array of service names'
  return [...new Set(list as string[])]
}

function registerOtp (ctx: ExchangeContext, request: XypRequest, requestId: string): Outcome {
  const regnum = text(request.regnum)
  if (regnum === undefined || regnum === '') return { result: invalid('regnum is required') }
  const phone = text(request.phoneNum)
  if (phone !== undefined && phone !== '' && phone !== '0' && !/^[0-9]{8}$/.test(phone)) {
    return { result: invalid('phoneNum must be 0 (the registered phone) or 8 digits') }
  }
  const channels = CHANNELS.filter(([field]) => text(request[field]) === '1').map(([, channel]) => channel)
  if (channels.length === 0) return { result: invalid('choose at least one of isApp, isEmail, isKiosk, isSms') }
  const services = servicesOf(request.jsonWSList)
  if (typeof services === 'string') return { result: invalid(services) }
  const citizen = ctx.population.byRegnum(regnum.toUpperCase())
  if (citizen === undefined) return { result: RESULT.NOT_FOUND }
  ctx.otp.send(citizen.regnum, requestId, channels, services)
  return {
    result: RESULT.OK,
    xsiType: 'registerOTPData',
    response: { resultMsg: `Нэг удаагийн код илгээлээ (${channels.join(', ')})`, status: 'sent' },
  }
}

function checkOtp (ctx: ExchangeContext, request: XypRequest): Outcome {
  const regnum = text(request.regnum)
  const otp = text(request.otp)
  if (regnum === undefined || regnum === '') return { result: invalid('regnum is required') }
  if (otp === undefined || otp === '') return { result: invalid('otp is required') }
  const citizen = ctx.population.byRegnum(regnum.toUpperCase())
  if (citizen === undefined) return { result: RESULT.NOT_FOUND }
  return { result: RESULT.OK, xsiType: 'checkOtpData', response: { match: ctx.otp.check(citizen.regnum, otp) } }
}

export function xypMetaTransport (ctx: ExchangeContext) {
  const meta = providerByName('meta')
  if (meta === undefined) throw new Error('the meta provider is missing')
  return xypService(ctx, {
    name: 'meta-1.5.0',
    path: XYP_META_PATH,
    namespace: XYP_META_NAMESPACE,
    wsdlFile: join(import.meta.dirname, 'meta-1.5.0.wsdl'),
    wsdlLocation: 'http://xyp.gov.mn/meta-1.5.0/ws',
    provider: meta,
    run: (c, op, request, requestId) => {
      switch (op) {
        case 'WS100008_registerOTPRequest': return registerOtp(c, request, requestId)
        case 'WS100009_checkOtp': return checkOtp(c, request)
        default: throw new Error(`meta-1.5.0 lists ${op} but does not serve it`)
      }
    },
  })
}
