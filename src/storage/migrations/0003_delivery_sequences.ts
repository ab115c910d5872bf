import type { Kysely } from 'kysely';

/**
 * A resend starts a new retry sequence on the same delivery (same Idempotency-Key, attempt numbers continue):
 * `sequence_start` is the attempt count when the current sequence began, so the schedule restarts from 1 minute.
 * The company-wide deliveries view pages by (company_id, created_at).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('deliveries')
    .addColumn('sequence_start', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createIndex('deliveries_company_created')
    .on('deliveries')
    .columns(['company_id', 'created_at'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
