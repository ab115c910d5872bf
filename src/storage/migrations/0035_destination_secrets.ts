import { type Kysely } from 'kysely';

/**
 * A Shield webhook destination's signing secret, kept like an endpoint's: the current secret sealed, and the
 * previous one with the end of its grace period during a rotation. Destinations saved before this have none until
 * their first signed alert or their first reveal makes one (the master key is not at hand in a migration).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('destinations').addColumn('secret_enc', 'text').execute();
  await db.schema.alterTable('destinations').addColumn('prev_secret_enc', 'text').execute();
  await db.schema.alterTable('destinations').addColumn('prev_secret_expires_at', 'bigint').execute();
}

export async function down(): Promise<void> {
  throw new Error('migrations are append-only; restore from a backup to go back');
}
