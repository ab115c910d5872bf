import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { listCompanyComplaints } from '../../domain/complaint-counts.js';
import { getComplaintDetail, toSummary } from '../../domain/complaints.js';
import { LEVELS, PRIORITIES, STAGES, STATUSES } from '../../domain/lifecycle.js';
import { requireCompany } from '../auth.js';
import type { RouteDeps } from '../routes.js';
import { EscalatrIdParam, ok, PageQuery } from '../schemas.js';

/** A string limited to a list: one `enum` keyword, so a bad value is reported once, with the allowed values. */
export const StringEnum = <T extends readonly string[]>(values: T, options: { description?: string } = {}) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

// The seed's list example, verbatim: it is the OpenAPI example and the shape the response schema must keep.
const SEED_LIST_EXAMPLE = {
  success: true,
  page: 1,
  limit: 25,
  total: 142,
  data: [
    {
      escalatr_id: 'ESC-VOLT-260417-00010',
      complaint_category: 'Consumer Durables',
      status: 'Escalated',
      stage: 'Escalation',
      escalation_level: 'L2',
      priority: 'high',
      amount_involved: 42000,
      currency: 'INR',
      is_overdue: false,
      created_at: '2026-04-17T09:21:00Z',
    },
  ],
};

/** The list item, field for field as in the seed (the serializer drops anything not named here). */
export const ComplaintSummarySchema = Type.Object(
  {
    escalatr_id: Type.String({ description: 'ESC-{CODE}-{YYMMDD}-{NNNNN}' }),
    complaint_category: Type.String(),
    status: StringEnum(STATUSES),
    stage: StringEnum(STAGES),
    escalation_level: StringEnum(LEVELS),
    priority: StringEnum(PRIORITIES),
    amount_involved: Nullable(Type.Number()),
    currency: Nullable(Type.String({ description: 'ISO 4217' })),
    is_overdue: Type.Boolean(),
    created_at: Type.String({ format: 'date-time' }),
  },
  { title: 'ComplaintSummary' },
);

export const ComplaintDetailSchema = Type.Object(
  {
    ...ComplaintSummarySchema.properties,
    title: Type.String(),
    description: Type.String(),
    sla_due_at: Nullable(Type.String({ format: 'date-time' })),
    updated_at: Type.String({ format: 'date-time' }),
    consumer: Nullable(Type.Object({ email: Type.String(), name: Nullable(Type.String()) })),
    claimed_by: Nullable(Type.String()),
    delegated_to: Nullable(Type.String()),
    resolution: Nullable(
      Type.Object({
        resolution_type: Nullable(Type.String()),
        amount_recovered: Nullable(Type.Number()),
        notes: Nullable(Type.String()),
      }),
    ),
    company_completed: Type.Boolean({
      description:
        'True once staff completed the complaint (with resolution notes) while it is still Open or Escalated: the ' +
        "company's side is done and the consumer's confirmation (resolve) or escalation is awaited.",
    }),
    awaiting: Nullable(
      StringEnum(['company', 'consumer'] as const, {
        description:
          'Who acts next: `company` (claim, then complete), `consumer` (the company completed it: resolve to confirm, ' +
          'or escalate, which reopens it at the next level), null once Resolved or Withdrawn.',
      }),
    ),
  },
  { title: 'ComplaintDetail' },
);

const ListQuery = Type.Object(
  {
    status: Type.Optional(StringEnum(STATUSES, { description: 'Filter by status, e.g. Open, Escalated, Resolved.' })),
    stage: Type.Optional(StringEnum(STAGES, { description: 'Filter by stage, e.g. Intake, Escalation, Closure.' })),
    escalation_level: Type.Optional(StringEnum(LEVELS, { description: 'Filter by level, e.g. L1 … L9.' })),
    ...PageQuery,
  },
  { additionalProperties: false },
);

const ListResponse = Type.Object(
  {
    success: Type.Literal(true),
    page: Type.Integer(),
    limit: Type.Integer(),
    total: Type.Integer(),
    data: Type.Array(ComplaintSummarySchema),
  },
  { description: 'Your complaints, newest first', examples: [SEED_LIST_EXAMPLE] },
);

const DetailResponse = Type.Object(
  { success: Type.Literal(true), data: ComplaintDetailSchema },
  { description: 'The full record' },
);

const errors = {
  400: Type.Ref('ErrorResponse', {
    description: 'invalid_query: a query parameter is invalid (error.details.parameter names it)',
  }),
  401: Type.Ref('ErrorResponse', { description: 'unauthorized: missing, unknown or revoked API key' }),
  403: Type.Ref('ErrorResponse', { description: 'plan_required: the company is not on Professional or Enterprise' }),
  429: Type.Ref('ErrorResponse', { description: 'rate_limited: see Retry-After' }),
};

/** GET /api/v1/complaints and /complaints/{id}: the seed's read-only API, for any key scope and any staff role. */
export function complaintReadRoutes({ ctx }: RouteDeps) {
  return async (app: FastifyInstance) => {
    // Schemas are inlined, never added with addSchema: a plugin context that adds schemas rebuilds its validator
    // from Fastify's defaults (which drop unknown parameters) instead of inheriting the app's strict one.
    const onRequest = requireCompany(ctx.store.db, ctx.clock, 'read');
    const tags = ['Complaints'];

    app.get(
      '/complaints',
      {
        onRequest,
        schema: {
          tags,
          summary: 'List complaints',
          description: 'Returns your complaints, newest first. Supports filtering and pagination.',
          querystring: ListQuery,
          response: { 200: ListResponse, ...errors },
        },
      },
      async (request) => {
        const q = request.query as typeof ListQuery.static;
        const page = q.page ?? 1;
        const limit = q.limit ?? 25;
        const { rows, total } = await listCompanyComplaints(ctx.store.db, request.company!.companyId, {
          ...q,
          page,
          limit,
        });
        const now = ctx.clock.now();
        return { success: true, page, limit, total, data: rows.map((r) => toSummary(r, now)) };
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
          response: { 200: DetailResponse, ...errors, 404: Type.Ref('ErrorResponse', { description: 'not_found' }) },
        },
      },
      async (request) => {
        const { id } = request.params as { id: string };
        return ok(
          await getComplaintDetail(ctx.store.db, { companyId: request.company!.companyId }, id, ctx.clock.now()),
        );
      },
    );
  };
}
