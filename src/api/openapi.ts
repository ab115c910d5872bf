import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema } from 'fastify';
import type { CompanyLimits } from '../config.js';
import { ComplaintDetailSchema, ComplaintSummarySchema } from './platform-v1/complaints.js';
import { EventEnvelopeSchema, FeedEventSchema, SEED_EVENT_EXAMPLE } from './platform-v1/events.js';
import { registerRateLimit } from './rate-limit.js';
import type { RouteDeps } from './routes.js';

const rate = (perMinute: number) => (perMinute === 0 ? 'no limit' : perMinute.toLocaleString('en'));

type Security = Array<Record<string, string[]>>;
const API_KEY_SECURITY: Security = [{ bearerAuth: [] }, { apiKeyHeader: [] }, { dashboardSession: [] }];
const CONSUMER_SECURITY: Security = [{ consumerToken: [] }];

const description = (
  limits: CompanyLimits,
) => `Read your complaints over a simple REST API, or subscribe to webhooks and receive a signed event the moment
something changes. Every endpoint is scoped to your company by the API key you authenticate with.

**Authentication**: \`Authorization: Bearer esc_…\` (recommended) or \`X-API-Key: esc_…\`. A missing, unknown or revoked
key answers 401. Keys are available on the Professional and Enterprise plans; keys have the \`read\` or \`admin\` scope.

**Envelope**: \`{ "success": true, "data": … }\`; lists add \`page\`, \`limit\` (1–100, default 25) and \`total\`. Errors are
\`{ "success": false, "error": { "code", "message" } }\` with the HTTP status (400, 401, 403, 404, 409, 413, 429).

**Rate limit**: per API key, per minute; over it the answer is 429 \`rate_limited\` with \`Retry-After\` (seconds).

**Per-company limits** on expensive work, as this server is configured; a refused request changes nothing. 429 answers carry \`Retry-After\` and \`details.retry_after\` (seconds) with \`details.limit\`:
- \`POST /api/v1/feedback\`: feedback records stored per company per rolling minute (${rate(limits.feedbackPerMin)}). A batch that would go over
  is refused whole with 429 \`feedback_rate_limited\` (\`details.used\`, \`details.batch\`); send it again after
  \`Retry-After\`. Records already accepted are all scored; ids already stored do not count.
- \`POST /api/v1/deliveries/{id}/resend\` and \`POST /api/v1/webhooks/{id}/recover\`: one shared rate per company per
  minute (${rate(limits.resendsPerMin)}); over it 429 \`resend_rate_limited\`.
- \`POST /api/v1/webhooks\`: endpoints per company (${limits.endpoints}); one more is 409 \`endpoint_limit_reached\`.
- \`POST /api/v1/automations\`: automations per company (${limits.automations}); one more is 409 \`automation_limit_reached\`.

**Webhooks** carry the same events as \`GET /api/v1/events\`, signed with \`X-Escalatr-Signature\` (hex HMAC-SHA256 of the raw
body keyed with your \`whsec_…\` secret) and the Standard Webhooks headers.`;

/** Which credentials a route accepts, from where it lives; health and docs take none. */
function securityFor(url: string): Security | undefined {
  if (url.startsWith('/api/v1/')) return API_KEY_SECURITY;
  if (url.startsWith('/api/consumer/v1/')) return CONSUMER_SECURITY;
  return undefined;
}

/** TypeBox schemas as plain JSON (no symbol keys), as a document wants them. */
const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value));

const DOCUMENTED = /^\/(api\/|healthz$|readyz$|metrics$)/;

/**
 * The OpenAPI 3.1 document, built by @fastify/swagger from the schemas of every route registered after it, served
 * at /openapi.json and rendered by @fastify/swagger-ui at /docs from the package's own assets (no CDN).
 * Also installs the /api/v1 rate limit, which like the document must be in place before the routes are added.
 */
export async function registerOpenApi(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Escalatr Platform API', version: '1.0.0', description: description(deps.config.companyLimits) },
      servers: [{ url: deps.config.publicUrl }],
      components: {
        // Named copies of the shapes the routes inline, for clients that generate types from the document.
        schemas: plain({
          ComplaintSummary: ComplaintSummarySchema,
          ComplaintDetail: ComplaintDetailSchema,
          EventEnvelope: EventEnvelopeSchema,
          FeedEvent: FeedEventSchema,
        }),
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'esc_…',
            description: 'Authorization: Bearer esc_your_key_here (recommended)',
          },
          apiKeyHeader: {
            type: 'apiKey',
            in: 'header',
            name: 'X-API-Key',
            description: 'X-API-Key: esc_your_key_here',
          },
          dashboardSession: {
            type: 'apiKey',
            in: 'cookie',
            name: 'escalatr_session',
            description: 'The dashboard session (writes also need X-CSRF-Token)',
          },
          consumerToken: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'csk_…',
            description: 'Consumer API: Authorization: Bearer csk_…',
          },
        },
      },
      webhooks: {
        event: {
          post: {
            summary: 'An event delivered to your endpoint',
            description:
              'Every event shares this envelope. Verify X-Escalatr-Signature over the raw body before parsing, reply 2xx to acknowledge; ' +
              'anything else is retried after 1 min, 5 min, 30 min, 2 h and 6 h, then the delivery is dead.',
            parameters: [
              {
                name: 'X-Escalatr-Event',
                in: 'header',
                required: true,
                schema: { type: 'string' },
                description: 'The event name, e.g. complaint.resolved',
              },
              {
                name: 'X-Escalatr-Signature',
                in: 'header',
                required: true,
                schema: { type: 'string' },
                description: 'HMAC-SHA256 of the raw request body, hex-encoded',
              },
              {
                name: 'Idempotency-Key',
                in: 'header',
                required: true,
                schema: { type: 'string' },
                description: 'Stable for one event to one endpoint across retries',
              },
            ],
            requestBody: {
              required: true,
              content: {
                'application/json': {
                  schema: { $ref: '#/components/schemas/EventEnvelope' },
                  example: SEED_EVENT_EXAMPLE,
                },
              },
            },
            responses: { '200': { description: 'Any 2xx acknowledges the delivery' } },
          },
        },
      },
      tags: [
        { name: 'Complaints', description: 'The complaints filed against your company' },
        { name: 'Event feed', description: 'The events webhooks carry, to poll' },
        { name: 'API keys', description: 'Owners, admins and admin-scope keys' },
      ],
    },
    // Shared schemas keep their $id as their name in components.schemas (ErrorResponse, ComplaintSummary, …).
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
    transform: ({ schema, url }) => {
      const base = (schema ?? {}) as FastifySchema & { hide?: boolean; security?: unknown };
      if (!DOCUMENTED.test(url)) return { schema: { ...base, hide: true } as FastifySchema, url };
      const security = securityFor(url);
      return { schema: (security && !base.security ? { ...base, security } : base) as FastifySchema, url };
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    uiConfig: { deepLinking: true, displayRequestDuration: true },
  });
  app.get('/openapi.json', { schema: { hide: true } as FastifySchema }, async () => app.swagger());
  await registerRateLimit(app, deps.config);
}
