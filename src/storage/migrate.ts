import { Migrator, type Migration, type MigrationProvider } from 'kysely';
import type { Db } from './db.js';
import * as m0001 from './migrations/0001_init.js';

/** Migrations are listed here in order (static imports work the same under tsx, vitest and a build). Append only. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_init': m0001,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/** Brings the store to the latest schema; refuses when the recorded history does not match this code's. */
export async function migrateToLatest(db: Db, schema?: string): Promise<string[]> {
  // With a schema (one per test on PostgreSQL) the bookkeeping tables are qualified with it: Kysely otherwise
  // finds another schema's kysely_migration table and assumes it is ours.
  const migrator = new Migrator({ db, provider, ...(schema ? { migrationTableSchema: schema } : {}) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
