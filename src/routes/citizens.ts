import type { FastifyInstance, FastifyRequest } from 'fastify'
import citizenViewSchema from '../../schemas/citizen-view.json' with { type: 'json' }
import { Counter } from 'prom-client'
import type { OfficerPrincipal } from '../auth/principal.ts'
import { createHarvestDetector } from '../citizen/harvest.ts'
import { authorise } from '../citizen/policy.ts'
import { fanOut, type SourceResult } from '../citizen/view.ts'
import type { Config } from '../config.ts'
import { parseRegnum } from '../domain/regnum.ts'
import { ProblemError } from '../errors/problem-error.ts'
import { storeOutageOf } from '../db/database.ts'
import type { UsableConsent } from '../consent/consents.ts'

// The officer's one view of a citizen. Each look-up is bound to a purpose and
// a case, limited to the sources and fields the purpose needs, and written to
// the audit log before any data leaves; no audit record, no data.

export interface CitizenRoutesOptions {
  limits: Config['officers']
}

function officerOf (request: FastifyRequest): OfficerPrincipal {
  return request.principal as OfficerPrincipal
}

export async function citizenRoutes (app: FastifyInstance, options: CitizenRoutesOptions): Promise<void> {
  const policies = app.policies
  app.addSchema(citizenViewSchema)
  const sourceNames = Object.keys(policies.sources)
  const harvest = createHarvestDetector({
    redis: app.redis,
    keyPrefix: app.redisKeyPrefix,
    maxCitizens: options.limits.harvestDistinctCitizens,
    windowMinutes: options.limits.harvestWindowMinutes,
  })
  const harvestFlags = new Counter({
    name: 'citizen_lookup_harvest_flags_total',
    help: 'Officers flagged for looking up unusually many distinct citizens, by agency and unit',
    labelNames: ['agency', 'unit'] as const,
    registers: [app.metrics.registry],
  })
  const lookups = new Counter({
    name: 'citizen_lookups_total',
    help: 'Citizen look-ups by purpose and result',
    labelNames: ['purpose', 'result'] as const,
    registers: [app.metrics.registry],
  })
  const perOfficer = app.createRateLimit({
    max: options.limits.perOfficerPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => `officer:${officerOf(request).issuer}:${officerOf(request).sub}`,
  })
  const perUnit = app.createRateLimit({
    max: options.limits.perUnitPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request) => `unit:${officerOf(request).unit}`,
  })

  // Both counters are asked at once (one round trip with auto-pipelining);
  // an attempt counts against both even when the first refuses it.
  async function limit (request: FastifyRequest): Promise<void> {
    const states = await Promise.all([perOfficer(request), perUnit(request)])
    for (const [state, who] of [[states[0], 'this officer'], [states[1], 'this OSS unit']] as const) {
      if (!state.isAllowed && state.isExceeded) {
        throw new ProblemError('RATE_LIMITED', `too many look-ups by ${who}; try again in ${state.ttlInSeconds} s`, {
          headers: { 'retry-after': String(Math.max(1, state.ttlInSeconds)) },
        })
      }
    }
  }

  const querystring = {
    type: 'object',
    required: ['purpose', 'case'],
    additionalProperties: false,
    properties: {
      purpose: { type: 'string', enum: Object.keys(policies.purposes), description: 'Why the officer looks the citizen up (see GET /v1/admin/policies)', examples: ['civil.certificate'] },
      case: { type: 'string', minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._/:-]+$', description: 'The application or case reference', examples: ['CASE-2026-17'] },
      sources: { type: 'string', pattern: `^(${sourceNames.join('|')})(,(${sourceNames.join('|')}))*$`, description: 'Comma-separated; default: every source of the purpose' },
    },
  }

  async function lookup (request: FastifyRequest, regnumParam: string, asked: string[] | undefined) {
    // Every attempt counts, refused ones too: probing purposes, sources or
    // numbers is what a harvest looks like, and each refusal is audited.
    // The limits and the harvest count go to Redis in one write (auto-pipelining
    // sends what one turn issues together), before the checks' outcomes are told.
    const limited = limit(request)
    const parsed = parseRegnum(regnumParam)
    const officer = officerOf(request)
    const q = request.query as { purpose: string, case: string }
    let allowed: ReturnType<typeof authorise> | undefined
    let refusal: unknown
    if (parsed.ok) {
      try {
        allowed = authorise(policies, officer, q.purpose, asked)
      } catch (err) {
        refusal = err
      }
    }
    if (allowed !== undefined && parsed.ok) {
      harvest.record(`${officer.issuer}:${officer.sub}`, parsed.value).then(({ distinct, flagged }) => {
        if (!flagged) return
        harvestFlags.inc({ agency: officer.agency, unit: officer.unit })
        request.log.warn({ officer: officer.sub, agency: officer.agency, unit: officer.unit, distinct, windowMinutes: options.limits.harvestWindowMinutes },
          'BULK LOOK-UP: an officer has looked up more distinct citizens than allowed in the window')
      }, (err) => request.log.warn({ err }, 'could not count distinct look-ups'))
    }
    await limited
    if (!parsed.ok) {
      throw new ProblemError('INVALID_REGNUM', `the registration number is not valid: ${parsed.message}`, {
        extensions: { rule: parsed.rule, errors: [{ in: 'params', pointer: '/regnum', detail: parsed.message }] },
      })
    }
    const base = {
      recordType: 'citizen_lookup' as const,
      requestId: request.id,
      actor: officer.sub,
      actorUnit: officer.unit,
      actorAgency: officer.agency,
      purpose: q.purpose,
      caseRef: q.case,
      citizen: parsed.value,
      clientIp: request.ip,
    }
    // Proof of possession, when the token was DPoP-bound: the proof's jti and the key's thumbprint.
    const dpop = officer.dpop === undefined ? {} : { dpop: { jti: officer.dpop.proofId, jkt: officer.dpop.jkt } }
    // The citizen's consent, when the purpose (or a source or field read) needs one.
    let consent: UsableConsent | undefined
    let consentDetails = {}
    if (allowed !== undefined) {
      const found = await app.consents.usable({ citizen: parsed.value, purpose: q.purpose, caseRef: q.case, agency: officer.agency, sources: allowed.sources, requestId: request.id, clientIp: request.ip })
      if ('consent' in found) {
        consent = found.consent
        consentDetails = { consent: consent.id, consentMethod: consent.method }
      } else if ('needs' in found) {
        consentDetails = { consentNeeded: found.needs }
        refusal = consentRequired(q.purpose, parsed.value, allowed.sources, found)
        allowed = undefined
      }
    }
    if (allowed === undefined) {
      // Refusals are audited too: they are what a harvest attempt looks like.
      await app.audit.append({ ...base, at: new Date().toISOString(), sourcesAsked: asked ?? [], sourcesAnswered: [], result: 'denied', details: { code: (refusal as ProblemError).code, ...consentDetails, ...dpop } })
        .catch((auditErr) => storeOutageOf(auditErr) === undefined
          ? request.log.error({ err: auditErr }, 'could not audit a refused look-up')
          : request.log.warn({ err: auditErr }, 'could not audit a refused look-up: the database is unavailable'))
      lookups.inc({ purpose: q.purpose, result: 'denied' })
      throw refusal
    }

    const sources = await fanOut(request, policies, {
      regnum: parsed.value,
      purpose: allowed.purpose,
      sources: allowed.sources,
      officerId: officer.sub,
      caseRef: q.case,
      ...(consent?.otp == null ? {} : { citizenOtp: consent.otp }),
    })
    const answered = Object.entries(sources).filter(([, r]) => r.status === 'ok' || r.status === 'not_found').map(([n]) => n)
    const result = answered.length === allowed.sources.length ? 'ok' : answered.length > 0 ? 'partial' : 'failed'
    let seq: number
    try {
      const details = { ...consentDetails, ...dpop }
      seq = (await app.audit.append({ ...base, at: new Date().toISOString(), sourcesAsked: allowed.sources, sourcesAnswered: answered, result, details: Object.keys(details).length === 0 ? null : details })).seq
    } catch (err) {
      lookups.inc({ purpose: q.purpose, result: 'unaudited' })
      throw new ProblemError('AUDIT_UNAVAILABLE', 'the look-up could not be recorded, so no data is returned; try again later', { cause: err })
    }
    lookups.inc({ purpose: q.purpose, result })
    return { parsed, sources, answered, seq, consent: consent?.id ?? null }
  }

  // What the officer lacks, and how to get it.
  function consentRequired (purpose: string, regnum: string, sources: string[], found: { needs: string, because: string[] }): ProblemError {
    const how = found.needs === 'otp'
      ? 'POST /v1/consents with method "otp" sends the citizen a KHUR code; then POST /v1/consents/{id}/otp with the code the citizen reads out'
      : 'POST /v1/consents with method "portal"; the citizen approves it in a portal (or has given a standing consent there)'
    return new ProblemError('CONSENT_REQUIRED', `the look-up needs the citizen's consent by ${found.needs}${found.because.length > 0 ? ` (for ${found.because.join(', ')})` : ''} and none is active for this purpose and case: ${how}`, {
      extensions: {
        consent: {
          needs: found.needs,
          because: found.because,
          purpose,
          sources,
          request: { method: 'POST', href: '/v1/consents', body: { regnum, purpose, case: '…', method: found.needs, sources } },
        },
      },
    })
  }

  function finish (results: Record<string, SourceResult>, answered: string[]): void {
    if (answered.length > 0) return
    const all = Object.values(results)
    if (all.length > 0 && all.every((r) => r.status === 'timeout')) {
      throw new ProblemError('ALL_SOURCES_TIMED_OUT', 'no source answered in time', { extensions: { sources: results } })
    }
    throw new ProblemError('ALL_SOURCES_FAILED', 'no source answered', { extensions: { sources: results } })
  }

  const regnumParam = { type: 'string', minLength: 1, maxLength: 40, description: 'Registration number (РД); Latin look-alike letters are accepted', examples: ['УБ99032712'] }
  const auth = { auth: { roles: ['officer'] as const } }

  app.get('/v1/citizens/:regnum', {
    config: auth,
    schema: {
      tags: ['citizens'],
      operationId: 'getCitizenView',
      summary: 'One view of a citizen across the registries, for a stated purpose and case (audited)',
      params: { type: 'object', required: ['regnum'], properties: { regnum: regnumParam } },
      querystring,
      response: { 200: { $ref: 'CitizenView#' } },
    },
  }, async (request) => {
    const { regnum } = request.params as { regnum: string }
    const asked = (request.query as { sources?: string }).sources?.split(',')
    const { parsed, sources, answered, seq, consent } = await lookup(request, regnum, asked === undefined ? undefined : [...new Set(asked)])
    finish(sources, answered)
    const q = request.query as { purpose: string, case: string }
    return { regnum: parsed.value, purpose: q.purpose, case: q.case, auditSeq: seq, consent, sources }
  })

  app.get('/v1/citizens/:regnum/:source', {
    config: auth,
    schema: {
      tags: ['citizens'],
      operationId: 'getCitizenSource',
      summary: 'One source of the citizen view (audited)',
      params: { type: 'object', required: ['regnum', 'source'], properties: { regnum: regnumParam, source: { type: 'string', enum: sourceNames } } },
      querystring: { ...querystring, properties: { purpose: querystring.properties.purpose, case: querystring.properties.case } },
      response: { 200: { $ref: 'CitizenView#' } },
    },
  }, async (request) => {
    const { regnum, source } = request.params as { regnum: string, source: string }
    const { parsed, sources, answered, seq, consent } = await lookup(request, regnum, [source])
    finish(sources, answered)
    const q = request.query as { purpose: string, case: string }
    return { regnum: parsed.value, purpose: q.purpose, case: q.case, auditSeq: seq, consent, sources }
  })
}
