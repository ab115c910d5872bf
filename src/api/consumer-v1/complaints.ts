import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import * as steps from '../../domain/complaint-steps.js';
import { MAX_EVIDENCE_BYTES } from '../../domain/complaint-steps.js';
import {
  complaintDetailOf,
  consumerContact,
  fileComplaint,
  getComplaintDetail,
  listConsumerComplaints,
  toSummary,
  type ComplaintScope,
} from '../../domain/complaints.js';
import { PRIORITIES } from '../../domain/lifecycle.js';
import { AppError } from '../../errors.js';
import { consumerActor, requireConsumer } from '../auth.js';
import { registerComplaintRecordReads } from '../complaint-records.js';
import type { ApiApp, RouteDeps } from '../deps.js';
import { ConsumerComplaintQuery } from '../platform-v1/complaints.js';
import {
  EscalatrId,
  EscalatrIdParam,
  NonEmpty,
  Nullable,
  ok,
  Ok,
  okList,
  OkList,
  pageOf,
  RecordId,
  StringEnum,
} from '../schemas.js';
import {
  ActionDraftedSchema,
  ComplaintDetailSchema,
  ComplaintSummarySchema,
  DelegationSchema,
  EvidenceUploadedSchema,
  FiledActionSchema,
  FollowupAnsweredSchema,
  MessagePostedSchema,
  PostedSocialSchema,
  SettlementResponseSchema,
  SocialDraftedSchema,
} from '../shapes/complaints.js';

const Amount = Type.Number({ minimum: 0, maximum: 1e12 });

const FileBody = Type.Object(
  {
    company_code: Type.String({ pattern: '^[A-Z]{2,8}$' }),
    complaint_category: NonEmpty(100),
    title: NonEmpty(200),
    description: NonEmpty(10_000),
    priority: Type.Optional(StringEnum(PRIORITIES)),
    amount_involved: Type.Optional(Nullable(Amount)),
    currency: Type.Optional(Nullable(Type.String({ pattern: '^[A-Z]{3}$' }))),
  },
  { additionalProperties: false },
);
const ResolveBody = Type.Object(
  { resolution_type: NonEmpty(100), amount_recovered: Type.Optional(Nullable(Amount)) },
  { additionalProperties: false },
);
const WithdrawBody = Type.Object({ reason_code: NonEmpty(100) }, { additionalProperties: false });
const DelegateBody = Type.Object(
  { to_email: Type.String({ minLength: 3, maxLength: 320 }), immediate_transfer: Type.Boolean() },
  { additionalProperties: false },
);
const MessageBody = Type.Object(
  { body: NonEmpty(10_000), directed_to: Type.Optional(NonEmpty(100)) },
  { additionalProperties: false },
);

// Evidence arrives as base64 in JSON. The text limit is exactly the base64 length of the largest file the server
// stores, and the body limit leaves room for the other fields around it.
const EVIDENCE_BASE64_MAX = 4 * Math.ceil(MAX_EVIDENCE_BYTES / 3);
const EVIDENCE_BODY_LIMIT = EVIDENCE_BASE64_MAX + 64 * 1024;
const EvidenceBody = Type.Object(
  {
    file_name: Type.String({ minLength: 1, maxLength: 255, pattern: '^[^/\\\\\\x00-\\x1f\\x7f]+$' }),
    content_type: Type.String({ minLength: 3, maxLength: 100, pattern: '^[\\w.+-]+/[\\w.+-]+$' }),
    content_base64: Type.String({
      minLength: 1,
      maxLength: EVIDENCE_BASE64_MAX,
      description: `The file, base64-encoded: at most ${MAX_EVIDENCE_BYTES} bytes (5 MiB) once decoded`,
    }),
  },
  { additionalProperties: false },
);
const RespondBody = Type.Object(
  {
    action: StringEnum(['accept', 'reject', 'counter'] as const),
    counter_amount: Type.Optional(Nullable(Amount)),
  },
  { additionalProperties: false },
);
const OfferParams = Type.Object({ id: EscalatrId, offer_id: RecordId });
const AnswerBody = Type.Object({ answer: NonEmpty(10_000) }, { additionalProperties: false });
const FollowupParams = Type.Object({ id: EscalatrId, followup_id: RecordId });
const ActionBody = Type.Object({ kind: NonEmpty(100), body: NonEmpty(20_000) }, { additionalProperties: false });
const DraftParams = Type.Object({ id: EscalatrId, draft_id: RecordId });
const SocialBody = Type.Object({ platform: NonEmpty(50), body: NonEmpty(5_000) }, { additionalProperties: false });

const Detail = Ok(ComplaintDetailSchema, { description: 'The complaint after the step' });
const mine = 'not_found: not a complaint you filed';
const stepErrors = { 404: mine, 409: 'invalid_transition: not allowed in the complaint’s current state' };

/**
 * The Consumer API: a consumer files complaints, takes every consumer step on their own complaints and reads their
 * records. The token is checked on request, before the body is read: an unauthenticated caller gets 401 whatever
 * it sent, and cannot make the server parse a large body.
 */
export function consumerRoutes({ ctx }: RouteDeps) {
  return async (app: ApiApp) => {
    app.addHook('onRequest', requireConsumer(ctx.store.db, ctx.clock));
    const tags = ['Consumer API'];
    const consumerId = (request: FastifyRequest) => request.consumer!.consumerId;
    const detailOf = (request: FastifyRequest, id: string) =>
      getComplaintDetail(ctx.store.db, { consumerId: consumerId(request) }, id, ctx.clock.now());

    app.post(
      '/complaints',
      {
        schema: { tags, summary: 'File a complaint', body: FileBody, response: { 201: Ok(ComplaintDetailSchema) } },
      },
      async (request, reply) => {
        // The answer is made from the row the filing wrote and the consumer read before it, with no read after the
        // commit: one that failed (a connection lost just then) would answer 503 for a complaint that was filed, and
        // a client that retried would file it twice.
        const contact = await consumerContact(ctx.store.db, consumerId(request));
        const c = await fileComplaint(ctx, { ...request.body, consumerId: consumerId(request) });
        return reply
          .status(201)
          .send(ok(complaintDetailOf({ consumerId: consumerId(request) }, c, contact, ctx.clock.now())));
      },
    );

    app.get(
      '/complaints',
      {
        schema: {
          tags,
          summary: 'Your complaints, newest first',
          querystring: ConsumerComplaintQuery,
          response: { 200: OkList(ComplaintSummarySchema) },
        },
      },
      async (request) => {
        const page = pageOf(request.query);
        const { rows, total } = await listConsumerComplaints(ctx.store.db, consumerId(request), {
          ...request.query,
          ...page,
        });
        const now = ctx.clock.now();
        return okList(
          page,
          rows.map((r) => toSummary(r, now)),
          total,
        );
      },
    );

    app.get(
      '/complaints/:id',
      {
        config: { errors: { 404: mine } },
        schema: {
          tags,
          summary: 'One of your complaints',
          params: EscalatrIdParam,
          response: { 200: Ok(ComplaintDetailSchema) },
        },
      },
      async (request) => ok(await detailOf(request, request.params.id)),
    );

    app.post(
      '/complaints/:id/escalate',
      {
        config: { errors: stepErrors },
        schema: { tags, summary: 'Escalate to the next level', params: EscalatrIdParam, response: { 200: Detail } },
      },
      async (request) => {
        await steps.escalate(ctx, consumerActor(request), request.params.id, 'manual');
        return ok(await detailOf(request, request.params.id));
      },
    );

    app.post(
      '/complaints/:id/resolve',
      {
        config: { errors: stepErrors },
        schema: {
          tags,
          summary: 'Mark resolved',
          params: EscalatrIdParam,
          body: ResolveBody,
          response: { 200: Detail },
        },
      },
      async (request) => {
        await steps.resolve(ctx, consumerActor(request), request.params.id, request.body);
        return ok(await detailOf(request, request.params.id));
      },
    );

    app.post(
      '/complaints/:id/withdraw',
      {
        config: { errors: stepErrors },
        schema: { tags, summary: 'Withdraw', params: EscalatrIdParam, body: WithdrawBody, response: { 200: Detail } },
      },
      async (request) => {
        await steps.withdraw(ctx, consumerActor(request), request.params.id, request.body.reason_code);
        return ok(await detailOf(request, request.params.id));
      },
    );

    app.post(
      '/complaints/:id/delegate',
      {
        config: { errors: stepErrors },
        schema: {
          tags,
          summary: 'Delegate to someone else',
          params: EscalatrIdParam,
          body: DelegateBody,
          response: { 200: Ok(DelegationSchema) },
        },
      },
      async (request) => {
        await steps.delegate(ctx, consumerActor(request), request.params.id, request.body);
        return ok({ escalatr_id: request.params.id, delegated_to: request.body.to_email.trim().toLowerCase() });
      },
    );

    app.post(
      '/complaints/:id/messages',
      {
        config: { errors: stepErrors },
        schema: {
          tags,
          summary: 'Post a message',
          params: EscalatrIdParam,
          body: MessageBody,
          response: { 201: Ok(MessagePostedSchema) },
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(ok(await steps.postMessage(ctx, consumerActor(request), request.params.id, request.body))),
    );

    app.post(
      '/complaints/:id/evidence',
      {
        bodyLimit: EVIDENCE_BODY_LIMIT,
        config: {
          errors: {
            ...stepErrors,
            413: `payload_too_large: the file is over ${MAX_EVIDENCE_BYTES} bytes or the body over ${EVIDENCE_BODY_LIMIT}`,
          },
        },
        schema: {
          tags,
          summary: 'Upload evidence',
          params: EscalatrIdParam,
          body: EvidenceBody,
          response: { 201: Ok(EvidenceUploadedSchema) },
        },
      },
      async (request, reply) => {
        const body = request.body;
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body.content_base64) || body.content_base64.length % 4 !== 0) {
          throw new AppError('validation_failed', 'content_base64 is not valid base64', { field: 'content_base64' });
        }
        const content = Buffer.from(body.content_base64, 'base64');
        return reply.status(201).send(
          ok(
            await steps.uploadEvidence(ctx, consumerActor(request), request.params.id, {
              file_name: body.file_name,
              content_type: body.content_type,
              content,
            }),
          ),
        );
      },
    );

    app.post(
      '/complaints/:id/settlements/:offer_id/respond',
      {
        config: { errors: { 404: `${mine}, or no such offer`, 409: stepErrors[409] } },
        schema: {
          tags,
          summary: 'Accept, reject or counter a settlement offer',
          params: OfferParams,
          body: RespondBody,
          response: { 200: Ok(SettlementResponseSchema) },
        },
      },
      async (request) => {
        const { id, offer_id } = request.params;
        await steps.respondToSettlement(ctx, consumerActor(request), id, offer_id, request.body);
        return ok({ escalatr_id: id, offer_id, action: request.body.action });
      },
    );

    app.post(
      '/complaints/:id/followups/:followup_id/answer',
      {
        config: { errors: { 404: `${mine}, or no such follow-up`, 409: stepErrors[409] } },
        schema: {
          tags,
          summary: 'Answer a follow-up question',
          params: FollowupParams,
          body: AnswerBody,
          response: { 200: Ok(FollowupAnsweredSchema) },
        },
      },
      async (request) => {
        const { id, followup_id } = request.params;
        return ok(await steps.answerFollowup(ctx, consumerActor(request), id, followup_id, request.body.answer));
      },
    );

    app.post(
      '/complaints/:id/actions',
      {
        config: { errors: stepErrors },
        schema: {
          tags,
          summary: 'Draft an action',
          params: EscalatrIdParam,
          body: ActionBody,
          response: { 201: Ok(ActionDraftedSchema) },
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(ok(await steps.draftAction(ctx, consumerActor(request), request.params.id, request.body))),
    );

    app.post(
      '/complaints/:id/actions/:draft_id/file',
      {
        config: { errors: { 404: `${mine}, or no such draft`, 409: stepErrors[409] } },
        schema: {
          tags,
          summary: 'File a drafted action',
          params: DraftParams,
          response: { 200: Ok(FiledActionSchema) },
        },
      },
      async (request) => {
        const { id, draft_id } = request.params;
        await steps.fileAction(ctx, consumerActor(request), id, draft_id);
        return ok({ escalatr_id: id, draft_id, status: 'filed' as const });
      },
    );

    app.post(
      '/complaints/:id/social',
      {
        config: { errors: stepErrors },
        schema: {
          tags,
          summary: 'Draft a social post',
          params: EscalatrIdParam,
          body: SocialBody,
          response: { 201: Ok(SocialDraftedSchema) },
        },
      },
      async (request, reply) =>
        reply
          .status(201)
          .send(ok(await steps.draftSocial(ctx, consumerActor(request), request.params.id, request.body))),
    );

    app.post(
      '/complaints/:id/social/:draft_id/posted',
      {
        config: { errors: { 404: `${mine}, or no such draft`, 409: stepErrors[409] } },
        schema: {
          tags,
          summary: 'Mark a social draft posted',
          params: DraftParams,
          response: { 200: Ok(PostedSocialSchema) },
        },
      },
      async (request) => {
        const { id, draft_id } = request.params;
        await steps.markSocialPosted(ctx, consumerActor(request), id, draft_id);
        return ok({ escalatr_id: id, draft_id, status: 'posted' as const });
      },
    );

    // Reads of the consumer's own complaint records, oldest first (their social drafts included, posted or not).
    const scope = (request: FastifyRequest): ComplaintScope => ({ consumerId: consumerId(request) });
    registerComplaintRecordReads(app, { db: ctx.store.db, tags, scope, socialPostedOnly: false });
  };
}
