import { sql, type RawBuilder } from 'kysely';

/**
 * The queue's conditions, written once and used by both stores' statements and by the PostgreSQL functions
 * (pg-functions.ts), so a claim on SQLite and a claim on PostgreSQL cannot disagree about which rows are due.
 *
 * Statuses are literals, never parameters: that is what lets SQLite use the partial index `deliveries_due` (its
 * WHERE must be implied by the query's, and a bound parameter proves nothing), so the queue's statements read the
 * unsettled rows only instead of scanning every delivery ever made.
 */

const UNSETTLED_STATUSES = sql.raw(`('pending', 'failed')`);

/**
 * A row still to be sent: pending (never tried, or resent) or failed (a retry is scheduled). On PostgreSQL these are
 * the rows of the queue's partition (migration 0054), so a statement that names them reads that partition only.
 */
export const UNSETTLED = sql<boolean>`status in ${UNSETTLED_STATUSES}`;

const SETTLED_STATUSES = sql.raw(`('success', 'dead')`);

/**
 * UNSETTLED for statements that find their rows by id (leases, settles, giving rows back): the same rows, written
 * as "not settled" so that PostgreSQL still reads the queue's partition only (pruning takes NOT IN on a list
 * partition) but cannot take the condition for the predicate of the queue's partial indexes. Given that, a planner
 * whose statistics were taken while the partition was small chose to read `deliveries_due` whole and filter it for
 * the ids, where the key finds them: seconds per claim behind a backlog of 500,000 rows.
 */
export const UNSETTLED_BY_ID = sql<boolean>`status not in ${SETTLED_STATUSES}`;

/**
 * A delivery that has not succeeded: unsettled, or dead. On PostgreSQL these are the rows of the queue's partition
 * (migration 0059), which is why an event's delivery status can be read from them alone: the worst of them, and
 * success when none is left (EVENT_STATUS_OF_DELIVERIES over no rows is success).
 */
export const NOT_DELIVERED = sql<boolean>`status in ('pending', 'failed', 'dead')`;

/**
 * Deliveries made between the first and the last of these times. A delivery is made with its event and takes its
 * `created_at`, so a page or batch of events names the times of all their deliveries. On PostgreSQL the delivered
 * history is in spans by `created_at` (migration 0059): with the bounds named, a read by event or by id reads the
 * spans they cover, where without them it probes every span's index.
 */
export const madeWithin = (times: readonly number[]) =>
  sql<boolean>`created_at between ${Math.min(...times)} and ${Math.max(...times)}`;

/**
 * A delivery a recover may send again: failed or dead. These are the rows of the partial index
 * `deliveries_recoverable` (company_id, created_at, id), which SQLite uses only when a statement names them so.
 * Written for one table's rows, as a statement that reads them joins other tables.
 */
export const recoverableIn = (table: string) => sql<boolean>`${sql.ref(`${table}.status`)} in ('failed', 'dead')`;

/** UNSETTLED_BY_ID for one table's rows, in a statement where another row source has a status too. */
export const unsettledByIdIn = (table: string) =>
  sql<boolean>`${sql.ref(`${table}.status`)} not in ${SETTLED_STATUSES}`;

/**
 * Rows the delivery workers send: all but those of `escalatr listen`'s development endpoints (target 'listener'),
 * which the listener's own connection claims and sends (webhooks/listener/).
 */
export const SENT_BY_WORKERS = sql<boolean>`target <> 'listener'`;

/**
 * An unsettled row is claimable at `now` when its time has come and no live lease covers it — so a crashed worker's
 * rows come back when its lease runs out (at-least-once).
 */
export const readyAt = (now: RawBuilder<number> | number): RawBuilder<boolean> =>
  sql<boolean>`next_attempt_at <= ${now} and (lease_until is null or lease_until <= ${now})`;

/**
 * A row that may go now as far as its order goes: not ordered (order_key null), or no earlier row (by event
 * sequence) of the same complaint to the same endpoint is still unsettled — pending, failed and waiting for a retry,
 * or leased and sending. So one complaint's deliveries to an ordered endpoint go one at a time in commit order, a
 * failing one holds back only its own complaint's later ones, and a worker killed mid-attempt holds them back until
 * its lease runs out and the row is sent again. Written against the unaliased `deliveries` of the statement it sits
 * in; the partial index `deliveries_in_order` answers the inner query.
 */
export const IN_ORDER = sql<boolean>`(deliveries.order_key is null or not exists (
            select 1 from deliveries as prior
            where prior.endpoint_id = deliveries.endpoint_id and prior.order_key = deliveries.order_key
              and prior.order_seq < deliveries.order_seq and prior.status in ('pending', 'failed')
              and prior.order_key is not null))`;

/** The receiver a delivery counts against for per-receiver caps: its endpoint, or its Shield destination. */
export const RECEIVER = sql<string>`coalesce(endpoint_id, destination_id)`;

/** The same receiver, for a row already read (must agree with RECEIVER). */
export const receiverOf = (d: { endpoint_id: string | null; destination_id: string | null }): string =>
  d.endpoint_id ?? d.destination_id ?? 'none';

/**
 * An event's delivery status summarises its deliveries (grouped by event): dead beats failed beats pending beats
 * success.
 */
export const EVENT_STATUS_OF_DELIVERIES = sql<string>`case max(case status when 'dead' then 4 when 'failed' then 3 when 'pending' then 2 else 1 end)
          when 4 then 'dead' when 3 then 'failed' when 2 then 'pending' else 'success' end`;
