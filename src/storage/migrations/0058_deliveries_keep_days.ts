import { type Kysely } from 'kysely';

/**
 * Each delivery carries the retention class its company had when it was made (`companies.history_class`, as
 * attempts do since migration 0039): the class whose span of the settled history it belongs to. Rows made before
 * this are custom (0): retention removes them row by row, as it did every delivery until now.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('deliveries')
    .addColumn('keep_days', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
