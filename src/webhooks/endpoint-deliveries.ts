import { sql, type Expression, type ExpressionBuilder, type Selectable, type SqlBool } from 'kysely';
import { iso, isoOrNull } from '../clock.js';
import { transact, type DomainContext } from '../domain/context.js';
import { DAY_MS, retentionCutoff } from '../domain/retention.js';
import { AppError, notFound } from '../errors.js';
import { madeWithin, recoverableIn, UNSETTLED } from '../queue/conditions.js';
import { requeue } from '../queue/requeue.js';
import { countPast, countUpTo, type CountedRows } from '../storage/counted-rows.js';
import {
  beforePlace,
  cursorPage,
  cursorRefused,
  decodeListCursor,
  ROW_ID,
  type ListAfter,
} from '../domain/list-cursor.js';
import type { Db, Tx } from '../storage/db.js';
import type { DialectProfile } from '../storage/dialects.js';
import { idMadeAt } from '../ids.js';
import type { Database, DeliveriesTable } from '../storage/schema.js';

/**
 * What the dashboard and the API show of deliveries and their attempts, and the operations on them: resend one,
 * recover an endpoint's failures since a time, and the attempt-outcome chart. Shared by endpoint deliveries and
 * Shield destination deliveries (same table, same engine).
 */

export type DeliveryStatus = DeliveriesTable['status'];
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['pending', 'success', 'failed', 'dead'];

export interface DeliveryView {
  id: string;
  event_id: string;
  event: string;
  target: string;
  endpoint_id: string | null;
  destination_id: string | null;
  status: DeliveryStatus;
  /** How many attempts were made so far (numbering continues across resends). */
  attempt_count: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  idempotency_key: string;
  created_at: string;
  updated_at: string;
}

export interface AttemptView {
  n: number;
  started_at: string;
  duration_ms: number;
  status_code: number | null;
  error_kind: string | null;
  error_message: string | null;
  response_excerpt: string | null;
}

/**
 * One delivery with every attempt, oldest first, and the event body it sends. `attempts` is only ever this list; a
 * number of attempts is `attempt_count`, in this answer as in every other.
 */
export interface DeliveryDetail extends DeliveryView {
  attempts: AttemptView[];
  payload: unknown;
}

export interface DeliveryFilter {
  endpointId?: string;
  status?: DeliveryStatus;
  event?: string;
  /** Epoch ms: only deliveries created at or after. */
  since?: number;
}

function deliveryQuery(db: Db | Tx) {
  return db.selectFrom('deliveries as d').innerJoin('events as e', 'e.id', 'd.event_id');
}

const VIEW_COLUMNS = [
  'd.id',
  'd.event_id',
  'e.name as event',
  'd.target',
  'd.endpoint_id',
  'd.destination_id',
  'd.status',
  'd.attempt_count',
  'd.next_attempt_at',
  'd.last_status_code',
  'd.last_error',
  'd.idempotency_key',
  'd.created_at',
  'd.updated_at',
] as const;

type ViewRow = Pick<
  Selectable<DeliveriesTable>,
  | 'id'
  | 'event_id'
  | 'target'
  | 'endpoint_id'
  | 'destination_id'
  | 'status'
  | 'attempt_count'
  | 'next_attempt_at'
  | 'last_status_code'
  | 'last_error'
  | 'idempotency_key'
  | 'created_at'
  | 'updated_at'
> & { event: string };

function viewOf(r: ViewRow): DeliveryView {
  return {
    id: r.id,
    event_id: r.event_id,
    event: r.event,
    target: r.target,
    endpoint_id: r.endpoint_id,
    destination_id: r.destination_id,
    status: r.status,
    attempt_count: Number(r.attempt_count),
    // Only rows still to be sent have a meaningful next attempt.
    next_attempt_at: r.status === 'pending' || r.status === 'failed' ? isoOrNull(r.next_attempt_at) : null,
    last_status_code: r.last_status_code === null ? null : Number(r.last_status_code),
    last_error: r.last_error,
    idempotency_key: r.idempotency_key,
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
  };
}

export interface DeliveryPage {
  items: DeliveryView[];
  /** Matching deliveries, counted up to COUNTED_AHEAD past the page's first (countPast). */
  total: CountedRows;
  /** On a cursor page: the cursor of the page after it, null on the last page. */
  nextCursor?: string | null;
}

/**
 * Where a delivery list's cursor (naming a delivery by its id, `dlv_…`) starts; a 400 `invalid_query` for any text
 * the list did not give. A place may be by event seq: the list of one event name is read in the order of its events
 * on SQLite (listDeliveries).
 */
export const deliveryListAfter = (cursor: string): ListAfter => decodeListCursor(cursor, ROW_ID, true);

/** At most this many events of one name make it few: the delivery log counts its deliveries through them. */
const FEW_EVENTS = 500;

/**
 * Deliveries of one company, newest first, narrowed by any of the filters, and how many match (counted up to
 * COUNTED_AHEAD past the page's start). With `after`, a cursor page: the page after that place (or from the start),
 * one row more read to know whether another follows, and the count from the place on.
 */
export async function listDeliveries(
  db: Db,
  profile: DialectProfile,
  companyId: string,
  filter: DeliveryFilter,
  page: { page: number; limit: number; after?: ListAfter },
): Promise<DeliveryPage> {
  // Failed, dead and pending deliveries are few beside the delivered ones, and each set has a partial index of its
  // own, which SQLite uses only when the statement names the set's statuses as literals (a parameter proves nothing
  // to its planner). Without, a status with no row read every delivery the company ever had. (UNSETTLED names no
  // table: events, the one table read beside deliveries, has no status column.)
  const fewOfStatus =
    filter.status === 'failed' || filter.status === 'dead'
      ? recoverableIn('d')
      : filter.status === 'pending'
        ? UNSETTLED
        : undefined;
  // With an event name on SQLite, through the company's events of that name (their index), newest event first,
  // unless the status names a few: found through the deliveries, an event name of few deliveries (or none) read
  // every delivery the company ever had, and its event (2.8 s at a million). A delivery is made with its event and
  // takes its `created_at`. PostgreSQL chooses the order itself; given the events first, it hashed them all.
  const throughEvents = filter.event !== undefined && !fewOfStatus && profile.joinsInWrittenOrder;
  // A cursor page goes on from its place in the list's own order: (event seq, id) through the events, else
  // (created_at, id). A place of the other order came from a list read with other filters.
  const place = typeof page.after === 'object' ? page.after : undefined;
  if (place && (place.by === 'seq') !== throughEvents) throw cursorRefused('it was given for other filters');
  const own = (eb: ExpressionBuilder<Database & { d: DeliveriesTable }, 'd'>) => {
    const terms: Array<Expression<SqlBool>> = [eb('d.company_id', '=', companyId)];
    if (filter.endpointId) terms.push(eb('d.endpoint_id', '=', filter.endpointId));
    if (fewOfStatus) terms.push(fewOfStatus);
    if (filter.status) terms.push(eb('d.status', '=', filter.status));
    if (filter.since !== undefined) terms.push(eb('d.created_at', '>=', filter.since));
    if (place && !throughEvents) terms.push(beforePlace(place, 'd.created_at', 'd.id'));
    return eb.and(terms);
  };
  const ownDeliveries = db.selectFrom('deliveries as d').where(own);
  const ofDeliveries = ownDeliveries.$if(filter.event !== undefined, (q) =>
    q.where((eb) =>
      eb.exists(
        eb
          .selectFrom('events as e')
          .select(sql.lit(1).as('one'))
          .whereRef('e.id', '=', 'd.event_id')
          .where('e.name', '=', filter.event!),
      ),
    ),
  );
  const matching = throughEvents
    ? db
        .selectFrom('events as e')
        .crossJoin('deliveries as d')
        .whereRef('d.event_id', '=', 'e.id')
        .whereRef('d.created_at', '=', 'e.created_at')
        .where('e.company_id', '=', companyId)
        .where('e.name', '=', filter.event!)
        .where(own)
        .$if(place !== undefined, (q) => q.where(beforePlace(place!, 'e.seq', 'd.id')))
    : ofDeliveries;
  const offset = page.after ? 0 : (page.page - 1) * page.limit;
  const read = page.after ? page.limit + 1 : page.limit;
  const count = () => countPast(db, matching, offset);
  // PostgreSQL, an event name few of the company's events have: counted from those events, each one's deliveries
  // found by its id in the one span its time names (a delivery is made with its event and takes its `created_at`).
  // Counted from the deliveries, every delivery the company ever had was read to find the few: a request for a name on
  // 1% of the events of a company of 135,000 deliveries took 65 ms, against 13 this way (finding 79). A common name's
  // count stops after the first 10,001 deliveries from either side, and sooner from the deliveries (a probe per event
  // costs more than a delivery read in order), so it keeps that form.
  const countThroughFewEvents = async (): Promise<CountedRows | null> => {
    if (filter.event === undefined || fewOfStatus || profile.joinsInWrittenOrder) return null;
    const named = db.selectFrom('events as e').where('e.company_id', '=', companyId).where('e.name', '=', filter.event);
    if (!(await countUpTo(db, named, FEW_EVENTS)).exact) return null;
    return countPast(
      db,
      named.crossJoinLateral(
        ownDeliveries
          .select(sql.lit(1).as('one'))
          .where('d.event_id', '=', sql.ref<string>('e.id'))
          .where('d.created_at', '=', sql.ref<number>('e.created_at'))
          .as('d'),
      ),
      offset,
    );
  };
  // The page's ids first, from the indexes that found them: the rows an offset skips are then index entries, not
  // rows read and joined to their event one by one. The deepest page of 500,000 deliveries took 0.6 s that way on
  // SQLite, on the event loop; 27 ms this way.
  // `sortFew`: the matches are known to be few (an exact count), and are read from their status's index and sorted
  // rather than found by walking every delivery newest first. `+` makes the order an expression no index holds, so
  // SQLite reads the pending rows' partial index (the queue's; not in list order): three old pending deliveries, say
  // resent or recovered, among a million took 0.28 s to find by the walk.
  const pageIds = (sortFew: boolean) =>
    (throughEvents
      ? matching.select('d.id').orderBy(sql.ref('e.seq'), 'desc').orderBy('d.id', 'desc')
      : matching
          .select('d.id')
          .orderBy(sortFew ? sql`+d.created_at` : sql.ref('d.created_at'), 'desc')
          .orderBy('d.id', 'desc')
    )
      .limit(read)
      .offset(offset);
  const pageRows = (sortFew = false) =>
    deliveryQuery(db)
      .select([...VIEW_COLUMNS, 'e.seq as event_seq'])
      .where('d.id', 'in', pageIds(sortFew))
      .orderBy(throughEvents ? 'e.seq' : 'd.created_at', 'desc')
      .orderBy('d.id', 'desc')
      .execute();
  // On SQLite the count goes first, and a page that starts past every match is not looked for: the walk for it
  // would find nothing to stop at (a status of no row: 0.9 s at a million). Pending deliveries counted exactly are
  // few enough to sort (failed and dead ones have an index in list order). On PostgreSQL both go at once.
  let total: CountedRows;
  let rows: Awaited<ReturnType<typeof pageRows>>;
  if (profile.statementsOnEventLoop) {
    total = await count();
    rows = total.total > offset ? await pageRows(filter.status === 'pending' && total.exact) : [];
  } else {
    // A page with nothing to skip (the first, or any cursor page) in one statement: on PostgreSQL each statement over
    // `deliveries` is planned over every span of the delivered history, and the ids-first form plans that twice (the
    // ids, then the rows by id): 9 ms against 4 for a first page of a company's 135,000 deliveries (finding 78).
    // The event name is asked of the event joined for the page: asked of a second one in a subquery beside that
    // join, the page took about 10 ms to plan against 4 (a company of 135,000 deliveries, finding 79).
    const pageInOne = () =>
      ownDeliveries
        .innerJoin('events as e', 'e.id', 'd.event_id')
        .$if(filter.event !== undefined, (q) => q.where('e.name', '=', filter.event!))
        .select([...VIEW_COLUMNS, 'e.seq as event_seq'])
        .orderBy('d.created_at', 'desc')
        .orderBy('d.id', 'desc')
        .limit(read)
        .execute();
    [total, rows] = await Promise.all([
      countThroughFewEvents().then((few) => few ?? count()),
      offset === 0 && !throughEvents ? pageInOne() : pageRows(),
    ]);
  }
  if (!page.after) return { items: rows.map(viewOf), total };
  const next = cursorPage(rows, page.limit, (r) =>
    throughEvents ? { time: Number(r.event_seq), id: r.id, by: 'seq' } : { time: Number(r.created_at), id: r.id },
  );
  return { items: next.rows.map(viewOf), total, nextCursor: next.nextCursor };
}

/**
 * How far apart two clocks' times of one moment are allowed to be when a read names a time span: the id's (the
 * process's) and the delivery's `created_at` (the domain's), or the attempt's start (a worker's) and that `created_at`.
 */
const CLOCKS_APART_MS = DAY_MS;

/** The span of `created_at` a read by id names (from, to: epoch ms, both included), or null: it names none. */
type MadeSpan = { from: number; to: number } | null;

/**
 * Reads one delivery by id (`read` names the span it is given). On PostgreSQL the delivered history lies in spans by
 * `created_at` (migration 0059), and a read by id alone is planned over every span: about 3 ms with 60 days of
 * history, against under 1 with the spans named (docs/benchmarks.md). A delivery's id carries the time it was made
 * (newId), which is its `created_at` within a clock's step; so the read names the day on either side first, and reads
 * every span only when the row is not there (an id made by another clock or system, or none of this company's).
 */
async function byIdNearItsTime<T>(
  profile: DialectProfile,
  id: string,
  read: (span: MadeSpan) => Promise<T | undefined>,
): Promise<T | undefined> {
  const madeAt = profile.partitionedHistory ? idMadeAt(id) : null;
  const near =
    madeAt === null ? undefined : await read({ from: madeAt - CLOCKS_APART_MS, to: madeAt + CLOCKS_APART_MS });
  return near ?? read(null);
}

/** One delivery of a company by id, with its event joined (byIdNearItsTime). */
function deliveryById(db: Db | Tx, profile: DialectProfile, companyId: string, id: string) {
  return byIdNearItsTime(profile, id, (span) =>
    deliveryQuery(db)
      .select([...VIEW_COLUMNS, 'e.body'])
      .where('d.id', '=', id)
      .where('d.company_id', '=', companyId)
      .$if(span !== null, (q) => q.where('d.created_at', '>=', span!.from).where('d.created_at', '<=', span!.to))
      .executeTakeFirst(),
  );
}

export async function getDelivery(ctx: DomainContext, companyId: string, id: string): Promise<DeliveryView> {
  const row = await deliveryById(ctx.store.db, ctx.store.profile, companyId, id);
  if (!row) throw notFound('delivery');
  return viewOf(row);
}

export async function getDeliveryDetail(
  db: Db,
  profile: DialectProfile,
  companyId: string,
  id: string,
): Promise<DeliveryDetail> {
  const row = await deliveryById(db, profile, companyId, id);
  if (!row) throw notFound('delivery');
  const attempts = await db
    .selectFrom('attempts')
    .select(['n', 'started_at', 'duration_ms', 'status_code', 'error_kind', 'error_message', 'response_excerpt'])
    .where('delivery_id', '=', id)
    .where('company_id', '=', companyId)
    // Attempts lie in spans by `started_at` on PostgreSQL, and none starts before its delivery was made.
    .$if(profile.partitionedHistory, (q) => q.where('started_at', '>=', Number(row.created_at) - CLOCKS_APART_MS))
    .orderBy('n')
    .execute();
  return {
    ...viewOf(row),
    attempts: attempts.map((a) => ({
      n: Number(a.n),
      started_at: iso(a.started_at),
      duration_ms: Number(a.duration_ms),
      status_code: a.status_code === null ? null : Number(a.status_code),
      error_kind: a.error_kind,
      error_message: a.error_message,
      response_excerpt: a.response_excerpt,
    })),
    payload: JSON.parse(row.body) as unknown,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Resend and recover

/** An endpoint delivery can only be resent while its endpoint exists and is on; the worker would skip it otherwise. */
async function assertEndpointCanReceive(tx: Tx, companyId: string, endpointId: string): Promise<void> {
  const endpoint = await tx
    .selectFrom('endpoints')
    .select(['enabled'])
    .where('id', '=', endpointId)
    .where('company_id', '=', companyId)
    .executeTakeFirst();
  if (!endpoint) throw new AppError('conflict', 'The endpoint of this delivery was deleted');
  if (endpoint.enabled !== 1)
    throw new AppError('conflict', 'The endpoint of this delivery is disabled; enable it first');
}

/** Sends a delivery again. Refused while it is pending or leased (an attempt is due or in flight). */
export async function resendDelivery(ctx: DomainContext, companyId: string, id: string): Promise<DeliveryView> {
  await transact(ctx, async (work) => {
    const { tx, now } = work;
    const d = await byIdNearItsTime(ctx.store.profile, id, (span) =>
      tx
        .selectFrom('deliveries')
        .selectAll()
        .where('id', '=', id)
        .where('company_id', '=', companyId)
        .$if(span !== null, (q) => q.where(madeWithin([span!.from, span!.to])))
        .executeTakeFirst(),
    );
    if (!d) throw notFound('delivery');
    const leased = d.lease_until !== null && d.lease_until > now;
    if (d.status === 'pending' || leased)
      throw new AppError('conflict', 'This delivery is already pending; an attempt is due or in progress');
    // Retention removes it (on PostgreSQL a delivered one goes with its span, up to a span after the window): sent
    // again, it would be back in the queue after retention had passed its event, and nothing would remove it.
    const company = await tx
      .selectFrom('companies')
      .select(['plan', 'retention_days', 'retention_minutes'])
      .where('id', '=', companyId)
      .executeTakeFirstOrThrow();
    if (Number(d.created_at) < retentionCutoff(now, company))
      throw new AppError(
        'conflict',
        "This delivery is older than the company's retention window and is being removed; it cannot be sent again",
      );
    if (d.endpoint_id) await assertEndpointCanReceive(tx, companyId, d.endpoint_id);
    // The queue repeats the status and lease conditions, so a worker that claimed the row meanwhile wins.
    if ((await requeue(ctx.store, work, companyId, [id], [d.status], [Number(d.created_at)])) === 0)
      throw new AppError('conflict', 'This delivery is already pending; an attempt is due or in progress');
  });
  return getDelivery(ctx, companyId, id);
}

/**
 * Resends every failed or dead delivery of one endpoint created at or after `since`. Deliveries leased by a worker
 * at this moment are skipped (their attempt is in flight) and counted, not failed: a batch returns results.
 */
export async function recoverSince(
  ctx: DomainContext,
  companyId: string,
  endpointId: string,
  since: number,
): Promise<{ resent: number; skipped: number }> {
  return transact(ctx, async (work) => {
    const { tx, now } = work;
    const endpoint = await tx
      .selectFrom('endpoints')
      .select(['enabled'])
      .where('id', '=', endpointId)
      .where('company_id', '=', companyId)
      .executeTakeFirst();
    if (!endpoint) throw notFound('webhook endpoint');
    if (endpoint.enabled !== 1)
      throw new AppError('conflict', 'This endpoint is disabled; enable it before recovering deliveries');

    const candidates = await tx
      .selectFrom('deliveries')
      .select(['id', 'lease_until'])
      .where('company_id', '=', companyId)
      .where('endpoint_id', '=', endpointId)
      .where('status', 'in', ['failed', 'dead'])
      .where('created_at', '>=', since)
      .execute();
    const free = candidates.filter((d) => d.lease_until === null || d.lease_until <= now);
    const resent = await requeue(
      ctx.store,
      work,
      companyId,
      free.map((d) => d.id),
      ['failed', 'dead'],
    );
    return { resent, skipped: candidates.length - resent };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The dashboard's chart

export type StatsBucket = 'hour' | 'day';
const BUCKET_MS: Record<StatsBucket, number> = { hour: 3_600_000, day: 86_400_000 };
/** Default window and the most buckets one answer may hold. */
const DEFAULT_WINDOW_MS: Record<StatsBucket, number> = { hour: 24 * 3_600_000, day: 30 * 86_400_000 };
const MAX_BUCKETS: Record<StatsBucket, number> = { hour: 31 * 24, day: 366 };

export interface StatsPoint {
  start: string;
  total: number;
  success: number;
  failed: number;
  /** Failures by error kind (timeout, http_status, connection_refused, …). */
  failed_by_kind: Record<string, number>;
}

/** Attempts of one company by outcome per hour or day, oldest bucket first, empty buckets included. */
export async function deliveryStats(
  ctx: DomainContext,
  companyId: string,
  opts: { since?: number; bucket: StatsBucket },
): Promise<{ bucket: StatsBucket; since: string; until: string; buckets: StatsPoint[] }> {
  const now = ctx.clock.now();
  const size = BUCKET_MS[opts.bucket];
  const first = Math.floor((opts.since ?? now - DEFAULT_WINDOW_MS[opts.bucket]) / size);
  const last = Math.floor(now / size);
  if (last - first + 1 > MAX_BUCKETS[opts.bucket]) {
    throw new AppError(
      'invalid_query',
      `since is too far back for bucket=${opts.bucket} (at most ${MAX_BUCKETS[opts.bucket]} buckets)`,
      { parameter: 'since' },
    );
  }
  // The bucket size is our constant, inlined so both databases do integer division on the bigint column.
  const bucketExpr = sql<number>`started_at / ${sql.lit(size)}`;
  const rows = await ctx.store.db
    .selectFrom('attempts')
    .select([bucketExpr.as('b'), 'error_kind', (eb) => eb.fn.countAll<number>().as('n')])
    .where('company_id', '=', companyId)
    .where('started_at', '>=', first * size)
    .groupBy([bucketExpr, 'error_kind'])
    .execute();

  const buckets = new Map<number, StatsPoint>();
  for (let b = Math.max(first, 0); b <= last; b++) {
    buckets.set(b, { start: iso(b * size), total: 0, success: 0, failed: 0, failed_by_kind: {} });
  }
  for (const r of rows) {
    const point = buckets.get(Number(r.b));
    if (!point) continue; // attempts stamped after `now` (clock skew between processes)
    const n = Number(r.n);
    point.total += n;
    if (r.error_kind === null) point.success += n;
    else {
      point.failed += n;
      point.failed_by_kind[r.error_kind] = (point.failed_by_kind[r.error_kind] ?? 0) + n;
    }
  }
  return {
    bucket: opts.bucket,
    since: iso(Math.max(first, 0) * size),
    until: iso(now),
    buckets: [...buckets.values()],
  };
}
