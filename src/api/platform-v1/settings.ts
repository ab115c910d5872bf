import { getSlaSettings, setSlaSettings } from '../../domain/sla.js';
import { getSlaCalendar, setSlaCalendar } from '../../domain/sla-calendar.js';
import { requireCompany } from '../auth.js';
import type { ApiApp, RouteDeps } from '../deps.js';
import { ok, Ok } from '../schemas.js';
import { SlaCalendarBody, SlaCalendarSchema, SlaSettingsBody, SlaSettingsSchema } from '../shapes/account.js';

const calendarInfo =
  'The business hours SLA windows count: a time zone, opening intervals per weekday, holidays, whether a window ' +
  'pauses while the company waits on the consumer, and the warning fractions. Until a company sets one it has the ' +
  '24×7 calendar (windows count elapsed time). A new calendar applies to windows that start or resume after it.';

/**
 * Company settings. `GET /settings/sla` shows the effective SLA windows per level and the action wait (any key or
 * session); `PUT /settings/sla` replaces the company's overrides (admin). New values apply to windows that start
 * after the change. `GET`/`PUT /settings/calendar` likewise for the business-hours calendar windows count.
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

    app.get(
      '/settings/calendar',
      {
        onRequest: read,
        schema: { tags, summary: 'SLA calendar', description: calendarInfo, response: { 200: Ok(SlaCalendarSchema) } },
      },
      async (request) => ok(await getSlaCalendar(ctx.store.db, request.company!.companyId)),
    );

    app.put(
      '/settings/calendar',
      {
        onRequest: admin,
        config: {
          errors: {
            400:
              'invalid_time_zone: time_zone is not an IANA zone; invalid_business_hours: an interval is malformed, ends ' +
              'before it starts or overlaps another, or the week has no opening; invalid_holiday: a holiday is not a ' +
              'real date',
          },
        },
        schema: {
          tags,
          summary: 'Replace the SLA calendar',
          description: calendarInfo,
          body: SlaCalendarBody,
          response: { 200: Ok(SlaCalendarSchema) },
        },
      },
      async (request) => ok(await setSlaCalendar(ctx, request.company!.companyId, request.body)),
    );
  };
}
