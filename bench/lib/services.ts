import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * The machine's own PostgreSQL and Redis. Every PostgreSQL run gets a database of its own, created here and dropped
 * when the run ends, so runs never see each other's rows or table bloat.
 */

export const PG_ADMIN_URL = process.env.BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379';

export interface FreshDatabase {
  url: string;
  /** The database's name, as pg_stat_activity shows it. */
  name: string;
  drop(): Promise<void>;
}

export async function createDatabase(prefix: string): Promise<FreshDatabase> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Why PostgreSQL cannot be used, or null when it answers. */
export async function pgUnavailable(): Promise<string | null> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('select 1');
    return null;
  } catch (err) {
    return `PostgreSQL at ${new URL(PG_ADMIN_URL).host} is not reachable (${(err as Error).message})`;
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function pgVersion(): Promise<string | null> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    const r = await c.query<{ server_version: string }>('show server_version');
    return r.rows[0].server_version;
  } catch {
    return null;
  } finally {
    await c.end().catch(() => undefined);
  }
}
