import { sql, type Kysely } from 'kysely';

/**
 * The deliveries list pages a company's deliveries newest first, by (created_at, id). With `id` in the index, the
 * page's ids come from the index alone: an offset skips index entries instead of reading each skipped row. This
 * index holds everything `deliveries_company_created` did, so that one goes.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index deliveries_company_page on deliveries (company_id, created_at, id)`.execute(db);
  await sql`drop index deliveries_company_created`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
