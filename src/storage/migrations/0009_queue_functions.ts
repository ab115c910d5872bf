import { PostgresAdapter, type Kysely } from 'kysely';
import { installPgQueueFunctions } from '../../queue/pg-functions.js';

/**
 * PostgreSQL only: the queue's functions installed from the queue module (src/queue/pg-functions.ts), where their
 * bodies are now written once, beside the conditions both stores share. Same behaviour as the versions migration
 * 0008 left in place; CREATE OR REPLACE keeps every grant and dependency.
 */
export async function up(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await installPgQueueFunctions(db);
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
