import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * PostgreSQL only: the queue's writes kept to index lookups and HOT updates, whatever the tables' size.
 *
 * - `fillfactor = 45` on deliveries (was 70, migration 0004). A claim leases every row of a page at once (rows are
 *   claimed in creation order), and a lease write is HOT only if the page has room for the new row version: at 70 a
 *   page had room for about a third of its rows, so most leases were ordinary updates with a new entry in each of
 *   the table's six indexes (perf: a third of the claim's time in index inserts and the page cleanup they cause).
 *   At 45 every row of a page can take its lease write in place. It applies to pages written from now on.
 * - `record_delivery_successes` and `refresh_event_delivery_status` with sequential scans off. Their statements take
 *   their rows from array parameters, which the planner cannot size: with a table of some thousands of rows it
 *   joined the batch by reading every delivery (a sequential scan per batch) and every event (a full scan of the
 *   primary key), measured at 10 ms of a 13 ms batch. The refresh also names the events by id on the updated side,
 *   so the update reads only the batch's events.
 * - `claim_due_deliveries` leases the rows it locked by their physical address (ctid, the row version the lock
 *   holds: nobody else can update it before this statement ends) instead of looking each one up again in the
 *   primary key, and sends an event's body once per claim rather than once per delivery — with ten endpoints, nine
 *   in ten copies were the same few hundred bytes for the server to send and the worker to parse.
 */
export async function up(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`alter table deliveries set (fillfactor = 45)`.execute(db);
  await sql`
    alter function record_delivery_successes(text[], text[], integer[], integer[], bigint[], text[], text[], bigint[], bigint[], text[], text[])
    set enable_seqscan = off`.execute(db);
  await sql`
    create or replace function claim_due_deliveries(p_now bigint, p_limit integer, p_lease_until bigint, p_owner text, p_excluded text[])
    returns table (delivery jsonb, event_name text, event_body text, event_created_at bigint)
    language sql volatile
    set enable_bitmapscan = off
    set enable_seqscan = off
    as $$
      with picked as (
        select ctid from deliveries
        where status in ('pending', 'failed') and next_attempt_at <= p_now
          and (lease_until is null or lease_until <= p_now)
          and coalesce(endpoint_id, destination_id) <> all (p_excluded)
        order by next_attempt_at
        limit p_limit
        for update skip locked
      ), claimed as (
        update deliveries as d set lease_until = p_lease_until, lease_owner = p_owner
        from picked where d.ctid = picked.ctid
        returning to_jsonb(d.*) as delivery, d.event_id, d.next_attempt_at
      )
      select c.delivery, e.name,
        case when row_number() over (partition by c.event_id) = 1 then e.body end,
        e.created_at
      from claimed as c join events as e on e.id = c.event_id
      order by c.next_attempt_at
    $$`.execute(db);
  await sql`
    create or replace function refresh_event_delivery_status(p_event_ids text[])
    returns void
    language plpgsql volatile
    set enable_seqscan = off
    as $$
    begin
      perform 1 from events where id = any(p_event_ids) order by id for update;
      update events set delivery_status = s.status
      from (
        select event_id,
          case max(case status when 'dead' then 4 when 'failed' then 3 when 'pending' then 2 else 1 end)
            when 4 then 'dead' when 3 then 'failed' when 2 then 'pending' else 'success' end as status
        from deliveries
        where event_id = any(p_event_ids)
        group by event_id
      ) as s
      where events.id = any(p_event_ids) and events.id = s.event_id and events.delivery_status <> s.status;
    end
    $$`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
