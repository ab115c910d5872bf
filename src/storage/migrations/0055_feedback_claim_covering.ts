import { sql, type Kysely } from 'kysely';

/**
 * The Shield claim reads only the unscored records' keys, lease and thread, never their text; this index holds all
 * of them, so the claim no longer reads the records themselves. Reading a record's later columns meant reading all of
 * its text first (up to 20,000 characters, stored before them), so with a backlog of large records each claim read the
 * whole backlog's text on the serving process's event loop. The index on `scored_at` alone served only that read;
 * it goes, so the planner cannot pick it over this one (and scoring no longer updates it).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`drop index feedback_unscored_company`.execute(db);
  await sql`drop index feedback_unscored`.execute(db);
  await sql`create index feedback_unscored_company on feedback_records (company_id, received_at, id, score_lease_until, thread_id, scored_at) where scored_at is null`.execute(
    db,
  );
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
