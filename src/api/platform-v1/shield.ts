import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import {
  createAutomation,
  deleteAutomation,
  getAutomation,
  listAutomations,
  updateAutomation,
} from '../../shield/automations.js';
import { feedbackView, getFeedback, ingestFeedback, listFeedback, MAX_BATCH } from '../../shield/feedback.js';
import { requireCompany } from '../auth.js';
import type { ApiApp, RouteDeps } from '../deps.js';
import { ok, Ok, okList, OkList, PageOnlyQuery, PageQuery, pageOf } from '../schemas.js';
import {
  AutomationSchema,
  CreateAutomationBody,
  DeletedAutomationSchema,
  FeedbackSchema,
  IngestFeedbackBody,
  IngestResultSchema,
  PatchAutomationBody,
  ShieldLevelSchema,
} from '../shapes/shield.js';

// A full batch of 1,000 records of 20,000 characters does not fit the API's 1 MB default; feedback alone may send
// bigger bodies (still bounded, so one request cannot exhaust memory).
const FEEDBACK_BODY_LIMIT_BYTES = 24 * 1024 * 1024;

const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const RecordIdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
const FeedbackQuery = Type.Object(
  {
    ...PageQuery,
    min_level: Type.Optional(ShieldLevelSchema),
    source: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  { additionalProperties: false },
);

// The feedback body is documented but checked record by record in the domain, so a batch stores its good records
// and reports each bad one by index instead of failing whole.
const acceptAnyBody = () => () => true;

const AUTOMATION_404 = 'not_found: no such automation of your company';
const AUTOMATION_400 = 'validation_failed or invalid_url: a field is invalid (error.details.field names it)';

/** Escalation Shield: feedback ingestion and listing, and automations with their destinations. */
export function shieldRoutes({ ctx }: RouteDeps) {
  return async (app: ApiApp) => {
    const tags = ['Escalation Shield'];
    const read = requireCompany(ctx.store.db, ctx.clock, 'read');
    const admin = requireCompany(ctx.store.db, ctx.clock, 'admin');
    const companyId = (request: FastifyRequest) => request.company!.companyId;

    app.post(
      '/feedback',
      {
        onRequest: admin,
        bodyLimit: FEEDBACK_BODY_LIMIT_BYTES,
        validatorCompiler: acceptAnyBody,
        config: {
          errors: {
            400: `invalid_request: not a record or { records }; validation_failed: records empty or over ${MAX_BATCH}`,
            413: `payload_too_large: the body is over ${FEEDBACK_BODY_LIMIT_BYTES} bytes`,
          },
        },
        schema: {
          tags,
          summary: 'Ingest feedback',
          description: `One record, or { "records": [ … ] } with up to ${MAX_BATCH}. Answers 202 at once; records are scored in the background. Invalid records of a batch are reported by index, the rest stored; a record id already stored is a duplicate and skipped.`,
          body: IngestFeedbackBody,
          response: { 202: Ok(IngestResultSchema) },
        },
      },
      async (request, reply) => reply.status(202).send(ok(await ingestFeedback(ctx, companyId(request), request.body))),
    );

    app.get(
      '/feedback',
      {
        onRequest: read,
        schema: {
          tags,
          summary: 'Scored feedback, newest first',
          querystring: FeedbackQuery,
          response: { 200: OkList(FeedbackSchema) },
        },
      },
      async (request) => {
        const page = pageOf(request.query);
        const { rows, total } = await listFeedback(ctx.store.db, companyId(request), {
          ...page,
          minLevel: request.query.min_level,
          source: request.query.source,
        });
        return okList(page, rows.map(feedbackView), total);
      },
    );

    app.get(
      '/feedback/:id',
      {
        onRequest: read,
        config: { errors: { 404: 'not_found: no record with this source id' } },
        schema: {
          tags,
          summary: 'One feedback record by its source id',
          params: RecordIdParam,
          response: { 200: Ok(FeedbackSchema) },
        },
      },
      async (request) => ok(feedbackView(await getFeedback(ctx.store.db, companyId(request), request.params.id))),
    );

    app.get(
      '/automations',
      {
        onRequest: read,
        schema: {
          tags,
          summary: 'Automations',
          querystring: PageOnlyQuery,
          response: { 200: OkList(AutomationSchema) },
        },
      },
      async (request) => {
        const page = pageOf(request.query);
        const { items, total } = await listAutomations(ctx, companyId(request), page.page, page.limit);
        return okList(page, items, total);
      },
    );

    app.get(
      '/automations/:id',
      {
        onRequest: read,
        config: { errors: { 404: AUTOMATION_404 } },
        schema: { tags, summary: 'One automation', params: IdParam, response: { 200: Ok(AutomationSchema) } },
      },
      async (request) => ok(await getAutomation(ctx, companyId(request), request.params.id)),
    );

    app.post(
      '/automations',
      {
        onRequest: admin,
        config: { errors: { 400: AUTOMATION_400, 409: 'conflict: the company has the most automations it may have' } },
        schema: {
          tags,
          summary: 'Create an automation',
          body: CreateAutomationBody,
          response: { 201: Ok(AutomationSchema) },
        },
      },
      async (request, reply) =>
        reply.status(201).send(ok(await createAutomation(ctx, companyId(request), request.body))),
    );

    app.patch(
      '/automations/:id',
      {
        onRequest: admin,
        config: { errors: { 400: AUTOMATION_400, 404: AUTOMATION_404 } },
        schema: {
          tags,
          summary: 'Change an automation',
          params: IdParam,
          body: PatchAutomationBody,
          response: { 200: Ok(AutomationSchema) },
        },
      },
      async (request) => ok(await updateAutomation(ctx, companyId(request), request.params.id, request.body)),
    );

    app.delete(
      '/automations/:id',
      {
        onRequest: admin,
        config: { errors: { 404: AUTOMATION_404 } },
        schema: {
          tags,
          summary: 'Delete an automation',
          params: IdParam,
          response: { 200: Ok(DeletedAutomationSchema) },
        },
      },
      async (request) => {
        const { id } = request.params;
        await deleteAutomation(ctx, companyId(request), id);
        return ok({ id, deleted: true as const });
      },
    );
  };
}
