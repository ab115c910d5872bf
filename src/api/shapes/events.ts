import { Type } from '@sinclair/typebox';
import {
  FEED_DELIVERY_STATUSES,
  feedEventOf,
  type FeedDelivery,
  type FeedEvent,
  type FeedRow,
} from '../../domain/event-feed.js';
import { EVENT_NAMES } from '../../domain/events.js';
import type { CountedRows } from '../../storage/counted-rows.js';
import { DateTime, Nullable, okCountedList, StringEnum } from '../schemas.js';
import type { Expect, SameKeys } from './check.js';
import type { Static } from '@sinclair/typebox';

// The published event envelope example (with the `id` every body carries): what a webhook receiver gets, and the
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

export const EVENT_ID_PATTERN = '^evt_[a-z0-9]{8,40}$';

/** The envelope every event shares, on the wire of a webhook and in the feed. */
export const EventEnvelopeSchema = Type.Object(
  {
    id: Type.String({ pattern: EVENT_ID_PATTERN, description: 'evt_…; stable across every delivery of the event' }),
    event: StringEnum(EVENT_NAMES),
    timestamp: DateTime({ description: 'ISO-8601 with milliseconds' }),
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

const DELIVERY_STATUSES = ['pending', 'success', 'failed', 'dead'] as const;

const FeedDeliverySchema = Type.Object({
  id: Type.String(),
  endpoint_id: Nullable(Type.String()),
  destination_id: Nullable(
    Type.String({ description: 'An Escalation Shield destination, for shield.alert deliveries' }),
  ),
  status: StringEnum(DELIVERY_STATUSES),
  attempt_count: Type.Integer({ description: 'How many attempts were made so far' }),
  next_attempt_at: Nullable(DateTime()),
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

export const FEED_EXAMPLE = {
  success: true,
  page: 1,
  limit: 25,
  total: 1,
  total_exact: true,
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
};

/**
 * A stored body of the form writeEvent gives it (src/domain/events.ts): the keys id, event, timestamp and data, in
 * that order, data an object and last. Each of the first three is a string that needs no escape.
 */
const STORED_BODY_HEAD = /^\{"id":"(evt_[a-z0-9]+)","event":"[a-z_.]+","timestamp":"[-+0-9T:.Z]+","data":\{/;

/**
 * A feed row's JSON. A body of writeEvent's form is already the row's first four fields, byte for byte as receivers
 * were sent them, so the row is that body with its delivery state added: nothing parsed, nothing written twice. Any
 * other body (none is written so today) is parsed and its four fields written out.
 */
function feedRowJson(row: FeedRow): string {
  const m = STORED_BODY_HEAD.exec(row.body);
  let head: string;
  if (m && m[1] === row.id && row.body.endsWith('}}')) head = row.body.slice(0, -1);
  else {
    const e = feedEventOf(row);
    head = JSON.stringify({ id: e.id, event: e.event, timestamp: e.timestamp, data: e.data }).slice(0, -1);
  }
  return `${head},"delivery_status":${JSON.stringify(row.delivery_status)},"deliveries":${row.deliveriesJson}}`;
}

/**
 * The feed's answer as JSON text, the same JSON the route's schema describes (FeedResponse; the contract tests hold
 * it to the document). It is written here rather than by the serializer Fastify compiles from that schema because
 * that serializer needs each event parsed from its stored body and written again, about 15% of a feed request's CPU.
 * The deliveries come as the feed wrote them (src/domain/event-feed.ts), field for field in the schema's order, as
 * the schema's serializer would write them.
 */
export function feedPageJson(
  page: { page: number; limit: number },
  total: CountedRows,
  rows: readonly FeedRow[],
  nextCursor?: string | null,
): string {
  // The envelope is okCountedList's, with no rows; the rows' text goes between its data array's brackets. Every
  // other field is a number or a boolean, so the first `"data":[]` is that array.
  const body = okCountedList(page, [], total);
  const envelope = JSON.stringify(nextCursor === undefined ? body : { ...body, next_cursor: nextCursor });
  const at = envelope.indexOf('"data":[]') + '"data":['.length;
  return `${envelope.slice(0, at)}${rows.map(feedRowJson).join(',')}${envelope.slice(at)}`;
}

type _ShapeChecks = [
  Expect<SameKeys<FeedDelivery, Static<typeof FeedDeliverySchema>>>,
  Expect<SameKeys<FeedEvent, Static<typeof FeedEventSchema>>>,
];
