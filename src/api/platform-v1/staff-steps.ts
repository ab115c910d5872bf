import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as steps from '../../domain/complaint-steps.js';
import {
  getComplaintDetail,
  getEvidenceContent,
  listActionDrafts,
  listComplaintEvents,
  listEvidence,
  listFollowups,
  listMessages,
  listSettlementOffers,
  listSocialDrafts,
  type ComplaintScope,
  type PageOf,
  type RecordPage,
} from '../../domain/complaints.js';
import { requireCompany, staffActor } from '../auth.js';
import type { RouteDeps } from '../routes.js';
import { EscalatrIdParam, NonEmpty, ok } from '../schemas.js';

/** The ids of a complaint's records (`msg_…`, `evd_…`, `off_…`, `fup_…`, `drf_…`, `soc_…`). */
export const RecordId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z]{2,4}_[a-z0-9]{8,40}$' });

/** Paging of a complaint's records: oldest first, and a default large enough that a detail page rarely pages. */
export const RecordPageQuery = Type.Object(
  {
    page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 100 })),
  },
  { additionalProperties: false },
);

export const recordPage = (request: FastifyRequest): RecordPage => {
  const q = request.query as typeof RecordPageQuery.static;
  return { page: q.page ?? 1, limit: q.limit ?? 100 };
};

export const listReply = <T>(page: RecordPage, result: PageOf<T>) => ({
  success: true as const,
  page: page.page,
  limit: page.limit,
  total: result.total,
  data: result.rows,
});

// Types a browser may show inline; anything else (HTML, SVG, scripts) is only ever a download, so a consumer's
// upload can never run in the dashboard's origin.
const INLINE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf', 'text/plain']);

/** Sends stored evidence bytes with headers that keep them inert whatever the uploader claimed they are. */
export async function sendEvidenceContent(
  reply: FastifyReply,
  db: RouteDeps['ctx']['store']['db'],
  scope: ComplaintScope,
  id: string,
  evidenceId: string,
) {
  const ev = await getEvidenceContent(db, scope, id, evidenceId);
  const inline = INLINE_TYPES.has(ev.content_type.toLowerCase());
  const asciiName = ev.file_name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return reply
    .header('content-type', inline ? ev.content_type : 'application/octet-stream')
    .header(
      'content-disposition',
      `${inline ? 'inline' : 'attachment'}; filename="${asciiName}"; filename*=UTF-8''${encodeURIComponent(ev.file_name)}`,
    )
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', "default-src 'none'; sandbox")
    .header('cache-control', 'private, no-store')
    .header('etag', `"${ev.sha256}"`)
    .send(ev.content);
}

const IdParams = EscalatrIdParam;
const EvidenceParams = Type.Object({ id: EscalatrIdParam.properties.id, evidence_id: RecordId });

/**
 * The reads of one complaint's records (oldest first) and its evidence bytes, for whoever `scope` says the caller
 * is: a company's staff or the consumer who filed it. Staff see only posted social drafts; consumers all of theirs.
 */
export function registerComplaintRecordReads(
  app: FastifyInstance,
  opts: {
    db: RouteDeps['ctx']['store']['db'];
    tags: string[];
    scope: (request: FastifyRequest) => ComplaintScope;
    onRequest?: ReturnType<typeof requireCompany>;
    socialPostedOnly: boolean;
  },
): void {
  const { db, tags, scope, onRequest } = opts;
  const idOf = (request: FastifyRequest) => (request.params as { id: string }).id;
  const listRoute = <T>(path: string, list: (request: FastifyRequest, page: RecordPage) => Promise<PageOf<T>>) =>
    app.get(
      `/complaints/:id/${path}`,
      { onRequest, schema: { tags, params: IdParams, querystring: RecordPageQuery } },
      async (request) => {
        const page = recordPage(request);
        return listReply(page, await list(request, page));
      },
    );
  listRoute('messages', (r, p) => listMessages(db, scope(r), idOf(r), p));
  listRoute('evidence', (r, p) => listEvidence(db, scope(r), idOf(r), p));
  listRoute('settlements', (r, p) => listSettlementOffers(db, scope(r), idOf(r), p));
  listRoute('followups', (r, p) => listFollowups(db, scope(r), idOf(r), p));
  listRoute('actions', (r, p) => listActionDrafts(db, scope(r), idOf(r), p));
  listRoute('social', (r, p) => listSocialDrafts(db, scope(r), idOf(r), p, { postedOnly: opts.socialPostedOnly }));
  listRoute('events', (r, p) => listComplaintEvents(db, scope(r), idOf(r), p));

  app.get(
    '/complaints/:id/evidence/:evidence_id/content',
    { onRequest, schema: { tags, params: EvidenceParams } },
    async (request, reply) => {
      const { id, evidence_id } = request.params as { id: string; evidence_id: string };
      return sendEvidenceContent(reply, db, scope(request), id, evidence_id);
    },
  );
}

/**
 * Staff steps on a company's complaints (an admin-scoped API key, or a session of an agent and above), and the
 * reads a detail page needs (any key or session). Credentials are checked on request, before the body is read,
 * so an unauthenticated caller learns nothing from validation and cannot make the server parse a large body.
 */
export function staffStepRoutes({ ctx }: RouteDeps) {
  return async (app: FastifyInstance) => {
    const tags = ['Staff steps'];
    const work = requireCompany(ctx.store.db, ctx.clock, 'work');
    const read = requireCompany(ctx.store.db, ctx.clock, 'read');
    const scope = (request: FastifyRequest): ComplaintScope => ({ companyId: request.company!.companyId });
    const detail = (request: FastifyRequest, id: string) =>
      getComplaintDetail(ctx.store.db, scope(request), id, ctx.clock.now());
    const idOf = (request: FastifyRequest) => (request.params as { id: string }).id;

    // The staff steps' state machine, as the operations describe it (the README has the whole table).
    const claimInfo =
      'Takes ownership. 409 `already_claimed` if someone holds it, `already_completed` once the company completed ' +
      'it (until the consumer escalates), `invalid_transition` once Resolved or Withdrawn.';
    const releaseInfo =
      'Gives ownership back. 409 `not_claimed` if nobody holds it, `already_completed` once completed, ' +
      '`invalid_transition` once Resolved or Withdrawn.';
    const completeInfo =
      "The company's answer, with resolution notes: the detail then shows `company_completed: true` and " +
      '`awaiting: "consumer"` (the consumer resolves to confirm, or escalates). 409 `not_claimed` unless claimed, ' +
      '`already_completed` the second time, `invalid_transition` once Resolved or Withdrawn.';

    app.post(
      '/complaints/:id/claim',
      { onRequest: work, schema: { tags, description: claimInfo, params: IdParams } },
      async (request) => {
        await steps.claim(ctx, staffActor(request), idOf(request));
        return ok(await detail(request, idOf(request)));
      },
    );

    app.post(
      '/complaints/:id/release',
      { onRequest: work, schema: { tags, description: releaseInfo, params: IdParams } },
      async (request) => {
        await steps.release(ctx, staffActor(request), idOf(request));
        return ok(await detail(request, idOf(request)));
      },
    );

    const CompleteBody = Type.Object({ resolution_notes: NonEmpty(10_000) }, { additionalProperties: false });
    app.post(
      '/complaints/:id/complete',
      { onRequest: work, schema: { tags, description: completeInfo, params: IdParams, body: CompleteBody } },
      async (request) => {
        await steps.complete(
          ctx,
          staffActor(request),
          idOf(request),
          (request.body as typeof CompleteBody.static).resolution_notes,
        );
        return ok(await detail(request, idOf(request)));
      },
    );

    const MessageBody = Type.Object({ body: NonEmpty(10_000) }, { additionalProperties: false });
    app.post(
      '/complaints/:id/messages',
      { onRequest: work, schema: { tags, params: IdParams, body: MessageBody } },
      async (request, reply) => {
        const result = await steps.postMessage(ctx, staffActor(request), idOf(request), {
          body: (request.body as typeof MessageBody.static).body,
        });
        return reply.status(201).send(ok(result));
      },
    );

    const OfferBody = Type.Object(
      {
        amount: Type.Number({ minimum: 0, maximum: 1e12 }),
        currency: Type.String({ pattern: '^[A-Z]{3}$' }),
        terms: NonEmpty(5_000),
      },
      { additionalProperties: false },
    );
    app.post(
      '/complaints/:id/settlements',
      { onRequest: work, schema: { tags, params: IdParams, body: OfferBody } },
      async (request, reply) => {
        return reply
          .status(201)
          .send(
            ok(
              await steps.offerSettlement(
                ctx,
                staffActor(request),
                idOf(request),
                request.body as typeof OfferBody.static,
              ),
            ),
          );
      },
    );

    const FollowupBody = Type.Object({ question: NonEmpty(5_000) }, { additionalProperties: false });
    app.post(
      '/complaints/:id/followups',
      { onRequest: work, schema: { tags, params: IdParams, body: FollowupBody } },
      async (request, reply) => {
        return reply
          .status(201)
          .send(
            ok(
              await steps.askFollowup(
                ctx,
                staffActor(request),
                idOf(request),
                (request.body as typeof FollowupBody.static).question,
              ),
            ),
          );
      },
    );

    registerComplaintRecordReads(app, { db: ctx.store.db, tags, scope, onRequest: read, socialPostedOnly: true });
  };
}
