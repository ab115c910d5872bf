import { type Kysely } from 'kysely';

/**
 * Retention. `companies.retention_days` is the company's window for delivery history, the event feed and Shield
 * feedback (null: its plan's default). `companies.feed_start_seq` is where the company's feed begins: events at or
 * below it have left the feed (the pruning step moves it forward past events older than the window), so the feed's
 * count stays exact as `event_seq − feed_start_seq` and a cursor below it has expired.
 *
 * `retention_held` lists deliveries the pruning step passed while they were still unsettled (pending or leased):
 * they are removed once settled, without any scan of the history the step has already passed.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('companies').addColumn('retention_days', 'bigint').execute();
  await db.schema
    .alterTable('companies')
    .addColumn('feed_start_seq', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createTable('retention_held')
    .addColumn('delivery_id', 'text', (c) => c.primaryKey())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('event_id', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('retention_held_company').on('retention_held').columns(['company_id']).execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
