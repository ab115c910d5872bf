import { PostgresAdapter, sql, type Kysely } from 'kysely';
import { installPgQueueFunctions } from '../../queue/pg-functions.js';

/**
 * Endpoints may ask for their deliveries in order per complaint, and for a pace.
 *
 * - `endpoints.ordering` ('none' | 'per_complaint'); `rate_limit_per_s` (null: no limit) with the shared one-second
 *   window every worker process takes from (`rate_window_start`, `rate_window_used`); `held_until`, set when the
 *   receiver answers 429 with Retry-After: none of its deliveries start before then.
 * - `deliveries.order_key` (the complaint, on an ordered endpoint; null otherwise) and `order_seq` (the event's
 *   sequence, which is the company's commit order). Both never change after insert, so a lease write on PostgreSQL
 *   stays a HOT update.
 * - `deliveries_in_order`: the claim asks, for each ordered row it passes, whether an earlier row of the same
 *   complaint to the same endpoint is still unsettled; this partial index answers that from the unsettled ordered rows
 *   alone.
 * - PostgreSQL: `claim_due_deliveries` is installed again with the ordering condition.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('endpoints')
    .addColumn('ordering', 'text', (c) => c.notNull().defaultTo('none'))
    .execute();
  await db.schema.alterTable('endpoints').addColumn('rate_limit_per_s', 'integer').execute();
  await db.schema.alterTable('endpoints').addColumn('rate_window_start', 'bigint').execute();
  await db.schema
    .alterTable('endpoints')
    .addColumn('rate_window_used', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('endpoints').addColumn('held_until', 'bigint').execute();
  await db.schema.alterTable('deliveries').addColumn('order_key', 'text').execute();
  await db.schema.alterTable('deliveries').addColumn('order_seq', 'bigint').execute();
  await sql`create index deliveries_in_order on deliveries (endpoint_id, order_key, order_seq) where status in ('pending', 'failed') and order_key is not null`.execute(
    db,
  );
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await installPgQueueFunctions(db);
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
