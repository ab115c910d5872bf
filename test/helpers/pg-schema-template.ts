/**
 * Vitest global setup for the PostgreSQL runs: migrates one schema once per run and hands the test processes its SQL
 * (from pg_dump), so each test store is made by one statement batch instead of replaying every migration. Migrating
 * a schema costs about 0.55 s here and loading the dump about 0.18 s, and the suite makes a store per test. The
 * migrations still run for real: here once per run on PostgreSQL, and for every test store on SQLite.
 *
 * Without DATABASE_URL, or when pg_dump is missing or fails, it provides nothing and every test store migrates
 * itself as before.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { openStore } from '../../src/storage/db.js';
import { migrateToLatest } from '../../src/storage/migrate.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The migrated schema's SQL with its name written as SCHEMA_NAME_MARK, or null when stores migrate themselves. */
    pgSchemaTemplate: string | null;
  }
}

/** Stands for the schema's name in the provided SQL; each test store writes its own name in its place. */
export const SCHEMA_NAME_MARK = '__escalatr_test_schema__';

const run = promisify(execFile);

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  project.provide('pgSchemaTemplate', null);
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) return undefined;

  // A name nothing else in the dump can contain, so replacing it rewrites only the schema's own references.
  const schema = `escalatr_test_template_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  const dropTemplate = async () => {
    await admin.query(`drop schema if exists ${schema} cascade`).catch(() => undefined);
    await admin.end().catch(() => undefined);
  };
  try {
    await admin.query(`create schema ${schema}`);
    const store = openStore({ databaseUrl, pgSchema: schema, poolSize: 2 });
    try {
      await migrateToLatest(store.db, schema);
    } finally {
      await store.close();
    }
    const { stdout } = await run(
      'pg_dump',
      ['--dbname', databaseUrl, '--schema', schema, '--inserts', '--no-owner', '--no-privileges'],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    project.provide('pgSchemaTemplate', schemaSql(stdout, schema));
  } catch (error) {
    // Slower, not wrong: every test store migrates itself.
    console.warn(`no PostgreSQL schema template (${(error as Error).message.split('\n')[0]}); test stores migrate`);
  }
  return dropTemplate;
}

/**
 * The dump as one batch a pg client can send: psql's meta-commands (`\restrict`) and comment lines dropped, the
 * schema's name replaced by the mark.
 */
function schemaSql(dump: string, schema: string): string {
  const statements = dump
    .split('\n')
    .filter((line) => !line.startsWith('\\') && !line.startsWith('--'))
    .join('\n');
  if (!statements.includes(`CREATE SCHEMA ${schema};`)) throw new Error('pg_dump gave no CREATE SCHEMA');
  return statements.split(schema).join(SCHEMA_NAME_MARK);
}
