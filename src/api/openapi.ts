import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifySchema, RouteOptions } from 'fastify';
import type { CompanyLimits } from '../config.js';
import { BODY_LIMIT_BYTES } from './body-limit.js';
import type { ApiApp, RouteDeps } from './deps.js';
import { registerRateLimit } from './rate-limit.js';
import { installBodiesReceiving } from './bodies-receiving.js';
import { installCompanyConnections } from './company-connections.js';
import { ComplaintDetailSchema, ComplaintSummarySchema } from './shapes/complaints.js';
import { EventEnvelopeSchema, FeedEventSchema, SEED_EVENT_EXAMPLE } from './shapes/events.js';

const rate = (perMinute: number) => (perMinute === 0 ? 'no limit' : perMinute.toLocaleString('en'));

type Security = Array<Record<string, string[]>>;
const API_KEY_SECURITY: Security = [{ bearerAuth: [] }, { apiKeyHeader: [] }, { dashboardSession: [] }];
const CONSUMER_SECURITY: Security = [{ consumerToken: [] }, { consumerSession: [] }];
const CONSUMER_SESSION_SECURITY: Security = [{ consumerSession: [] }];
const SESSION_SECURITY: Security = [{ dashboardSession: [] }];
const OPERATOR_SECURITY: Security = [{ operatorToken: [] }];

const description = (
  limits: CompanyLimits,
) => `Read your complaints over a simple REST API, or subscribe to webhooks and receive a signed event the moment
something changes. Every endpoint is scoped to your company by the API key you authenticate with.

**Authentication**: \`Authorization: Bearer esc_…\` (recommended) or \`X-API-Key: esc_…\`. A missing, unknown or revoked
key answers 401. Keys are available on the Professional and Enterprise plans; keys have the \`read\` or \`admin\` scope.

**Envelope**: \`{ "success": true, "data": … }\`; lists add \`page\`, \`limit\` (1–100, default 25) and \`total\`. Errors are
\`{ "success": false, "error": { "code", "message" } }\` with the HTTP status; each operation lists the statuses it can
answer and the codes behind them.

**Rate limit**: per API key, per minute, and per company over all its keys and sessions (${rate(limits.requestsPerMin)}), with the time spent serving a company's requests (${rate(limits.servingMsPerMin)} ms a minute); over any of them the answer is 429 \`rate_limited\` with \`Retry-After\` (seconds), \`details.per\` \`company\` or \`company_time\` for the company's.

**Per-company limits** on expensive work, as this server is configured; a refused request changes nothing. 429 answers carry \`Retry-After\` and \`details.retry_after\` (seconds) with \`details.limit\`:
- \`POST /api/v1/feedback\`: feedback records stored per company per rolling minute (${rate(limits.feedbackPerMin)}). A batch that would go over
  is refused whole with 429 \`feedback_rate_limited\` (\`details.used\`, \`details.batch\`); send it again after
  \`Retry-After\`. Records already accepted are all scored; ids already stored do not count.
- \`POST /api/v1/deliveries/{id}/resend\`, \`POST /api/v1/webhooks/{id}/recover\` and \`POST /api/v1/deliveries/recover\`
  (not its dry run): one shared rate per company per minute (${rate(limits.resendsPerMin)}); over it 429 \`resend_rate_limited\`.
- \`POST /api/v1/deliveries/recover\`: at most ${limits.recoverDeliveries} deliveries per bulk recover (more is 409
  \`recover_too_large\`) and one running at a time per company (409 \`recover_in_progress\`, \`details.job_id\`).
- \`POST /api/v1/webhooks\`: endpoints per company (${limits.endpoints}); one more is 409 \`endpoint_limit_reached\`.
- \`POST /api/v1/automations\`: automations per company (${limits.automations}); one more is 409 \`automation_limit_reached\`.
- \`POST /api/v1/api-keys\`: keys per company that are not revoked (${limits.apiKeys}); one more is 409 \`api_key_limit_reached\`.

**Webhooks** carry the same events as \`GET /api/v1/events\`, signed with \`X-Escalatr-Signature\` (hex HMAC-SHA256 of the raw
body keyed with your \`whsec_…\` secret) and the Standard Webhooks headers.

**Events**: the published catalogue, and Escalatr's additions to it: \`complaint.assigned\` (an admin assigned the
complaint), \`complaint.sla_warning\` (a share of a response
window's business time has passed) and \`complaint.sla_breached\` (the window ran out), each with \`level\`, \`due_at\`
and \`fraction\`, once per level window, and \`complaint.flagged\` (the company's breach rule flagged a breached complaint;
a reassignment by the rule is \`complaint.assigned\` with \`assigned_by: "breach_rule"\`). Windows count the company's business hours (\`GET /api/v1/settings/calendar\`).
Operational events report on the company's own webhook delivery: \`endpoint.failing\` (an endpoint has failed for 24
hours without a success, and again with \`final_notice: true\` a day before the 5-day automatic disable),
\`endpoint.disabled\` (disabled automatically: \`reason\` \`gone\` or \`failing_5_days\`), \`endpoint.recovered\` (one
reported failing or disabled succeeded again) and \`delivery.dead\` (a delivery used up its retries). Their \`data\`
names the endpoint or delivery instead of a complaint. An endpoint receives them only if it lists them by name (\`*\`
does not include them), never about itself; a dead delivery of an operational event makes no further event. They
also go to the company's operations destinations (\`PUT /api/v1/settings/operations\`): email to owners and admins, a
Slack incoming webhook.`;

/** Which credentials a route accepts, from where it lives; health and docs take none. */
function securityFor(method: string, url: string): Security | undefined {
  if (url.startsWith('/api/v1/')) return API_KEY_SECURITY;
  if (url.startsWith('/api/consumer/v1/')) return CONSUMER_SECURITY;
  if (url.startsWith('/api/operator/v1/')) return OPERATOR_SECURITY;
  if (url === '/api/consumer/session/link' || url === '/api/consumer/session/redeem') return [];
  if (url.startsWith('/api/consumer/session')) return CONSUMER_SESSION_SECURITY;
  if (url.startsWith('/api/session') && !url.endsWith('/login')) return SESSION_SECURITY;
  return method === 'POST' && url === '/api/session/login' ? [] : undefined;
}

type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 410 | 413 | 415 | 422 | 429 | 503;
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * Every error a route can answer, by status: those implied by where it lives (credentials, rate limit), by its
 * schema (parameters, query, body) and the route's own (declared in its `config.errors`). Each is written once
 * here, so the document cannot forget one on a single route.
 */
function errorsOf(method: string, url: string, schema: FastifySchema, route: RouteOptions): Map<ErrorStatus, string[]> {
  const errors = new Map<ErrorStatus, string[]>();
  const add = (status: ErrorStatus, text: string) => errors.set(status, [...(errors.get(status) ?? []), text]);
  if (schema.querystring) add(400, 'invalid_query: a query parameter is invalid (error.details.parameter names it)');
  if (BODY_METHODS.has(method)) {
    add(
      400,
      'invalid_json: the body is not JSON; validation_failed: a field is invalid (error.details.field names it)',
    );
    const limit = route.bodyLimit ?? BODY_LIMIT_BYTES;
    add(413, `payload_too_large: the body is over ${limit} bytes`);
    add(415, 'unsupported_media_type: send the body as application/json');
  }
  if (schema.params || schema.querystring || BODY_METHODS.has(method)) {
    add(400, 'invalid_text: a string holds a NUL character or a lone surrogate (error.details.field names it)');
  }
  if (schema.params) {
    add(400, 'invalid_request: the path is malformed (bad percent-encoding)');
    add(404, 'not_found: the id is not one of yours (or cannot exist)');
  }
  if (url.startsWith('/api/v1/')) {
    add(401, 'unauthorized: missing, unknown or revoked API key, or no dashboard session');
    add(
      403,
      'plan_required: the company is not on Professional or Enterprise; insufficient_scope: a read key on an admin route; ' +
        'forbidden: a role below the route; csrf_failed: a session write without X-CSRF-Token',
    );
    add(
      429,
      "rate_limited: over the per-key limit a minute, or the company's over all its keys (details.per company); see Retry-After",
    );
  }
  if (url.startsWith('/api/consumer/v1/')) {
    add(401, 'unauthorized: missing or unknown consumer token, or no portal session');
    if (method !== 'GET') add(403, 'csrf_failed: a portal session write without X-CSRF-Token');
  }
  if (
    url.startsWith('/api/v1/') ||
    url.startsWith('/api/consumer/v1/') ||
    url.startsWith('/api/operator/v1/') ||
    url === '/api/session/login' ||
    url === '/api/consumer/session/link' ||
    url === '/api/consumer/session/redeem'
  ) {
    add(429, 'rate_limited: without valid credentials, over the per-address limit a minute; see Retry-After');
  }
  if (url.startsWith('/api/')) add(503, 'unavailable: the store is not reachable; retry after Retry-After');
  for (const [status, text] of Object.entries(route.config?.errors ?? {})) {
    if (text) add(Number(status) as ErrorStatus, text);
  }
  return errors;
}

/** The route's schema with its error answers and credentials added, as the document shows it. */
function documented(schema: FastifySchema, route: RouteOptions, url: string): FastifySchema {
  const method = String(route.method);
  const response: Record<string, unknown> = { ...((schema.response as Record<string, unknown>) ?? {}) };
  for (const [status, texts] of errorsOf(method, url, schema, route)) {
    if (response[status]) continue; // a route that answers its own body for this status documents it itself
    response[status] = { $ref: 'ErrorResponse', description: [...new Set(texts)].join('. ') };
  }
  const security = securityFor(method, url);
  return { ...schema, response, ...(security && !('security' in schema) ? { security } : {}) } as FastifySchema;
}

/** TypeBox schemas as plain JSON (no symbol keys), as a document wants them. */
const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value));

const DOCUMENTED = /^\/(api\/|healthz$|readyz$|metrics$)/;

/**
 * The OpenAPI 3.1 document, built by @fastify/swagger from the schemas of every route registered after it, served
 * at /openapi.json and rendered by @fastify/swagger-ui at /docs from the package's own assets (no CDN).
 * Also installs the /api/v1 rate limit, which like the document must be in place before the routes are added.
 */
export async function registerOpenApi(app: ApiApp, deps: RouteDeps): Promise<void> {
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
          operatorToken: {
            type: 'http',
            scheme: 'bearer',
            description:
              "Operator routes: Authorization: Bearer <ESCALATR_OPERATOR_TOKEN> (the service operator's, no company's)",
          },
          consumerToken: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'csk_…',
            description: 'Consumer API: Authorization: Bearer csk_…',
          },
          consumerSession: {
            type: 'apiKey',
            in: 'cookie',
            name: 'escalatr_consumer',
            description:
              'The consumer portal session, opened by a one-time sign-in link (writes also need X-CSRF-Token)',
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
    transform: ({ schema, url, route }) => {
      const base = (schema ?? {}) as FastifySchema;
      if (!DOCUMENTED.test(url)) return { schema: { ...base, hide: true } as FastifySchema, url };
      return { schema: documented(base, route, url), url };
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    uiConfig: { deepLinking: true, displayRequestDuration: true },
  });
  app.get('/openapi.json', { schema: { hide: true } as FastifySchema }, async () => app.swagger());
  await registerRateLimit(app, deps.config, deps.ctx.clock);
  installBodiesReceiving(app, deps.config.companyLimits.bodiesReceiving, deps.metrics);
  installCompanyConnections(app, deps.config.companyLimits.connections);
}
