import { sql, type Kysely } from 'kysely';

/**
 * Deliveries that were waiting in the queue when migration 0058 added `keep_days` were left custom (0), so on
 * PostgreSQL they would settle into the custom partition and be pruned row by row, although their company has a
 * class. They take their company's class as it stands, as 0059 gave the settled ones; dead ones have theirs already.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    update deliveries set keep_days = c.history_class
    from companies c
    where c.id = deliveries.company_id and deliveries.status in ('pending', 'failed')
      and deliveries.keep_days = 0 and c.history_class <> 0`.execute(db);
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
