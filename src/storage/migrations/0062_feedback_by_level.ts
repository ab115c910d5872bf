import { sql, type Kysely } from 'kysely';

/**
 * Scored feedback by level, newest first within each: the Shield feedback list at or above a level reads each level's
 * records in order here, and counts them, instead of walking every record the company has (`feedback_company_received`)
 * for the few at a high level. At a million records a list of the 0.1% at `high` took 0.2–0.3 s on SQLite, on the
 * event loop (docs/benchmarks.md finding 69). Partial: unscored records have no level and are never listed.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index feedback_scored_by_level
    on feedback_records (company_id, escalation_level, received_at, id) where scored_at is not null`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
