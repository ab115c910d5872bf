import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import * as steps from '../../domain/complaint-steps.js';
import {
  fileComplaint,
  getComplaintDetail,
  listComplaints,
  toSummary,
  type ComplaintScope,
} from '../../domain/complaints.js';
import { LEVELS, PRIORITIES, STAGES, STATUSES } from '../../domain/lifecycle.js';
import { AppError } from '../../errors.js';
import { consumerActor, requireConsumer } from '../auth.js';
import { RecordId, registerComplaintRecordReads } from '../platform-v1/staff-steps.js';
import type { RouteDeps } from '../routes.js';
import { EscalatrIdParam, NonEmpty, ok, PageQuery } from '../schemas.js';

const Amount = Type.Number({ minimum: 0, maximum: 1e12 });

const FileBody = Type.Object(
  {
    company_code: Type.String({ pattern: '^[A-Z]{2,8}$' }),
    complaint_category: NonEmpty(100),
    title: NonEmpty(200),
    description: NonEmpty(10_000),
    priority: Type.Optional(Type.Union(PRIORITIES.map((p) => Type.Literal(p)))),
    amount_involved: Type.Optional(Type.Union([Amount, Type.Null()])),
    currency: Type.Optional(Type.Union([Type.String({ pattern: '^[A-Z]{3}$' }), Type.Null()])),
  },
  { additionalProperties: false },
);

const ListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(STATUSES.map((s) => Type.Literal(s)))),
    stage: Type.Optional(Type.Union(STAGES.map((s) => Type.Literal(s)))),
    escalation_level: Type.Optional(Type.Union(LEVELS.map((s) => Type.Literal(s)))),
    ...PageQuery,
  },
  { additionalProperties: false },
);

// Evidence arrives as base64 in JSON: 5 MiB of bytes is about 6.7 MiB of text.
const EVIDENCE_BODY_LIMIT = 7 * 1024 * 1024 + 64 * 1024;

/**
 * The Consumer API: a consumer files complaints, takes every consumer step on their own complaints and reads their
 * records. The token is checked on request, before the body is read: an unauthenticated caller gets 401 whatever
 * it sent, and cannot make the server parse a large body.
 */
export function consumerRoutes({ ctx }: RouteDeps) {
  return async (app: FastifyInstance) => {
    app.addHook('onRequest', requireConsumer(ctx.store.db));
    const tags = ['Consumer API'];

    app.post('/complaints', { schema: { tags, body: FileBody } }, async (request, reply) => {
      const body = request.body as typeof FileBody.static;
      const c = await fileComplaint(ctx, { ...body, consumerId: request.consumer!.consumerId });
      const detail = await getComplaintDetail(
        ctx.store.db,
        { consumerId: c.consumer_id },
        c.escalatr_id,
        ctx.clock.now(),
      );
      return reply.status(201).send(ok(detail));
    });

    app.get('/complaints', { schema: { tags, querystring: ListQuery } }, async (request) => {
      const q = request.query as typeof ListQuery.static;
      const page = q.page ?? 1;
      const limit = q.limit ?? 25;
      const { rows, total } = await listComplaints(
        ctx.store.db,
        { consumerId: request.consumer!.consumerId },
        { ...q, page, limit },
      );
      const now = ctx.clock.now();
      return { success: true, page, limit, total, data: rows.map((r) => toSummary(r, now)) };
    });

    app.get('/complaints/:id', { schema: { tags, params: EscalatrIdParam } }, async (request) => {
      const { id } = request.params as { id: string };
      return ok(
        await getComplaintDetail(ctx.store.db, { consumerId: request.consumer!.consumerId }, id, ctx.clock.now()),
      );
    });

    const detailOf = async (id: string, consumerId: string) =>
      getComplaintDetail(ctx.store.db, { consumerId }, id, ctx.clock.now()).catch(() => null);

    app.post('/complaints/:id/escalate', { schema: { tags, params: EscalatrIdParam } }, async (request) => {
      const { id } = request.params as { id: string };
      await steps.escalate(ctx, consumerActor(request), id, 'manual');
      return ok(await detailOf(id, request.consumer!.consumerId));
    });

    const ResolveBody = Type.Object(
      { resolution_type: NonEmpty(100), amount_recovered: Type.Optional(Type.Union([Amount, Type.Null()])) },
      { additionalProperties: false },
    );
    app.post(
      '/complaints/:id/resolve',
      { schema: { tags, params: EscalatrIdParam, body: ResolveBody } },
      async (request) => {
        const { id } = request.params as { id: string };
        await steps.resolve(ctx, consumerActor(request), id, request.body as typeof ResolveBody.static);
        return ok(await detailOf(id, request.consumer!.consumerId));
      },
    );

    const WithdrawBody = Type.Object({ reason_code: NonEmpty(100) }, { additionalProperties: false });
    app.post(
      '/complaints/:id/withdraw',
      { schema: { tags, params: EscalatrIdParam, body: WithdrawBody } },
      async (request) => {
        const { id } = request.params as { id: string };
        await steps.withdraw(ctx, consumerActor(request), id, (request.body as typeof WithdrawBody.static).reason_code);
        return ok(await detailOf(id, request.consumer!.consumerId));
      },
    );

    const DelegateBody = Type.Object(
      { to_email: Type.String({ minLength: 3, maxLength: 320 }), immediate_transfer: Type.Boolean() },
      { additionalProperties: false },
    );
    app.post(
      '/complaints/:id/delegate',
      { schema: { tags, params: EscalatrIdParam, body: DelegateBody } },
      async (request) => {
        const { id } = request.params as { id: string };
        await steps.delegate(ctx, consumerActor(request), id, request.body as typeof DelegateBody.static);
        return ok({
          escalatr_id: id,
          delegated_to: (request.body as typeof DelegateBody.static).to_email.trim().toLowerCase(),
        });
      },
    );

    const MessageBody = Type.Object(
      { body: NonEmpty(10_000), directed_to: Type.Optional(NonEmpty(100)) },
      { additionalProperties: false },
    );
    app.post(
      '/complaints/:id/messages',
      { schema: { tags, params: EscalatrIdParam, body: MessageBody } },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        return reply
          .status(201)
          .send(
            ok(await steps.postMessage(ctx, consumerActor(request), id, request.body as typeof MessageBody.static)),
          );
      },
    );

    const EvidenceBody = Type.Object(
      {
        file_name: Type.String({ minLength: 1, maxLength: 255, pattern: '^[^/\\\\\\x00-\\x1f\\x7f]+$' }),
        content_type: Type.String({ minLength: 3, maxLength: 100, pattern: '^[\\w.+-]+/[\\w.+-]+$' }),
        content_base64: Type.String({ minLength: 1, maxLength: EVIDENCE_BODY_LIMIT }),
      },
      { additionalProperties: false },
    );
    app.post(
      '/complaints/:id/evidence',
      { bodyLimit: EVIDENCE_BODY_LIMIT, schema: { tags, params: EscalatrIdParam, body: EvidenceBody } },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        const body = request.body as typeof EvidenceBody.static;
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body.content_base64) || body.content_base64.length % 4 !== 0) {
          throw new AppError('validation_failed', 'content_base64 is not valid base64', { field: 'content_base64' });
        }
        const content = Buffer.from(body.content_base64, 'base64');
        return reply.status(201).send(
          ok(
            await steps.uploadEvidence(ctx, consumerActor(request), id, {
              file_name: body.file_name,
              content_type: body.content_type,
              content,
            }),
          ),
        );
      },
    );

    const RespondBody = Type.Object(
      {
        action: Type.Union([Type.Literal('accept'), Type.Literal('reject'), Type.Literal('counter')]),
        counter_amount: Type.Optional(Type.Union([Amount, Type.Null()])),
      },
      { additionalProperties: false },
    );
    const OfferParams = Type.Object({ id: EscalatrIdParam.properties.id, offer_id: RecordId });
    app.post(
      '/complaints/:id/settlements/:offer_id/respond',
      { schema: { tags, params: OfferParams, body: RespondBody } },
      async (request) => {
        const { id, offer_id } = request.params as { id: string; offer_id: string };
        await steps.respondToSettlement(
          ctx,
          consumerActor(request),
          id,
          offer_id,
          request.body as typeof RespondBody.static,
        );
        return ok({ escalatr_id: id, offer_id, action: (request.body as typeof RespondBody.static).action });
      },
    );

    const AnswerBody = Type.Object({ answer: NonEmpty(10_000) }, { additionalProperties: false });
    const FollowupParams = Type.Object({ id: EscalatrIdParam.properties.id, followup_id: RecordId });
    app.post(
      '/complaints/:id/followups/:followup_id/answer',
      { schema: { tags, params: FollowupParams, body: AnswerBody } },
      async (request) => {
        const { id, followup_id } = request.params as { id: string; followup_id: string };
        return ok(
          await steps.answerFollowup(
            ctx,
            consumerActor(request),
            id,
            followup_id,
            (request.body as typeof AnswerBody.static).answer,
          ),
        );
      },
    );

    const ActionBody = Type.Object({ kind: NonEmpty(100), body: NonEmpty(20_000) }, { additionalProperties: false });
    app.post(
      '/complaints/:id/actions',
      { schema: { tags, params: EscalatrIdParam, body: ActionBody } },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        return reply
          .status(201)
          .send(ok(await steps.draftAction(ctx, consumerActor(request), id, request.body as typeof ActionBody.static)));
      },
    );

    const DraftParams = Type.Object({ id: EscalatrIdParam.properties.id, draft_id: RecordId });
    app.post('/complaints/:id/actions/:draft_id/file', { schema: { tags, params: DraftParams } }, async (request) => {
      const { id, draft_id } = request.params as { id: string; draft_id: string };
      await steps.fileAction(ctx, consumerActor(request), id, draft_id);
      return ok({ escalatr_id: id, draft_id, status: 'filed' });
    });

    const SocialBody = Type.Object({ platform: NonEmpty(50), body: NonEmpty(5_000) }, { additionalProperties: false });
    app.post(
      '/complaints/:id/social',
      { schema: { tags, params: EscalatrIdParam, body: SocialBody } },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        return reply
          .status(201)
          .send(ok(await steps.draftSocial(ctx, consumerActor(request), id, request.body as typeof SocialBody.static)));
      },
    );

    app.post('/complaints/:id/social/:draft_id/posted', { schema: { tags, params: DraftParams } }, async (request) => {
      const { id, draft_id } = request.params as { id: string; draft_id: string };
      await steps.markSocialPosted(ctx, consumerActor(request), id, draft_id);
      return ok({ escalatr_id: id, draft_id, status: 'posted' });
    });

    // Reads of the consumer's own complaint records, oldest first (their social drafts included, posted or not).
    const scope = (request: FastifyRequest): ComplaintScope => ({ consumerId: request.consumer!.consumerId });
    registerComplaintRecordReads(app, { db: ctx.store.db, tags, scope, socialPostedOnly: false });
  };
}
