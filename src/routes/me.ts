import type { FastifyInstance } from 'fastify'
import principalSchema from '../../schemas/principal.json' with { type: 'json' }
import { ROLES } from '../config.ts'
import type { CitizenPrincipal } from '../auth/principal.ts'

// Lets a portal or an officer's tool check what its token grants.
export async function meRoutes (app: FastifyInstance): Promise<void> {
  app.addSchema(principalSchema)
  app.get('/v1/me', {
    config: { auth: { roles: ROLES } },
    schema: {
      tags: ['session'],
      operationId: 'getMe',
      summary: 'The caller, as its access token describes it',
      response: { 200: { $ref: 'Principal#' } },
    },
  }, async (request) => {
    const p = request.principal!
    const { tokenId: _tokenId, expiresAt, ...rest } = p
    return { ...rest, expiresAt: new Date(expiresAt * 1000).toISOString() }
  })

  // The citizen's own data tracker: who looked at their data, when, where
  // and why. Officers appear as their agency and OSS unit, never by name.
  app.get('/v1/me/data-access', {
    config: { auth: { roles: ['citizen'] } },
    schema: {
      tags: ['session'],
      operationId: 'getMyDataAccess',
      summary: 'Who looked at my data: when, from which OSS and agency (its name in Mongolian and English), for which purpose and case, under which of my consents or which law',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          // audit_log.seq is bigint; JS numbers are exact only up to 2^53 - 1
          before: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
          limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
          lang: { type: 'string', enum: ['mn', 'en'], default: 'mn' },
        },
      },
    },
  }, async (request) => {
    const citizen = request.principal as CitizenPrincipal
    const q = request.query as { before?: number, limit: number, lang: 'mn' | 'en' }
    const records = await app.audit.query({
      citizen: citizen.regnum,
      recordType: 'citizen_lookup',
      limit: q.limit,
      ...(q.before === undefined ? {} : { beforeSeq: q.before }),
    })
    const snap = app.catalogue.current()
    return {
      accesses: records.map((r) => {
        const unit = r.actorUnit === null ? undefined : snap.unit(r.actorUnit)
        // A partner system (DCI face) appears by its registered name, with its own purposes.
        const partner = r.actor.startsWith('partner:') ? { id: r.actor.slice('partner:'.length), name: String(r.details?.partnerName ?? '') } : null
        const purpose = r.purpose === null ? undefined : partner === null ? app.policies.purposes[r.purpose] : app.dci.policy.purposes[r.purpose]
        const agency = r.actorAgency === null ? undefined : snap.agency(r.actorAgency)
        return {
          id: r.seq,
          at: r.at,
          unit: r.actorUnit,
          unitName: unit === undefined ? null : unit.name[q.lang],
          agency: r.actorAgency,
          // Both languages: a citizen may not know either agency's acronym.
          agencyName: agency === undefined ? null : { mn: agency.name.mn, en: agency.name.en },
          ...(partner === null ? {} : { partner }),
          purpose: r.purpose,
          purposeName: purpose === undefined ? null : purpose.name[q.lang],
          case: r.caseRef,
          sources: r.sourcesAnswered,
          result: r.result,
          // Under which consent of mine (GET /v1/me/consents), or the law that needs none.
          consent: typeof r.details?.consent === 'string' ? { id: r.details.consent, method: String(r.details.consentMethod ?? '') } : null,
          ...(typeof r.details?.consent !== 'string' && purpose?.consent.legalBasis !== undefined
            ? { legalBasis: { mn: purpose.consent.legalBasis.mn, en: purpose.consent.legalBasis.en } }
            : {}),
        }
      }),
      next: records.length === q.limit ? records.at(-1)!.seq : null,
    }
  })
}
