import { sql, type CompiledQuery } from 'kysely';
import type { Store } from '../../src/storage/db.js';

/**
 * The store's plan for a query, one line per step: SQLite's `explain query plan`, or PostgreSQL's `explain` with
 * sequential scans turned off for the statement (a test's tables are small enough that a scan would win, and the
 * question is whether an index can serve the query at all).
 */
export async function queryPlan(store: Store, query: CompiledQuery): Promise<string[]> {
  if (store.profile.name === 'sqlite') {
    const plan = await store.db.executeQuery<{ detail: string }>({ ...query, sql: `explain query plan ${query.sql}` });
    return plan.rows.map((r) => r.detail);
  }
  return store.db.connection().execute(async (conn) => {
    await sql`set enable_seqscan = off`.execute(conn);
    try {
      const plan = await conn.executeQuery<{ 'QUERY PLAN': string }>({ ...query, sql: `explain ${query.sql}` });
      return plan.rows.map((r) => r['QUERY PLAN']);
    } finally {
      await sql`reset enable_seqscan`.execute(conn);
    }
  });
}

/**
 * The store's db, watched: every statement run through the returned `db` is compiled into `statements` too, so a test
 * can ask for the plan of what a domain function actually ran.
 */
export function watchedStatements(store: Store): { db: Store['db']; statements: CompiledQuery[] } {
  const statements: CompiledQuery[] = [];
  const executor = store.db.getExecutor();
  const db = store.db.withPlugin({
    transformQuery: (args) => {
      statements.push(executor.compileQuery(args.node, args.queryId));
      return args.node;
    },
    transformResult: async (args) => args.result,
  });
  return { db, statements };
}
