import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Socket } from 'node:net';
import {
  CompiledQuery,
  Kysely,
  PostgresDialect,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Transaction,
} from 'kysely';
import SQLite from 'better-sqlite3';
import type pg from 'pg';
import type { Database } from './schema.js';
import { postgresProfile, sqliteProfile, type DialectProfile } from './dialects.js';
import { WalCheckpointer } from './wal-checkpointer.js';
import { LiteralLimitSqliteCompiler } from './literal-limit.js';
import { countingClient, UnansweredQueryWatch, type UnansweredQueryEvents } from './pg-unanswered-queries.js';

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;

export interface Store {
  db: Db;
  profile: DialectProfile;
  /** A PostgreSQL pool, absent on SQLite. */
  pgPool?: pg.Pool;
  /**
   * PostgreSQL: a new connection outside the pool, for LISTEN (it holds its connection while it listens). With
   * `timeoutMs`, connecting and each query on it fail after that long without an answer.
   */
  newPgClient?: (opts?: { timeoutMs?: number }) => OwnPgConnection;
  /** PostgreSQL: pooled connections closed so far because a query's answer was not coming (pg-unanswered-queries.ts). */
  pgUnansweredClosed?: () => number;
  pgSchema?: string;
  sqliteFile?: string;
  /** SQLite with `backgroundCheckpoints`: the thread that checkpoints the WAL. */
  checkpointer?: WalCheckpointer;
  close(): Promise<void>;
}

/** A PostgreSQL connection of its own, outside the pool. */
export interface OwnPgConnection {
  client: pg.Client;
  /**
   * Closes its socket at once. `client.end()` asks the server to end the session and waits for it to hang up, which a
   * connection that stopped answering (a flow dropped on the way) never does.
   */
  destroy(): void;
  /**
   * Asks the server to end the session and waits at most `withinMs` for it to hang up, then closes the socket: a
   * polite goodbye that a connection which stopped answering cannot hold up.
   */
  hangUp(withinMs: number): Promise<void>;
}

export interface OpenStoreOptions {
  databaseUrl?: string | null;
  dataDir?: string;
  /** SQLite file path, overriding dataDir (tests use a temp file). */
  sqliteFile?: string;
  /** PostgreSQL schema to use as search_path (tests use one per test). */
  pgSchema?: string;
  poolSize?: number;
  /**
   * SQLite: checkpoint the WAL on a thread of its own instead of in the commits of this connection
   * (wal-checkpointer.ts). For the long-running service; a short CLI command keeps SQLite's own checkpoints.
   * `onLost` hears if the thread ends by itself, after which this connection checkpoints as SQLite does by default.
   */
  backgroundCheckpoints?: { onLost: (err: Error) => void };
  /** PostgreSQL: the watch on pooled connections whose queries go unanswered (pg-unanswered-queries.ts). */
  unanswered?: UnansweredQuerySettings;
}

export interface UnansweredQuerySettings extends UnansweredQueryEvents {
  /** How often the pool's connections are looked at (PG_UNANSWERED_LOOK_MS). */
  everyMs?: number;
}

/**
 * The PostgreSQL client, loaded when a PostgreSQL store is first opened: a process on SQLite (the embedded default)
 * never needs it, and loading it adds about 3 MB to the heap of every such process for its whole life.
 */
let pgModule: typeof pg | undefined;
const loadPg = (): typeof pg => (pgModule ??= createRequire(import.meta.url)('pg') as typeof pg);

// int8 and numeric come back as strings from pg by default; our bigints are epoch ms and counters, safe as numbers.
const pgTypes = {
  getTypeParser(oid: number, format?: string) {
    if (oid === 20) return (v: string) => Number(v);
    if (oid === 1700) return (v: string) => Number(v);
    return loadPg().types.getTypeParser(oid, format as 'text');
  },
};

/**
 * SQLite transactions start with BEGIN IMMEDIATE: a deferred transaction that reads and then writes cannot wait for
 * another connection's write lock (SQLITE_BUSY at once, busy_timeout or not), while an immediate one queues for it.
 * Its compiler writes row limits into the statement's text (literal-limit.ts).
 */
class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly cfg: ConstructorParameters<typeof SqliteDialect>[0]) {
    super(cfg);
  }
  override createQueryCompiler() {
    return new LiteralLimitSqliteCompiler();
  }
  override createDriver() {
    const driver = new SqliteDriver(this.cfg);
    driver.beginTransaction = async (connection: DatabaseConnection) => {
      await connection.executeQuery(CompiledQuery.raw('begin immediate'));
    };
    // SQLite rolls a transaction back by itself on some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM); Kysely's
    // ROLLBACK after that fails with "no transaction is active" and replaces the error that mattered (a full disk
    // would answer 500 instead of 503). Roll back only what is still open.
    const database = this.cfg.database as unknown as { inTransaction?: boolean };
    driver.rollbackTransaction = async (connection: DatabaseConnection) => {
      if (database.inTransaction === false) return;
      await connection.executeQuery(CompiledQuery.raw('rollback'));
    };
    return driver;
  }
}

const STATEMENT_CACHE_SIZE = 500;
const STATEMENT_CACHE_MAX_CHARS = 4096;

/**
 * Kysely's SQLite driver prepares every statement it runs, and preparing (parsing and planning) costs more than
 * running most of ours. Statements are kept by their SQL text and reused; one that is busy (a stream still
 * iterating it) is never shared, and the cache stays bounded (by count, and by leaving out batch-sized texts)
 * since IN lists of every length are distinct texts. Statements that return rows are handed out as ObjectRows.
 */
function withStatementCache(sqlite: SQLite.Database) {
  const cache = new Map<string, ObjectRows | SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    // The rollback guard above asks whether a transaction is still open (SQLite ends one itself on SQLITE_FULL).
    get inTransaction() {
      return sqlite.inTransaction;
    },
    prepare(source: string): ObjectRows | SQLite.Statement {
      // A statement that changes the schema may change the columns of a cached `select *`: every statement is
      // prepared afresh after one, so ObjectRows reads the columns as they are now.
      if (SCHEMA_CHANGE.test(source)) cache.clear();
      const hit = cache.get(source);
      if (hit && !hit.busy) return hit;
      const prepared = sqlite.prepare(source);
      const stmt = prepared.reader ? new ObjectRows(prepared) : prepared;
      // A statement over a whole batch (hundreds of parameters) is rarely run again with the same row count, and
      // each prepared one holds its program in memory until collected: those are prepared for the one use.
      if (!hit && source.length <= STATEMENT_CACHE_MAX_CHARS) {
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
        cache.set(source, stmt);
      }
      return stmt;
    },
  };
}

const SCHEMA_CHANGE = /^\s*(create|alter|drop)\s/i;

/**
 * A statement that returns rows, whose rows are built here as objects from SQLite's raw arrays. better-sqlite3 builds
 * each row object property by property in native code: for a 25-row page that was a third of the statement's time
 * (62 µs against 41 for the same rows as arrays). The objects are the ones better-sqlite3 would make: the same keys in
 * the same order, a later column of the same name winning.
 *
 * Each statement builds its rows with an object literal of its own columns, compiled once: every row of it gets one
 * shape from the start. Setting the keys one at a time in a loop shared by every statement went through V8's
 * generic keyed stores: 2.5% of an API list request's CPU in its profile, 0.4% this way.
 */
class ObjectRows {
  readonly reader = true;
  /** The result's column names, read on first use; null for a name an object cannot take as its own. */
  private names: string[] | null | undefined;
  /** Makes one row's object from its raw array, for the names above. */
  private build: RowBuilder | undefined;

  constructor(private readonly stmt: SQLite.Statement) {}

  get busy(): boolean {
    return this.stmt.busy;
  }

  all(params: readonly unknown[]): Record<string, unknown>[] {
    const names = this.columnNames();
    if (names === null) return this.stmt.all(params) as Record<string, unknown>[];
    this.stmt.raw(true);
    let rows: unknown[][];
    try {
      rows = this.stmt.all(params) as unknown[][];
    } finally {
      this.stmt.raw(false);
    }
    // A `select *` SQLite re-prepared after another connection changed the schema returns other columns (every row
    // alike): their names are read again, and the rows already read are kept, so a RETURNING statement never runs twice.
    if (rows.length > 0 && rows[0].length !== names.length) {
      this.names = undefined;
      this.build = undefined;
      const now = this.stmt.columns().map((c) => c.name);
      return rows.map((row) => Object.fromEntries(now.map((n, i) => [n, row[i]])));
    }
    const build = (this.build ??= rowBuilder(names));
    const out = new Array<Record<string, unknown>>(rows.length);
    for (let r = 0; r < rows.length; r++) out[r] = build(rows[r]);
    return out;
  }

  run(params: readonly unknown[]): SQLite.RunResult {
    return this.stmt.run(params);
  }

  iterate(params: readonly unknown[]): IterableIterator<unknown> {
    return this.stmt.iterate(params);
  }

  private columnNames(): string[] | null {
    if (this.names === undefined) {
      const names = this.stmt.columns().map((c) => c.name);
      this.names = names.includes('__proto__') ? null : names;
    }
    return this.names;
  }
}

type RowBuilder = (row: unknown[]) => Record<string, unknown>;

/**
 * `row => ({ "name": row[0], … })` for these column names. The names become string literals (JSON escapes them), never
 * code. Where the process may not compile code from strings (`--disallow-code-generation-from-strings`), the keys are
 * set one at a time instead.
 */
function rowBuilder(names: readonly string[]): RowBuilder {
  try {
    const props = names.map((name, i) => `${JSON.stringify(name)}: row[${i}]`).join(', ');
    return new Function('row', `return { ${props} };`) as RowBuilder;
  } catch (err) {
    if (!(err instanceof EvalError)) throw err;
    return (row) => {
      const o: Record<string, unknown> = {};
      for (let i = 0; i < names.length; i++) o[names[i]] = row[i];
      return o;
    };
  }
}

/**
 * How long a pooled PostgreSQL connection past the first PG_POOL_KEPT may sit idle before the pool closes it, and how
 * many it keeps however long they idle. A new connection's first plan of a statement over the partitioned history
 * loads every partition's catalog entries first: the delivery log's first page took 120–140 ms on a fresh connection
 * against 17–25 on a used one, the event feed's 50–60 against 9–10. With none kept and the pool's own 10 seconds, a
 * dashboard clicked through every quarter of a minute paid that on every page, and the first request after a quiet
 * minute always would. Connections past the kept ones serve bursts and need not outlive them.
 */
const PG_IDLE_MS = 60_000;
const PG_POOL_KEPT = 2;

/**
 * TCP keepalive on every PostgreSQL connection, first probe after this long without traffic. A NAT or firewall on the
 * way may forget a flow idle for a few minutes without telling either end, and the next query on it would wait for
 * TCP to give up; probes keep such a flow alive, and find a dead one while nothing waits on it. The LISTEN connection
 * also has its own heartbeat (queue/wakeup.ts).
 */
const PG_KEEPALIVE_IDLE_MS = 30_000;

/** Where and how every connection to one PostgreSQL database is made: the pool's and the LISTEN connection's. */
function pgConnection(databaseUrl: string, schema: string | undefined): pg.ClientConfig {
  return {
    connectionString: databaseUrl,
    options: schema ? `-c search_path=${schema}` : undefined,
    keepAlive: true,
    keepAliveInitialDelayMillis: PG_KEEPALIVE_IDLE_MS,
  };
}

/**
 * How often the pool's connections are looked at for a query that goes unanswered. A query whose connection died is
 * failed after two to three of these, when its session on the server was found not working on it twice.
 */
const PG_UNANSWERED_LOOK_MS = 10_000;
/** Connecting, and each query, on a connection of our own outside the pool (pg-unanswered-queries.ts). */
const PG_ASKING_TIMEOUT_MS = 5_000;

/** A connection outside the pool, on a socket of our own (pg's `stream` option; TLS is layered over it) to close. */
function ownPgConnection(databaseUrl: string, schema: string | undefined, timeoutMs?: number): OwnPgConnection {
  const socket = new Socket();
  const client = new (loadPg().Client)({
    ...pgConnection(databaseUrl, schema),
    stream: () => socket,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  });
  return {
    client,
    destroy: () => socket.destroy(),
    async hangUp(withinMs) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, withinMs)));
      await Promise.race([client.end().catch(() => undefined), late]);
      clearTimeout(timer);
      socket.destroy();
    },
  };
}

/**
 * A PostgreSQL pool and its Kysely handle, with our type parsers and the schema as search_path: the primary's
 * (openStore) and a read replica's (read-store.ts) are made alike, so a query answers the same on either. The pool's
 * connections are watched for queries whose answer is not coming (pg-unanswered-queries.ts); `close` stops that and
 * ends the pool.
 */
export function openPgDb(
  databaseUrl: string,
  opts: { pgSchema?: string; poolSize?: number; connectTimeoutMs?: number; unanswered?: UnansweredQuerySettings } = {},
): { db: Db; pool: pg.Pool; close: () => Promise<void>; unansweredClosed: () => number } {
  const max = opts.poolSize ?? 10;
  const pool = new (loadPg().Pool)({
    ...pgConnection(databaseUrl, opts.pgSchema),
    Client: countingClient(loadPg().Client),
    max,
    min: Math.min(PG_POOL_KEPT, max),
    types: pgTypes as unknown as pg.CustomTypesConfig,
    connectionTimeoutMillis: opts.connectTimeoutMs,
    idleTimeoutMillis: PG_IDLE_MS,
  });
  // An idle client that loses its connection must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  // A checked-out client (in a transaction, between queries) has no pool listener: without its own, losing the
  // server (a restart) raises an uncaught 'error' and kills the process. The failed query reports it instead.
  pool.on('connect', (client) => client.on('error', () => {}));
  const watch = new UnansweredQueryWatch(pool, {
    ...opts.unanswered,
    everyMs: opts.unanswered?.everyMs ?? PG_UNANSWERED_LOOK_MS,
    connect: () => ownPgConnection(databaseUrl, opts.pgSchema, PG_ASKING_TIMEOUT_MS),
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const close = async () => {
    await watch.stop();
    await db.destroy();
  };
  return { db, pool, close, unansweredClosed: () => watch.closedCount };
}

export function openStore(opts: OpenStoreOptions): Store {
  if (opts.databaseUrl) {
    const { databaseUrl, pgSchema } = opts;
    const { db, pool, close, unansweredClosed } = openPgDb(databaseUrl, {
      pgSchema,
      poolSize: opts.poolSize,
      unanswered: opts.unanswered,
    });
    const newPgClient = ({ timeoutMs }: { timeoutMs?: number } = {}) =>
      ownPgConnection(databaseUrl, pgSchema, timeoutMs);
    return {
      db,
      profile: postgresProfile,
      pgPool: pool,
      newPgClient,
      pgUnansweredClosed: unansweredClosed,
      pgSchema,
      close,
    };
  }
  const file = opts.sqliteFile ?? join(opts.dataDir ?? './data', 'escalatr.db');
  if (!opts.sqliteFile) mkdirSync(opts.dataDir ?? './data', { recursive: true, mode: 0o700 });
  if (file !== ':memory:') keepPrivate(file);
  const sqlite = new SQLite(file);
  // Pages freed by retention's deletes are given back a step at a time (incremental_vacuum) instead of the file
  // only ever growing. The mode takes effect only on a file that has no tables yet: a store made before this keeps
  // auto_vacuum off (its free pages are still reused for new rows) until an offline `VACUUM` (see the README).
  sqlite.pragma('auto_vacuum = INCREMENTAL');
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  dropSampledStatistics(sqlite);
  const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: withStatementCache(sqlite) }) });
  const checkpointer =
    opts.backgroundCheckpoints && file !== ':memory:'
      ? checkpointElsewhere(sqlite, file, opts.backgroundCheckpoints.onLost)
      : undefined;
  const close = async () => {
    await checkpointer?.stop();
    await db.destroy();
  };
  return { db, profile: sqliteProfile, sqliteFile: file, checkpointer, close };
}

/**
 * Statistics that sample column values (`sqlite_stat4`, written by an `ANALYZE` or `PRAGMA optimize` run on the
 * file; the store itself never gathers any) make SQLite plan a statement again every time a value is bound to a
 * parameter its samples cover: every list page, claim and settle would be planned afresh on every call, which made
 * the API list's statement a fifth to a half slower on a store with them (docs/benchmarks.md). The store's plans
 * come from its indexes, so the samples are dropped when it opens; the per-index counts in `sqlite_stat1` stay.
 */
function dropSampledStatistics(sqlite: SQLite.Database): void {
  const sampled = sqlite.prepare(`select 1 from sqlite_schema where type = 'table' and name = 'sqlite_stat4'`).get();
  if (sampled) sqlite.exec('drop table sqlite_stat4');
}

/** SQLite's own threshold: the connection that commits past this many WAL pages checkpoints them. */
const SQLITE_AUTOCHECKPOINT_PAGES = 1000;
/** With the checkpoint thread running: a bound the serving connection reaches only if the thread falls far behind. */
const BACKSTOP_AUTOCHECKPOINT_PAGES = 20_000;

function checkpointElsewhere(sqlite: SQLite.Database, file: string, onLost: (err: Error) => void): WalCheckpointer {
  sqlite.pragma(`wal_autocheckpoint = ${BACKSTOP_AUTOCHECKPOINT_PAGES}`);
  return new WalCheckpointer(file, (err) => {
    if (sqlite.open) sqlite.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`);
    onLost(err);
  });
}

/**
 * The database holds every tenant's data: only the service's user may read it, as with the key file. The file is
 * created 0600 before SQLite opens it, and SQLite gives its -wal and -shm files the database file's mode. A file
 * left readable by an older version is narrowed on open.
 */
function keepPrivate(file: string): void {
  closeSync(openSync(file, 'a', 0o600));
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    const mode = statSync(path, { throwIfNoEntry: false })?.mode;
    if (mode !== undefined && (mode & 0o077) !== 0) chmodSync(path, mode & 0o700);
  }
}

/**
 * Runs `fn` in one transaction: the change, its event and its deliveries commit together or not at all. Run again
 * from the start when a row it wrote had moved partitions meanwhile (againIfRowsMoved).
 */
export function inTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return againIfRowsMoved(() => db.transaction().execute(fn));
}

/** Runs of one unit of work while rows it writes keep moving under it: past this, the failure is the caller's. */
const RUNS_WHILE_ROWS_MOVE = 5;

/**
 * Runs `work`, and runs it again if PostgreSQL refused it because a row it meant to write or lock had been moved to
 * another partition by a transaction that committed meanwhile: a settle moves a delivery from the queue's partition
 * to the settled one, a resend moves it back (migration 0054). Within one table, READ COMMITTED would follow the row
 * to its new version and go on; across partitions PostgreSQL cannot, and raises a serialization failure (40001)
 * instead, the only one READ COMMITTED raises. `work` must be a whole transaction (or a statement outside one) with
 * no effect outside the store before it commits, so a second run is as if it had begun after the other transaction.
 * SQLite never raises it.
 */
export async function againIfRowsMoved<T>(work: () => Promise<T>): Promise<T> {
  for (let run = 1; ; run++) {
    try {
      return await work();
    } catch (err) {
      if (run >= RUNS_WHILE_ROWS_MOVE || (err as { code?: unknown } | null)?.code !== '40001') throw err;
    }
  }
}
