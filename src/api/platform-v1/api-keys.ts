import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { createApiKey, getApiKey, listApiKeys, revokeApiKey, SCOPES } from '../../domain/api-keys.js';
import { API_PLANS, getCompany, PLANS } from '../../domain/companies.js';
import { ROLES } from '../../domain/users.js';
import { requireCompany } from '../auth.js';
import type { RouteDeps } from '../routes.js';
import { NonEmpty, ok } from '../schemas.js';
import { StringEnum } from './complaints.js';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const DateTime = () => Type.String({ format: 'date-time' });

/** What the list and every answer show of a key: never the key itself, never its hash. */
const ApiKeySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String({ description: 'The first characters of the key, to recognise it' }),
  scope: StringEnum(SCOPES),
  created_at: DateTime(),
  last_used_at: Nullable(DateTime()),
  revoked_at: Nullable(DateTime()),
});

const CreatedKeySchema = Type.Object({
  ...ApiKeySchema.properties,
  key: Type.String({
    description: 'The full key (esc_…). Shown once, here; it cannot be retrieved again, only revoked.',
  }),
});

const CreateBody = Type.Object(
  {
    name: NonEmpty(100, 'A name to recognise the key by'),
    scope: Type.Optional(
      StringEnum(SCOPES, {
        description: 'read (default): the read-only API; admin: also webhooks, automations, resends, keys',
      }),
    ),
  },
  { additionalProperties: false },
);

const KeyParams = Type.Object({ id: Type.String({ pattern: '^key_[a-z0-9]{8,40}$', maxLength: 64 }) });

const MeSchema = Type.Object({
  company: Type.Object({ code: Type.String(), name: Type.String(), plan: StringEnum(PLANS) }),
  user: Type.Union([Type.Object({ email: Type.String(), role: StringEnum(ROLES) }), Type.Null()], {
    description: 'The signed-in user (dashboard sessions)',
  }),
  api_key: Type.Union(
    [Type.Object({ id: Type.String(), name: Type.String(), scope: StringEnum(SCOPES) }), Type.Null()],
    { description: 'The key used (API calls)' },
  ),
  api_access: Type.Boolean({ description: 'Whether the plan allows API keys (Professional and Enterprise)' }),
  permissions: Type.Array(StringEnum(['read', 'work', 'admin'] as const)),
});

const err = (description: string) => Type.Ref('ErrorResponse', { description });
const authErrors = {
  401: err('unauthorized'),
  403: err('plan_required, insufficient_scope (a read key), forbidden (a role below admin) or csrf_failed'),
  429: err('rate_limited'),
};

/**
 * API key management (owners and admins in the dashboard, or an admin-scope key) and GET /me, which tells the
 * dashboard who is signed in and whether the plan allows keys at all.
 */
export function apiKeyRoutes({ ctx }: RouteDeps) {
  return async (app: FastifyInstance) => {
    const db = ctx.store.db;
    const admin = requireCompany(db, ctx.clock, 'admin');
    const tags = ['API keys'];

    app.get(
      '/api-keys',
      {
        onRequest: admin,
        schema: {
          tags,
          summary: 'List API keys',
          response: {
            200: Type.Object({ success: Type.Literal(true), data: Type.Array(ApiKeySchema) }),
            ...authErrors,
          },
        },
      },
      async (request) => ok(await listApiKeys(db, request.company!.companyId)),
    );

    app.post(
      '/api-keys',
      {
        onRequest: admin,
        schema: {
          tags,
          summary: 'Create an API key',
          description: 'Answers the full key once. Needs the Professional or Enterprise plan.',
          body: CreateBody,
          response: {
            201: Type.Object({ success: Type.Literal(true), data: CreatedKeySchema }),
            400: err('validation_failed'),
            ...authErrors,
          },
        },
      },
      async (request, reply) => {
        const body = request.body as typeof CreateBody.static;
        const c = request.company!;
        const { key, apiKey } = await createApiKey(ctx, {
          companyId: c.companyId,
          name: body.name,
          scope: body.scope ?? 'read',
          createdBy: c.userId ?? c.keyId ?? null,
        });
        return reply.status(201).send(ok({ ...apiKey, key }));
      },
    );

    app.delete(
      '/api-keys/:id',
      {
        onRequest: admin,
        schema: {
          tags,
          summary: 'Revoke an API key',
          description: 'Takes effect at once.',
          params: KeyParams,
          response: {
            200: Type.Object({ success: Type.Literal(true), data: ApiKeySchema }),
            404: err('not_found'),
            ...authErrors,
          },
        },
      },
      async (request) =>
        ok(await revokeApiKey(ctx, request.company!.companyId, (request.params as typeof KeyParams.static).id)),
    );

    app.get(
      '/me',
      {
        onRequest: requireCompany(db, ctx.clock, 'read'),
        schema: {
          tags: ['Account'],
          summary: 'The caller: company, user or key, and API access',
          response: {
            200: Type.Object({ success: Type.Literal(true), data: MeSchema }),
            401: err('unauthorized'),
            403: err('plan_required'),
            429: err('rate_limited'),
          },
        },
      },
      async (request) => {
        const c = request.company!;
        const company = await getCompany(db, c.companyId);
        const key = c.keyId ? await getApiKey(db, c.companyId, c.keyId) : null;
        return ok({
          company: { code: company.code, name: company.name, plan: company.plan },
          user: c.kind === 'session' ? { email: c.label, role: c.role! } : null,
          api_key: key ? { id: key.id, name: key.name, scope: key.scope } : null,
          api_access: API_PLANS.includes(company.plan),
          permissions: [...c.permissions],
        });
      },
    );
  };
}
