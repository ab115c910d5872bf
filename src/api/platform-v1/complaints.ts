import { Type } from '@sinclair/typebox';
import { complaintListAfter, listCompanyComplaints } from '../../domain/company-complaint-list.js';
import { getComplaintDetail, toSummary } from '../../domain/complaints.js';
import { ESCALATION_LEVELS, STAGES, STATUSES } from '../../domain/lifecycle.js';
import { isNotFound } from '../../errors.js';
import { requireCompany } from '../auth.js';
import type { ApiApp, RouteDeps } from '../deps.js';
import {
  cursorQuery,
  EscalatrIdParam,
  listAfter,
  NextCursor,
  ok,
  Ok,
  okList,
  OkList,
  PageQuery,
  pageOf,
  StringEnum,
  withNextCursor,
} from '../schemas.js';
import { ComplaintDetailSchema, ComplaintSummarySchema, SEED_LIST_EXAMPLE } from '../shapes/complaints.js';

/** The filters by a complaint's own state: the consumer's own list takes them too. */
const stateFilters = {
  status: Type.Optional(StringEnum(STATUSES, { description: 'Filter by status, e.g. Open, Escalated, Resolved.' })),
  stage: Type.Optional(StringEnum(STAGES, { description: 'Filter by stage, e.g. Intake, Escalation, Closure.' })),
  escalation_level: Type.Optional(StringEnum(ESCALATION_LEVELS, { description: 'Filter by level, e.g. L1 … L9.' })),
};
/**
 * The consumer's own list: who holds a complaint and whether the company's breach rule flagged it are the company's
 * markers, so that list has no such filter, and a request naming one is refused rather than answered unfiltered.
 */
export const ConsumerComplaintQuery = Type.Object({ ...stateFilters, ...PageQuery }, { additionalProperties: false });

const ComplaintListQuery = Type.Object(
  {
    ...stateFilters,
    assignee: Type.Optional(
      StringEnum(['me', 'none'] as const, {
        description:
          '`me`: complaints you hold (claimed or assigned to you; for an API key, those it claimed); `none`: unheld.',
      }),
    ),
    flagged: Type.Optional(
      StringEnum(['true', 'false'] as const, {
        description: "`true`: only complaints the company's breach rule flagged; `false`: only unflagged ones.",
      }),
    ),
    ...PageQuery,
    ...cursorQuery('complaints'),
  },
  { additionalProperties: false },
);

const list = OkList(ComplaintSummarySchema);
const ListResponse = Type.Object(
  {
    ...list.properties,
    next_cursor: NextCursor,
  },
  { description: 'Your complaints, newest first', examples: [SEED_LIST_EXAMPLE] },
);

/** GET /api/v1/complaints and /complaints/{id}: the published read-only API, for any key scope and any staff role. */
export function complaintReadRoutes({ ctx, reads }: RouteDeps) {
  return async (app: ApiApp) => {
    // Schemas are inlined, never added with addSchema: a plugin context that adds schemas rebuilds its validator
    // from Fastify's defaults (which drop unknown parameters) instead of inheriting the app's strict one.
    const onRequest = requireCompany(ctx, 'read');
    const tags = ['Complaints'];

    app.get(
      '/complaints',
      {
        onRequest,
        schema: {
          tags,
          summary: 'List complaints',
          description:
            'Returns your complaints, newest first. Supports filtering and pagination: by page number, or by passing ' +
            "each page's next_cursor as cursor to read the next (the way to read a long list through).",
          querystring: ComplaintListQuery,
          response: { 200: ListResponse },
        },
      },
      async (request) => {
        const page = pageOf(request.query);
        const { assignee, flagged, cursor: _cursor, ...filters } = request.query;
        const after = listAfter(request.query, complaintListAfter);
        const holder = assignee === 'me' ? request.company!.label : assignee === 'none' ? null : undefined;
        const companyId = request.company!.companyId;
        const { rows, total, nextCursor } = await reads.read(companyId, (db) =>
          listCompanyComplaints(db, companyId, {
            ...filters,
            ...page,
            holder,
            flagged: flagged === undefined ? undefined : flagged === 'true',
            after,
          }),
        );
        const now = ctx.clock.now();
        // The page-number answer stays the seed's envelope, field for field; a cursor reader gets its next cursor.
        return withNextCursor(
          okList(
            page,
            rows.map((r) => toSummary(r, now)),
            total,
          ),
          after,
          nextCursor,
        );
      },
    );

    app.get(
      '/complaints/:id',
      {
        onRequest,
        schema: {
          tags,
          summary: 'Get a complaint',
          description:
            "Returns the full record for one complaint, including the description and resolution detail. Responds 404 if the id isn't one of yours.",
          params: EscalatrIdParam,
          response: { 200: Ok(ComplaintDetailSchema, { description: 'The full record' }) },
        },
      },
      async (request) => {
        const companyId = request.company!.companyId;
        const now = ctx.clock.now();
        return ok(
          await reads.read(
            companyId,
            (db) => getComplaintDetail(db, { companyId }, request.params.id, now),
            isNotFound,
          ),
        );
      },
    );
  };
}
