import { Type, type Static } from '@sinclair/typebox';
import {
  MAX_DESTINATIONS,
  MAX_EMAIL_RECIPIENTS,
  MAX_FILTER_TERMS,
  type AutomationView,
} from '../../shield/automations.js';
import type { feedbackView, IngestResult } from '../../shield/feedback.js';
import type { AlertDeliveryView, RecordAlertView } from '../../shield/record-alerts.js';
import { CONTENT_MAX, RECORD_ID_MAX, REF_MAX, SOURCE_MAX, URL_MAX } from '../../shield/feedback-record.js';
import { MAX_BATCH } from '../../shield/feedback.js';
import { SHIELD_LEVELS } from '../../shield/levels.js';
import { SENSITIVITIES } from '../../shield/scoring/model.js';
import { WEBHOOK_TIMEOUT_DEFAULT_MS } from '../../shield/destinations/config.js';
import { MAX_TIMEOUT_MS, MAX_URL_LENGTH, MIN_TIMEOUT_MS } from '../../webhooks/endpoints.js';
import { DateTime, Nullable, StringEnum } from '../schemas.js';
import { AuthTypeSchema } from './webhooks.js';
import type { Expect, SameKeys } from './check.js';

export const ShieldLevelSchema = StringEnum(SHIELD_LEVELS);
const SensitivitySchema = StringEnum(SENSITIVITIES, {
  description:
    'How readily the automation alerts: conservative (fewer, surer alerts), balanced (default), sensitive (more alerts, fewer misses)',
});

/** One signal that drove a score: a feature of the text, where it matched, and how far it pushed the score. */
const ExplanationSignalSchema = Type.Object(
  {
    signal: Type.String({
      description:
        'What it is: cue:<id> (a detected cue), word:<w>, phrase:<w w>, stem:<prefix>, negated:<w>, shouting, exclamation, profanity, anger, angry_emoji, lexicon:<score>',
    }),
    span: Nullable(
      Type.Object({
        start: Type.Integer({ minimum: 0, description: 'Offset in the record content (UTF-16 code units)' }),
        end: Type.Integer({ minimum: 0, description: 'End offset, exclusive' }),
        text: Type.String({ description: 'The matched text' }),
      }),
      { description: 'Where it matched in the content; null for whole-text signals' },
    ),
    weight: Type.Number({ description: 'Its push on the escalation score (log-odds of ≥ high); negative pulls down' }),
  },
  { title: 'ExplanationSignal' },
);

export const SensitivityCalibrationSchema = Type.Object(
  {
    sensitivity: SensitivitySchema,
    precision: Type.Number({ description: 'Expected precision at escalation ≥ high, measured on held-out feedback' }),
    recall: Type.Number({ description: 'Expected recall at escalation ≥ high, measured on held-out feedback' }),
  },
  { title: 'SensitivityCalibration' },
);
// Typed as a string, as the store holds it; the document still lists the values the scorer writes.
const SentimentShiftSchema = Type.Unsafe<string>({
  type: 'string',
  enum: ['sentiment degraded', 'sentiment improved', 'no change'],
});

const LevelsSchema = Type.Object({
  escalation_level: ShieldLevelSchema,
  emotional_intensity_level: Nullable(ShieldLevelSchema),
  sentiment_shift: Nullable(SentimentShiftSchema),
});

export const FeedbackSchema = Type.Object(
  {
    id: Type.String({ description: "The source system's record id" }),
    source: Type.String(),
    source_url: Nullable(Type.String()),
    content: Type.String(),
    thread_id: Nullable(Type.String()),
    customer_id: Nullable(Type.String()),
    created_at: Nullable(DateTime({ description: 'The time at the source' })),
    received_at: DateTime(),
    scored_at: Nullable(DateTime({ description: 'null until the record is scored' })),
    levels: Nullable(LevelsSchema),
    sentiment: Nullable(Type.Number({ minimum: -1, maximum: 1 })),
    cues: Type.Array(Type.String(), { description: 'Ids of the escalation cues that fired' }),
    signals: Type.Array(
      Type.Object({
        cue: Type.String(),
        group: StringEnum(['threat', 'soft', 'emotion', 'other'] as const),
        label: Type.String(),
        description: Type.String(),
      }),
      { description: 'What drove the levels: each cue that fired, with its group and meaning' },
    ),
    explanation: Type.Array(ExplanationSignalSchema, {
      description: 'The signals that drove the escalation level, strongest first, with matched spans and weights',
    }),
  },
  { title: 'Feedback' },
);

export const IngestResultSchema = Type.Object(
  {
    accepted: Type.Integer({ description: 'Records stored, to be scored in the background' }),
    duplicates: Type.Integer({ description: 'Records whose id was already stored (skipped)' }),
    invalid: Type.Array(
      Type.Object({
        index: Type.Integer({ description: 'Position in records (0 for a single record)' }),
        code: StringEnum([
          'not_an_object',
          'missing_field',
          'invalid_type',
          'invalid_value',
          'too_long',
          'unknown_field',
        ] as const),
        field: Type.Optional(Type.String()),
        message: Type.String(),
      }),
    ),
  },
  { title: 'FeedbackIngestResult' },
);

/** One feedback record as a source sends it; checked by the domain so a batch can report each bad record. */
const FeedbackRecordBody = Type.Object(
  {
    id: Type.String({
      minLength: 1,
      maxLength: RECORD_ID_MAX,
      description: "The source system's record id; a repeated id is skipped.",
    }),
    source: Type.String({
      minLength: 1,
      maxLength: SOURCE_MAX,
      description: 'Where the feedback came from, e.g. ZendeskSupport.',
    }),
    source_url: Type.Optional(
      Nullable(Type.String({ maxLength: URL_MAX, description: 'http(s) link to the record in the source.' })),
    ),
    content: Type.String({ minLength: 1, maxLength: CONTENT_MAX }),
    created_at: Type.Optional(
      Nullable(Type.String({ description: 'ISO 8601 date or time at the source; a time needs a zone.' })),
    ),
    thread_id: Type.Optional(Nullable(Type.String({ maxLength: REF_MAX }))),
    customer_id: Type.Optional(Nullable(Type.String({ maxLength: REF_MAX }))),
  },
  { title: 'FeedbackRecord', additionalProperties: false },
);

/** One record, or a batch of them. */
export const IngestFeedbackBody = Type.Union([
  FeedbackRecordBody,
  Type.Object(
    { records: Type.Array(FeedbackRecordBody, { minItems: 1, maxItems: MAX_BATCH }) },
    { additionalProperties: false },
  ),
]);

const WebhookDestinationView = Type.Object({
  id: Type.String(),
  type: Type.Literal('webhook'),
  url: Type.String(),
  auth: Type.Object({ type: AuthTypeSchema, header_name: Nullable(Type.String()), has_token: Type.Boolean() }),
  timeout_ms: Type.Integer(),
});
const SlackDestinationView = Type.Object({
  id: Type.String(),
  type: Type.Literal('slack'),
  url: Type.String({ description: 'The incoming-webhook URL with its secret part masked' }),
});
const EmailDestinationView = Type.Object({
  id: Type.String(),
  type: Type.Literal('email'),
  to: Type.Array(Type.String()),
});

const BrokerDestinationView = Type.Object({
  id: Type.String(),
  type: Type.Literal('broker'),
  url: Type.String({
    description:
      'The amqp(s)://, nats:// or tls:// (NATS over TLS), redis(s):// or mqtt(s):// URL without its password',
  }),
  has_url_password: Type.Boolean({ description: 'Whether a password is stored (sealed) for the URL' }),
  timeout_ms: Type.Integer(),
});

const DestinationViewSchema = Type.Union([
  WebhookDestinationView,
  SlackDestinationView,
  EmailDestinationView,
  BrokerDestinationView,
]);

const FilterSchema = Type.Object(
  {
    min_level: ShieldLevelSchema,
    sources: Type.Optional(Type.Array(Type.String({ maxLength: 100 }), { maxItems: MAX_FILTER_TERMS })),
    keywords: Type.Optional(Type.Array(Type.String({ maxLength: 100 }), { maxItems: MAX_FILTER_TERMS })),
  },
  { additionalProperties: false },
);

export const AutomationSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    active: Type.Boolean(),
    filter: FilterSchema,
    sensitivity: SensitivitySchema,
    destinations: Type.Array(DestinationViewSchema),
    created_at: DateTime(),
    updated_at: DateTime(),
  },
  { title: 'Automation' },
);

const AlertDeliverySchema = Type.Object(
  {
    id: Type.String({ description: 'The delivery (GET /deliveries/{id} has its attempts)' }),
    target: Type.Unsafe<string>({ type: 'string', enum: ['webhook', 'slack', 'email', 'broker', 'endpoint'] }),
    endpoint_id: Nullable(Type.String({ description: 'A company webhook endpoint subscribed to shield.alert' })),
    destination_id: Nullable(Type.String({ description: 'A destination of the automation' })),
    destination: Nullable(DestinationViewSchema, {
      description: 'The destination as the automation shows it; null for endpoints and for destinations since removed',
    }),
    status: StringEnum(['pending', 'success', 'failed', 'dead'] as const),
    attempt_count: Type.Integer({ description: 'Attempts made so far' }),
    next_attempt_at: Nullable(DateTime()),
    last_status_code: Nullable(Type.Integer()),
    last_error: Nullable(Type.String()),
    updated_at: DateTime(),
  },
  { title: 'AlertDelivery' },
);

/** One shield.alert raised for a feedback record, with the state of each of its deliveries. */
export const RecordAlertSchema = Type.Object(
  {
    event_id: Type.String({ description: 'The shield.alert event, as in the event feed' }),
    automation_id: Type.String(),
    automation_name: Nullable(Type.String({ description: 'null once the automation was deleted' })),
    escalated_at: DateTime(),
    levels: LevelsSchema,
    deliveries: Type.Array(AlertDeliverySchema),
  },
  { title: 'RecordAlert' },
);

export const DeletedAutomationSchema = Type.Object({ id: Type.String(), deleted: Type.Literal(true) });

// Per-type rules (webhook needs url, email needs to, …) are checked by the domain with messages naming the field.
const DestinationBody = Type.Object(
  {
    id: Type.Optional(
      Type.String({
        maxLength: 64,
        description: 'An existing destination of this automation, to keep it (and its stored credential).',
      }),
    ),
    type: StringEnum(['webhook', 'slack', 'email', 'broker'] as const),
    url: Type.Optional(
      Type.String({
        maxLength: MAX_URL_LENGTH,
        description:
          'webhook and slack: https://. broker: amqp(s)://, nats:// or tls:// (NATS over TLS), redis(s):// or ' +
          'mqtt(s):// (the scheme picks the broker and TLS); ' +
          'a password left out of an edited broker URL keeps the stored one for the same scheme, host and port.',
      }),
    ),
    auth: Type.Optional(
      Type.Object(
        {
          type: AuthTypeSchema,
          token: Type.Optional(Type.String({ maxLength: 8192 })),
          header_name: Type.Optional(Type.String({ maxLength: 256 })),
        },
        { additionalProperties: false },
      ),
    ),
    timeout_ms: Type.Optional(
      Type.Integer({
        minimum: MIN_TIMEOUT_MS,
        maximum: MAX_TIMEOUT_MS,
        description: `Webhook and broker only; default ${WEBHOOK_TIMEOUT_DEFAULT_MS}.`,
      }),
    ),
    to: Type.Optional(Type.Array(Type.String({ maxLength: 254 }), { maxItems: MAX_EMAIL_RECIPIENTS })),
  },
  { additionalProperties: false },
);
const automationFields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  active: Type.Boolean(),
  filter: FilterSchema,
  sensitivity: SensitivitySchema,
  destinations: Type.Array(DestinationBody, { maxItems: MAX_DESTINATIONS }),
};
export const CreateAutomationBody = Type.Object(
  {
    ...automationFields,
    active: Type.Optional(automationFields.active),
    sensitivity: Type.Optional(automationFields.sensitivity),
    destinations: Type.Optional(automationFields.destinations),
  },
  { additionalProperties: false },
);
export const PatchAutomationBody = Type.Partial(Type.Object(automationFields, { additionalProperties: false }), {
  additionalProperties: false,
  minProperties: 1,
});

type _ShapeChecks = [
  Expect<SameKeys<ReturnType<typeof feedbackView>, Static<typeof FeedbackSchema>>>,
  Expect<SameKeys<IngestResult, Static<typeof IngestResultSchema>>>,
  Expect<SameKeys<AutomationView, Static<typeof AutomationSchema>>>,
  Expect<SameKeys<RecordAlertView, Static<typeof RecordAlertSchema>>>,
  Expect<SameKeys<AlertDeliveryView, Static<typeof AlertDeliverySchema>>>,
];
