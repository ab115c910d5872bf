import { Type } from '@sinclair/typebox';
import { FEED_DELIVERY_STATUSES, type FeedDelivery, type FeedEvent } from '../../domain/event-feed.js';
import { EVENT_NAMES } from '../../domain/events.js';
import { DateTime, Nullable, StringEnum } from '../schemas.js';
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

type _ShapeChecks = [
  Expect<SameKeys<FeedDelivery, Static<typeof FeedDeliverySchema>>>,
  Expect<SameKeys<FeedEvent, Static<typeof FeedEventSchema>>>,
];
