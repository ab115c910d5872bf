import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  createAutomation,
  deleteAutomation,
  getAutomation,
  listAutomations,
  updateAutomation,
} from '../../shield/automations.js';
import { feedbackView, getFeedback, ingestFeedback, listFeedback, MAX_BATCH } from '../../shield/feedback.js';
import { LEVELS, type Level } from '../../shield/levels.js';
import { requireCompany } from '../auth.js';
import type { RouteDeps } from '../routes.js';
import { ok, PageQuery } from '../schemas.js';

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
      { onRequest: read, schema: { tags, summary: 'Scored feedback, newest first', querystring: FeedbackQuery } },
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
      { onRequest: read, schema: { tags, summary: 'One feedback record by its source id', params: RecordIdParam } },
      async (request) => {
        const { id } = request.params as { id: string };
        return ok(feedbackView(await getFeedback(ctx.store.db, companyId(request), id)));
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
