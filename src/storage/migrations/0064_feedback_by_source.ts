import { sql, type Kysely } from 'kysely';

/**
 * Scored feedback of one source, by level, newest first within each: the Shield feedback list of one source (with or
 * without a level) reads each level's records of that source in order here and merges them, instead of walking every
 * scored record the company has for the few from a rare source (docs/benchmarks.md finding 72). Partial, like the
 * level index of migration 0062: unscored records are never listed.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index feedback_scored_by_source
    on feedback_records (company_id, source, escalation_level, received_at, id) where scored_at is not null`.execute(
    db,
  );
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
