import { PostgresAdapter, sql, type Kysely } from 'kysely';

/**
 * PostgreSQL: the queue's partial indexes belong to the queue's partition alone.
 *
 * Each of them holds only statuses that live in `deliveries_queue` (pending, failed, dead). Made on the partitioned
 * `deliveries`, every delivered span (migration 0059) carried an empty copy of each, and the planner weighs every
 * index of every partition a read cannot rule out: the API's list of a company's deliveries and a delivery by id
 * name no time, so they are planned over all the spans. Made on `deliveries_queue` under the same names, the claim,
 * the next-due lookup, ordered delivery and bulk recover find the same index, and new spans are made without them.
 */
export async function up(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  for (const { name, on } of QUEUE_INDEXES) {
    await sql`drop index ${sql.id(name)}`.execute(db);
    await sql`create index ${sql.id(name)} on deliveries_queue ${sql.raw(on)}`.execute(db);
  }
  // The partition is the backlog alone, so this is quick; without statistics the planner chose a sort over the
  // due index for the next-due lookup.
  await sql`analyze deliveries_queue`.execute(db);
}

/** As migrations 0054 and 0057 made them on `deliveries`. */
const QUEUE_INDEXES = [
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
  { name: 'deliveries_recoverable', on: `(company_id, created_at, id) where status in ('failed', 'dead')` },
] as const;

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
