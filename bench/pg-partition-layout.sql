-- What a partitioned deliveries table costs the queue, measured before building it (docs/storage.md, "Partitioning
-- deliveries and events by time"; migration 0054 has since built the split by status, not the daily ranges). Three
-- tables with the columns and indexes of `deliveries` and the same rows (1M settled over ten days, 20k pending):
--   flat:        the one table before 0054, one heap and its indexes, the queue's indexes partial on unsettled rows;
--   flat_keyed:  the same with the unique index on idempotency_key that migration 0053 removed, so the index's cost
--                per row is measured beside it;
--   partitioned: list-partitioned by status (unsettled rows in a small hot partition that alone carries the queue's
--                indexes; settled rows in daily range partitions, which retention could drop whole), so a settle
--                moves the row out of the hot partition.
-- Each step runs on each table, alternating, inside the server (plpgsql), so the figures are the store's own cost per
-- row with no round trips: settling in batches of 50 (as the workers do), enqueueing in batches of 50, the claim's seek
-- per receiver (with the claim function's planner settings), and a lookup by id alone.
--
--   psql -X -q -At -h 127.0.0.1 -U postgres -d <a scratch database> -f bench/pg-partition-layout.sql
--
-- It works in a schema of its own and drops it at the end; about a minute here.
\set ON_ERROR_STOP on
set client_min_messages = warning;
drop schema if exists partition_layout_probe cascade;
create schema partition_layout_probe;
set search_path = partition_layout_probe;

create table flat (
  id text not null primary key, company_id text not null, event_id text not null, endpoint_id text,
  destination_id text, target text not null, status text not null, attempt_count bigint default 0 not null,
  next_attempt_at bigint, lease_until bigint, lease_owner text, idempotency_key text not null,
  last_status_code bigint, last_error text, created_at bigint not null, updated_at bigint not null,
  sequence_start bigint default 0 not null, order_key text, order_seq bigint
) with (fillfactor = 45);
create index flat_company_created on flat (company_id, created_at);
create index flat_due on flat (next_attempt_at, endpoint_id, destination_id, company_id) where status in ('pending', 'failed');
create index flat_due_by_receiver on flat (company_id, coalesce(endpoint_id, destination_id), next_attempt_at) where status in ('pending', 'failed');
create index flat_endpoint on flat (endpoint_id, created_at);
create index flat_event on flat (event_id);
create index flat_in_order on flat (endpoint_id, order_key, order_seq) where status in ('pending', 'failed') and order_key is not null;

create table flat_keyed (like flat including all) with (fillfactor = 45);
create unique index flat_keyed_idempotency on flat_keyed (idempotency_key);

-- A key on a partitioned table must hold its partition columns, so id is not unique here: that is one of the costs
-- the docs list.
create table partitioned (like flat including defaults) partition by list (status);
create table partitioned_hot partition of partitioned for values in ('pending', 'failed') with (fillfactor = 45);
create table partitioned_settled partition of partitioned default partition by range (created_at);
do $$ begin
  for d in 0..11 loop
    execute format('create table partitioned_s%s partition of partitioned_settled for values from (%s) to (%s)',
      d, 1764460800000 + d::bigint * 86400000, 1764460800000 + (d + 1)::bigint * 86400000);
  end loop;
end $$;
alter table partitioned add primary key (id, status, created_at);
create index on partitioned (company_id, created_at);
create index on partitioned (endpoint_id, created_at);
create index on partitioned (event_id);
create index partitioned_due on partitioned_hot (next_attempt_at, endpoint_id, destination_id, company_id);
create index partitioned_due_by_receiver on partitioned_hot (company_id, coalesce(endpoint_id, destination_id), next_attempt_at);

insert into flat (id, company_id, event_id, endpoint_id, target, status, attempt_count, idempotency_key, created_at, updated_at)
select 'dl_' || lpad(g::text, 9, '0'), 'co_' || (g % 20), 'ev_' || (g / 10), 'ep_' || (g % 200), 'http://x', 'succeeded', 1,
  'k' || g, 1764460800000 + g::bigint * 864, 1764460800000 + g::bigint * 864
from generate_series(1, 1000000) g;
insert into flat (id, company_id, event_id, endpoint_id, target, status, next_attempt_at, idempotency_key, created_at, updated_at)
select 'dp_' || lpad(g::text, 9, '0'), 'co_' || (g % 20), 'evp_' || (g / 10), 'ep_' || (g % 200), 'http://x', 'pending',
  1765324800000 + g, 'kp' || g, 1765324800000 + g, 1765324800000 + g
from generate_series(1, 20000) g;
insert into flat_keyed select * from flat;
insert into partitioned select * from flat;
vacuum analyze flat;
vacuum analyze flat_keyed;
vacuum analyze partitioned;
checkpoint;

-- The pending rows first..first+n-1 settled, 50 per statement.
create function settle(tbl text, first int, n int) returns text language plpgsql as $$
declare t0 timestamptz := clock_timestamp(); l0 pg_lsn := pg_current_wal_insert_lsn(); i int := first;
begin
  while i < first + n loop
    execute format('update %I set status = ''succeeded'', attempt_count = attempt_count + 1, next_attempt_at = null, '
      'lease_until = null, lease_owner = null, last_status_code = 200, updated_at = updated_at + 1 '
      'where id = any($1) and status in (''pending'', ''failed'')', tbl)
      using (select array_agg('dp_' || lpad(g::text, 9, '0')) from generate_series(i, i + 49) g);
    i := i + 50;
  end loop;
  return format('settle   %-11s %6s µs/row  %5s WAL bytes/row', tbl,
    round(extract(epoch from clock_timestamp() - t0) * 1e6 / n, 1), round(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), l0) / n));
end $$;

-- New pending rows first..first+n-1, 50 per statement.
create function enqueue(tbl text, first int, n int) returns text language plpgsql as $$
declare t0 timestamptz := clock_timestamp(); l0 pg_lsn := pg_current_wal_insert_lsn(); i int := first;
begin
  while i < first + n loop
    execute format('insert into %I (id, company_id, event_id, endpoint_id, target, status, next_attempt_at, '
      'idempotency_key, created_at, updated_at) '
      'select ''dn_'' || lpad(g::text, 9, ''0''), ''co_'' || (g %% 20), ''evn_'' || (g / 10), ''ep_'' || (g %% 200), '
      '''http://x'', ''pending'', 1765324900000 + g, ''kn'' || g, 1765324900000 + g, 1765324900000 + g '
      'from generate_series($1, $1 + 49) g', tbl) using i;
    i := i + 50;
  end loop;
  return format('enqueue  %-11s %6s µs/row  %5s WAL bytes/row', tbl,
    round(extract(epoch from clock_timestamp() - t0) * 1e6 / n, 1), round(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), l0) / n));
end $$;

-- The claim's step (a receiver's earliest due rows, with the claim function's planner settings) and a settled
-- delivery looked up by id alone (a resend, its attempts: every partition's key is probed), on the two layouts (the
-- removed index changes neither). Each table gets functions of its own made from this one text, so their statements
-- are static and their plans cached, as in the claim function; the same statement through `execute` would be planned
-- on every call.
do $make$
declare tbl text;
begin
  foreach tbl in array array['flat', 'partitioned'] loop
    execute format($fn$
      create function seek_%1$s(n int) returns text language plpgsql
      set enable_bitmapscan = off set enable_seqscan = off as $body$
      declare t0 timestamptz := clock_timestamp(); r record; c int := 0;
      begin
        for i in 1..n loop
          for r in select id from %1$I where status in ('pending', 'failed') and company_id = 'co_' || (i %% 20)
            and coalesce(endpoint_id, destination_id) = 'ep_' || (i %% 200) order by next_attempt_at limit 8 loop
            c := c + 1;
          end loop;
        end loop;
        return format('seek     %%-11s %%6s µs/seek (%%s rows)', %1$L,
          round(extract(epoch from clock_timestamp() - t0) * 1e6 / n, 1), c);
      end $body$;

      create function by_id_%1$s(n int) returns text language plpgsql as $body$
      declare t0 timestamptz := clock_timestamp(); v text;
      begin
        for i in 1..n loop
          select status into v from %1$I where id = 'dl_' || lpad((i * 97 %% 1000000 + 1)::text, 9, '0');
        end loop;
        return format('by id    %%-11s %%6s µs', %1$L, round(extract(epoch from clock_timestamp() - t0) * 1e6 / n, 1));
      end $body$;
    $fn$, tbl);
  end loop;
end $make$;

select settle('flat_keyed', 1, 5000);
select settle('flat', 1, 5000);
select settle('partitioned', 1, 5000);
select settle('partitioned', 5001, 5000);
select settle('flat', 5001, 5000);
select settle('flat_keyed', 5001, 5000);
select enqueue('flat_keyed', 1, 5000);
select enqueue('flat', 1, 5000);
select enqueue('partitioned', 1, 5000);
select enqueue('partitioned', 5001, 5000);
select enqueue('flat', 5001, 5000);
select enqueue('flat_keyed', 5001, 5000);
vacuum analyze flat;
vacuum analyze flat_keyed;
vacuum analyze partitioned;
select seek_flat(20000);
select seek_partitioned(20000);
select seek_partitioned(20000);
select seek_flat(20000);
select by_id_flat(20000);
select by_id_partitioned(20000);
select by_id_partitioned(20000);
select by_id_flat(20000);

reset search_path;
drop schema partition_layout_probe cascade;
