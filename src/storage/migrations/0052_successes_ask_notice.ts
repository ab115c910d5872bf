import { PostgresAdapter, type Kysely } from 'kysely';
import { installPgQueueFunctions } from '../../queue/pg-functions.js';

/**
 * PostgreSQL: `record_delivery_successes` asks itself whether the batch reaches an endpoint reported failing or
 * disabled, and leaves such a batch to the caller's transaction; the worker no longer sends a statement of its own
 * before every batch of successes to ask (queue/record.ts). Same signature: the body is replaced.
 */
export async function up(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await installPgQueueFunctions(db);
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
