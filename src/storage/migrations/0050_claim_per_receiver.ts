import { PostgresAdapter, sql, type Kysely } from 'kysely';
import { installPgQueueFunctions } from '../../queue/pg-functions.js';

/**
 * PostgreSQL: `claim_due_deliveries` takes the rows of one receiver a claim may take (queue/claim.ts). The worker
 * holds only a few slots' worth per receiver, and a claim that took a receiver's whole backlog leased rows only to
 * give most of them straight back. The function of the old signature is dropped first (a new signature is a new
 * function, not a replacement).
 */
export async function up(db: Kysely<any>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`drop function if exists claim_due_deliveries(bigint, integer, bigint, text, text[], text[], integer, text, text)`.execute(
    db,
  );
  await installPgQueueFunctions(db);
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
