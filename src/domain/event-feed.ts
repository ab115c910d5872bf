import { AppError } from '../errors.js';
import type { SelectQueryBuilder } from 'kysely';
import type { Db } from '../storage/db.js';
import type { EventName } from './events.js';
import type { Database, DeliveriesTable, EventsTable } from '../storage/schema.js';

export const FEED_DELIVERY_STATUSES = ['pending', 'success', 'failed', 'dead', 'none'] as const;
type FeedDeliveryStatus = (typeof FEED_DELIVERY_STATUSES)[number];

/** The cursor before a company's first event: a poller's first `after`, so it sees that event too. */
export const FEED_START = 'start';

export interface FeedDelivery {
  id: string;
  endpoint_id: string | null;
  destination_id: string | null;
  status: DeliveriesTable['status'];
  attempt_count: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
}

/** One row of the feed: the event as receivers get it (parsed from the stored bytes) plus its delivery state. */
export interface FeedEvent {
  id: string;
  event: EventName;
  timestamp: string;
  data: Record<string, unknown>;
  delivery_status: FeedDeliveryStatus;
  deliveries: FeedDelivery[];
}

export interface FeedFilter {
  event?: string;
  status?: FeedDeliveryStatus;
  escalatr_id?: string;
  limit: number;
  /** Offset pages, newest first. Ignored when `after` is set. */
  page: number;
  /**
   * Cursor: an event id of this company, or `start` (the position before its first event); the page is the events
   * after it, oldest first.
   */
  after?: string;
}

export interface FeedPage {
  events: FeedEvent[];
  /** Matching events in the whole list (offset pages) or from the cursor on (cursor pages). */
  total: number;
  /** On cursor pages: the id to pass as `after` next time (the cursor itself when the page is empty). */
  nextCursor: string | null;
}

type EventRow = Pick<EventsTable, 'id' | 'seq' | 'body' | 'delivery_status'>;

/**
 * The event feed of one company. Offset pages read newest first; cursor pages read by `seq` upward. `seq` is taken
 * under the company row lock by the transaction that writes the event (src/domain/events.ts), so events commit in
 * `seq` order and a reader that has seen seq N can never later find a newly committed event below N: the cursor
 * neither skips nor repeats.
 */
export async function readEventFeed(db: Db, companyId: string, f: FeedFilter): Promise<FeedPage> {
  let q = db.selectFrom('events').where('company_id', '=', companyId);
  if (f.event) q = q.where('name', '=', f.event);
  if (f.status) q = q.where('delivery_status', '=', f.status);
  if (f.escalatr_id) q = q.where('complaint_id', '=', f.escalatr_id);
  const unfiltered = !f.event && !f.status && !f.escalatr_id;

  let rows: EventRow[];
  let total: number;
  let nextCursor: string | null = null;
  if (f.after !== undefined) {
    // Seqs start at 1, so everything is after 0, whatever the oldest event still stored is.
    const afterSeq = f.after === FEED_START ? 0 : await cursorSeq(db, companyId, f.after);
    const fromCursor = q.where('seq', '>', afterSeq);
    rows = await fromCursor
      .select(['id', 'seq', 'body', 'delivery_status'])
      .orderBy('seq', 'asc')
      .limit(f.limit)
      .execute();
    if (rows.length < f.limit) total = rows.length;
    else if (!unfiltered) total = await countOf(fromCursor);
    else {
      const span = await seqSpan(db, companyId);
      total = span.last - Math.max(afterSeq, span.first - 1);
    }
    nextCursor = rows.length ? rows[rows.length - 1].id : f.after;
  } else {
    const offset = (f.page - 1) * f.limit;
    rows = await q
      .select(['id', 'seq', 'body', 'delivery_status'])
      .orderBy('seq', 'desc')
      .limit(f.limit)
      .offset(offset)
      .execute();
    if (rows.length > 0 && rows.length < f.limit) total = offset + rows.length;
    else if (rows.length === 0 && offset === 0) total = 0;
    else if (unfiltered) total = (await seqSpan(db, companyId)).count;
    else total = await countOf(q);
  }
  const deliveries = await deliveriesOf(
    db,
    rows.map((r) => r.id),
  );
  return { events: rows.map((r) => toFeedEvent(r, deliveries.get(r.id) ?? [])), total, nextCursor };
}

/**
 * How many events a company has, without counting them. Their seqs are gap-free: each is the company's
 * `event_seq + 1`, taken in the transaction that writes the event, so a rolled-back event rolls its number back too.
 * Nothing deletes events (a retention job would have to delete oldest first to keep this true). So the count is
 * last − first + 1: two index probes at any size, where count(*) reads every index entry.
 */
async function seqSpan(db: Db, companyId: string): Promise<{ first: number; last: number; count: number }> {
  // Two scalar subqueries rather than min() and max() in one select: SQLite answers a lone min or max from the
  // index, but scans for both together.
  const row = await db
    .selectNoFrom((eb) => [
      eb
        .selectFrom('events')
        .where('company_id', '=', companyId)
        .select((e) => e.fn.min('seq').as('s'))
        .as('first'),
      eb
        .selectFrom('events')
        .where('company_id', '=', companyId)
        .select((e) => e.fn.max('seq').as('s'))
        .as('last'),
    ])
    .executeTakeFirstOrThrow();
  if (row.first === null || row.last === null) return { first: 0, last: 0, count: 0 };
  const first = Number(row.first);
  const last = Number(row.last);
  return { first, last, count: last - first + 1 };
}

/** The seq of a cursor event; an id that is unknown or another company's is a bad parameter, named as such. */
async function cursorSeq(db: Db, companyId: string, eventId: string): Promise<number> {
  const row = await db
    .selectFrom('events')
    .select('seq')
    .where('id', '=', eventId)
    .where('company_id', '=', companyId)
    .executeTakeFirst();
  if (!row)
    throw new AppError('invalid_query', `invalid query parameter after: no event ${eventId}`, { parameter: 'after' });
  return Number(row.seq);
}

/** A filtered feed query before its select list: it becomes the page or its count. */
type Filtered = SelectQueryBuilder<Database, 'events', object>;

async function countOf(q: Filtered): Promise<number> {
  const row = await q.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Every delivery of the page's events in one query (deliveries_event index), grouped by event. */
async function deliveriesOf(db: Db, eventIds: string[]): Promise<Map<string, FeedDelivery[]>> {
  const byEvent = new Map<string, FeedDelivery[]>();
  if (!eventIds.length) return byEvent;
  const rows = await db
    .selectFrom('deliveries')
    .select([
      'id',
      'event_id',
      'endpoint_id',
      'destination_id',
      'status',
      'attempt_count',
      'next_attempt_at',
      'last_status_code',
      'created_at',
    ])
    // Only by event id: the ids come from this company's own page. A company_id condition or an ORDER BY here lets
    // the planner prefer the (company_id, created_at) index and walk every delivery the company ever had.
    .where('event_id', 'in', eventIds)
    .execute();
  rows.sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const r of rows) {
    const list = byEvent.get(r.event_id) ?? [];
    list.push({
      id: r.id,
      endpoint_id: r.endpoint_id,
      destination_id: r.destination_id,
      status: r.status,
      attempt_count: Number(r.attempt_count),
      next_attempt_at: r.next_attempt_at === null ? null : new Date(Number(r.next_attempt_at)).toISOString(),
      last_status_code: r.last_status_code === null ? null : Number(r.last_status_code),
    });
    byEvent.set(r.event_id, list);
  }
  return byEvent;
}

function toFeedEvent(row: EventRow, deliveries: FeedDelivery[]): FeedEvent {
  // The stored body is exactly what receivers were sent; the feed shows the same id, name, timestamp and data.
  const body = JSON.parse(row.body) as {
    id: string;
    event: EventName;
    timestamp: string;
    data: Record<string, unknown>;
  };
  return {
    id: row.id,
    event: body.event,
    timestamp: body.timestamp,
    data: body.data ?? {},
    delivery_status: row.delivery_status,
    deliveries,
  };
}
