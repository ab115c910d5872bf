import { Type } from '@sinclair/typebox';
import { EVENT_NAMES } from '../../domain/events.js';
import { FEED_DELIVERY_STATUSES, FEED_START, isFeedCursorMiss, readEventFeed } from '../../domain/event-feed.js';
import { COUNTED_AHEAD } from '../../storage/counted-rows.js';
import { requireCompany } from '../auth.js';
import type { ApiApp, RouteDeps } from '../deps.js';
import {
  EscalatrId,
  Nullable,
  OkList,
  PageQuery,
  pageOf,
  refusePageWithCursor,
  sendJsonText,
  StringEnum,
} from '../schemas.js';
import { EVENT_ID_PATTERN, FEED_EXAMPLE, FeedEventSchema, feedPageJson } from '../shapes/events.js';

const FeedQuery = Type.Object(
  {
    event: Type.Optional(StringEnum(EVENT_NAMES, { description: 'Filter by event name, e.g. complaint.escalated.' })),
    status: Type.Optional(
      StringEnum(FEED_DELIVERY_STATUSES, { description: 'Delivery status: pending, success, failed, dead (or none).' }),
    ),
    escalatr_id: Type.Optional({ ...EscalatrId, description: 'Only events for one complaint.' }),
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

const list = OkList(FeedEventSchema);
const FeedResponse = Type.Object(
  {
    ...list.properties,
    total: Type.Integer({
      minimum: 0,
      description:
        'Matching events; with after, those from the cursor on. Exact without a filter; with event, status or ' +
        `escalatr_id, counted up to ${COUNTED_AHEAD.toLocaleString('en')} past this page's first: when more match, ` +
        'this is the number counted and total_exact is false.',
    }),
    total_exact: Type.Boolean({
      description: `false when a filtered feed has more matches than total (more than ${COUNTED_AHEAD.toLocaleString('en')} past this page's first)`,
    }),
    next_cursor: Type.Optional(
      Nullable(Type.String({ description: 'With after: the value to pass as after on the next poll' })),
    ),
  },
  { description: 'Events, newest first (or oldest first after a cursor)', examples: [FEED_EXAMPLE] },
);

/** GET /api/v1/events: the events webhooks carry, with their delivery state, to list or to poll with a cursor. */
export function eventFeedRoutes({ ctx, reads }: RouteDeps) {
  return async (app: ApiApp) => {
    const onRequest = requireCompany(ctx, 'read');

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
          response: { 200: FeedResponse },
        },
        config: {
          errors: {
            410:
              "cursor_expired: the cursor points before the events still kept (older events are removed after the company's " +
              'retention window); start again from after=start or pass a newer cursor',
          },
        },
      },
      async (request, reply) => {
        const q = request.query;
        const page = pageOf(q);
        refusePageWithCursor('after', q.after, page.page);
        const companyId = request.company!.companyId;
        const feed = await reads.read(
          companyId,
          (db) => readEventFeed(db, ctx.store.profile, companyId, { ...q, ...page }),
          isFeedCursorMiss,
        );
        const json = feedPageJson(page, feed.total, feed.events, q.after !== undefined ? feed.nextCursor : undefined);
        return sendJsonText(reply, json);
      },
    );
  };
}
