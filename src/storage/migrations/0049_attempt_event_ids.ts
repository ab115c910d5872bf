import { PostgresAdapter, sql, type Kysely } from 'kysely';
import { installPgQueueFunctions } from '../../queue/pg-functions.js';

/**
 * `attempts.event_id`: the event an attempt delivered. On PostgreSQL retention removes a delivery of a complaint's
 * event while its attempts stay in their partition until the partition is dropped whole; erasure finds those attempts
 * by event (the event row stays: it is the complaint's timeline) to clear their response excerpts. Rows written
 * before this migration have none; those whose delivery is gone leave with their partition.
 *
 * The index exists on PostgreSQL only: on SQLite an attempt never outlives its delivery, so erasure finds every one
 * through the deliveries and the index would only cost writes.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('attempts').addColumn('event_id', 'text').execute();
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`create index attempts_event on attempts (event_id)`.execute(db);
  await installPgQueueFunctions(db);
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
