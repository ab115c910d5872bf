import { type Kysely } from 'kysely';

/**
 * An endpoint's own retry schedule: JSON text of the delays in seconds between its attempts, or null for the
 * server's schedule. Read with the endpoint when a claimed delivery is planned, so an edit applies from the next
 * attempt on.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('endpoints').addColumn('retry_schedule', 'text').execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
