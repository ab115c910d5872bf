import { sql, type Kysely } from 'kysely';

/**
 * A bulk recover (and its dry run) takes a company's failed and dead deliveries. Without an index of those alone it
 * read every delivery the company had to find them: 0.1 s at 500,000 deliveries on SQLite, on the event loop, for
 * a dry run that changes nothing. The statuses are written as the statements write them (literals), so that SQLite
 * can prove a statement's condition implies this index's.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index deliveries_recoverable on deliveries (company_id, created_at, id) where status in ('failed', 'dead')`.execute(
    db,
  );
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
