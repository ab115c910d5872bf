import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  createAutomation,
  deleteAutomation,
  getAutomation,
  listAutomations,
  updateAutomation,
} from '../../shield/automations.js';
import {
  feedbackView,
  getFeedback,
  ingestFeedback,
  listFeedback,
  listThread,
  MAX_BATCH,
} from '../../shield/feedback.js';
import { LEVELS, type Level } from '../../shield/levels.js';
import { listRecordAlerts } from '../../shield/record-alerts.js';
import { requireCompany } from '../auth.js';
import type { RouteDeps } from '../routes.js';
import { ok, Ok, OkList, PageQuery } from '../schemas.js';

// A full batch of 1,000 records of 20,000 characters does not fit the API's 1 MB default; feedback alone may send
// bigger bodies (still bounded, so one request cannot exhaust memory).
export const FEEDBACK_BODY_LIMIT_BYTES = 24 * 1024 * 1024;

const LevelEnum = Type.Unsafe<Level>({ type: 'string', enum: [...LEVELS] });
const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const RecordIdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

const FeedbackRecord = Type.Object({
  id: Type.String({
    minLength: 1,
    maxLength: 200,
    description: "The source system's record id; a repeated id is skipped.",
  }),
  source: Type.String({
    minLength: 1,
    maxLength: 100,
    description: 'Where the feedback came from, e.g. ZendeskSupport.',
  }),
  source_url: Type.Optional(Type.String({ maxLength: 2048, description: 'http(s) link to the record in the source.' })),
  content: Type.String({ minLength: 1, maxLength: 20_000 }),
  created_at: Type.Optional(Type.String({ description: 'ISO 8601 time at the source.' })),
  thread_id: Type.Optional(Type.String({ maxLength: 200 })),
  customer_id: Type.Optional(Type.String({ maxLength: 200 })),
});

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const ShiftEnum = Type.Unsafe<string>({
  type: 'string',
  enum: ['sentiment degraded', 'sentiment improved', 'no change'],
});

const Levels = Type.Object({
  escalation_level: LevelEnum,
  emotional_intensity_level: Nullable(LevelEnum),
  sentiment_shift: Nullable(ShiftEnum),
});

/** A stored record with its scores, as GET /feedback answers it. */
const FeedbackView = Type.Object(
  {
    id: Type.String({ description: "The source system's record id" }),
    source: Type.String(),
    source_url: Nullable(Type.String()),
    content: Type.String(),
    thread_id: Nullable(Type.String()),
    customer_id: Nullable(Type.String()),
    created_at: Nullable(Type.String({ format: 'date-time', description: 'Time at the source, when sent' })),
    received_at: Type.String({ format: 'date-time' }),
    scored_at: Nullable(Type.String({ format: 'date-time', description: 'null until the record is scored' })),
    levels: Nullable(Levels),
    sentiment: Nullable(Type.Number({ minimum: -1, maximum: 1 })),
    cues: Type.Array(Type.String(), { description: 'Ids of the escalation cues that fired' }),
    signals: Type.Array(
      Type.Object({
        cue: Type.String(),
        group: Type.Unsafe<string>({ type: 'string', enum: ['threat', 'soft', 'emotion', 'other'] }),
        label: Type.String(),
        description: Type.String(),
      }),
      { description: 'What drove the levels: each cue that fired, with its group and meaning' },
    ),
  },
  { title: 'FeedbackRecord' },
);

const AlertDelivery = Type.Object({
  id: Type.String({ description: 'The delivery (GET /deliveries/{id} has its attempts)' }),
  target: Type.Unsafe<string>({ type: 'string', enum: ['webhook', 'slack', 'email', 'endpoint'] }),
  endpoint_id: Nullable(Type.String({ description: 'A company webhook endpoint subscribed to shield.alert' })),
  destination_id: Nullable(Type.String({ description: 'A destination of the automation' })),
  destination: Nullable(
    Type.Object(
      {
        id: Type.String(),
        type: Type.Unsafe<string>({ type: 'string', enum: ['webhook', 'slack', 'email'] }),
        url: Type.Optional(Type.String({ description: 'Slack URLs are shown masked' })),
        to: Type.Optional(Type.Array(Type.String())),
      },
      { description: 'null for endpoints and for destinations since removed' },
    ),
  ),
  status: Type.Unsafe<string>({ type: 'string', enum: ['pending', 'success', 'failed', 'dead'] }),
  attempt_count: Type.Integer({ description: 'Attempts made so far' }),
  next_attempt_at: Nullable(Type.String({ format: 'date-time' })),
  last_status_code: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  updated_at: Type.String({ format: 'date-time' }),
});

const RecordAlert = Type.Object(
  {
    event_id: Type.String({ description: 'The shield.alert event, as in the event feed' }),
    automation_id: Type.String(),
    automation_name: Nullable(Type.String({ description: 'null once the automation was deleted' })),
    escalated_at: Type.String({ format: 'date-time' }),
    levels: Levels,
    deliveries: Type.Array(AlertDelivery),
  },
  { title: 'RecordAlert' },
);

const recordErrors = {
  400: Type.Ref('ErrorResponse', { description: 'invalid_query: a parameter is invalid' }),
  401: Type.Ref('ErrorResponse', { description: 'unauthorized: no valid API key or session' }),
  403: Type.Ref('ErrorResponse', { description: 'plan_required: API keys need the Professional or Enterprise plan' }),
  404: Type.Ref('ErrorResponse', { description: "not_found: no such record (another company's answers the same)" }),
};

const Terms = Type.Array(Type.String({ maxLength: 100 }), { maxItems: 50 });
const Filter = Type.Object(
  { min_level: LevelEnum, sources: Type.Optional(Terms), keywords: Type.Optional(Terms) },
  { additionalProperties: false },
);
// Per-type rules (webhook needs url, email needs to, …) are checked by the domain with messages naming the field.
const Destination = Type.Object(
  {
    id: Type.Optional(
      Type.String({
        maxLength: 64,
        description: 'An existing destination of this automation, to keep it (and its stored credential).',
      }),
    ),
    type: Type.Unsafe<'webhook' | 'slack' | 'email'>({ type: 'string', enum: ['webhook', 'slack', 'email'] }),
    url: Type.Optional(Type.String({ maxLength: 2048 })),
    auth: Type.Optional(
      Type.Object(
        {
          type: Type.Unsafe<string>({ type: 'string', enum: ['none', 'bearer', 'api_key', 'custom_header'] }),
          token: Type.Optional(Type.String({ maxLength: 8192 })),
          header_name: Type.Optional(Type.String({ maxLength: 256 })),
        },
        { additionalProperties: false },
      ),
    ),
    timeout_ms: Type.Optional(
      Type.Integer({ minimum: 1000, maximum: 30000, description: 'Webhook only; default 5000.' }),
    ),
    to: Type.Optional(Type.Array(Type.String({ maxLength: 254 }), { maxItems: 20 })),
  },
  { additionalProperties: false },
);
const AutomationFields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  active: Type.Boolean(),
  filter: Filter,
  destinations: Type.Array(Destination, { maxItems: 10 }),
};
const CreateAutomation = Type.Object(
  {
    ...AutomationFields,
    active: Type.Optional(AutomationFields.active),
    destinations: Type.Optional(AutomationFields.destinations),
  },
  { additionalProperties: false },
);
const PatchAutomation = Type.Partial(Type.Object(AutomationFields, { additionalProperties: false }), {
  additionalProperties: false,
  minProperties: 1,
});

/** Escalation Shield: feedback ingestion and listing, and automations with their destinations (SPEC §4b, §6). */
export function shieldRoutes({ ctx }: RouteDeps) {
  return async (app: FastifyInstance) => {
    const tags = ['Escalation Shield'];
    const read = requireCompany(ctx.store.db, ctx.clock, 'read');
    const admin = requireCompany(ctx.store.db, ctx.clock, 'admin');
    const companyId = (request: { company?: { companyId: string } }) => request.company!.companyId;

    app.post(
      '/feedback',
      {
        onRequest: admin,
        bodyLimit: FEEDBACK_BODY_LIMIT_BYTES,
        // Each record's text is checked with the record, so one bad record does not refuse the whole batch.
        config: { bodyTextCheckedByRoute: true },
        schema: {
          tags,
          summary: 'Ingest feedback',
          description: `One record, or { "records": [ … ] } with up to ${MAX_BATCH}. Answers 202 at once; records are scored in the background. Invalid records of a batch are reported by index, the rest stored; a record id already stored is a duplicate and skipped. A batch that would take the company over its feedback records per minute is refused whole: 429 feedback_rate_limited with Retry-After. Record shape: ${JSON.stringify(Object.keys(FeedbackRecord.properties))}.`,
        },
      },
      async (request, reply) => reply.status(202).send(ok(await ingestFeedback(ctx, companyId(request), request.body))),
    );

    const FeedbackQuery = Type.Object(
      {
        ...PageQuery,
        min_level: Type.Optional(LevelEnum),
        source: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
      },
      { additionalProperties: false },
    );
    app.get(
      '/feedback',
      {
        onRequest: read,
        schema: {
          tags,
          summary: 'Scored feedback, newest first',
          querystring: FeedbackQuery,
          response: { 200: OkList(FeedbackView) },
        },
      },
      async (request) => {
        const q = request.query as { page: number; limit: number; min_level?: Level; source?: string };
        const { rows, total } = await listFeedback(ctx.store.db, companyId(request), {
          page: q.page,
          limit: q.limit,
          minLevel: q.min_level,
          source: q.source,
        });
        return { success: true as const, page: q.page, limit: q.limit, total, data: rows.map(feedbackView) };
      },
    );

    app.get(
      '/feedback/:id',
      {
        onRequest: read,
        schema: {
          tags,
          summary: 'One feedback record by its source id',
          params: RecordIdParam,
          response: { 200: Ok(FeedbackView), ...recordErrors },
        },
      },
      async (request) => {
        const { id } = request.params as { id: string };
        return ok(feedbackView(await getFeedback(ctx.store.db, companyId(request), id)));
      },
    );

    const RecordPageQuery = Type.Object(PageQuery, { additionalProperties: false });

    app.get(
      '/feedback/:id/thread',
      {
        onRequest: read,
        schema: {
          tags,
          summary: "A record's thread",
          description:
            'The records of the same thread_id, this one included, in the order they arrived (the order sentiment_shift compares them in). A record without a thread_id is a thread of one.',
          params: RecordIdParam,
          querystring: RecordPageQuery,
          response: { 200: OkList(FeedbackView), ...recordErrors },
        },
      },
      async (request) => {
        const { id } = request.params as { id: string };
        const q = request.query as { page: number; limit: number };
        const { rows, total } = await listThread(ctx.store.db, companyId(request), id, q);
        return { success: true as const, page: q.page, limit: q.limit, total, data: rows.map(feedbackView) };
      },
    );

    app.get(
      '/feedback/:id/alerts',
      {
        onRequest: read,
        schema: {
          tags,
          summary: 'Alerts sent for a record',
          description:
            'Each shield.alert raised for the record, newest first: the automation, the levels it carried, and the state of every delivery (destinations of the automation and company endpoints subscribed to shield.alert).',
          params: RecordIdParam,
          querystring: RecordPageQuery,
          response: { 200: OkList(RecordAlert), ...recordErrors },
        },
      },
      async (request) => {
        const { id } = request.params as { id: string };
        const q = request.query as { page: number; limit: number };
        const { items, total } = await listRecordAlerts(ctx, companyId(request), id, q);
        return { success: true as const, page: q.page, limit: q.limit, total, data: items };
      },
    );

    app.get(
      '/automations',
      {
        onRequest: read,
        schema: { tags, summary: 'Automations', querystring: Type.Object(PageQuery, { additionalProperties: false }) },
      },
      async (request) => {
        const q = request.query as { page: number; limit: number };
        const { items, total } = await listAutomations(ctx, companyId(request), q.page, q.limit);
        return { success: true as const, page: q.page, limit: q.limit, total, data: items };
      },
    );

    app.get(
      '/automations/:id',
      { onRequest: read, schema: { tags, summary: 'One automation', params: IdParam } },
      async (request) => {
        const { id } = request.params as { id: string };
        return ok(await getAutomation(ctx, companyId(request), id));
      },
    );

    app.post(
      '/automations',
      { onRequest: admin, schema: { tags, summary: 'Create an automation', body: CreateAutomation } },
      async (request, reply) =>
        reply.status(201).send(ok(await createAutomation(ctx, companyId(request), request.body))),
    );

    app.patch(
      '/automations/:id',
      { onRequest: admin, schema: { tags, summary: 'Change an automation', params: IdParam, body: PatchAutomation } },
      async (request) => {
        const { id } = request.params as { id: string };
        return ok(await updateAutomation(ctx, companyId(request), id, request.body));
      },
    );

    app.delete(
      '/automations/:id',
      { onRequest: admin, schema: { tags, summary: 'Delete an automation', params: IdParam } },
      async (request) => {
        const { id } = request.params as { id: string };
        await deleteAutomation(ctx, companyId(request), id);
        return ok({ id, deleted: true });
      },
    );
  };
}
