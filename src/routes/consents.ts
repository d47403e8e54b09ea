import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { CitizenPrincipal, OfficerPrincipal } from '../auth/principal.ts'
import type { ConsentMethod } from '../consent/consents.ts'
import { parseRegnum } from '../domain/regnum.ts'
import { ProblemError } from '../errors/problem-error.ts'

// Consents: officers ask for them (a KHUR one-time code at the counter, or a
// request the citizen answers in a portal); citizens see, answer, give and
// withdraw them.

const nullableString = { type: ['string', 'null'] }
const consentSchema = {
  $id: 'Consent',
  title: 'Consent',
  description: 'A citizen\'s consent to look-ups for one purpose: asked by an officer for a case, or given standing from a portal',
  type: 'object',
  required: ['id', 'citizen', 'purpose', 'sources', 'fields', 'method', 'state', 'case', 'askedBy', 'busRequestId', 'createdAt', 'pendingUntil', 'givenAt', 'expiresAt', 'endedAt'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    citizen: { type: 'string', description: 'Registration number' },
    purpose: { type: 'string' },
    purposeName: { type: 'object', properties: { mn: { type: 'string' }, en: { type: 'string' } } },
    sources: { type: 'array', items: { type: 'string' } },
    fields: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } }, description: 'Per source, the fields the consent covers' },
    method: { type: 'string', enum: ['otp', 'portal'], description: 'otp: a KHUR one-time code read out at the counter; portal: approved by the signed-in citizen' },
    state: { type: 'string', enum: ['pending', 'active', 'refused', 'revoked', 'expired'] },
    case: { ...nullableString, description: 'The case it was asked for; null for a standing consent given from a portal' },
    partner: { ...nullableString, description: 'For a partner system\'s purpose: the one partner it is for; null: any partner granted the purpose' },
    askedBy: {
      type: 'object',
      properties: {
        agency: nullableString,
        agencyName: { type: ['object', 'null'], properties: { mn: { type: 'string' }, en: { type: 'string' } }, description: 'In GET /v1/me/consents' },
        unit: nullableString,
        unitName: { ...nullableString, description: 'In GET /v1/me/consents, in the language asked for' },
        // Citizens see the agency and the OSS unit, never the officer.
        officer: nullableString,
        portal: { ...nullableString, description: 'The portal the citizen answered or gave it through' },
      },
    },
    busRequestId: { ...nullableString, description: 'KHUR\'s request id of the one-time code (WS100008)' },
    createdAt: { type: 'string', format: 'date-time' },
    pendingUntil: { type: ['string', 'null'], format: 'date-time' },
    givenAt: { type: ['string', 'null'], format: 'date-time' },
    expiresAt: { type: ['string', 'null'], format: 'date-time' },
    endedAt: { type: ['string', 'null'], format: 'date-time' },
    uses: {
      type: 'array',
      description: 'Each look-up made under this consent, newest first',
      items: {
        type: 'object',
        properties: {
          auditSeq: { type: 'integer' },
          at: { type: 'string', format: 'date-time' },
          partner: { type: ['object', 'null'], properties: { id: { type: 'string' }, name: { type: 'string' } }, description: 'A partner system\'s look-up (DCI face)' },
          agency: nullableString,
          agencyName: { type: ['object', 'null'], properties: { mn: { type: 'string' }, en: { type: 'string' } } },
          unit: nullableString,
          unitName: nullableString,
          case: nullableString,
          sources: { type: 'array', items: { type: 'string' } },
          result: { type: 'string' },
        },
      },
    },
  },
}

const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: { $ref: 'Problem#' } } } })
const consentRef = { $ref: 'Consent#' }

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } }

function officerOf (request: FastifyRequest) {
  const o = request.principal as OfficerPrincipal
  return { sub: o.sub, agency: o.agency, unit: o.unit }
}

function ctxOf (request: FastifyRequest) {
  return { requestId: request.id, clientIp: request.ip }
}

export async function consentRoutes (app: FastifyInstance): Promise<void> {
  app.addSchema(consentSchema)
  const purposes = app.policies.purposes
  const needing = Object.keys(purposes).filter((p) => purposes[p]!.consent.needs !== 'none' || Object.keys(purposes[p]!.consent.stronger ?? {}).length > 0)
  // Partner systems' purposes (DCI face) a citizen may consent to from a portal.
  const partnerPurposes = app.dci.policy.purposes
  const partnerNeeding = Object.keys(partnerPurposes).filter((p) => partnerPurposes[p]!.consent.needs !== 'none')
  const sourceNames = Object.keys(app.policies.sources)
  const withName = <T extends { purpose: string }>(c: T) => ({ ...c, purposeName: (purposes[c.purpose] ?? partnerPurposes[c.purpose])?.name ?? { mn: c.purpose, en: c.purpose } })
  const officer = { auth: { roles: ['officer'] as const } }
  const citizen = { auth: { roles: ['citizen'] as const } }

  app.post('/v1/consents', {
    config: officer,
    schema: {
      tags: ['consents'],
      operationId: 'requestConsent',
      summary: 'Ask a citizen for consent to a look-up: otp sends the citizen a KHUR one-time code now; portal waits for the citizen\'s answer in a portal',
      body: {
        type: 'object',
        required: ['regnum', 'purpose', 'case', 'method'],
        additionalProperties: false,
        properties: {
          regnum: { type: 'string', minLength: 1, maxLength: 40, description: 'The citizen\'s registration number', examples: ['УБ99032712'] },
          purpose: { type: 'string', enum: needing, description: 'A purpose that needs consent (GET /v1/admin/policies)', examples: ['welfare.household_assessment'] },
          case: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._/:-]+$', examples: ['CASE-2026-17'] },
          method: { type: 'string', enum: ['otp', 'portal'] },
          sources: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: sourceNames }, description: 'Default: every source of the purpose' },
        },
        // The first citizen of the bus emulator's population.
        examples: [{ regnum: 'АЗ62121857', purpose: 'civil.id_card_replacement', case: 'CASE-2026-18', method: 'otp' }],
      },
      response: {
        201: consentRef,
        403: problem('PURPOSE_FORBIDDEN: not a purpose of the officer\'s agency'),
        404: problem('UPSTREAM_NOT_FOUND: KHUR knows no such citizen'),
        422: problem('CONSENT_METHOD_TOO_WEAK: the purpose or a source needs consent by portal'),
        429: problem('OTP_LOCKED: too many wrong codes for this citizen or officer (Retry-After); or RATE_LIMITED'),
      },
    },
    links: { 201: { get: { operationId: 'getConsent', parameters: { id: '$response.body#/id' } }, otp: { operationId: 'checkConsentOtp', parameters: { id: '$response.body#/id' } } } },
  }, async (request, reply) => {
    const body = request.body as { regnum: string, purpose: string, case: string, method: ConsentMethod, sources?: string[] }
    const parsed = parseRegnum(body.regnum)
    if (!parsed.ok) {
      throw new ProblemError('INVALID_REGNUM', `the registration number is not valid: ${parsed.message}`, { extensions: { rule: parsed.rule, errors: [{ in: 'body', pointer: '/regnum', detail: parsed.message }] } })
    }
    const consent = await app.consents.request({
      citizen: parsed.value, purpose: body.purpose, caseRef: body.case, method: body.method, officer: officerOf(request), ...ctxOf(request),
      ...(body.sources === undefined ? {} : { sources: body.sources }),
    })
    return reply.code(201).header('location', `/v1/consents/${consent.id}`).send(withName(consent))
  })

  app.get('/v1/consents/:id', {
    config: officer,
    schema: {
      tags: ['consents'],
      operationId: 'getConsent',
      summary: 'A consent this OSS unit asked for: to follow a request the citizen answers in a portal',
      params: idParams,
      response: { 200: consentRef, 404: problem('No consent of that id asked for by this OSS unit') },
    },
  }, async (request) => {
    const { id } = request.params as { id: string }
    return withName(await app.consents.forUnit(id, officerOf(request)))
  })

  app.post('/v1/consents/:id/otp', {
    config: officer,
    schema: {
      tags: ['consents'],
      operationId: 'checkConsentOtp',
      summary: 'The one-time code the citizen read out, checked with KHUR (WS100009); wrong codes count against the citizen and the officer',
      params: idParams,
      body: {
        type: 'object',
        required: ['code'],
        additionalProperties: false,
        // KHUR's codes are six digits, the first not 0: anything else is a slip, not a try.
        properties: { code: { type: 'string', pattern: '^[1-9][0-9]{5}$', description: 'The six digits the citizen received', examples: ['482913'] } },
        examples: [{ code: '482913' }],
      },
      response: {
        200: consentRef,
        404: problem('No consent of that id asked for by this OSS unit'),
        409: problem('CONSENT_NOT_PENDING: the code expired, or the consent was given, refused or withdrawn'),
        422: problem('OTP_WRONG: the code does not match (attemptsLeft says how many tries remain)'),
        429: problem('OTP_LOCKED: too many wrong codes for this citizen or officer (Retry-After)'),
      },
    },
  }, async (request) => {
    const { id } = request.params as { id: string }
    const { code } = request.body as { code: string }
    return withName(await app.consents.checkOtp({ id, code, officer: officerOf(request), ...ctxOf(request) }))
  })

  app.get('/v1/me/consents', {
    config: citizen,
    schema: {
      tags: ['session'],
      operationId: 'getMyConsents',
      summary: 'My consents, pending requests first in time order of asking, each with who asked (agency and OSS unit), for what, and every look-up made under it',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
          lang: { type: 'string', enum: ['mn', 'en'], default: 'mn' },
        },
      },
      response: { 200: { type: 'object', required: ['consents'], properties: { consents: { type: 'array', items: consentRef } } } },
    },
  }, async (request) => {
    const me = request.principal as CitizenPrincipal
    const q = request.query as { limit: number, lang: 'mn' | 'en' }
    const snap = app.catalogue.current()
    // Agencies in both languages: a citizen may know neither acronym.
    const names = (agencyCode: string | null, unitCode: string | null) => {
      const agency = agencyCode === null ? undefined : snap.agency(agencyCode)
      const unit = unitCode === null ? undefined : snap.unit(unitCode)
      return { agencyName: agency === undefined ? null : { mn: agency.name.mn, en: agency.name.en }, unitName: unit === undefined ? null : unit.name[q.lang] }
    }
    const consents = await app.consents.ofCitizen(me.regnum, ctxOf(request), q.limit)
    return {
      consents: consents.map((c) => withName({
        ...c,
        askedBy: { ...c.askedBy, ...names(c.askedBy.agency, c.askedBy.unit), officer: null },
        uses: c.uses.map((u) => ({ ...u, ...names(u.agency, u.unit) })),
      })),
    }
  })

  app.post('/v1/me/consents', {
    config: citizen,
    schema: {
      tags: ['session'],
      operationId: 'giveStandingConsent',
      summary: 'Give a standing consent for a purpose, for any case of the agencies the purpose names, until it expires or I withdraw it',
      body: {
        type: 'object',
        required: ['purpose'],
        additionalProperties: false,
        properties: {
          purpose: { type: 'string', enum: [...needing, ...partnerNeeding], description: 'An officers\' purpose, or a partner system\'s (DCI face) that needs consent', examples: ['employment.job_matching'] },
          sources: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: sourceNames }, description: 'Officers\' purposes only; default: every source of the purpose' },
          partner: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,100}$', description: 'Partner systems\' purposes only: the one partner the consent is for (default: any partner granted the purpose)', examples: ['spmis.example.org'] },
        },
        examples: [{ purpose: 'employment.job_matching' }],
      },
      response: { 201: consentRef },
    },
    links: { 201: { revoke: { operationId: 'revokeConsent', parameters: { id: '$response.body#/id' } } } },
  }, async (request, reply) => {
    const me = request.principal as CitizenPrincipal
    const body = request.body as { purpose: string, sources?: string[], partner?: string }
    const consent = await app.consents.stand({
      citizen: me.regnum, portal: me.portal, purpose: body.purpose, ...ctxOf(request),
      ...(body.sources === undefined ? {} : { sources: body.sources }),
      ...(body.partner === undefined ? {} : { partner: body.partner }),
    })
    return reply.code(201).send(withName(consent))
  })

  for (const [action, approve] of [['approve', true], ['refuse', false]] as const) {
    app.post(`/v1/me/consents/:id/${action}`, {
      config: citizen,
      schema: {
        tags: ['session'],
        operationId: approve ? 'approveConsent' : 'refuseConsent',
        summary: approve ? 'Approve a pending request for my consent' : 'Refuse a pending request for my consent',
        params: idParams,
        response: { 200: consentRef, 404: problem('No consent of that id of yours'), 409: problem('CONSENT_NOT_PENDING: already answered, withdrawn or expired; or one answered with a code at the counter') },
      },
    }, async (request) => {
      const me = request.principal as CitizenPrincipal
      const { id } = request.params as { id: string }
      return withName(await app.consents.decide({ id, citizen: me.regnum, portal: me.portal, approve, ...ctxOf(request) }))
    })
  }

  app.delete('/v1/me/consents/:id', {
    config: citizen,
    schema: {
      tags: ['session'],
      operationId: 'revokeConsent',
      summary: 'Withdraw a consent (or a pending request): the next look-up under it is refused, in every gateway process',
      params: idParams,
      response: { 200: consentRef, 404: problem('No consent of that id of yours'), 409: problem('CONSENT_NOT_PENDING: already refused, withdrawn or expired') },
    },
  }, async (request) => {
    const me = request.principal as CitizenPrincipal
    const { id } = request.params as { id: string }
    return withName(await app.consents.revoke({ id, citizen: me.regnum, portal: me.portal, ...ctxOf(request) }))
  })
}
