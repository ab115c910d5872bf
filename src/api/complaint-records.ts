import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import {
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
} from '../domain/complaints.js';
import type { Db } from '../storage/db.js';
import type { ApiApp } from './deps.js';
import { EscalatrId, EscalatrIdParam, OkList, okList, pageOf, pageQuery, RecordId } from './schemas.js';
import {
  ActionDraftSchema,
  ComplaintEventSchema,
  EvidenceSchema,
  FollowupSchema,
  MessageSchema,
  SettlementOfferSchema,
  SocialDraftSchema,
} from './shapes/complaints.js';

/** Paging of a complaint's records: oldest first, and a default large enough that a detail page rarely pages. */
const RECORD_PAGE_LIMIT = 100;
const RecordPageQuery = Type.Object(pageQuery(RECORD_PAGE_LIMIT), { additionalProperties: false });

// Types a browser may show inline; anything else (HTML, SVG, scripts) is only ever a download, so a consumer's
// upload can never run in the dashboard's origin.
const INLINE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf', 'text/plain']);

/** Sends stored evidence bytes with headers that keep them inert whatever the uploader claimed they are. */
async function sendEvidenceContent(reply: FastifyReply, db: Db, scope: ComplaintScope, id: string, evidenceId: string) {
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

const EvidenceParams = Type.Object({ id: EscalatrId, evidence_id: RecordId });

/** The evidence bytes: any media type, described rather than validated (the serializer never sees a Buffer). */
const EvidenceContent = {
  description: 'The bytes as uploaded; shown inline only for images, PDF and plain text, else as a download',
  content: { '*/*': { schema: { type: 'string', format: 'binary' } } },
};

/**
 * The reads of one complaint's records (oldest first) and its evidence bytes, for whoever `scope` says the caller
 * is: a company's staff or the consumer who filed it. Staff see only posted social drafts; consumers all of theirs.
 */
export function registerComplaintRecordReads(
  app: ApiApp,
  opts: {
    db: Db;
    tags: string[];
    scope: (request: FastifyRequest) => ComplaintScope;
    onRequest?: onRequestHookHandler;
    socialPostedOnly: boolean;
  },
): void {
  const { db, tags, scope, onRequest } = opts;
  const listRoute = <S extends TSchema>(
    path: string,
    item: S,
    summary: string,
    list: (scope: ComplaintScope, id: string, page: RecordPage) => Promise<PageOf<Static<S>>>,
  ) =>
    app.get(
      `/complaints/:id/${path}`,
      {
        onRequest,
        schema: {
          tags,
          summary,
          params: EscalatrIdParam,
          querystring: RecordPageQuery,
          response: { 200: OkList(item) },
        },
      },
      async (request) => {
        const page = pageOf(request.query, RECORD_PAGE_LIMIT);
        const result = await list(scope(request), request.params.id, page);
        return okList(page, result.rows, result.total);
      },
    );
  listRoute('messages', MessageSchema, 'Messages, oldest first', (s, id, p) => listMessages(db, s, id, p));
  listRoute('evidence', EvidenceSchema, 'Evidence (metadata), oldest first', (s, id, p) => listEvidence(db, s, id, p));
  listRoute('settlements', SettlementOfferSchema, 'Settlement offers, oldest first', (s, id, p) =>
    listSettlementOffers(db, s, id, p),
  );
  listRoute('followups', FollowupSchema, 'Follow-up questions, oldest first', (s, id, p) =>
    listFollowups(db, s, id, p),
  );
  listRoute('actions', ActionDraftSchema, 'Action drafts, oldest first', (s, id, p) => listActionDrafts(db, s, id, p));
  listRoute(
    'social',
    SocialDraftSchema,
    opts.socialPostedOnly ? 'Posted social drafts, oldest first' : 'Social drafts, oldest first',
    (s, id, p) => listSocialDrafts(db, s, id, p, { postedOnly: opts.socialPostedOnly }),
  );
  listRoute('events', ComplaintEventSchema, 'The complaint’s events, oldest first', (s, id, p) =>
    listComplaintEvents(db, s, id, p),
  );

  app.get(
    '/complaints/:id/evidence/:evidence_id/content',
    {
      onRequest,
      schema: { tags, summary: 'Evidence bytes', params: EvidenceParams, response: { 200: EvidenceContent } },
    },
    async (request, reply) =>
      sendEvidenceContent(reply, db, scope(request), request.params.id, request.params.evidence_id),
  );
}
