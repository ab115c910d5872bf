import type { Kysely } from 'kysely';

/**
 * Consumer sign-in by a one-time link. `consumer_sign_in_links` keeps each link's token by its SHA-256 only, the
 * address it was sent to (the consumer is found or created when it is followed, so asking for a link never reveals
 * whether an account exists), the requesting client address and the times that make it single-use and short-lived.
 * The two indexes answer the per-email and per-address request limits. `consumer_sessions` are the portal's
 * cookie sessions, by the SHA-256 of the cookie, with the CSRF token writes must carry.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('consumer_sign_in_links')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('client_address', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .execute();
  await db.schema
    .createIndex('consumer_sign_in_links_email')
    .on('consumer_sign_in_links')
    .columns(['email', 'created_at'])
    .execute();
  await db.schema
    .createIndex('consumer_sign_in_links_address')
    .on('consumer_sign_in_links')
    .columns(['client_address', 'created_at'])
    .execute();
  await db.schema
    .createTable('consumer_sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('consumer_id', 'text', (c) => c.notNull())
    .addColumn('csrf_token', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('consumer_sessions_consumer')
    .on('consumer_sessions')
    .columns(['consumer_id', 'expires_at'])
    .execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
