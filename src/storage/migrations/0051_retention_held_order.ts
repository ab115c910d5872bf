import { type Kysely } from 'kysely';

/**
 * The retention step reads a company's held deliveries in id order, a page at a time. With an index on the company
 * alone each page read every held row of the company and sorted them: thousands of held rows (a worker far behind)
 * made every page cost milliseconds. The new index serves the page directly and covers the old one's lookups.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('retention_held_company_delivery')
    .on('retention_held')
    .columns(['company_id', 'delivery_id'])
    .execute();
  await db.schema.dropIndex('retention_held_company').execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
