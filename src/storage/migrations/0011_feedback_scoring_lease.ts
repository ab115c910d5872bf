import { sql, type Kysely } from 'kysely';

/**
 * Shield scoring claims records with a lease, as the delivery worker claims deliveries: a processor marks the
 * records it scores (`score_lease_until`), scores them off the event loop, and writes the scores in a short
 * transaction. Another processor skips leased records; a crashed one's records become claimable when the lease ends.
 * The partial index serves the claim (one company's oldest unscored records) without reading the company's scored
 * history, which only grows.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('feedback_records').addColumn('score_lease_until', 'bigint').execute();
  await sql`create index feedback_unscored_company on feedback_records (company_id, received_at, id) where scored_at is null`.execute(
    db,
  );
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
