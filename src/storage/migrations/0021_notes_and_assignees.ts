import type { Kysely } from 'kysely';

/**
 * Internal notes of a company's staff on a complaint (never shown to the consumer, never in an event), and the index
 * behind an agent's "mine" list: a company's complaints held by one person (`claimed_by`), newest first.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('complaint_notes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('complaint_id', 'text', (c) => c.notNull())
    .addColumn('company_id', 'text', (c) => c.notNull())
    .addColumn('author', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('complaint_notes_complaint')
    .on('complaint_notes')
    .columns(['complaint_id', 'created_at'])
    .execute();
  await db.schema
    .createIndex('complaints_company_holder')
    .on('complaints')
    .columns(['company_id', 'claimed_by', 'created_at'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
