import { iso } from '../clock.js';
import { AppError } from '../errors.js';
import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../storage/db.js';
import type { DialectProfile } from '../storage/dialects.js';
import { madeWithin } from '../queue/conditions.js';
import { countPast, type CountedRows } from '../storage/counted-rows.js';
import { literalLimit } from '../storage/literal-limit.js';
import type { EventName } from './events.js';
import type { DeliveriesTable, EventsTable } from '../storage/schema.js';

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

/**
 * One row of the feed as the store holds it: the event's body exactly as receivers were sent it, not parsed, and its
 * deliveries as the JSON text the answer carries (a FeedDelivery array), so an answer can carry both as they are
 * (`feedEventOf` gives the parsed row).
 */
export interface FeedRow {
  id: string;
  body: string;
  delivery_status: FeedDeliveryStatus;
  deliveriesJson: string;
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
  events: FeedRow[];
  /**
   * Matching events in the whole list (offset pages) or from the cursor on (cursor pages). Exact without a filter (it
   * follows from seqs); with one, counted up to COUNTED_AHEAD past the page's first event (countPast).
   */
  total: CountedRows;
  /** On cursor pages: the id to pass as `after` next time (the cursor itself when the page is empty). */
  nextCursor: string | null;
}

type EventRow = Pick<EventsTable, 'id' | 'seq' | 'body' | 'delivery_status' | 'created_at'> & {
  /** On unfiltered pages: the company's last seq, read by the same statement as the page. */
  last_seq?: number | string | null;
  /** On offset pages: the feed's start, read by the same statement as the page. */
  start_seq?: number | string | null;
  /**
   * Where the page's statement reads them (withDeliveries): the event's deliveries as the answer's JSON text, null
   * when it has none.
   */
  deliveries?: string | null;
};

/**
 * A delivery as the feed shows it (FeedDelivery), field by field in the answer's order: each is the column of the
 * same name, a time (epoch milliseconds) written as ISO text, a count or status code as a number. Both ways of
 * reading a page's deliveries write them from this list.
 */
const DELIVERY_FIELDS = [
  { key: 'id' },
  { key: 'endpoint_id' },
  { key: 'destination_id' },
  { key: 'status' },
  { key: 'attempt_count', as: 'number' },
  { key: 'next_attempt_at', as: 'time' },
  { key: 'last_status_code', as: 'number' },
] as const satisfies ReadonlyArray<{ key: keyof FeedDelivery & keyof DeliveriesTable; as?: 'number' | 'time' }>;
type DeliveryRow = Pick<DeliveriesTable, (typeof DELIVERY_FIELDS)[number]['key'] | 'event_id'>;

// The column list as SQL text, made once: sql.ref parses and checks each name again on every request, and the feed
// runs on every poll. The names are the constants above.
const DELIVERY_COLUMNS = sql.raw(DELIVERY_FIELDS.map((f) => f.key).join(', '));

/**
 * The page statement's deliveries expression where the store reads them that way (DialectProfile.relatedRowsAsJson;
 * undefined elsewhere), made once for the store's dialect and kept as its SQL text: it has no parameters (the fields
 * are constants), and compiling its nodes again, the keys' literals among them, was a few percent of a feed request.
 */
const pageDeliveriesJson = new WeakMap<DialectProfile, RawBuilder<string>>();
function pageDeliveriesJsonOf(db: Db, profile: DialectProfile): RawBuilder<string> | undefined {
  const asJson = profile.relatedRowsAsJson;
  if (!asJson) return undefined;
  let expression = pageDeliveriesJson.get(profile);
  if (!expression) {
    const built = asJson(
      DELIVERY_FIELDS.map((f) => ({ key: f.key, value: sql.raw(`d.${f.key}`), time: 'as' in f && f.as === 'time' })),
      sql.raw('d.id'),
    );
    const compiled = built.compile(db);
    expression = compiled.parameters.length ? built : sql.raw<string>(compiled.sql);
    pageDeliveriesJson.set(profile, expression);
  }
  return expression;
}

/**
 * A page of events (`page`: a statement over `events` that orders and limits them) with each event's deliveries
 * read by the same statement as the answer's JSON text, where the store reads them best that way
 * (DialectProfile.relatedRowsAsJson). They are read outside the page's LIMIT and OFFSET, so only for the rows of the
 * page. They are found by event id and the event's time: a delivery is made with its event and takes its
 * `created_at`.
 */
function withDeliveries(deliveriesJson: RawBuilder<string>, page: RawBuilder<unknown>, order: 'asc' | 'desc') {
  return sql<EventRow>`
    select p.*, case when p.delivery_status = 'none' then null else (
        select ${deliveriesJson} from deliveries d where d.event_id = p.id and d.created_at = p.created_at) end
      as deliveries
    from (${page}) p order by p.seq ${sql.raw(order)}`;
}

/**
 * Every delivery of the page's events in a second statement (deliveries_event index), by event, named by the
 * events' times too (madeWithin: on PostgreSQL that reads only the spans of the delivered history that hold them).
 */
async function deliveriesOfPage(
  db: Db,
  events: ReadonlyArray<Pick<EventRow, 'id' | 'created_at'>>,
): Promise<Map<string, DeliveryRow[]>> {
  const byEvent = new Map<string, DeliveryRow[]>();
  if (!events.length) return byEvent;
  // By event id and time only: the ids come from this company's own page. A company_id condition or an ORDER BY here
  // lets the planner prefer the (company_id, created_at) index and walk every delivery the company ever had.
  const { rows } = await sql<DeliveryRow>`
    select event_id, ${DELIVERY_COLUMNS} from deliveries
    where event_id in (${sql.join(events.map((e) => e.id))})
      and ${madeWithin(events.map((e) => Number(e.created_at)))}`.execute(db);
  for (const r of rows) {
    const list = byEvent.get(r.event_id);
    if (list) list.push(r);
    else byEvent.set(r.event_id, [r]);
  }
  return byEvent;
}

/** An event's deliveries as the answer's JSON text, ordered by id (their time is the event's). */
function deliveriesJson(rows: DeliveryRow[]): string {
  rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return JSON.stringify(
    rows.map((r) => {
      const delivery: Record<string, unknown> = {};
      for (const f of DELIVERY_FIELDS) {
        const v = r[f.key];
        delivery[f.key] =
          v === null || !('as' in f) ? v : f.as === 'time' ? iso(Number(v)) : Number(v as number | string);
      }
      return delivery;
    }),
  );
}

/**
 * The event feed of one company. Offset pages read newest first; cursor pages read by `seq` upward. `seq` is taken
 * under the company row lock by the transaction that writes the event (src/domain/events.ts), so events commit in
 * `seq` order and a reader that has seen seq N can never later find a newly committed event below N: the cursor
 * neither skips nor repeats.
 *
 * Every statement here is SQL text rather than built with the query builder, as the complaint list's are: this runs
 * on every feed request, and building and compiling the queries cost more than running them.
 */
export async function readEventFeed(
  db: Db,
  profile: DialectProfile,
  companyId: string,
  f: FeedFilter,
): Promise<FeedPage> {
  // Events at or below the feed's start have been removed by retention (or kept only as a complaint's timeline):
  // the feed is the events above it, whose seqs are gap-free. A cursor page reads the start with its cursor; an
  // offset page reads it in the page's own statement, and alone only when the page has no row to carry it.
  const cursor = f.after === undefined ? null : await cursorAndStart(db, companyId, f.after);
  const conditions = [sql`company_id = ${companyId}`];
  if (f.event) conditions.push(sql`name = ${f.event}`);
  if (f.status) conditions.push(sql`delivery_status = ${f.status}`);
  if (f.escalatr_id) conditions.push(sql`complaint_id = ${f.escalatr_id}`);
  const unfiltered = !f.event && !f.status && !f.escalatr_id;
  // An unfiltered page's total follows from the last seq (see lastSeq), read in the page's own statement so the two
  // agree: one index probe, evaluated once.
  const lastColumn = unfiltered
    ? sql`, (select max(seq) from events where company_id = ${companyId}) as last_seq`
    : sql``;
  const pageDeliveries = pageDeliveriesJsonOf(db, profile);
  const withPageDeliveries = (page: RawBuilder<unknown>, order: 'asc' | 'desc') =>
    pageDeliveries ? withDeliveries(pageDeliveries, page, order) : page;
  const lastOf = async (rows: EventRow[]) =>
    rows.length && rows[0].last_seq !== null && rows[0].last_seq !== undefined
      ? Number(rows[0].last_seq)
      : lastSeq(db, companyId);

  let rows: EventRow[];
  let total: CountedRows;
  let nextCursor: string | null = null;
  if (cursor) {
    // The cursor is at or past the feed's start (cursorAndStart), so its bound is the only one: beside a second
    // bound on seq, SQLite ranges its index by whichever comes first and filters by the other, and a count from a
    // cursor deep in the feed walked every event before it.
    const where = sql.join([...conditions, sql`seq > ${cursor.afterSeq}`], sql` and `);
    const page = sql`
      select id, seq, body, delivery_status, created_at${lastColumn} from events where ${where}
      order by seq asc ${literalLimit(f.limit)}`;
    rows = (await withPageDeliveries(page, 'asc').execute(db)).rows as EventRow[];
    if (rows.length < f.limit) total = exactly(rows.length);
    else if (!unfiltered) total = await countWhere(db, where, 0);
    else total = exactly((await lastOf(rows)) - cursor.afterSeq);
    nextCursor = rows.length ? rows[rows.length - 1].id : f.after!;
  } else {
    const offset = (f.page - 1) * f.limit;
    const start = feedStartOf(companyId);
    const where = sql.join([...conditions, sql`seq > ${start}`], sql` and `);
    const page = sql`
      select id, seq, body, delivery_status, created_at${lastColumn}, ${start} as start_seq from events where ${where}
      order by seq desc ${literalLimit(f.limit)} offset ${offset}`;
    rows = (await withPageDeliveries(page, 'desc').execute(db)).rows as EventRow[];
    if (rows.length > 0 && rows.length < f.limit) total = exactly(offset + rows.length);
    else if (rows.length === 0 && offset === 0) total = exactly(0);
    else if (unfiltered) {
      const startSeq = rows.length ? Number(rows[0].start_seq) : await feedStart(db, companyId);
      total = exactly(Math.max(0, (await lastOf(rows)) - startSeq));
    } else total = await countWhere(db, where, offset);
  }
  // An event that is `none` was written with no delivery (deliveries are made only with their event), so only the
  // others' are looked for.
  const separately = pageDeliveries
    ? null
    : await deliveriesOfPage(
        db,
        rows.filter((r) => r.delivery_status !== 'none'),
      );
  const events = rows.map((r) => ({
    id: r.id,
    body: r.body,
    delivery_status: r.delivery_status,
    deliveriesJson: separately ? deliveriesJson(separately.get(r.id) ?? []) : (r.deliveries ?? '[]'),
  }));
  return { events, total, nextCursor };
}

/** How many events the company's feed holds and when its oldest was written (null when it is empty). */
export async function feedSummary(db: Db, companyId: string): Promise<{ events: number; oldestAt: number | null }> {
  const start = await feedStart(db, companyId);
  const oldest = await db
    .selectFrom('events')
    .select('created_at')
    .where('company_id', '=', companyId)
    .where('seq', '>', start)
    .orderBy('seq')
    .limit(1)
    .executeTakeFirst();
  return {
    events: Math.max(0, (await lastSeq(db, companyId)) - start),
    oldestAt: oldest ? Number(oldest.created_at) : null,
  };
}

/** The seq the company's feed starts after (0 until retention first removes events from it), as a scalar subquery. */
const feedStartOf = (companyId: string) => sql`(select feed_start_seq from companies where id = ${companyId})`;

async function feedStart(db: Db, companyId: string): Promise<number> {
  const { rows } = await sql<{
    start_seq: number | string | null;
  }>`select ${feedStartOf(companyId)} as start_seq`.execute(db);
  return Number(rows[0]?.start_seq ?? 0);
}

/**
 * How many events a company's feed holds follows from seqs, without counting them. Seqs are gap-free: each is the
 * company's `event_seq + 1`, taken in the transaction that writes the event, so a rolled-back event rolls its number
 * back too; retention removes events only at or below the feed's start. So the feed holds last − start events, and
 * those after a cursor at seq s are last − s: one index probe at any size, where count(*) reads every index entry.
 */
async function lastSeq(db: Db, companyId: string): Promise<number> {
  const { rows } = await sql<{
    s: number | string | null;
  }>`select max(seq) as s from events where company_id = ${companyId}`.execute(db);
  const last = rows[0]?.s;
  return last === null || last === undefined ? 0 : Number(last);
}

/**
 * The feed's start and the seq a cursor stands for, in one statement. `start` stands before the first event kept. A
 * cursor below the feed's start has expired: events after it have been removed, and a poller that went on from it
 * would silently miss them. An id that is not there is expired too once retention has removed events (it may be one
 * of them); before that it is a bad parameter, named as such — another company's id answers exactly like an unknown
 * one.
 */
async function cursorAndStart(db: Db, companyId: string, after: string): Promise<{ start: number; afterSeq: number }> {
  if (after === FEED_START) {
    const start = await feedStart(db, companyId);
    return { start, afterSeq: start };
  }
  const { rows } = await sql<{ start_seq: number | string | null; seq: number | string | null }>`
    select ${feedStartOf(companyId)} as start_seq,
      (select seq from events where id = ${after} and company_id = ${companyId}) as seq`.execute(db);
  const start = Number(rows[0]?.start_seq ?? 0);
  const seq = rows[0]?.seq;
  if (seq !== null && seq !== undefined && Number(seq) >= start) return { start, afterSeq: Number(seq) };
  if ((seq !== null && seq !== undefined) || start > 0)
    throw new AppError(
      'cursor_expired',
      `The cursor ${after} points before the events still kept (older events are removed after the company's ` +
        'retention window). Start again from after=start, or pass a newer cursor.',
      { parameter: 'after' },
    );
  throw new AppError('invalid_query', `invalid query parameter after: no event ${after}`, { parameter: 'after' });
}

/**
 * Whether a feed read failed on its cursor (unknown id, or expired). On a read replica that can be lag: the caller's
 * cursor came from the primary, which had committed that event before the replica replayed it; so such a read is
 * asked of the primary. Every other answer of a replica is a prefix of the primary's feed: events of a company commit
 * in seq order (src/domain/events.ts) and a standby replays commits in commit order, so a cursor it holds has every
 * event below it, and what it returns after it is what the primary would, up to where it has replayed — no gap.
 */
export function isFeedCursorMiss(err: unknown): boolean {
  if (!(err instanceof AppError)) return false;
  return err.code === 'cursor_expired' || (err.code === 'invalid_query' && err.details?.parameter === 'after');
}

/** A total known exactly (from seqs, or a short page). */
const exactly = (total: number): CountedRows => ({ total, exact: true });

/** The events matching `where`, counted up to COUNTED_AHEAD past `offset` (countPast). */
function countWhere(db: Db, where: RawBuilder<unknown>, offset: number): Promise<CountedRows> {
  return countPast(db, sql`select 1 from events where ${where}`, offset);
}

/** A feed row with its event parsed: the same id, name, timestamp and data receivers were sent. */
export function feedEventOf(row: FeedRow): FeedEvent {
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
    deliveries: JSON.parse(row.deliveriesJson) as FeedDelivery[],
  };
}
