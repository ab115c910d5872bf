import { PostgresAdapter, sql, type Kysely } from 'kysely';
import { installPgQueueFunctions } from '../../queue/pg-functions.js';

/**
 * Claims are fair across companies: a claim takes a bounded number of rows per company and can leave out companies
 * that hold their share, as it leaves out receivers.
 *
 * - The due index carries each row's company, so a claim that leaves a company out skips its backlog from the index
 *   alone (on SQLite) instead of reading each of its rows from the table. company_id never changes after insert, so
 *   on PostgreSQL a lease write stays a HOT update.
 * - PostgreSQL: `claim_due_deliveries` takes the companies to leave out and the rows per company a claim may take;
 *   the function of the old signature is dropped first (a new signature is a new function, not a replacement).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`drop index deliveries_due`.execute(db);
  await sql`create index deliveries_due on deliveries (next_attempt_at, endpoint_id, destination_id, company_id) where status in ('pending', 'failed')`.execute(
    db,
  );
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`drop function if exists claim_due_deliveries(bigint, integer, bigint, text, text[])`.execute(db);
  await installPgQueueFunctions(db);
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
