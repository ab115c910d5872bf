import { PostgresAdapter, sql, type Kysely } from 'kysely';
import { installPgQueueFunctions } from '../../queue/pg-functions.js';

/**
 * PostgreSQL: `deliveries` split by status into the queue and the settled history, so the queue stays as small as
 * its backlog however much history there is.
 *
 * - `deliveries_queue` holds the rows still to be sent (pending, failed): every claim, lease write and settle works
 *   there, with its own small indexes, and a vacuum of it cleans its indexes as well as its rows. In one table, the
 *   queue's partial indexes kept a settled row's old entry until a vacuum that cleans indexes, which PostgreSQL skips
 *   while dead versions sit on under 2% of the table's pages: on a store with millions of settled deliveries the
 *   claim read more of them with every delivery settled.
 * - `deliveries_settled` holds the rest (success, dead): rows that arrive and, unless resent, are never written
 *   again, so it is packed full (the queue keeps room on each page for its lease writes to stay on the page).
 *
 * A settle moves its row from one to the other, and a resend moves it back. The key is (id, status): a key on a
 * partitioned table must contain the partition columns (ids are unique by their generator). The indexes are the
 * same, by the same names; the partial ones hold entries in the queue's partition only.
 *
 * The rows are copied once, in the migration's transaction: plan for its time on a large store (roughly the time
 * to `INSERT … SELECT` the table). SQLite keeps one table: its queue reads the partial indexes, which lose a row's
 * entry in the statement that settles it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`alter table deliveries rename to deliveries_unpartitioned`.execute(db);
  await sql`alter table deliveries_unpartitioned drop constraint deliveries_pkey`.execute(db);
  for (const index of INDEXES) await sql`drop index ${sql.id(index.name)}`.execute(db);
  await sql`create table deliveries (like deliveries_unpartitioned including defaults) partition by list (status)`.execute(
    db,
  );
  await sql`
    create table deliveries_queue partition of deliveries for values in ('pending', 'failed')
    with (fillfactor = 45, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)`.execute(db);
  await sql`
    create table deliveries_settled partition of deliveries for values in ('success', 'dead')
    with (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)`.execute(db);
  await sql`insert into deliveries select * from deliveries_unpartitioned`.execute(db);
  await sql`drop table deliveries_unpartitioned`.execute(db);
  await sql`alter table deliveries add primary key (id, status)`.execute(db);
  for (const index of INDEXES)
    await sql`create index ${sql.id(index.name)} on deliveries ${sql.raw(index.on)}`.execute(db);
  await sql`analyze deliveries`.execute(db);
  // The queue's functions name the queue's statuses in their writes, so each reads the queue's partition only.
  await installPgQueueFunctions(db);
}

/** The indexes of `deliveries` as migrations 0001–0053 left them, made again on the partitioned table. */
const INDEXES = [
  { name: 'deliveries_company_created', on: '(company_id, created_at)' },
  { name: 'deliveries_endpoint', on: '(endpoint_id, created_at)' },
  { name: 'deliveries_event', on: '(event_id)' },
  {
    name: 'deliveries_due',
    on: `(next_attempt_at, endpoint_id, destination_id, company_id) where status in ('pending', 'failed')`,
  },
  {
    name: 'deliveries_due_by_receiver',
    on: `(company_id, coalesce(endpoint_id, destination_id), next_attempt_at) where status in ('pending', 'failed')`,
  },
  {
    name: 'deliveries_in_order',
    on: `(endpoint_id, order_key, order_seq) where status in ('pending', 'failed') and order_key is not null`,
  },
] as const;

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
