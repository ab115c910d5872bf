import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * PostgreSQL only: a batch of successful attempts written in one round trip and one transaction —
 * `record_delivery_successes(…)` updates the deliveries (only where the caller still holds the lease), inserts the
 * attempt rows, clears the endpoints' failing streaks, then recomputes the events' delivery status under their row
 * locks (refresh_event_delivery_status, migration 0006). As two statements, a worker killed between them left a
 * fully delivered event 'pending' for good; as a transaction around them, a batch cost four round trips. The
 * columns arrive as arrays, so the call's text is the same for any batch size.
 */
export async function up(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`
    create function record_delivery_successes(
      p_ids text[], p_owners text[], p_n integer[], p_status_codes integer[], p_finished_at bigint[], p_attempt_ids text[],
      p_company_ids text[], p_started_at bigint[], p_duration_ms bigint[], p_excerpts text[], p_endpoint_ids text[])
    returns setof text
    language plpgsql volatile
    as $$
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
        insert into attempts (id, delivery_id, company_id, n, started_at, duration_ms, status_code, error_kind, error_message, response_excerpt)
        select v.attempt_id, v.id, v.company_id, v.n, v.started_at, v.duration_ms, v.status_code, null, null, v.excerpt
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
    $$`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
