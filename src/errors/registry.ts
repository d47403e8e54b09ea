// The one registry of error codes. A code, once published, never changes meaning:
// clients branch on `code`, people read `title` and `detail`.
export interface ErrorSpec {
  status: number
  title: string
  // Sent as Retry-After (seconds) unless the thrower says otherwise: the
  // condition is expected to pass by itself.
  retryAfterSeconds?: number
}

export const errorRegistry = {
  BAD_REQUEST: { status: 400, title: 'Bad request' },
  VALIDATION_FAILED: { status: 400, title: 'Request validation failed' },
  MALFORMED_JSON: { status: 400, title: 'Malformed JSON body' },
  // Refused before routing: by Fastify's router or by Node's HTTP parser.
  MALFORMED_URL: { status: 400, title: 'Malformed URL' },
  MALFORMED_REQUEST: { status: 400, title: 'Malformed HTTP request' },
  REQUEST_TIMEOUT: { status: 408, title: 'Request not received in time' },
  URI_TOO_LONG: { status: 414, title: 'URI too long' },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request line or headers too large' },
  INVALID_REGNUM: { status: 400, title: 'Invalid registration number' },
  AUTH_REQUIRED: { status: 401, title: 'Authentication required' },
  TOKEN_INVALID: { status: 401, title: 'Invalid access token' },
  TOKEN_EXPIRED: { status: 401, title: 'Access token expired' },
  // No longer sent: access tokens are reusable until they expire (DPoP proofs are not).
  TOKEN_REPLAYED: { status: 401, title: 'Access token already used' },
  TOKEN_REVOKED: { status: 401, title: 'Access token revoked' },
  DPOP_REQUIRED: { status: 401, title: 'DPoP-bound access token and proof required' },
  DPOP_PROOF_INVALID: { status: 401, title: 'Invalid DPoP proof' },
  DPOP_PROOF_REPLAYED: { status: 401, title: 'DPoP proof already used' },
  OFFICER_UNKNOWN_UNIT: { status: 403, title: 'The officer\'s unit is not in the catalogue' },
  ANALYST_UNKNOWN_UNIT: { status: 403, title: 'The analyst\'s unit is not in the catalogue' },
  STATS_SCOPE_FORBIDDEN: { status: 403, title: 'Outside the statistics you may read' },
  STATS_NOT_AVAILABLE: { status: 422, title: 'This figure is not kept for what was asked' },
  OFFICER_UNKNOWN_AGENCY: { status: 403, title: 'The officer\'s agency is not in the catalogue' },
  CONSOLE_OFF: { status: 404, title: 'The console is off' },
  CSRF_INVALID: { status: 403, title: 'Missing or wrong CSRF token' },
  SIGN_IN_FAILED: { status: 401, title: 'Console sign-in failed' },
  TOKEN_IN_URL: { status: 400, title: 'Access token sent in the URL' },
  ROLE_FORBIDDEN: { status: 403, title: 'Role not allowed' },
  PURPOSE_FORBIDDEN: { status: 403, title: 'Purpose not allowed for this agency' },
  SOURCE_FORBIDDEN: { status: 403, title: 'Source outside the purpose' },
  // The look-up needs the citizen's consent and none covers it (see `consent` in the problem).
  CONSENT_REQUIRED: { status: 403, title: 'The citizen\'s consent is needed' },
  CONSENT_NOT_NEEDED: { status: 422, title: 'This purpose needs no consent' },
  CONSENT_METHOD_TOO_WEAK: { status: 422, title: 'This consent method is not enough here' },
  CONSENT_NOT_PENDING: { status: 409, title: 'The consent is not waiting for an answer' },
  OTP_WRONG: { status: 422, title: 'Wrong one-time code' },
  OTP_LOCKED: { status: 429, title: 'Too many wrong one-time codes' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  ROUTE_NOT_FOUND: { status: 404, title: 'No such route' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  NOT_ACCEPTABLE: { status: 406, title: 'Not acceptable' },
  CONFLICT: { status: 409, title: 'Conflict' },
  PRECONDITION_FAILED: { status: 412, title: 'The resource has changed' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Request body too large' },
  SERVICE_NOT_OFFERED: { status: 422, title: 'Service not offered here through this channel' },
  READ_ONLY_DASHBOARD: { status: 403, title: 'The queue dashboard only reads' },
  METRICS_CLOSED: { status: 403, title: 'Metrics are served here only with a token' },
  CHANNEL_FORBIDDEN: { status: 403, title: 'This role may not use this channel' },
  APPLICANT_FORBIDDEN: { status: 403, title: 'Not allowed to apply for this person or unit' },
  UNIT_FORBIDDEN: { status: 403, title: 'Not allowed to read this unit\'s applications' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'Idempotency-Key reused with another request' },
  CALLBACK_URL_REFUSED: { status: 422, title: 'Callback URL not allowed' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  PRECONDITION_REQUIRED: { status: 428, title: 'Precondition header required' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  INTERNAL: { status: 500, title: 'Internal error' },
  UPSTREAM_NOT_FOUND: { status: 404, title: 'Not found at the provider' },
  UPSTREAM_REJECTED: { status: 422, title: 'Rejected by the provider' },
  UPSTREAM_INVALID_RESPONSE: { status: 502, title: 'Invalid response from provider' },
  UPSTREAM_INVALID_SIGNATURE: { status: 502, title: 'The exchange bus answer is not properly signed' },
  UPSTREAM_REFUSED: { status: 502, title: 'The exchange bus refused the gateway' },
  UPSTREAM_UNAVAILABLE: { status: 502, title: 'Provider unavailable' },
  UPSTREAM_CIRCUIT_OPEN: { status: 503, title: 'Provider temporarily unavailable' },
  UPSTREAM_TIMEOUT: { status: 504, title: 'Provider did not answer in time' },
  // The gateway as a client of partners' DCI registries (not the bus).
  PARTNER_REGISTRY_UNAVAILABLE: { status: 503, title: 'A partner\'s registry could not be reached' },
  PARTNER_REGISTRY_REFUSED: { status: 502, title: 'A partner\'s registry refused the gateway' },
  PARTNER_REGISTRY_INVALID_ANSWER: { status: 502, title: 'A partner\'s registry answered something unusable' },
  SHUTTING_DOWN: { status: 503, title: 'Server is shutting down' },
  DEPENDENCY_UNAVAILABLE: { status: 503, title: 'A required service is unavailable' },
  AUDIT_UNAVAILABLE: { status: 503, title: 'The audit log cannot be written', retryAfterSeconds: 5 },
  STORE_UNAVAILABLE: { status: 503, title: 'The database is unavailable', retryAfterSeconds: 5 },
  IDENTITY_PROVIDER_UNAVAILABLE: { status: 503, title: 'The console\'s identity provider is unavailable', retryAfterSeconds: 10 },
  ALL_SOURCES_FAILED: { status: 502, title: 'No source answered' },
  ALL_SOURCES_TIMED_OUT: { status: 504, title: 'No source answered in time' },
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof errorRegistry

export function isErrorCode (value: string): value is ErrorCode {
  return Object.hasOwn(errorRegistry, value)
}

// Problem `type` URIs are relative references that resolve on this gateway to a
// page describing the code (GET /problems/{code}).
export function problemType (code: ErrorCode): string {
  return `/problems/${code.toLowerCase().replaceAll('_', '-')}`
}
