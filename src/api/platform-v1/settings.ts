import { getSlaSettings, setSlaSettings } from '../../domain/sla.js';
import { requireCompany } from '../auth.js';
import type { ApiApp, RouteDeps } from '../deps.js';
import { ok, Ok } from '../schemas.js';
import { SlaSettingsBody, SlaSettingsSchema } from '../shapes/account.js';

/**
 * Company settings. `GET /settings/sla` shows the effective SLA windows per level and the action wait (any key or
 * session); `PUT /settings/sla` replaces the company's overrides (admin). New values apply to windows that start
 * after the change.
 */
export function settingsRoutes({ ctx }: RouteDeps) {
  return async (app: ApiApp) => {
    const tags = ['Settings'];
    const read = requireCompany(ctx.store.db, ctx.clock, 'read');
    const admin = requireCompany(ctx.store.db, ctx.clock, 'admin');

    app.get(
      '/settings/sla',
      { onRequest: read, schema: { tags, summary: 'SLA settings', response: { 200: Ok(SlaSettingsSchema) } } },
      async (request) => ok(await getSlaSettings(ctx.store.db, request.company!.companyId)),
    );

    app.put(
      '/settings/sla',
      {
        onRequest: admin,
        schema: {
          tags,
          summary: 'Replace the SLA overrides',
          body: SlaSettingsBody,
          response: { 200: Ok(SlaSettingsSchema) },
        },
      },
      async (request) =>
        ok(
          await setSlaSettings(ctx, request.company!.companyId, {
            windows: request.body.windows as Record<string, number>,
            action_wait_s: request.body.action_wait_s,
          }),
        ),
    );
  };
}
