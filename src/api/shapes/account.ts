import { Type, type Static } from '@sinclair/typebox';
import { SCOPES, type ApiKeyView } from '../../domain/api-keys.js';
import { PLANS } from '../../domain/companies.js';
import { ESCALATION_LEVELS } from '../../domain/lifecycle.js';
import { MAX_WINDOW_S, MIN_WINDOW_S, type SlaSettingsView } from '../../domain/sla.js';
import { ROLES } from '../../domain/users.js';
import { DateTime, Nullable, StringEnum } from '../schemas.js';
import type { Expect, SameKeys } from './check.js';

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

type _ShapeChecks = [
  Expect<SameKeys<ApiKeyView, Static<typeof ApiKeySchema>>>,
  Expect<SameKeys<SlaSettingsView, Static<typeof SlaSettingsSchema>>>,
];
