import { Type } from '@sinclair/typebox';
import { createApiKey, getApiKey, listApiKeys, revokeApiKey, SCOPES } from '../../domain/api-keys.js';
import { getCompany } from '../../domain/companies.js';
import { API_PLANS } from '../../domain/plans.js';
import { requireCompany } from '../auth.js';
import type { ApiApp, RouteDeps } from '../deps.js';
import { NonEmpty, ok, Ok, StringEnum } from '../schemas.js';
import { ApiKeySchema, CreatedApiKeySchema, MeSchema } from '../shapes/account.js';

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

/**
 * API key management (owners and admins in the dashboard, or an admin-scope key) and GET /me, which tells the
 * dashboard who is signed in and whether the plan allows keys at all.
 */
export function apiKeyRoutes({ ctx }: RouteDeps) {
  return async (app: ApiApp) => {
    const db = ctx.store.db;
    const admin = requireCompany(ctx, 'admin');
    const tags = ['API keys'];

    app.get(
      '/api-keys',
      {
        onRequest: admin,
        schema: {
          tags,
          summary: 'List API keys',
          response: { 200: Ok(Type.Array(ApiKeySchema)) },
        },
      },
      async (request) => ok(await listApiKeys(db, request.company!.companyId)),
    );

    app.post(
      '/api-keys',
      {
        onRequest: admin,
        config: {
          errors: {
            409: 'api_key_limit_reached: the company has as many keys that are not revoked as this server allows (error.details.limit)',
          },
        },
        schema: {
          tags,
          summary: 'Create an API key',
          description: 'Answers the full key once. Needs the Professional or Enterprise plan.',
          body: CreateBody,
          response: { 201: Ok(CreatedApiKeySchema) },
        },
      },
      async (request, reply) => {
        const body = request.body;
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
        config: { errors: { 404: 'not_found: no such key of your company' } },
        schema: {
          tags,
          summary: 'Revoke an API key',
          description: 'Takes effect at once.',
          params: KeyParams,
          response: { 200: Ok(ApiKeySchema) },
        },
      },
      async (request) => ok(await revokeApiKey(ctx, request.company!.companyId, request.params.id)),
    );

    app.get(
      '/me',
      {
        onRequest: requireCompany(ctx, 'read'),
        schema: {
          tags: ['Account'],
          summary: 'The caller: company, user or key, and API access',
          response: { 200: Ok(MeSchema) },
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
