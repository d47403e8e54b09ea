import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import problemSchema from '../../schemas/problem.json' with { type: 'json' }

export interface OpenApiPluginOptions {
  docsEnabled: boolean
  version: string
}

interface OpenApiDocument { paths?: Record<string, Record<string, Record<string, unknown>>> }

// What a route's schema cannot say through Fastify without changing what
// Fastify validates: `x-oss-request-body` replaces the generated requestBody
// (a body that may be left out, or YAML as well as JSON, validated by the
// handler), and `x-oss-required-headers` marks headers the handler insists
// on (If-Match: missing, it answers 428, not Fastify's 400).
export function applyOperationMarkers<T extends OpenApiDocument> (doc: T): T {
  for (const item of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(item)) {
      if (op === null || typeof op !== 'object') continue
      if (op['x-oss-request-body'] !== undefined) {
        op.requestBody = op['x-oss-request-body']
        delete op['x-oss-request-body']
      }
      const required = op['x-oss-required-headers'] as string[] | undefined
      if (required !== undefined) {
        for (const p of (op.parameters ?? []) as Array<{ in: string, name: string, required?: boolean }>) {
          if (p.in === 'header' && required.includes(p.name)) p.required = true
        }
        delete op['x-oss-required-headers']
      }
    }
  }
  return doc
}

// Builds the OpenAPI 3.1 document from the route schemas; `openapi.yaml` at
// the top level is this document, written by `npm run openapi`.
async function openApiPlugin (app: FastifyInstance, options: OpenApiPluginOptions): Promise<void> {
  app.addSchema(problemSchema)
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'One-Stop-Shop integration gateway',
        version: options.version,
        description: 'The national integration layer between citizen portals, One-Stop-Shop officers\' tools, ' +
          'the national catalogue of services and the agencies behind the national data-exchange bus. ' +
          'Errors are RFC 9457 problem details with a stable `code`.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      servers: [{ url: '/', description: 'This gateway' }],
      tags: [
        { name: 'operations', description: 'Health, readiness, metrics and error codes' },
        { name: 'session', description: 'The caller\'s own identity; for a citizen, who looked at their data and their consents' },
        { name: 'consents', description: 'Officers ask citizens for consent before look-ups whose purpose needs it: a KHUR one-time code at the counter, or a request answered in a portal' },
        { name: 'catalogue', description: 'The published national catalogue of OSS services (anonymous)' },
        { name: 'catalogue admin', description: 'Keeping the catalogue: draft, publish, versions, import and export (admin role)' },
        { name: 'citizens', description: 'Officers\' purpose-bound, audited view of a citizen across the registries' },
        { name: 'applications', description: 'Applications for services, delivered to agencies through retry queues' },
        { name: 'admin', description: 'Operating the gateway (admin role)' },
        { name: 'dci', description: 'Partner systems (social-protection MIS) and the registries, through the DCI standard: client-credentials tokens for registered partners' },
        { name: 'statistics', description: 'Monitoring and evaluation of the OSS network from the gateway\'s own data: indicators, series, rankings, reports; small counts suppressed' },
      ],
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'An access token (RFC 9068, typ at+jwt) from a trusted issuer, signed with EdDSA or ES256, reused until it expires. ' +
              'A DPoP-bound token (cnf.jkt; required for the roles an issuer names) is sent as "Authorization: DPoP <token>" with a fresh proof ' +
              'in the DPoP header (RFC 9449: htm, htu, iat, a single-use jti, ath), which this document cannot express as a scheme of its own',
          },
          dashboardSession: {
            type: 'apiKey',
            in: 'cookie',
            name: 'oss_queues_session',
            description: 'The queue dashboard\'s session, bought with an admin token at POST /admin/queues/session',
          },
          partnerToken: {
            type: 'oauth2',
            description: 'A registered partner system\'s bearer token (OAuth 2.0 client credentials), for the DCI face',
            flows: { clientCredentials: { tokenUrl: '/oauth2/client/token', scopes: {} } },
          },
          partnerClient: {
            type: 'http',
            scheme: 'basic',
            description: 'A registered partner system\'s client_id and client_secret (OAuth client_secret_basic), given to an admin by POST /v1/admin/partners; ' +
              'client_secret_post (both in the body) works too',
          },
        },
      },
    },
    transformObject: (document) => applyOperationMarkers(('openapiObject' in document ? document.openapiObject : document.swaggerObject) as OpenApiDocument) as never,
    refResolver: {
      // Shared schemas keep their $id as their component name.
      buildLocalReference (json, _baseUri, _fragment, i) {
        return typeof json.$id === 'string' ? json.$id : `def-${i}`
      },
    },
  })
  if (options.docsEnabled) {
    await app.register(swaggerUi, { routePrefix: '/docs' })
  }
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}

export default fp(openApiPlugin, { name: 'openapi', fastify: '5.x' })
