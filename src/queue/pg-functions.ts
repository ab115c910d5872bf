import { sql, type Kysely, type RawBuilder } from 'kysely';
import {
  EVENT_STATUS_OF_DELIVERIES,
  NOT_DELIVERED,
  IN_ORDER,
  readyAt,
  RECEIVER,
  SENT_BY_WORKERS,
  UNSETTLED,
  UNSETTLED_BY_ID,
} from './conditions.js';

/**
 * The queue's PostgreSQL functions: the one place their bodies are written. A migration installs them with
 * CREATE OR REPLACE; a change to a body here needs a new migration that calls installPgQueueFunctions again (an
 * older migration that called it then installs the newer text on a fresh database, which the later one repeats).
 *
 * Why functions at all: each turns a step that took several round trips into one, and pins the plan the step needs
 * (the planner sizes array parameters badly and statistics lag behind a growing backlog).
 */

/**
 * `claim_due_deliveries`: walk the receivers, lease and read the events in one call — the loop of claim.ts's
 * SQLite walk (walkReceivers), step for step.
 *
 * - The walk goes company by company and, within one, receiver by receiver, on `deliveries_due_by_receiver`
 *   (unsettled rows by company, receiver and due time): each step is one index probe, so a company or receiver left
 *   out costs a probe whatever its backlog, and a receiver's earliest due rows are read from the front of its own
 *   line. It starts after the position the caller gives (where its previous claim stopped), wraps round once, and
 *   stops when `p_limit` rows are picked; it takes at most `p_per_receiver` rows of one receiver and `p_per_company`
 *   of one company.
 * - SKIP LOCKED keeps concurrent workers on disjoint rows without waiting on each other; the picked rows stay locked
 *   until the lease is written at the end.
 * - Ordered rows (IN_ORDER) wait for the earlier rows of their complaint to settle. Two workers cannot both take
 *   consecutive rows of one complaint: the later one is not claimable while the earlier one is unsettled, and a
 *   statement's snapshot can only show the earlier one settled once that is committed.
 * - It reads the claimed rows' events itself: it is volatile, so its statements run on a newer snapshot than the
 *   query calling it, and a caller-side join could miss the event of a delivery committed in between. An event's
 *   body comes once per claim (on the first of its deliveries' rows), not once per delivery.
 * - The delivery travels as jsonb (a table-typed result column crashed PostgreSQL 15), which also keeps the
 *   function valid when columns are added to deliveries. Every row carries where the walk stopped.
 * - Every statement names the queue's statuses, so each reads the queue's partition of deliveries only (migration
 *   0054): the walk's with UNSETTLED, which its partial indexes answer; the lease write, by id, with
 *   UNSETTLED_BY_ID, which only the key can.
 */
const claimDueDeliveries = sql`
    declare
      v_company text := p_after_company;
      v_receiver text := p_after_receiver;
      v_next_receiver text;
      v_first_due bigint;
      v_wrapped boolean := false;
      v_company_taken integer := 0;
      v_ids text[] := '{}';
      v_picked text[];
    begin
      loop
        v_next_receiver := null;
        if v_company <> all (p_excluded_companies) and v_company_taken < p_per_company then
          select ${RECEIVER}, next_attempt_at into v_next_receiver, v_first_due from deliveries
          where ${UNSETTLED} and company_id = v_company and ${RECEIVER} > v_receiver
          order by ${RECEIVER}, next_attempt_at limit 1;
        end if;
        if v_next_receiver is null then
          select company_id into v_company from deliveries
          where ${UNSETTLED} and company_id > v_company
          order by company_id limit 1;
          if v_company is null then
            exit when v_wrapped;
            v_wrapped := true;
            v_company := '';
          end if;
          v_receiver := '';
          v_company_taken := 0;
          continue;
        end if;
        v_receiver := v_next_receiver;
        exit when v_wrapped and (p_after_company, p_after_receiver) < (v_company, v_receiver);
        if v_first_due <= p_now and v_receiver <> all (p_excluded) then
          select array_agg(id) into v_picked from (
            select id from deliveries
            where ${UNSETTLED} and company_id = v_company and ${RECEIVER} = v_receiver and ${readyAt(sql.raw('p_now'))}
              and ${SENT_BY_WORKERS} and ${IN_ORDER}
            order by next_attempt_at
            limit least(p_limit - cardinality(v_ids), p_per_company - v_company_taken, p_per_receiver)
            for update skip locked
          ) as picked;
          if v_picked is not null then
            v_ids := v_ids || v_picked;
            v_company_taken := v_company_taken + cardinality(v_picked);
            exit when cardinality(v_ids) >= p_limit;
          end if;
        end if;
      end loop;
      return query
        with claimed as (
          update deliveries as d set lease_until = p_lease_until, lease_owner = p_owner
          where d.id = any (v_ids) and ${UNSETTLED_BY_ID}
          returning to_jsonb(d.*) as delivery, d.event_id, d.next_attempt_at
        )
        select c.delivery, e.name,
          case when row_number() over (partition by c.event_id) = 1 then e.body end,
          e.created_at, v_company, v_receiver
        from claimed as c join events as e on e.id = c.event_id
        order by c.next_attempt_at;
    end
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
 *
 * Only an event's deliveries that have not succeeded are read: they decide its status, and they are the queue's
 * partition (migration 0059), where those that succeeded are spread over the spans of the delivered history. An
 * event with none left is a success. An event with no delivery at all is `none` and stays so.
 */
const refreshEventDeliveryStatus = sql`
    begin
      perform 1 from events where id = any(p_event_ids) order by id for update;
      update events set delivery_status = s.status
      from (
        select e.id as event_id,
          (select ${EVENT_STATUS_OF_DELIVERIES} from deliveries where event_id = e.id and ${NOT_DELIVERED}) as status
        from unnest(p_event_ids) as e (id)
      ) as s
      where events.id = any(p_event_ids) and events.id = s.event_id and events.delivery_status not in ('none', s.status);
    end
    `;

/**
 * `record_delivery_successes`: a batch of successful attempts in one round trip and one transaction — the
 * deliveries (only where the caller still holds the lease), their attempt rows, their endpoints' failing streaks
 * cleared, then their events' delivery status under the events' row locks. As separate statements, a worker killed
 * between them left a fully delivered event 'pending' for good. The columns arrive as arrays, so the call's text is
 * the same for any batch size. A batch reaching an endpoint that was reported failing or disabled (`ops_notice`)
 * writes nothing and returns one null: its recovery is announced by the caller's own transaction (queue/record.ts),
 * which then takes the batch. Asked here rather than by a statement of its own, it costs no round trip.
 */
const recordDeliverySuccesses = sql`
    declare
      v_applied text[];
      v_event_ids text[];
    begin
      if exists (select 1 from endpoints where id = any(p_endpoint_ids) and ops_notice is not null) then
        return next null::text;
        return;
      end if;
      with v as (
        select * from unnest(p_ids, p_owners, p_n, p_status_codes, p_finished_at, p_attempt_ids, p_company_ids,
                             p_started_at, p_duration_ms, p_excerpts, p_endpoint_ids)
          as v (id, owner, n, status_code, finished_at, attempt_id, company_id, started_at, duration_ms, excerpt, endpoint_id)
      ), upd as (
        update deliveries as d set
          status = 'success', next_attempt_at = null, attempt_count = v.n, lease_until = null, lease_owner = null,
          last_status_code = v.status_code, last_error = null, updated_at = v.finished_at
        from v
        where d.id = v.id and d.lease_owner = v.owner and ${UNSETTLED_BY_ID}
        returning d.id, d.event_id
      ), att as (
        insert into attempts (id, delivery_id, company_id, n, started_at, duration_ms, status_code, error_kind, error_message, response_excerpt, event_id, keep_days)
        select v.attempt_id, v.id, v.company_id, v.n, v.started_at, v.duration_ms, v.status_code, null, null, v.excerpt, upd.event_id,
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
  // Older migrations call this too, on a fresh database before the columns the newest bodies name exist; the bodies
  // are checked when first called instead, by which time the later migration has installed them again. Local to the
  // migrations' transaction.
  await sql`select set_config('check_function_bodies', 'off', true)`.execute(db);
  await sql`
    create or replace function claim_due_deliveries(p_now bigint, p_limit integer, p_lease_until bigint, p_owner text, p_excluded text[],
      p_excluded_companies text[], p_per_company integer, p_per_receiver integer, p_after_company text,
      p_after_receiver text)
    returns table (delivery jsonb, event_name text, event_body text, event_created_at bigint, walk_company text,
      walk_receiver text)
    language plpgsql volatile
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
