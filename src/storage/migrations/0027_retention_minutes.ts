import { type Kysely } from 'kysely';

/**
 * `companies.retention_minutes`: a window shorter than a day, which only the operator can set (a store that should
 * hold minutes of history, e.g. a relay whose receivers keep their own records). When set it replaces
 * `retention_days`; an owner's choice of days clears it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('companies').addColumn('retention_minutes', 'bigint').execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
