import { PostgresAdapter, sql, type Kysely } from 'kysely';
import { installPgQueueFunctions } from '../../queue/pg-functions.js';
import { HISTORY_CLASSES, maintainHistoryPartitions } from '../history-partitions.js';

/**
 * Attempt rows in partitions that retention drops whole (src/storage/history-partitions.ts has the layout).
 *
 * `companies.history_class` is the company's retention class: its window in days when that is one of the classes,
 * else 0 (custom). Each attempt row carries the class its company had when it was written, in `attempts.keep_days`.
 * Both columns exist on both stores so the statements writing attempts are the same; only PostgreSQL partitions by
 * them (SQLite prunes in small batches and has no partitions).
 *
 * On PostgreSQL the table is rebuilt as a partitioned one and its rows copied in, each with its company's class as
 * the plans' windows stand now (free 7 days, starter 30, professional 90, enterprise 365; the retention step keeps
 * the class in step with later changes). The old table has no primary key in the new layout: a key on a
 * partitioned table must contain the partition columns, and nothing looks an attempt up by its id.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('companies')
    .addColumn('history_class', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) {
    await db.schema
      .alterTable('attempts')
      .addColumn('keep_days', 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
    return;
  }
  const classes = sql.raw(HISTORY_CLASSES.map((c) => c.days).join(', '));
  await sql`
    update companies set history_class = coalesce(w.days, 0)
    from (select id, case
        when retention_minutes is not null then case when retention_minutes % 1440 = 0 then retention_minutes / 1440 end
        when retention_days is not null then retention_days
        else case plan when 'free' then 7 when 'starter' then 30 when 'professional' then 90 when 'enterprise' then 365 end
      end as days from companies) as w
    where companies.id = w.id and w.days in (${classes})`.execute(db);

  await sql`alter table attempts rename to attempts_unpartitioned`.execute(db);
  await sql`alter table attempts_unpartitioned drop constraint attempts_pkey`.execute(db);
  await sql`drop index attempts_delivery`.execute(db);
  await sql`drop index attempts_company_started`.execute(db);
  await sql`
    create table attempts (
      id text not null,
      delivery_id text not null,
      company_id text not null,
      n bigint not null,
      started_at bigint not null,
      duration_ms bigint not null,
      status_code bigint,
      error_kind text,
      error_message text,
      response_excerpt text,
      keep_days bigint not null default 0
    ) partition by list (keep_days)`.execute(db);
  for (const { days } of HISTORY_CLASSES) {
    await sql`create table ${sql.table(`attempts_k${days}`)} partition of attempts for values in (${sql.lit(days)})
      partition by range (started_at)`.execute(db);
    await sql`create table ${sql.table(`attempts_k${days}_default`)} partition of ${sql.table(`attempts_k${days}`)} default`.execute(
      db,
    );
  }
  await sql`create table attempts_custom partition of attempts default`.execute(db);
  await sql`create index attempts_delivery on attempts (delivery_id, n)`.execute(db);
  await sql`create index attempts_company_started on attempts (company_id, started_at)`.execute(db);
  // Spans for the rows about to be copied. An empty store (a new one) gets its spans from the retention step's first
  // run instead: until then its rows wait in the class's default partition, which that run moves into their span.
  const { rows } = await sql<{
    n: number;
  }>`select count(*) as n from (select 1 from attempts_unpartitioned limit 1) as one`.execute(db);
  if (Number(rows[0]?.n) > 0) await maintainHistoryPartitions(db, Date.now());
  await sql`
    insert into attempts (id, delivery_id, company_id, n, started_at, duration_ms, status_code, error_kind,
      error_message, response_excerpt, keep_days)
    select a.id, a.delivery_id, a.company_id, a.n, a.started_at, a.duration_ms, a.status_code, a.error_kind,
      a.error_message, a.response_excerpt, coalesce(c.history_class, 0)
    from attempts_unpartitioned a left join companies c on c.id = a.company_id`.execute(db);
  await sql`drop table attempts_unpartitioned`.execute(db);
  await sql`analyze attempts`.execute(db);
  // The batch of successes now writes each attempt's class.
  await installPgQueueFunctions(db);
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
