import { getBreachRule, setBreachRule } from '../../domain/breach-rule.js';
import { getRetention, setOwnRetention } from '../../domain/retention.js';
import { getSlaSettings, setSlaCalendar, setSlaSettings } from '../../domain/sla.js';
import { getSlaCalendar } from '../../domain/sla-calendar.js';
import { requireCompany } from '../auth.js';
import type { ApiApp, RouteDeps } from '../deps.js';
import { ok, Ok } from '../schemas.js';
import { getOperationsSettings, setOperationsSettings } from '../../webhooks/operations-settings.js';
import {
  BreachRuleBody,
  BreachRuleSchema,
  OperationsSettingsBody,
  OperationsSettingsSchema,
  RetentionSettingsBody,
  RetentionSettingsSchema,
  SlaCalendarBody,
  SlaCalendarSchema,
  SlaSettingsBody,
  SlaSettingsSchema,
} from '../shapes/account.js';

const calendarInfo =
  'The business hours SLA windows count: a time zone, opening intervals per weekday, holidays, whether a window ' +
  'pauses while the company waits on the consumer, and the warning fractions. Until a company sets one it has the ' +
  '24×7 calendar (windows count elapsed time). A new calendar applies to windows that start or resume after it.';

const breachInfo =
  'What happens to a complaint when its response window is breached, besides `complaint.sla_breached` and the ' +
  'escalation: reassign it (to a named staff user, or the least-loaded agent or admin) and/or flag it. Each change ' +
  "is written to the complaint's timeline in the transaction that announces the breach: `complaint.assigned` with " +
  '`assigned_by: "breach_rule"`, `complaint.flagged`. Applies to breaches from the change on.';

/**
 * Company settings. `GET /settings/sla` shows the effective SLA windows per level and the action wait (any key or
 * session); `PUT /settings/sla` replaces the company's overrides (admin). New values apply to windows that start
 * after the change. `GET /settings/retention` shows how long history is kept (any key or session); `PUT` changes it
 * within the plan's maximum (admin). `GET`/`PUT /settings/calendar` likewise for the business-hours calendar windows
 * count. `GET`/`PUT /settings/breach-rule` likewise for what a breached window does to the complaint.
 * `GET`/`PUT /settings/operations` (admin): where operational alerts go.
 */
export function settingsRoutes({ ctx }: RouteDeps) {
  return async (app: ApiApp) => {
    const tags = ['Settings'];
    const read = requireCompany(ctx, 'read');
    const admin = requireCompany(ctx, 'admin');

    app.get(
      '/settings/sla',
      { onRequest: read, schema: { tags, summary: 'SLA settings', response: { 200: Ok(SlaSettingsSchema) } } },
      async (request) => ok(await getSlaSettings(ctx.store.db, request.company!.companyId)),
    );

    app.put(
      '/settings/sla',
      {
        onRequest: admin,
        config: {
          errors: {
            400: "validation_failed also when a window would not end within two years of the company's calendar (error.details.field names it)",
          },
        },
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
      '/settings/retention',
      {
        onRequest: read,
        schema: {
          tags,
          summary: 'Retention settings',
          description:
            'How many days delivery history, the event feed and Shield feedback are kept before they are removed, ' +
            "with the plan's default and maximum. A complaint's own record and its timeline are kept.",
          response: { 200: Ok(RetentionSettingsSchema) },
        },
      },
      async (request) => ok(await getRetention(ctx.store.db, request.company!.companyId)),
    );

    app.put(
      '/settings/retention',
      {
        onRequest: admin,
        schema: {
          tags,
          summary: 'Change the retention window',
          description:
            "Sets the window in days, within the plan's maximum. A shorter window removes older history at the next " +
            'retention run (deliveries still being sent are kept until they settle); removed rows cannot be restored. ' +
            'A longer window applies at once to the history still held: nothing not yet removed is removed before ' +
            'the new window has passed.',
          body: RetentionSettingsBody,
          response: { 200: Ok(RetentionSettingsSchema) },
        },
        config: {
          errors: {
            403: "retention_over_plan: days is more than the plan keeps (error.details.max_days gives the plan's maximum)",
          },
        },
      },
      async (request) => ok(await setOwnRetention(ctx, request.company!.companyId, request.body.days)),
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
              "before it starts or overlaps another, the week has no opening, or a level's window would not end within " +
              'two years of it; invalid_holiday: a holiday is not a ' +
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

    app.get(
      '/settings/breach-rule',
      {
        onRequest: read,
        schema: { tags, summary: 'Breach rule', description: breachInfo, response: { 200: Ok(BreachRuleSchema) } },
      },
      async (request) => ok(await getBreachRule(ctx.store.db, request.company!.companyId)),
    );

    app.put(
      '/settings/breach-rule',
      {
        onRequest: admin,
        config: {
          errors: {
            400: 'validation_failed: assignee given without `reassign: user`',
            404: 'assignee_not_found: no staff user of your company has that email',
            409: 'assignee_cannot_work: the user is a viewer',
          },
        },
        schema: {
          tags,
          summary: 'Replace the breach rule',
          description: breachInfo,
          body: BreachRuleBody,
          response: { 200: Ok(BreachRuleSchema) },
        },
      },
      async (request) => ok(await setBreachRule(ctx, request.company!.companyId, request.body)),
    );

    const operationsInfo =
      'Where operational events (endpoint.failing, endpoint.disabled, endpoint.recovered, delivery.dead) are sent ' +
      "besides the event feed and the endpoints subscribed to them: email to the company's owners and admins (the " +
      "server's SMTP_URL), and/or a Slack incoming webhook. Alerts are sent and retried by the delivery worker.";

    app.get(
      '/settings/operations',
      {
        onRequest: admin,
        schema: {
          tags,
          summary: 'Operations alerts',
          description: operationsInfo,
          response: { 200: Ok(OperationsSettingsSchema) },
        },
      },
      async (request) => ok(await getOperationsSettings(ctx, request.company!.companyId)),
    );

    app.put(
      '/settings/operations',
      {
        onRequest: admin,
        config: {
          errors: {
            400: 'invalid_url: slack_url is not an allowed https:// URL (error.details.field)',
          },
        },
        schema: {
          tags,
          summary: 'Change the operations alerts',
          description: operationsInfo,
          body: OperationsSettingsBody,
          response: { 200: Ok(OperationsSettingsSchema) },
        },
      },
      async (request) => ok(await setOperationsSettings(ctx, request.company!.companyId, request.body)),
    );
  };
}
