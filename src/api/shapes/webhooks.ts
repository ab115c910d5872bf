import { Type, type Static } from '@sinclair/typebox';
import { EVENT_NAMES } from '../../domain/events.js';
import type { AttemptView, DeliveryDetail, DeliveryView, StatsPoint } from '../../webhooks/endpoint-deliveries.js';
import { DELIVERY_STATUSES } from '../../webhooks/endpoint-deliveries.js';
import type { EndpointConcurrencyView } from '../../webhooks/endpoint-concurrency.js';
import type { RecoverDryRun, RecoverJobView, RecoverSampleItem } from '../../webhooks/bulk-recover.js';
import {
  AUTH_TYPES,
  DEFAULT_TIMEOUT_MS,
  MAX_TIMEOUT_MS,
  MAX_URL_LENGTH,
  MIN_TIMEOUT_MS,
  RETRY_DELAY_MAX_S,
  RETRY_DELAY_MIN_S,
  RETRY_SCHEDULE_MAX_DELAYS,
  RETRY_SCHEDULE_MAX_TOTAL_S,
  type EndpointView,
} from '../../webhooks/endpoints.js';
import { DEFAULT_RETRY_SCHEDULE } from '../../config.js';
import { MAX_GRACE_PERIOD_S } from '../../webhooks/secret-rotation.js';
import { FILTER_MAX_FIELDS, FILTER_MAX_LIST } from '../../domain/event-filter.js';
import { PRESET_NAMES, TRANSFORM_MAX_CHARS } from '../../webhooks/transform.js';
import { ENDPOINT_ORDERINGS, RATE_LIMIT_MAX_PER_S, RATE_LIMIT_MIN_PER_S } from '../../webhooks/endpoint-pacing.js';
import { DateTime, Nullable, StringEnum } from '../schemas.js';
import type { Expect, SameKeys } from './check.js';

export const AuthTypeSchema = StringEnum(AUTH_TYPES, {
  description: 'none, bearer (Authorization: Bearer …), api_key (X-API-Key: …) or custom_header',
});

/** What list and get show of an endpoint: never the secret, never a credential. */
const FilterValue = Type.Union([Type.String({ maxLength: 1000 }), Type.Number(), Type.Boolean(), Type.Null()]);
const FilterList = Type.Array(FilterValue, { minItems: 1, maxItems: FILTER_MAX_LIST });
const Ordered = Type.Union([Type.String({ maxLength: 1000 }), Type.Number()]);

const EventFilterSchema = Type.Record(
  Type.String({ maxLength: 200 }),
  Type.Union([
    FilterValue,
    Type.Object(
      {
        $eq: Type.Optional(FilterValue),
        $ne: Type.Optional(FilterValue),
        $in: Type.Optional(FilterList),
        $nin: Type.Optional(FilterList),
        $gt: Type.Optional(Ordered),
        $gte: Type.Optional(Ordered),
        $lt: Type.Optional(Ordered),
        $lte: Type.Optional(Ordered),
        $exists: Type.Optional(Type.Boolean()),
      },
      { additionalProperties: false, minProperties: 1 },
    ),
  ]),
  {
    minProperties: 1,
    maxProperties: FILTER_MAX_FIELDS,
    title: 'EventFilter',
    description:
      "Which events make a delivery, on the event's data: each key a field of `data` (dots reach into objects), " +
      'each value a plain value (equals) or operators $eq, $ne, $in, $nin, $gt, $gte, $lt, $lte, $exists; every key ' +
      'must match. Levels L1–L9 compare as levels. Example: {"escalation_level": {"$gte": "L3"}, ' +
      '"priority": {"$in": ["high", "critical"]}}. null: every subscribed event.',
  },
);

const TransformSchema = Type.Union(
  [
    Type.Object(
      { preset: StringEnum(PRESET_NAMES, { description: 'qlar: the lifecycle payload of the escalation guide' }) },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        jsonata: Type.String({
          minLength: 1,
          maxLength: TRANSFORM_MAX_CHARS,
          description: 'A JSONata expression over the event body ({id, event, timestamp, data})',
        }),
      },
      { additionalProperties: false },
    ),
  ],
  {
    title: 'Transform',
    description:
      'Reshapes the body sent to this endpoint; signatures cover the bytes sent. null: the event body as stored.',
  },
);

const RetryScheduleSchema = Type.Array(Type.Integer({ minimum: RETRY_DELAY_MIN_S, maximum: RETRY_DELAY_MAX_S }), {
  minItems: 1,
  maxItems: RETRY_SCHEDULE_MAX_DELAYS,
  title: 'RetrySchedule',
  description:
    `Seconds to wait before each retry after a failed attempt: [60, 300] makes at most three attempts. ` +
    `${RETRY_DELAY_MIN_S} to ${RETRY_DELAY_MAX_S} s each, at most ${RETRY_SCHEDULE_MAX_DELAYS}, adding up to at ` +
    `most ${RETRY_SCHEDULE_MAX_TOTAL_S / 86400} days. null: the server's schedule (ESCALATR_RETRY_SCHEDULE, by ` +
    `default ${DEFAULT_RETRY_SCHEDULE.replaceAll(',', ', ')}). A Retry-After longer than the next delay is honoured.`,
});

const OrderingSchema = StringEnum(ENDPOINT_ORDERINGS, {
  description:
    "per_complaint: one complaint's events reach this endpoint in the order they happened, one at a time; a failing " +
    "event holds back only that complaint's later events until it succeeds or dies. none (default): no order.",
});

const RateLimitSchema = Type.Integer({
  minimum: RATE_LIMIT_MIN_PER_S,
  maximum: RATE_LIMIT_MAX_PER_S,
  description:
    'Attempts a second at most, across every worker. null: no limit. A 429 with Retry-After also holds the ' +
    "endpoint's deliveries until then.",
});

export const EndpointSchema = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    description: Nullable(Type.String()),
    enabled: Type.Boolean(),
    events: Type.Array(Type.String()),
    auth: Type.Object({ type: AuthTypeSchema, header_name: Nullable(Type.String()) }),
    has_token: Type.Boolean({ description: 'Whether a credential is stored (it is never shown)' }),
    has_url_password: Type.Boolean({
      description: "Whether a broker URL's password is stored (sealed; the url shown never carries it)",
    }),
    development: Type.Boolean({
      description:
        "A development endpoint of `escalatr listen`: its deliveries go over the listener's connection to a URL on " +
        "the developer's machine; removed when the listener stops, or after an hour without one",
    }),
    timeout_ms: Type.Integer(),
    filter: Nullable(EventFilterSchema),
    transform: Nullable(TransformSchema),
    retry_schedule: Nullable(RetryScheduleSchema),
    ordering: OrderingSchema,
    rate_limit_per_s: Nullable(RateLimitSchema),
    held_until: Nullable(
      DateTime({ description: 'The receiver answered 429 with Retry-After: no delivery starts before this time' }),
    ),
    disabled_reason: Nullable(Type.String({ description: 'manual, gone or failing_5_days' })),
    disabled_at: Nullable(DateTime()),
    failing_since: Nullable(DateTime()),
    previous_secret_expires_at: Nullable(
      DateTime({ description: 'While set, deliveries are also signed with the previous secret' }),
    ),
    created_at: DateTime(),
    updated_at: DateTime(),
  },
  { title: 'Endpoint' },
);

/** How many attempts the workers send an endpoint at once now, and why. */
export const EndpointConcurrencySchema = Type.Object(
  {
    endpoint_id: Type.String(),
    state: StringEnum(['open', 'narrowed', 'probing'] as const, {
      description:
        'open: full cap; narrowed: failures halved the limit, successes widen it again; probing: narrowed to one and still failing, one attempt at a time',
    }),
    limit: Type.Integer({ description: 'Attempts in flight allowed now (per worker process), 1 to cap' }),
    cap: Type.Integer({ description: 'The most it widens to (ESCALATR_ENDPOINT_CONCURRENCY)' }),
    since: Nullable(DateTime({ description: 'When it entered this state; null while never narrowed' })),
    reason: Nullable(
      Type.String({
        description: 'What narrowed it last: an error kind (timeout, connection_refused, …) or http_<status>',
      }),
    ),
    updated_at: Nullable(DateTime({ description: 'When a worker last reported a change; null while none has' })),
  },
  { title: 'EndpointConcurrency' },
);

export const CreatedEndpointSchema = Type.Object(
  {
    ...EndpointSchema.properties,
    secret: Type.String({ description: 'whsec_…: the signing secret, shown here and by GET /webhooks/{id}/secret' }),
  },
  { title: 'CreatedEndpoint' },
);

export const DeletedEndpointSchema = Type.Object({
  id: Type.String(),
  deleted: Type.Literal(true),
  ended_deliveries: Type.Integer({ description: 'Pending deliveries that will not be sent' }),
});

export const SecretSchema = Type.Object({ secret: Type.String() });
export const RegeneratedSecretSchema = Type.Object({
  secret: Type.String(),
  previous_secret_expires_at: Nullable(DateTime()),
});

export const DeliverySchema = Type.Object(
  {
    id: Type.String(),
    event_id: Type.String(),
    event: Type.String(),
    target: Type.String({
      description:
        'endpoint, listener (a development endpoint of escalatr listen), the Escalation Shield destination type, or ops_email / ops_slack (operations alerts)',
    }),
    endpoint_id: Nullable(Type.String()),
    destination_id: Nullable(Type.String()),
    status: StringEnum(DELIVERY_STATUSES),
    attempt_count: Type.Integer({
      description: 'How many attempts were made so far (numbering continues across resends)',
    }),
    next_attempt_at: Nullable(DateTime()),
    last_status_code: Nullable(Type.Integer()),
    last_error: Nullable(Type.String()),
    idempotency_key: Type.String(),
    created_at: DateTime(),
    updated_at: DateTime(),
  },
  { title: 'Delivery' },
);

export const AttemptSchema = Type.Object(
  {
    n: Type.Integer(),
    started_at: DateTime(),
    duration_ms: Type.Integer(),
    status_code: Nullable(Type.Integer()),
    error_kind: Nullable(Type.String()),
    error_message: Nullable(Type.String()),
    response_excerpt: Nullable(Type.String()),
  },
  { title: 'Attempt' },
);

export const DeliveryDetailSchema = Type.Object(
  {
    ...DeliverySchema.properties,
    attempts: Type.Array(AttemptSchema, { description: 'Every attempt, oldest first' }),
    payload: Type.Unknown({ description: 'The event body the delivery sends' }),
  },
  { title: 'DeliveryDetail' },
);

export const RecoveredSchema = Type.Object({
  resent: Type.Integer({ description: 'Failed or dead deliveries queued again' }),
  skipped: Type.Integer(),
});

const StatsPointSchema = Type.Object({
  start: DateTime(),
  total: Type.Integer(),
  success: Type.Integer(),
  failed: Type.Integer(),
  failed_by_kind: Type.Record(Type.String(), Type.Integer(), {
    description: 'Failures by error kind (timeout, http_status, connection_refused, …)',
  }),
});
export const DeliveryStatsSchema = Type.Object(
  {
    bucket: StringEnum(['hour', 'day'] as const),
    since: DateTime(),
    until: DateTime(),
    buckets: Type.Array(StatsPointSchema, { description: 'Oldest first, empty buckets included' }),
  },
  { title: 'DeliveryStats' },
);

// ── Request bodies ─────────────────────────────────────────────────────────────────────────────────────────

const AuthBody = Type.Object(
  {
    type: AuthTypeSchema,
    token: Type.Optional(
      Nullable(
        Type.String({
          maxLength: 8192,
          description: 'The credential; required unless type is none. Never shown again.',
        }),
      ),
    ),
    header_name: Type.Optional(
      Nullable(Type.String({ maxLength: 256, description: 'The header that carries the token, for custom_header' })),
    ),
  },
  { additionalProperties: false },
);

const endpointFields = {
  url: Type.String({
    maxLength: MAX_URL_LENGTH,
    description:
      'Must start with https:// (plain http only when the operator allows it). Stored, shown and sent in canonical ' +
      'form: lowercase scheme and host, an IDN host in punycode, no default port (HTTPS://Hooks.Example.com:443/x ' +
      'becomes https://hooks.example.com/x). Or a message broker: amqp://user:pass@host:5672/exchange?routing_key=…, ' +
      'nats://host:4222/subject (JetStream), redis://host:6379/stream?maxlen=… or mqtt://host:1883/topic, and over ' +
      "TLS amqps:// (port 5671), tls:// (NATS), rediss:// and mqtts:// (port 8883), the broker's certificate checked " +
      "for the host. A broker URL too is stored with its host lowercased and without its scheme's own port; a " +
      "password in the URL is stored sealed and shown as has_url_password, and is kept when an edit's URL leaves " +
      'it out for the same host and port.',
  }),
  description: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
  enabled: Type.Optional(Type.Boolean({ description: 'Default true' })),
  events: Type.Array(Type.String({ maxLength: 100 }), {
    minItems: 1,
    maxItems: 100,
    description: `Event names, or ["*"] for all: ${EVENT_NAMES.join(', ')}`,
  }),
  auth: Type.Optional(Nullable(AuthBody)),
  timeout_ms: Type.Optional(
    Type.Integer({ minimum: MIN_TIMEOUT_MS, maximum: MAX_TIMEOUT_MS, description: `Default ${DEFAULT_TIMEOUT_MS}` }),
  ),
  filter: Type.Optional(Nullable(EventFilterSchema)),
  transform: Type.Optional(Nullable(TransformSchema)),
  retry_schedule: Type.Optional(Nullable(RetryScheduleSchema)),
  ordering: Type.Optional(OrderingSchema),
  rate_limit_per_s: Type.Optional(Nullable(RateLimitSchema)),
};
export const CreateEndpointBody = Type.Object(endpointFields, { additionalProperties: false });
export const PatchEndpointBody = Type.Object(
  {
    url: Type.Optional(endpointFields.url),
    description: endpointFields.description,
    enabled: endpointFields.enabled,
    events: Type.Optional(endpointFields.events),
    auth: endpointFields.auth,
    timeout_ms: endpointFields.timeout_ms,
    filter: endpointFields.filter,
    transform: endpointFields.transform,
    retry_schedule: endpointFields.retry_schedule,
    ordering: endpointFields.ordering,
    rate_limit_per_s: endpointFields.rate_limit_per_s,
  },
  { additionalProperties: false, minProperties: 1 },
);
export const RegenerateSecretBody = Type.Object(
  {
    grace_period_s: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_GRACE_PERIOD_S,
        description: 'Seconds the old secret keeps signing (0–7 days, default 0)',
      }),
    ),
  },
  { additionalProperties: false },
);
export const TestEventBody = Type.Object(
  { message: Type.Optional(Type.String({ maxLength: 1000 })) },
  { additionalProperties: false },
);
export const TransformPreviewBody = Type.Object(
  {
    transform: TransformSchema,
    event_id: Type.Optional(
      Type.String({ maxLength: 100, description: 'An event of yours to run it on; default: your most recent event' }),
    ),
  },
  { additionalProperties: false },
);
export const TransformPreviewSchema = Type.Object({
  event_id: Nullable(Type.String({ description: 'The event it ran on; null: a sample webhook.test event' })),
  event: Type.String({ description: "The event's name" }),
  input: Type.Unknown({ description: 'The event body as stored' }),
  output: Type.Unknown({ description: 'What the endpoint would receive, parsed; null when nothing would be sent' }),
  body: Nullable(Type.String({ description: 'The exact bytes that would be sent and signed' })),
  bytes: Type.Integer(),
});

const RecoverStatusEnum = StringEnum(['failed', 'dead'] as const);

export const BulkRecoverBody = Type.Object(
  {
    endpoint_ids: Type.Optional(
      Type.Array(Type.String({ pattern: '^ep_[0-9a-z]{20}$' }), {
        maxItems: 100,
        description: 'Only deliveries of these endpoints (all enabled endpoints when left out)',
      }),
    ),
    events: Type.Optional(Type.Array(StringEnum(EVENT_NAMES), { maxItems: 100, description: 'Only these events' })),
    statuses: Type.Optional(
      Type.Array(RecoverStatusEnum, { maxItems: 2, description: 'failed, dead or both (the default)' }),
    ),
    since: Type.Optional(DateTime({ description: 'Deliveries created at or after this time' })),
    until: Type.Optional(DateTime({ description: 'Deliveries created before this time' })),
    dry_run: Type.Optional(Type.Boolean({ description: 'true: count and sample them, change nothing' })),
  },
  { additionalProperties: false },
);

const RecoverSampleItemSchema = Type.Object({
  id: Type.String(),
  event: Type.String(),
  event_id: Type.String(),
  endpoint_id: Type.String(),
  status: RecoverStatusEnum,
  attempt_count: Type.Integer(),
  last_status_code: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  created_at: DateTime(),
});

export const RecoverDryRunSchema = Type.Object({
  dry_run: Type.Literal(true),
  count: Type.Integer({ description: 'Deliveries a recover with these filters would requeue now' }),
  limit: Type.Integer({ description: 'The most one recover may requeue' }),
  sample: Type.Array(RecoverSampleItemSchema, { description: 'The newest of them, at most 10' }),
});

export const RecoverJobSchema = Type.Object({
  id: Type.String(),
  status: StringEnum(['running', 'done', 'interrupted'] as const, {
    description: 'interrupted: the process running it stopped; start another for what is left',
  }),
  total: Type.Integer(),
  done: Type.Integer({ description: 'Deliveries requeued so far' }),
  skipped: Type.Integer({ description: 'Deliveries a worker held, or already resent, when their turn came' }),
  filter: Type.Object({
    endpoint_ids: Nullable(Type.Array(Type.String())),
    events: Nullable(Type.Array(Type.String())),
    statuses: Type.Array(RecoverStatusEnum),
    since: Nullable(DateTime()),
    until: Nullable(DateTime()),
  }),
  created_at: DateTime(),
  updated_at: DateTime(),
});

export const RecoverBody = Type.Object(
  { since: DateTime({ description: 'ISO time; deliveries created since then' }) },
  { additionalProperties: false },
);

type _ShapeChecks = [
  Expect<SameKeys<EndpointView, Static<typeof EndpointSchema>>>,
  Expect<SameKeys<EndpointConcurrencyView, Static<typeof EndpointConcurrencySchema>>>,
  Expect<SameKeys<DeliveryView, Static<typeof DeliverySchema>>>,
  Expect<SameKeys<AttemptView, Static<typeof AttemptSchema>>>,
  Expect<SameKeys<DeliveryDetail, Static<typeof DeliveryDetailSchema>>>,
  Expect<SameKeys<StatsPoint, Static<typeof StatsPointSchema>>>,
  Expect<SameKeys<RecoverJobView, Static<typeof RecoverJobSchema>>>,
  Expect<SameKeys<RecoverDryRun, Static<typeof RecoverDryRunSchema>>>,
  Expect<SameKeys<RecoverSampleItem, Static<typeof RecoverSampleItemSchema>>>,
];
