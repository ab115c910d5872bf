import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * PostgreSQL only: an event's delivery status, recomputed under a lock on the event's row.
 *
 * Two workers settling sibling deliveries of one event each recompute the event's status from the deliveries they
 * can see. In one statement (or a transaction whose snapshot predates the other's commit) each sees the other's
 * rows as still pending, and both write 'pending' for an event whose deliveries all succeeded — for good. Here
 * the event rows are locked first (in id order, so two callers cannot deadlock), and the recomputation is a later
 * statement of this volatile function, which under READ COMMITTED takes a new snapshot: it sees every delivery
 * write committed before the lock was granted. Whoever recomputes last therefore sees everything.
 * SQLite has one writer at a time and needs none of this.
 */
export async function up(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`
    create function refresh_event_delivery_status(p_event_ids text[])
    returns void
    language plpgsql volatile
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
      where events.id = s.event_id and events.delivery_status <> s.status;
    end
    $$`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
