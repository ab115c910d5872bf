import { type Kysely } from 'kysely';

/**
 * The password of a broker endpoint's URL (amqp://user:password@…), sealed like the signing secret. The `url` column
 * keeps the URL without it, so lists, logs and the dashboard never carry it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('endpoints').addColumn('url_password_enc', 'text').execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
