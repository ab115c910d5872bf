import type { Kysely } from 'kysely';

/**
 * Each endpoint's adaptive concurrency as the workers last reported it: written when a worker narrows, probes or
 * widens an endpoint (never per attempt), read by the API and the dashboard. No row: the endpoint is open.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('endpoint_concurrency')
    .addColumn('endpoint_id', 'text', (c) => c.primaryKey())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('current_limit', 'integer', (c) => c.notNull())
    .addColumn('cap', 'integer', (c) => c.notNull())
    .addColumn('since', 'bigint')
    .addColumn('reason', 'text')
    .addColumn('worker', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
