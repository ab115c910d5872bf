import { PostgresAdapter, sql, type Kysely } from 'kysely';
import { installPgQueueFunctions } from '../../queue/pg-functions.js';
import { DELIVERY_HISTORY, HISTORY_CLASSES, maintainHistoryPartitions } from '../history-partitions.js';

/**
 * PostgreSQL: delivered history in partitions that retention drops whole, as attempts are (migration 0039).
 *
 * ```
 * deliveries                        list (status), key (id, status, keep_days, created_at)
 * ├── deliveries_queue              ('pending', 'failed', 'dead')
 * └── deliveries_settled            ('success'), list (keep_days)
 *     ├── deliveries_settled_k7     (7), range (created_at): a partition per span, and _default
 *     ├── …_k30, …_k90, …_k365
 *     └── deliveries_settled_custom default: every other window, pruned row by row
 * ```
 *
 * - Delivered rows leave the queue's partition when they succeed, into their class's span (the delivery's
 *   `created_at` is its event's, so an event's deliveries share one span), and retention drops a span once it is a
 *   window old (src/storage/history-partitions.ts).
 * - Dead deliveries stay in the queue's partition: they are what a recover takes back, and they are few. That keeps
 *   an event's delivery status a read of the queue's partition alone (its unsettled and dead deliveries decide it;
 *   none left means every one succeeded), on the path every settle takes, instead of a probe of each span's index.
 * - The key holds the partition columns, as a key of a partitioned table must; ids are unique by their generator.
 *
 * The settled rows are copied once, in the migration's transaction, each with its company's class as it stands now.
 */
export async function up(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`alter table deliveries detach partition deliveries_settled`.execute(db);
  await sql`alter table deliveries_settled rename to deliveries_settled_before`.execute(db);
  await sql`alter table deliveries detach partition deliveries_queue`.execute(db);
  await sql`alter table deliveries drop constraint deliveries_pkey`.execute(db);
  for (const table of ['deliveries_queue', 'deliveries_settled_before']) {
    const { rows } = await sql<{ name: string }>`
      select conname as name from pg_constraint where conrelid = ${table}::regclass and contype = 'p'`.execute(db);
    for (const { name } of rows) await sql`alter table ${sql.table(table)} drop constraint ${sql.id(name)}`.execute(db);
  }
  await sql`alter table deliveries add primary key (id, status, keep_days, created_at)`.execute(db);
  await sql`alter table deliveries attach partition deliveries_queue for values in ('pending', 'failed', 'dead')`.execute(
    db,
  );
  await sql`
    create table deliveries_settled partition of deliveries for values in ('success')
    partition by list (keep_days)`.execute(db);
  for (const { days } of HISTORY_CLASSES) {
    const parent = sql.table(`deliveries_settled_k${days}`);
    await sql`create table ${parent} partition of deliveries_settled for values in (${sql.lit(days)})
      partition by range (created_at)`.execute(db);
    await sql`create table ${sql.table(`deliveries_settled_k${days}_default`)} partition of ${parent} default`.execute(
      db,
    );
  }
  await sql`create table deliveries_settled_custom partition of deliveries_settled default`.execute(db);
  // Spans for the rows about to be copied; a new store gets them from the retention step's first run.
  const { rows } = await sql<{
    n: number;
  }>`select count(*) as n from (select 1 from deliveries_settled_before limit 1) as one`.execute(db);
  if (Number(rows[0]?.n) > 0) await maintainHistoryPartitions(db, Date.now(), [], DELIVERY_HISTORY);
  const { rows: columns } = await sql<{ name: string }>`
    select attname as name from pg_attribute
    where attrelid = 'deliveries_settled_before'::regclass and attnum > 0 and not attisdropped order by attnum`.execute(
    db,
  );
  const names = sql.join(columns.map((c) => sql.ref(c.name)));
  const values = sql.join(
    columns.map((c) => (c.name === 'keep_days' ? sql`coalesce(c.history_class, 0)` : sql.ref(`d.${c.name}`))),
  );
  await sql`
    insert into deliveries (${names})
    select ${values} from deliveries_settled_before d left join companies c on c.id = d.company_id`.execute(db);
  await sql`drop table deliveries_settled_before`.execute(db);
  await sql`analyze deliveries`.execute(db);
  // An event's delivery status is now read from the queue's partition alone.
  await installPgQueueFunctions(db);
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
