import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { LEVELS } from '../../domain/lifecycle.js';
import { getSlaSettings, MAX_WINDOW_S, MIN_WINDOW_S, setSlaSettings } from '../../domain/sla.js';
import { requireCompany } from '../auth.js';
import type { RouteDeps } from '../routes.js';
import { ok } from '../schemas.js';

const Seconds = Type.Integer({ minimum: MIN_WINDOW_S, maximum: MAX_WINDOW_S, description: 'seconds' });

const SlaBody = Type.Object(
  {
    windows: Type.Object(Object.fromEntries(LEVELS.map((l) => [l, Type.Optional(Seconds)])), {
      additionalProperties: false,
      description: 'Response window per level in seconds; a level left out uses the default.',
    }),
    action_wait_s: Type.Optional(
      Type.Union([Seconds, Type.Null()], {
        description: 'How long a drafted action waits; absent or null uses the default.',
      }),
    ),
  },
  { additionalProperties: false },
);

/**
 * Company settings. `GET /settings/sla` shows the effective SLA windows per level and the action wait (any key or
 * session); `PUT /settings/sla` replaces the company's overrides (admin). New values apply to windows that start
 * after the change.
 */
export function settingsRoutes({ ctx }: RouteDeps) {
  return async (app: FastifyInstance) => {
    const tags = ['Settings'];
    const read = requireCompany(ctx.store.db, ctx.clock, 'read');
    const admin = requireCompany(ctx.store.db, ctx.clock, 'admin');

    app.get('/settings/sla', { onRequest: read, schema: { tags } }, async (request) =>
      ok(await getSlaSettings(ctx.store.db, request.company!.companyId)),
    );

    app.put('/settings/sla', { onRequest: admin, schema: { tags, body: SlaBody } }, async (request) => {
      const body = request.body as typeof SlaBody.static;
      return ok(
        await setSlaSettings(ctx, request.company!.companyId, {
          windows: body.windows as Record<string, number>,
          action_wait_s: body.action_wait_s,
        }),
      );
    });
  };
}
