import SQLite from 'better-sqlite3';
import pg from 'pg';
import { performance } from 'node:perf_hooks';

/**
 * `--sql-timing`: counts and times every statement a bench process runs, by SQL text, so a profile's "time in the
 * driver" can be split into the queries that spent it. better-sqlite3 runs statements synchronously, so the time is
 * the statement's own (plus `prepare`, which the driver repeats for every execution); on PostgreSQL it is the round
 * trip as the caller waits for it, pool queueing included. Installed by patching the drivers' prototypes in the
 * bench process only; nothing in src/ knows about it.
 */

interface Entry {
  calls: number;
  ms: number;
}

const bySql = new Map<string, Entry>();
let prepares = 0;
let prepareMs = 0;

const normalise = (sql: string) =>
  sql
    .replace(/\s+/g, ' ')
    .replace(/(\?|\$\d+)(, (\?|\$\d+))+/g, '?…')
    .slice(0, 220);

function record(sql: string, ms: number) {
  const key = normalise(sql);
  const e = bySql.get(key) ?? { calls: 0, ms: 0 };
  e.calls++;
  e.ms += ms;
  bySql.set(key, e);
}

export function installSqlTiming(): void {
  const proto = SQLite.prototype as unknown as { prepare(this: SQLite.Database, source: string): SQLite.Statement };
  const prepare = proto.prepare;
  proto.prepare = function (this: SQLite.Database, source: string) {
    const t = performance.now();
    const stmt = prepare.call(this, source);
    prepareMs += performance.now() - t;
    prepares++;
    for (const method of ['run', 'all', 'get'] as const) {
      const original = stmt[method] as (...a: unknown[]) => unknown;
      (stmt as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        const s = performance.now();
        try {
          return original.apply(stmt, args);
        } finally {
          record(source, performance.now() - s);
        }
      };
    }
    return stmt;
  };

  const query = pg.Client.prototype.query as (...a: unknown[]) => unknown;
  (pg.Client.prototype as unknown as { query: unknown }).query = function (this: pg.Client, ...args: unknown[]) {
    const first = args[0] as string | { text?: string };
    const text = typeof first === 'string' ? first : first?.text;
    const result = query.apply(this, args);
    if (text && result && typeof (result as Promise<unknown>).then === 'function') {
      const s = performance.now();
      (result as Promise<unknown>).then(
        () => record(text, performance.now() - s),
        () => record(text, performance.now() - s),
      );
    }
    return result;
  };
}

export function sqlTimingReport(top = 15) {
  const rows = [...bySql].sort((a, b) => b[1].ms - a[1].ms).slice(0, top);
  return {
    prepares,
    prepare_ms: Math.round(prepareMs),
    statements: rows.map(([sql, e]) => ({
      ms: Math.round(e.ms),
      calls: e.calls,
      us_per_call: Math.round((e.ms / e.calls) * 1000),
      sql,
    })),
  };
}

export function resetSqlTiming(): void {
  bySql.clear();
  prepares = 0;
  prepareMs = 0;
}
