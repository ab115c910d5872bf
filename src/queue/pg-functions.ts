import { sql, type Kysely, type RawBuilder } from 'kysely';
import { dueAt, EVENT_STATUS_OF_DELIVERIES, RECEIVER } from './conditions.js';

/**
 * The queue's PostgreSQL functions: the one place their bodies are written. A migration installs them with
 * CREATE OR REPLACE; a change to a body here needs a new migration that calls installPgQueueFunctions again (an
 * older migration that called it then installs the newer text on a fresh database, which the later one repeats).
 *
 * Why functions at all: each turns a step that took several round trips into one, and pins the plan the step needs
 * (the planner sizes array parameters badly and statistics lag behind a growing backlog).
 */

/**
 * `claim_due_deliveries`: pick, lease and read the events in one statement.
 *
 * - It must walk `deliveries_due` in `next_attempt_at` order and stop after `p_limit` rows. With statistics taken
 *   while the table held few unsettled rows (a backlog builds faster than autoanalyze runs), the planner otherwise
 *   picks a bitmap scan of every due row plus a sort, whose cost grows with the backlog. An ordered index scan also
 *   marks the entries of settled rows dead as it passes them, so later claims skip them.
 * - SKIP LOCKED keeps concurrent workers on disjoint rows without waiting on each other.
 * - Fair across companies: companies the worker says hold their share are skipped like saturated receivers, and of
 *   the rows picked at most `p_per_company` per company (the earliest) are leased; the others' locks end with the
 *   statement and they stay due. A company with thousands of rows due first so fills one claim with its share at
 *   most, and the next claim, leaving it out, reaches the other companies' rows.
 * - The rows it locked are leased by their physical address (ctid, the row version the lock holds: nobody else can
 *   update it before this statement ends) instead of being looked up again in the primary key.
 * - It reads the claimed rows' events itself: it is volatile, so its statement runs on a newer snapshot than the
 *   query calling it, and a caller-side join could miss the event of a delivery committed in between. An event's
 *   body comes once per claim (on the first of its deliveries' rows), not once per delivery.
 * - The delivery travels as jsonb (a table-typed result column crashed PostgreSQL 15), which also keeps the
 *   function valid when columns are added to deliveries.
 */
const claimDueDeliveries = sql`
      with picked as (
        select ctid, company_id, next_attempt_at from deliveries
        where ${dueAt(sql.raw('p_now'))}
          and ${RECEIVER} <> all (p_excluded)
          and company_id <> all (p_excluded_companies)
        order by next_attempt_at
        limit p_limit
        for update skip locked
      ), fair as (
        select ctid from (
          select ctid, row_number() over (partition by company_id order by next_attempt_at) as rn from picked
        ) as ranked
        where rn <= p_per_company
      ), claimed as (
        update deliveries as d set lease_until = p_lease_until, lease_owner = p_owner
        from fair where d.ctid = fair.ctid
        returning to_jsonb(d.*) as delivery, d.event_id, d.next_attempt_at
      )
      select c.delivery, e.name,
        case when row_number() over (partition by c.event_id) = 1 then e.body end,
        e.created_at
      from claimed as c join events as e on e.id = c.event_id
      order by c.next_attempt_at
    `;

/**
 * `refresh_event_delivery_status`: events' delivery status recomputed under a lock on the event rows.
 *
 * Two workers settling sibling deliveries of one event each recompute the event's status from the deliveries they
 * can see; in one statement each sees the other's rows as still pending, and both write 'pending' for an event
 * whose deliveries all succeeded — for good. Here the event rows are locked first (in id order, so two callers
 * cannot deadlock), and the recomputation is a later statement of this volatile function, which under READ
 * COMMITTED takes a new snapshot: it sees every delivery write committed before the lock was granted. Whoever
 * recomputes last therefore sees everything. No write when the status is unchanged, and the events are named by id
 * on the updated side so the update reads only the batch's events.
 */
const refreshEventDeliveryStatus = sql`
    begin
      perform 1 from events where id = any(p_event_ids) order by id for update;
      update events set delivery_status = s.status
      from (
        select event_id,
          ${EVENT_STATUS_OF_DELIVERIES} as status
        from deliveries
        where event_id = any(p_event_ids)
        group by event_id
      ) as s
      where events.id = any(p_event_ids) and events.id = s.event_id and events.delivery_status <> s.status;
    end
    `;

/**
 * `record_delivery_successes`: a batch of successful attempts in one round trip and one transaction — the
 * deliveries (only where the caller still holds the lease), their attempt rows, their endpoints' failing streaks
 * cleared, then their events' delivery status under the events' row locks. As separate statements, a worker killed
 * between them left a fully delivered event 'pending' for good. The columns arrive as arrays, so the call's text is
 * the same for any batch size.
 */
const recordDeliverySuccesses = sql`
    declare
      v_applied text[];
      v_event_ids text[];
    begin
      with v as (
        select * from unnest(p_ids, p_owners, p_n, p_status_codes, p_finished_at, p_attempt_ids, p_company_ids,
                             p_started_at, p_duration_ms, p_excerpts, p_endpoint_ids)
          as v (id, owner, n, status_code, finished_at, attempt_id, company_id, started_at, duration_ms, excerpt, endpoint_id)
      ), upd as (
        update deliveries as d set
          status = 'success', next_attempt_at = null, attempt_count = v.n, lease_until = null, lease_owner = null,
          last_status_code = v.status_code, last_error = null, updated_at = v.finished_at
        from v
        where d.id = v.id and d.lease_owner = v.owner
        returning d.id, d.event_id
      ), att as (
        insert into attempts (id, delivery_id, company_id, n, started_at, duration_ms, status_code, error_kind, error_message, response_excerpt, keep_days)
        select v.attempt_id, v.id, v.company_id, v.n, v.started_at, v.duration_ms, v.status_code, null, null, v.excerpt,
          coalesce((select c.history_class from companies c where c.id = v.company_id), 0)
        from v join upd on upd.id = v.id
      ), ep as (
        update endpoints set failing_since = null
        where id in (select v.endpoint_id from v join upd on upd.id = v.id where v.endpoint_id is not null) and failing_since is not null
      )
      select array_agg(upd.id), array_agg(distinct upd.event_id) into v_applied, v_event_ids from upd;
      if v_event_ids is not null then
        perform refresh_event_delivery_status(v_event_ids);
      end if;
      return query select unnest(coalesce(v_applied, '{}'::text[]));
    end
    `;

/** Each function's body (what pg_proc.prosrc holds once installed), by name. */
export const PG_QUEUE_FUNCTION_BODIES: Readonly<Record<string, RawBuilder<unknown>>> = {
  claim_due_deliveries: claimDueDeliveries,
  refresh_event_delivery_status: refreshEventDeliveryStatus,
  record_delivery_successes: recordDeliverySuccesses,
};

/**
 * Installs (or replaces) the queue's functions. Sequential and bitmap scans are off inside them: their statements
 * take rows from array parameters or must keep an ordered index scan, and the planner, unable to size those, chose
 * to read whole tables, which took most of a batch's time once the tables held a few thousand rows.
 */
export async function installPgQueueFunctions(db: Kysely<unknown>): Promise<void> {
  await sql`
    create or replace function claim_due_deliveries(p_now bigint, p_limit integer, p_lease_until bigint, p_owner text, p_excluded text[],
      p_excluded_companies text[], p_per_company integer)
    returns table (delivery jsonb, event_name text, event_body text, event_created_at bigint)
    language sql volatile
    set enable_bitmapscan = off
    set enable_seqscan = off
    as $$${claimDueDeliveries}$$`.execute(db);
  await sql`
    create or replace function refresh_event_delivery_status(p_event_ids text[])
    returns void
    language plpgsql volatile
    set enable_seqscan = off
    as $$${refreshEventDeliveryStatus}$$`.execute(db);
  await sql`
    create or replace function record_delivery_successes(
      p_ids text[], p_owners text[], p_n integer[], p_status_codes integer[], p_finished_at bigint[], p_attempt_ids text[],
      p_company_ids text[], p_started_at bigint[], p_duration_ms bigint[], p_excerpts text[], p_endpoint_ids text[])
    returns setof text
    language plpgsql volatile
    set enable_seqscan = off
    as $$${recordDeliverySuccesses}$$`.execute(db);
}
