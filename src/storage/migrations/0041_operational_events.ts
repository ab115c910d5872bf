import type { Kysely } from 'kysely';

/**
 * Operational events. An endpoint remembers the last notice it caused (`ops_notice`: 'failing' after a day of
 * failures, 'disabling' a day before the automatic disable, 'disabled'), so each is announced once and its first
 * success afterwards announces the recovery. A company may name where operational alerts go
 * (`company_operations`): email to its owners and admins, and/or a Slack incoming webhook (sealed: the URL is the
 * credential).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('endpoints').addColumn('ops_notice', 'text').execute();
  await db.schema
    .createTable('company_operations')
    .addColumn('company_id', 'text', (c) => c.primaryKey())
    .addColumn('email', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('slack_url_enc', 'text')
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
