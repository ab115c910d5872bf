import { type Kysely } from 'kysely';

/**
 * An endpoint's filter on event data and its transformation of the body, each JSON text or null (none): the filter
 * is read when an event is written, the transformation when a delivery is sent.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('endpoints').addColumn('filter', 'text').execute();
  await db.schema.alterTable('endpoints').addColumn('transform', 'text').execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
