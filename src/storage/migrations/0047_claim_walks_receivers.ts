import { PostgresAdapter, sql, type Kysely } from 'kysely';
import { installPgQueueFunctions } from '../../queue/pg-functions.js';

/**
 * Claims walk receivers instead of the due order (queue/claim.ts): one company's backlog behind its hanging
 * endpoints made every claim step over all of its rows before reaching another company's.
 *
 * - `deliveries_due_by_receiver` holds the unsettled rows by company, receiver and due time: the walk's probes
 *   (next receiver of a company, next company, a receiver's earliest due rows) are each one index seek.
 * - PostgreSQL: `claim_due_deliveries` takes where the previous claim stopped and answers where this one did; the
 *   function of the old signature is dropped first (a new signature is a new function, not a replacement).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index deliveries_due_by_receiver on deliveries (company_id, coalesce(endpoint_id, destination_id), next_attempt_at) where status in ('pending', 'failed')`.execute(
    db,
  );
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`drop function if exists claim_due_deliveries(bigint, integer, bigint, text, text[], text[], integer)`.execute(
    db,
  );
  await installPgQueueFunctions(db);
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
