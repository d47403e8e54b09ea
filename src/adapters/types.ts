import type { XypAnswer, XypAuthEntity } from '../bus/xyp-client.ts'

// What every adapter declares. One adapter serves one canonical operation by
// calling one bus service; its JSON Schemas live in schemas/adapters/ under the
// $id `adapter:<operation>` with $defs `request`, `busResponse` and `result`.

export interface AdapterContext {
  // Propagated to the bus as X-Road-Id (for writes: the application id).
  xRoadId?: string
  // The officer, as X-Road-UserId / XYP auth.operator.
  userId?: string
  // The case or application reference, as X-Road-Issue.
  issue?: string
  // XYP only: the consenting citizen's registration number.
  citizenRegnum?: string
  // XYP only: the citizen's checked one-time code (khur.checkOtp), sent as
  // auth.citizen.otp by every XYP adapter whose auth names the citizen.
  citizenOtp?: string
  // Epoch ms by which the call, retries included, must be over; each attempt
  // gets what is left, at most the adapter's own timeout.
  deadline?: number
}

interface Common {
  // Canonical operation, `<area>.<verb><Thing>`: civil.getIdCard
  operation: string
  // The provider's short name; one circuit breaker per provider.
  provider: string
  // `read` is safe to retry. A `write` is made once, never retried: an
  // application's is delivered through the queue (its catalogue service
  // names it), and calls whose effect the citizen sees (khur.registerOtp
  // texts a code) or that use something up (khur.checkOtp) are made directly.
  kind: 'read' | 'write'
  timeoutMs: number
  summary: string
}

export interface RestAdapter<Req = any, Res = any> extends Common {
  transport: 'rest'
  // Bus service id: MN/GOV/GASR/civil/getIdCard
  service: string
  toBus: (request: Req, ctx: AdapterContext) => unknown
  fromBus: (body: any) => Res
}

export interface XypAdapter<Req = any, Res = any> extends Common {
  transport: 'xyp'
  endpoint: string
  // The endpoint's namespace when it is not citizen-1.5.0's.
  namespace?: string
  // The KHUR operation: WS100101_getCitizenIDCardInfo
  service: string
  toBus: (request: Req, ctx: AdapterContext) => { auth: { citizen?: XypAuthEntity, operator?: XypAuthEntity }, fields: Record<string, string> }
  // `answer` is the rest of KHUR's envelope, for results that name the request.
  fromBus: (response: NonNullable<XypAnswer['response']>, answer: { requestId: string }) => Res
}

export type Adapter = RestAdapter | XypAdapter

export function schemaId (operation: string): string {
  return `adapter:${operation}`
}
