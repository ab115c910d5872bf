import { PostgresAdapter, type Kysely } from 'kysely';
import { installPgQueueFunctions } from '../../queue/pg-functions.js';

/**
 * Development endpoints of `escalatr listen`: their deliveries travel over the listener's connection, not from the
 * workers. `listener_seen_at` marks such an endpoint (null for every other one) and says when a listener last held
 * it, so one left behind by a killed listener can expire. Their deliveries carry target 'listener', which the
 * workers' claim leaves out: `claim_due_deliveries` is installed again with that condition.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('endpoints').addColumn('listener_seen_at', 'bigint').execute();
  if (db.getExecutor().adapter instanceof PostgresAdapter) await installPgQueueFunctions(db);
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
