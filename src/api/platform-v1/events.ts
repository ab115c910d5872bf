import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { EVENT_NAMES } from '../../domain/events.js';
import { FEED_DELIVERY_STATUSES, FEED_START, readEventFeed } from '../../domain/event-feed.js';
import { AppError } from '../../errors.js';
import { requireCompany } from '../auth.js';
import type { RouteDeps } from '../routes.js';
import { EscalatrIdParam, PageQuery } from '../schemas.js';
import { StringEnum } from './complaints.js';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

// The seed's event envelope example (with the `id` every body carries): what a webhook receiver gets, and the
// `id`, `event`, `timestamp`, `data` of a feed row.
export const SEED_EVENT_EXAMPLE = {
  id: 'evt_3k9x0q2m7a1b5c8d4e6f',
  event: 'complaint.escalated',
  timestamp: '2026-06-13T07:45:12.004Z',
  data: {
    escalatr_id: 'ESC-VOLT-260417-00010',
    status: 'Escalated',
    escalation_level: 'L2',
    to_level: 'L2',
    trigger: 'manual',
  },
};

const EVENT_ID_PATTERN = '^evt_[a-z0-9]{8,40}$';

/** The envelope every event shares, on the wire of a webhook and in the feed. */
export const EventEnvelopeSchema = Type.Object(
  {
    id: Type.String({ pattern: EVENT_ID_PATTERN, description: 'evt_…; stable across every delivery of the event' }),
    event: StringEnum(EVENT_NAMES),
    timestamp: Type.String({ format: 'date-time', description: 'ISO-8601 with milliseconds' }),
    data: Type.Object(
      {},
      {
        additionalProperties: true,
        description: 'Always has escalatr_id, status and escalation_level, plus the fields of the event',
      },
    ),
  },
  { title: 'EventEnvelope', examples: [SEED_EVENT_EXAMPLE] },
);

const FeedDeliverySchema = Type.Object({
  id: Type.String(),
  endpoint_id: Nullable(Type.String()),
  destination_id: Nullable(
    Type.String({ description: 'An Escalation Shield destination, for shield.alert deliveries' }),
  ),
  status: StringEnum(['pending', 'success', 'failed', 'dead'] as const),
  attempt_count: Type.Integer({ description: 'How many attempts were made so far' }),
  next_attempt_at: Nullable(Type.String({ format: 'date-time' })),
  last_status_code: Nullable(Type.Integer()),
});

export const FeedEventSchema = Type.Object(
  {
    ...EventEnvelopeSchema.properties,
    delivery_status: StringEnum(FEED_DELIVERY_STATUSES, { description: 'none when no endpoint was subscribed' }),
    deliveries: Type.Array(FeedDeliverySchema),
  },
  { title: 'FeedEvent' },
);

const FeedQuery = Type.Object(
  {
    event: Type.Optional(StringEnum(EVENT_NAMES, { description: 'Filter by event name, e.g. complaint.escalated.' })),
    status: Type.Optional(
      StringEnum(FEED_DELIVERY_STATUSES, { description: 'Delivery status: pending, success, failed, dead (or none).' }),
    ),
    escalatr_id: Type.Optional({ ...EscalatrIdParam.properties.id, description: 'Only events for one complaint.' }),
    after: Type.Optional(
      Type.String({
        pattern: `^(${FEED_START}|${EVENT_ID_PATTERN.slice(1, -1)})$`,
        examples: [FEED_START, 'evt_4f2a9c1e7b3d5a8f0e6c'],
        description:
          'Cursor: `start` (the position before your first event) or an event id you have seen. Returns the events ' +
          'after it, oldest first, with `next_cursor` to pass next time (the same cursor again when nothing is new). ' +
          'A poller that starts at `after=start` and always sends the last `next_cursor` sees every event exactly ' +
          'once, the first included, while new ones keep arriving. A polling loop (bash, curl and jq):\n\n' +
          '```sh\n' +
          'cursor=start\n' +
          'while true; do\n' +
          '  page=$(curl -sf "$ESC/api/v1/events?after=$cursor&limit=100" -H "Authorization: Bearer $KEY") || { sleep 5; continue; }\n' +
          '  echo "$page" | jq -c \'.data[] | {id, event, data}\'   # handle each event here\n' +
          '  cursor=$(echo "$page" | jq -r .next_cursor)          # store it to resume after a restart\n' +
          '  [ "$(echo "$page" | jq \'.data | length\')" -eq 100 ] || sleep 5\n' +
          'done\n' +
          '```',
      }),
    ),
    ...PageQuery,
  },
  { additionalProperties: false },
);

const FeedResponse = Type.Object(
  {
    success: Type.Literal(true),
    page: Type.Integer(),
    limit: Type.Integer(),
    total: Type.Integer({ description: 'Matching events; with after, those from the cursor on' }),
    next_cursor: Type.Optional(
      Nullable(Type.String({ description: 'With after: the value to pass as after on the next poll' })),
    ),
    data: Type.Array(FeedEventSchema),
  },
  {
    description: 'Events, newest first (or oldest first after a cursor)',
    examples: [
      {
        success: true,
        page: 1,
        limit: 25,
        total: 1,
        data: [
          {
            ...SEED_EVENT_EXAMPLE,
            delivery_status: 'success',
            deliveries: [
              {
                id: 'dlv_8c1d5f0a2b7e9g3h4j6k',
                endpoint_id: 'ep_2m4n6p8q0r1s3t5u7v9w',
                destination_id: null,
                status: 'success',
                attempt_count: 1,
                next_attempt_at: null,
                last_status_code: 200,
              },
            ],
          },
        ],
      },
    ],
  },
);

const errors = {
  400: Type.Ref('ErrorResponse', {
    description: 'invalid_query: a query parameter is invalid (error.details.parameter names it)',
  }),
  401: Type.Ref('ErrorResponse', { description: 'unauthorized: missing, unknown or revoked API key' }),
  403: Type.Ref('ErrorResponse', { description: 'plan_required: the company is not on Professional or Enterprise' }),
  429: Type.Ref('ErrorResponse', { description: 'rate_limited: see Retry-After' }),
};

/** GET /api/v1/events: the events webhooks carry, with their delivery state, to list or to poll with a cursor. */
export function eventFeedRoutes({ ctx }: RouteDeps) {
  return async (app: FastifyInstance) => {
    const onRequest = requireCompany(ctx.store.db, ctx.clock, 'read');

    app.get(
      '/events',
      {
        onRequest,
        schema: {
          tags: ['Event feed'],
          summary: 'Event feed',
          description:
            'The same events you can receive by webhook, available to poll. Each row carries the parsed event data and its delivery state.',
          querystring: FeedQuery,
          response: { 200: FeedResponse, ...errors },
        },
      },
      async (request) => {
        const q = request.query as typeof FeedQuery.static;
        const page = q.page ?? 1;
        const limit = q.limit ?? 25;
        // A cursor page is positioned by the cursor alone; a page number beside it would be ambiguous.
        if (q.after !== undefined && page !== 1) {
          throw new AppError('invalid_query', 'invalid query parameter page: page cannot be combined with after', {
            parameter: 'page',
          });
        }
        const feed = await readEventFeed(ctx.store.db, request.company!.companyId, { ...q, page, limit });
        const body = { success: true as const, page, limit, total: feed.total, data: feed.events };
        return q.after !== undefined ? { ...body, next_cursor: feed.nextCursor } : body;
      },
    );
  };
}
