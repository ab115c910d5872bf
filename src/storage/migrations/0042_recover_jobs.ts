import type { Kysely } from 'kysely';

/**
 * Bulk recovers: one row per request that put a company's failed or dead deliveries back in the queue, with its
 * filters (JSON), how many deliveries it covers and how many it has requeued so far.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('recover_jobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('filter', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('total', 'bigint', (c) => c.notNull())
    .addColumn('done', 'bigint', (c) => c.notNull())
    .addColumn('skipped', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('recover_jobs_company')
    .on('recover_jobs')
    .columns(['company_id', 'created_at'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
