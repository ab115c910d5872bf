import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import {
  createAutomation,
  deleteAutomation,
  getAutomation,
  listAutomations,
  updateAutomation,
} from '../../shield/automations.js';
import {
  feedbackListAfter,
  feedbackView,
  getFeedback,
  ingestFeedback,
  listFeedback,
  listThread,
  MAX_BATCH,
} from '../../shield/feedback.js';
import { listRecordAlerts } from '../../shield/record-alerts.js';
import { feedbackBodyReader, INLINE_BODY_BYTES } from '../../shield/feedback-body-reader.js';
import { FeedbackUploads } from '../feedback-uploads.js';
import { requireCompany } from '../auth.js';
import type { ApiApp, RouteDeps } from '../deps.js';
import {
  cursorQuery,
  emptyBodyAsObject,
  listAfter,
  ok,
  Ok,
  okCountedList,
  OkCursorList,
  okList,
  OkList,
  PageOnlyQuery,
  PageQuery,
  pageOf,
  withNextCursor,
} from '../schemas.js';
import { RegeneratedSecretSchema, RegenerateSecretBody, SecretSchema } from '../shapes/webhooks.js';
import { regenerateDestinationSecret, revealDestinationSecret } from '../../shield/destinations/secret.js';
import {
  AutomationSchema,
  CreateAutomationBody,
  DeletedAutomationSchema,
  FeedbackSchema,
  IngestFeedbackBody,
  IngestResultSchema,
  PatchAutomationBody,
  RecordAlertSchema,
  SensitivityCalibrationSchema,
  ShieldLevelSchema,
} from '../shapes/shield.js';
import { sensitivityCalibration } from '../../shield/scoring/score.js';
import { SENSITIVITIES } from '../../shield/scoring/model.js';

// A full batch of 1,000 records of 20,000 characters does not fit the API's 1 MB default; feedback alone may send
// bigger bodies (still bounded, so one request cannot exhaust memory).
const FEEDBACK_BODY_LIMIT_BYTES = 24 * 1024 * 1024;

const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
const DestinationParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64 }),
  destination_id: Type.String({ minLength: 1, maxLength: 64 }),
});
const RecordIdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
const FeedbackQuery = Type.Object(
  {
    ...PageQuery,
    min_level: Type.Optional(ShieldLevelSchema),
    source: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    ...cursorQuery('records'),
  },
  { additionalProperties: false },
);

const FeedbackList = OkCursorList(FeedbackSchema, { title: 'FeedbackList' });

// The feedback body is documented but checked record by record in the domain, so a batch stores its good records
// and reports each bad one by index instead of failing whole.
const acceptAnyBody = () => () => true;

const AUTOMATION_404 = 'not_found: no such automation of your company';
const DESTINATION_404 = 'not_found: no webhook or broker destination with this id in this automation of your company';
const AUTOMATION_400 = 'validation_failed or invalid_url: a field is invalid (error.details.field names it)';

/** Escalation Shield: feedback ingestion and listing, and automations with their destinations. */
export function shieldRoutes({ ctx }: RouteDeps) {
  return async (app: ApiApp) => {
    const tags = ['Escalation Shield'];
    const read = requireCompany(ctx, 'read');
    const admin = requireCompany(ctx, 'admin');
    const companyId = (request: FastifyRequest) => request.company!.companyId;

    // The feedback body is read as bytes and parsed by the Shield's reader (a thread for large ones), not by the
    // API's JSON parser on the event loop: this context's own parser, for this one route.
    await app.register(async (feedback) => {
      const { feedbackPerMin } = ctx.config.companyLimits;
      const uploads = new FeedbackUploads({
        largeBytes: INLINE_BODY_BYTES,
        // As many full bodies a minute as full batches fit the company's records a minute.
        bytesPerMin: feedbackPerMin > 0 ? (FEEDBACK_BODY_LIMIT_BYTES * feedbackPerMin) / MAX_BATCH : 0,
        clock: ctx.clock,
      });
      feedback.addHook('preParsing', async (request, reply) => uploads.admit(companyId(request), request, reply));
      feedback.removeContentTypeParser('application/json');
      feedback.addContentTypeParser(
        'application/json',
        { parseAs: 'buffer', bodyLimit: FEEDBACK_BODY_LIMIT_BYTES },
        (request, body, done) => {
          try {
            uploads.takeUnannounced(companyId(request), request, (body as Buffer).byteLength);
            done(null, body);
          } catch (err) {
            done(err as Error, undefined);
          }
        },
      );
      feedback.post(
        '/feedback',
        {
          onRequest: admin,
          bodyLimit: FEEDBACK_BODY_LIMIT_BYTES,
          validatorCompiler: acceptAnyBody,
          config: {
            // Each record's text is checked with the record, so one bad record does not refuse the whole batch.
            bodyTextCheckedByRoute: true,
            errors: {
              400: `invalid_request: not a record or { records }; validation_failed: records empty or over ${MAX_BATCH}`,
              413: `payload_too_large: the body is over ${FEEDBACK_BODY_LIMIT_BYTES} bytes`,
              429: 'feedback_rate_limited: the batch would take the company over its feedback records a minute (error.details.limit, used, batch); see Retry-After. rate_limited: two bodies over 256 KB of this company are being received or read (error.details.per feedback_bodies), or its feedback body bytes a minute are spent (feedback_bytes)',
            },
          },
          schema: {
            tags,
            summary: 'Ingest feedback',
            description: `One record, or { "records": [ … ] } with up to ${MAX_BATCH}. Answers 202 at once; records are scored in the background. Invalid records of a batch are reported by index, the rest stored; a record id already stored is a duplicate and skipped. A batch that would take the company over its feedback records per minute is refused whole: 429 feedback_rate_limited with Retry-After.`,
            body: IngestFeedbackBody,
            response: { 202: Ok(IngestResultSchema) },
          },
        },
        async (request, reply) => {
          const body = await feedbackBodyReader().read(request.body);
          return reply.status(202).send(ok(await ingestFeedback(ctx, companyId(request), body)));
        },
      );
    });

    app.get(
      '/feedback',
      {
        onRequest: read,
        schema: {
          tags,
          summary: 'Scored feedback, newest first',
          querystring: FeedbackQuery,
          response: { 200: FeedbackList },
        },
      },
      async (request) => {
        const page = pageOf(request.query);
        const after = listAfter(request.query, feedbackListAfter);
        const { rows, total, nextCursor } = await listFeedback(ctx.store.db, companyId(request), {
          ...page,
          minLevel: request.query.min_level,
          source: request.query.source,
          after,
        });
        return withNextCursor(okCountedList(page, rows.map(feedbackView), total), after, nextCursor);
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

    const RECORD_404 = "not_found: no such record (another company's answers the same)";

    app.get(
      '/feedback/:id/thread',
      {
        onRequest: read,
        config: { errors: { 404: RECORD_404 } },
        schema: {
          tags,
          summary: "A record's thread",
          description:
            'The records of the same thread_id, this one included, in the order they arrived (the order sentiment_shift compares them in). A record without a thread_id is a thread of one.',
          params: RecordIdParam,
          querystring: PageOnlyQuery,
          response: { 200: OkList(FeedbackSchema) },
        },
      },
      async (request) => {
        const page = pageOf(request.query);
        const { rows, total } = await listThread(ctx.store.db, companyId(request), request.params.id, page);
        return okList(page, rows.map(feedbackView), total);
      },
    );

    app.get(
      '/feedback/:id/alerts',
      {
        onRequest: read,
        config: { errors: { 404: RECORD_404 } },
        schema: {
          tags,
          summary: 'Alerts sent for a record',
          description:
            'Each shield.alert raised for the record, newest first: the automation, the levels it carried, and the state of every delivery (destinations of the automation and company endpoints subscribed to shield.alert).',
          params: RecordIdParam,
          querystring: PageOnlyQuery,
          response: { 200: OkList(RecordAlertSchema) },
        },
      },
      async (request) => {
        const page = pageOf(request.query);
        const { items, total } = await listRecordAlerts(ctx, companyId(request), request.params.id, page);
        return okList(page, items, total);
      },
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
      '/automations/sensitivities',
      {
        onRequest: read,
        schema: {
          tags,
          summary: 'What each automation sensitivity is expected to give',
          description:
            'Precision and recall at escalation ≥ high for each sensitivity, measured on labelled feedback the model was not trained on.',
          response: { 200: Ok(Type.Array(SensitivityCalibrationSchema)) },
        },
      },
      async () => {
        const c = sensitivityCalibration();
        return ok(SENSITIVITIES.map((s) => ({ sensitivity: s, precision: c[s].precision, recall: c[s].recall })));
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
        config: {
          errors: {
            400: AUTOMATION_400,
            409: 'automation_limit_reached: the company has as many automations as this server allows (error.details.limit)',
          },
        },
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
        config: {
          errors: {
            400: `${AUTOMATION_400}; credentials_required: a destination URL moves to another origin without its auth sent again`,
            404: AUTOMATION_404,
          },
        },
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

    app.get(
      '/automations/:id/destinations/:destination_id/secret',
      {
        onRequest: admin,
        config: { errors: { 404: DESTINATION_404 } },
        schema: {
          tags,
          summary: "Reveal a webhook or broker destination's signing secret",
          description:
            'Alerts to a webhook destination carry X-Escalatr-Signature and the Standard Webhooks headers, made with ' +
            'this secret, besides the headers Shield receivers expect; alerts to a broker destination carry them as ' +
            'message headers. Slack and email destinations have none.',
          params: DestinationParams,
          response: { 200: Ok(SecretSchema) },
        },
      },
      async (request, reply) => {
        reply.header('Cache-Control', 'no-store');
        const { id, destination_id } = request.params;
        return ok(await revealDestinationSecret(ctx, companyId(request), id, destination_id));
      },
    );

    app.post(
      '/automations/:id/destinations/:destination_id/secret/regenerate',
      {
        onRequest: admin,
        preValidation: emptyBodyAsObject,
        config: { errors: { 404: DESTINATION_404 } },
        schema: {
          tags,
          summary: "Rotate a webhook or broker destination's signing secret",
          description: 'The body is optional; the old secret keeps signing for grace_period_s seconds.',
          params: DestinationParams,
          body: RegenerateSecretBody,
          response: { 200: Ok(RegeneratedSecretSchema) },
        },
      },
      async (request, reply) => {
        reply.header('Cache-Control', 'no-store');
        const { id, destination_id } = request.params;
        const grace = request.body.grace_period_s ?? 0;
        return ok(await regenerateDestinationSecret(ctx, companyId(request), id, destination_id, grace));
      },
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
