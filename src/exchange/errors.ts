// Errors of the emulated bus and of the emulated agencies. Codes are stable:
// the gateway branches on `type`, people read `message`.

// The bus's own error types, X-Road style. Status goes with the type.
export const BUS_ERRORS = {
  'Client.InvalidRequest': 400,
  'Client.MissingClientHeader': 400,
  'Client.InvalidClientIdentifier': 400,
  'Client.MissingSignature': 401,
  'Client.UnknownMember': 401,
  'Client.UnknownKey': 401,
  'Client.RevokedKey': 401,
  'Client.InvalidSignature': 401,
  'Client.InvalidTimestamp': 401,
  'Client.ReplayedMessage': 401,
  'Client.InvalidRequestTarget': 401,
  'Client.InvalidBodyHash': 401,
  'Client.AccessDenied': 403,
  'Server.ServerProxy.UnknownService': 404,
  'Server.ServerProxy.ServiceFailed': 500,
  'Server.ServerProxy.InternalError': 500,
  'Server.ServerProxy.ServiceUnavailable': 503,
} as const

export type BusErrorType = keyof typeof BUS_ERRORS

export class BusError extends Error {
  readonly type: BusErrorType
  readonly status: number

  constructor (type: BusErrorType, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'BusError'
    this.type = type
    this.status = BUS_ERRORS[type]
  }
}

// An agency's own answer that is not a success. It passes through the bus
// unchanged: no X-Road-Error header.
export const PROVIDER_ERRORS = {
  'Provider.InvalidRequest': 400,
  'Provider.NotFound': 404,
  'Provider.Conflict': 409,
} as const

export type ProviderErrorType = keyof typeof PROVIDER_ERRORS

export class ProviderError extends Error {
  readonly type: ProviderErrorType
  readonly status: number
  readonly detail: string

  constructor (type: ProviderErrorType, message: string, detail: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ProviderError'
    this.type = type
    this.status = PROVIDER_ERRORS[type]
    this.detail = detail
  }
}
