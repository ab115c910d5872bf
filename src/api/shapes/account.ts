import { Type, type Static } from '@sinclair/typebox';
import { SCOPES, type ApiKeyView } from '../../domain/api-keys.js';
import { PLANS } from '../../domain/plans.js';
import { ESCALATION_LEVELS } from '../../domain/lifecycle.js';
import {
  MIN_RETENTION_DAYS,
  OWNER_MAX_RETENTION_DAYS,
  OPERATOR_MAX_RETENTION_DAYS,
  type RetentionView,
} from '../../domain/retention.js';
import type { BreachRule } from '../../domain/breach-rule.js';
import { WEEKDAYS } from '../../domain/business-time.js';
import { MAX_WINDOW_S, MIN_WINDOW_S, type SlaSettingsView } from '../../domain/sla.js';
import {
  MAX_HOLIDAYS,
  MAX_INTERVALS_PER_DAY,
  MAX_WARNING_FRACTIONS,
  type SlaCalendarInput,
  type SlaCalendarView,
} from '../../domain/sla-calendar.js';
import { ROLES } from '../../domain/users.js';
import { DateTime, Nullable, StringEnum } from '../schemas.js';
import type { Expect, SameKeys } from './check.js';
import type { OperationsSettings } from '../../webhooks/operations-settings.js';

/** What the list and every answer show of a key: never the key itself, never its hash. */
export const ApiKeySchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    prefix: Type.String({ description: 'The first characters of the key, to recognise it' }),
    scope: StringEnum(SCOPES),
    created_at: DateTime(),
    last_used_at: Nullable(DateTime()),
    revoked_at: Nullable(DateTime()),
  },
  { title: 'ApiKey' },
);

export const CreatedApiKeySchema = Type.Object(
  {
    ...ApiKeySchema.properties,
    key: Type.String({
      description: 'The full key (esc_…). Shown once, here; it cannot be retrieved again, only revoked.',
    }),
  },
  { title: 'CreatedApiKey' },
);

const PERMISSIONS = ['read', 'work', 'admin'] as const;

export const MeSchema = Type.Object(
  {
    company: Type.Object({ code: Type.String(), name: Type.String(), plan: StringEnum(PLANS) }),
    user: Nullable(Type.Object({ email: Type.String(), role: StringEnum(ROLES) }), {
      description: 'The signed-in user (dashboard sessions)',
    }),
    api_key: Nullable(Type.Object({ id: Type.String(), name: Type.String(), scope: StringEnum(SCOPES) }), {
      description: 'The key used (API calls)',
    }),
    api_access: Type.Boolean({ description: 'Whether the plan allows API keys (Professional and Enterprise)' }),
    permissions: Type.Array(StringEnum(PERMISSIONS)),
  },
  { title: 'Me' },
);

/** What login and `GET /api/session` answer: who is signed in, for which company, and the CSRF token for writes. */
export const SessionSchema = Type.Object(
  {
    user: Type.Object({ email: Type.String(), role: StringEnum(ROLES) }),
    company: Type.Object({ code: Type.String(), name: Type.String(), plan: StringEnum(PLANS) }),
    csrf_token: Type.String({ description: 'Send as X-CSRF-Token on every write' }),
    expires_at: DateTime(),
    server: Type.Object(
      { allow_http_webhooks: Type.Boolean() },
      { description: 'Operator settings the dashboard adapts to' },
    ),
  },
  { title: 'Session' },
);
export type SessionView = Static<typeof SessionSchema>;

export const SignedOutSchema = Type.Object({ signed_out: Type.Literal(true) });

const LevelSeconds = Type.Record(Type.String(), Type.Integer(), {
  description: `Seconds per escalation level (${ESCALATION_LEVELS.join(', ')})`,
});
export const SlaSettingsSchema = Type.Object(
  {
    windows: LevelSeconds,
    action_wait_s: Type.Integer(),
    defaults: Type.Object({ windows: LevelSeconds, action_wait_s: Type.Integer() }),
  },
  { title: 'SlaSettings' },
);

const Seconds = Type.Integer({ minimum: MIN_WINDOW_S, maximum: MAX_WINDOW_S, description: 'seconds' });
export const SlaSettingsBody = Type.Object(
  {
    windows: Type.Object(Object.fromEntries(ESCALATION_LEVELS.map((l) => [l, Type.Optional(Seconds)])), {
      additionalProperties: false,
      description: 'Response window per level in seconds; a level left out uses the default.',
    }),
    action_wait_s: Type.Optional(
      Nullable(Seconds, { description: 'How long a drafted action waits; absent or null uses the default.' }),
    ),
  },
  { additionalProperties: false },
);

export const RetentionSettingsSchema = Type.Object(
  {
    days: Type.Integer({
      minimum: MIN_RETENTION_DAYS,
      maximum: OPERATOR_MAX_RETENTION_DAYS,
      description:
        'Days of delivery history (deliveries, attempts), event feed and Shield feedback kept; older rows are removed',
    }),
    default_days: Type.Integer({ description: "The plan's default window" }),
    max_days: Type.Integer({ description: 'The longest window the plan lets owners and admins choose' }),
    plan: StringEnum(PLANS),
    feed_events: Type.Integer({ minimum: 0, description: 'Events the event feed holds now' }),
    oldest_event_at: Nullable(DateTime({ description: 'When the oldest event still in the feed was written' })),
  },
  {
    title: 'RetentionSettings',
    examples: [
      {
        days: 90,
        default_days: 90,
        max_days: 90,
        plan: 'professional',
        feed_events: 1204,
        oldest_event_at: '2026-03-18T09:00:00.000Z',
      },
    ],
  },
);

export const RetentionSettingsBody = Type.Object(
  {
    days: Type.Integer({
      minimum: MIN_RETENTION_DAYS,
      maximum: OWNER_MAX_RETENTION_DAYS,
      description: "Days to keep, from 1 to the plan's maximum (free 7, starter 30, professional 90, enterprise 365)",
    }),
  },
  { additionalProperties: false },
);

const Interval = Type.Object(
  {
    start: Type.String({ pattern: '^\\d{2}:\\d{2}$', description: 'Local time HH:MM, 00:00–23:59' }),
    end: Type.String({ pattern: '^\\d{2}:\\d{2}$', description: 'Local time HH:MM, after start; 24:00 is midnight' }),
  },
  { additionalProperties: false },
);
const Day = Type.Array(Interval, {
  maxItems: MAX_INTERVALS_PER_DAY,
  description: 'Opening intervals of the day, not overlapping; none: closed',
});
const calendarFields = {
  time_zone: Type.String({
    minLength: 1,
    maxLength: 64,
    description: 'IANA time zone the hours and holidays are in, e.g. Europe/Berlin',
  }),
  holidays: Type.Array(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }), {
    maxItems: MAX_HOLIDAYS,
    description: 'Local dates (YYYY-MM-DD) closed all day',
  }),
};
const pauseDescription =
  'A window that starts while a follow-up question or a settlement offer awaits the consumer waits for their answer ' +
  '(default false)';
const fractionsDescription = 'Fractions of a window at which complaint.sla_warning is sent (default [0.75])';

export const SlaCalendarSchema = Type.Object(
  {
    ...calendarFields,
    business_hours: Type.Object(Object.fromEntries(WEEKDAYS.map((d) => [d, Day]))),
    pause_when_awaiting_consumer: Type.Boolean({ description: pauseDescription }),
    warning_fractions: Type.Array(Type.Number(), { description: fractionsDescription }),
    always_open: Type.Boolean({ description: 'Open 24×7 with no holidays: windows count elapsed time' }),
  },
  { title: 'SlaCalendar' },
);

export const SlaCalendarBody = Type.Object(
  {
    ...calendarFields,
    business_hours: Type.Object(Object.fromEntries(WEEKDAYS.map((d) => [d, Type.Optional(Day)])), {
      additionalProperties: false,
      description: 'Per weekday (monday … sunday); a day left out is closed',
    }),
    pause_when_awaiting_consumer: Type.Optional(Type.Boolean({ description: pauseDescription })),
    warning_fractions: Type.Optional(
      Type.Array(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }), {
        maxItems: MAX_WARNING_FRACTIONS,
        description: fractionsDescription,
      }),
    ),
  },
  { additionalProperties: false },
);

const breachRuleFields = {
  reassign: StringEnum(['none', 'user', 'least_loaded'] as const, {
    description:
      '`none`: keep the holder; `user`: give the complaint to `assignee`; `least_loaded`: give it to the agent or ' +
      'admin holding the fewest open complaints (ties by email), other than its holder.',
  }),
  assignee: Nullable(
    Type.String({
      maxLength: 320,
      description: 'With `reassign: user`: the email of a staff user of your company (not a viewer); null otherwise.',
    }),
  ),
  flag: Type.Boolean({
    description: 'Flag the complaint (`flagged_at`; `GET /complaints?flagged=true` lists flagged complaints).',
  }),
};

export const BreachRuleSchema = Type.Object(breachRuleFields, { title: 'BreachRule' });
export const BreachRuleBody = Type.Object(breachRuleFields, { additionalProperties: false });

type _ShapeChecks = [
  Expect<SameKeys<RetentionView, Static<typeof RetentionSettingsSchema>>>,
  Expect<SameKeys<ApiKeyView, Static<typeof ApiKeySchema>>>,
  Expect<SameKeys<SlaSettingsView, Static<typeof SlaSettingsSchema>>>,
  Expect<SameKeys<SlaCalendarView, Static<typeof SlaCalendarSchema>>>,
  Expect<SameKeys<SlaCalendarInput, Static<typeof SlaCalendarBody>>>,
  Expect<SameKeys<BreachRule, Static<typeof BreachRuleSchema>>>,
];

export const OperationsSettingsSchema = Type.Object(
  {
    email: Type.Boolean({ description: "Operational alerts are emailed to the company's owners and admins" }),
    email_recipients: Type.Array(Type.String(), { description: 'The owners and admins an alert email goes to now' }),
    slack_url: Nullable(
      Type.String({ description: 'The Slack incoming webhook alerts are posted to, its secret part masked' }),
    ),
  },
  { title: 'OperationsSettings' },
);

export const OperationsSettingsBody = Type.Object(
  {
    email: Type.Optional(Type.Boolean()),
    slack_url: Type.Optional(
      Nullable(
        Type.String({
          maxLength: 2048,
          description: 'A Slack incoming-webhook URL (https); null removes it; left out, the stored one is kept',
        }),
      ),
    ),
  },
  { additionalProperties: false },
);

type _OperationsShapeChecks = [Expect<SameKeys<OperationsSettings, Static<typeof OperationsSettingsSchema>>>];
