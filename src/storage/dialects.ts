import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from './schema.js';

/**
 * Everything that differs between the embedded SQLite store and PostgreSQL lives here, as data and small functions,
 * so no other module asks "which database is this?".
 */
export interface DialectProfile {
  name: 'sqlite' | 'postgres';
  /** `FOR UPDATE SKIP LOCKED` lets many workers claim disjoint rows; SQLite has one writer and needs none. */
  skipLocked: boolean;
  /** Row locks (`FOR UPDATE`) exist; SQLite serialises writers instead, and would reject the clause. */
  rowLocks: boolean;
  /** PostgreSQL wakes other processes' loops with NOTIFY (src/queue/wakeup.ts); on SQLite all are in one process. */
  listenNotify: boolean;
  /**
   * Statements run on this process's own thread (SQLite): while one runs, no request of any company is answered, so
   * a large write is split into short transactions with the event loop let run between them. PostgreSQL's run in its
   * server while the event loop goes on.
   */
  statementsOnEventLoop: boolean;
  /**
   * A CROSS JOIN reads its left table first and looks up the right one for each row (SQLite's planner never reorders
   * one), so a statement can say which index leads. PostgreSQL plans a join's order from its statistics whatever the
   * statement's form.
   */
  joinsInWrittenOrder: boolean;
  /**
   * The queue's server-side functions exist (written in src/queue/pg-functions.ts, installed by migrations): a claim
   * that keeps its ordered index scan, an event-status recomputation under the event's row lock for concurrent
   * workers, and a batch of successes written in one round trip.
   */
  queueFunctions: boolean;
  /**
   * Attempt rows live in partitions by retention class and time that retention drops whole
   * (storage/history-partitions.ts); row by row pruning leaves a class's rows to that. SQLite prunes every row.
   */
  partitionedHistory: boolean;
  /**
   * A batch of rows, sent as one JSON parameter, as a table expression with these columns (use it as `from … as v`).
   * A statement over a batch then has the same text whatever the batch's size: SQLite prepares it once and keeps it
   * (db.ts), PostgreSQL parses one short text — instead of a statement with a parameter per value, a new text for
   * every batch size, prepared for one use.
   */
  batchRows(
    rows: ReadonlyArray<Record<string, string | number | null>>,
    columns: Readonly<Record<string, BatchColumnType>>,
  ): RawBuilder<unknown>;
  /** A list of values, sent as one parameter, as a subquery for `in …`: the same text for any length. */
  batchValues(values: readonly string[]): RawBuilder<unknown>;
  /**
   * The rows of a subquery as one JSON text: an array holding, for each row in `order`, an object with these keys in
   * this order; `[]` when there is none. A field marked `time` holds epoch milliseconds and is written as clock.ts's
   * `iso` writes it; the others as JSON numbers, strings and nulls. Present where a page's statement should read each
   * of its rows' related rows itself (SQLite: a statement costs nothing to issue, and each row's lookup is one index
   * seek). Absent on PostgreSQL, where a second statement for the whole page costs less: planned with the page's
   * times, it prunes the delivered history's spans, where a lookup per row leaves every span to the plan.
   */
  relatedRowsAsJson?: (fields: readonly JsonField[], order: RawBuilder<unknown>) => RawBuilder<string>;
  /**
   * The feedback record id inside a `shield.alert` event's body (`data.record.id`), written exactly as the partial
   * index of migration 0013 indexes it, so a lookup by record reads that index; `events` is the table's alias.
   */
  shieldAlertRecordId(events: string): RawBuilder<string>;
  /** The store's size on disk, and how much of it is free for reuse (pages freed by deletes, not yet given back). */
  storeSize(db: Kysely<Database>): Promise<{ bytes: number; freeBytes: number }>;
  /**
   * Gives up to `pages` freed pages back to the file system; true while more remain. SQLite in incremental
   * auto-vacuum mode (a store created since retention); a no-op elsewhere (PostgreSQL's autovacuum reclaims space
   * for reuse by itself, and an older SQLite file reuses its free pages for new rows).
   */
  reclaimSpace(db: Kysely<Database>, pages: number): Promise<boolean>;
  /**
   * Runs an erasure so the erased text does not linger in the file: on SQLite with `secure_delete` on (space freed by
   * the erasure's writes is overwritten with zeros), then the WAL checkpointed and truncated (its old frames hold the
   * pages as they were). PostgreSQL keeps old row versions until vacuum reclaims them; that is the operator's
   * VACUUM to run (see the README), not something to do inside a request.
   */
  withErasedSpaceCleared<T>(db: Kysely<Database>, fn: () => Promise<T>): Promise<T>;
  /**
   * Rebuilds the store's file so no unused space keeps bytes of rows long changed (SQLite's VACUUM, then a truncating
   * checkpoint); writers wait while it runs. Absent on PostgreSQL, where VACUUM FULL is the database operator's call.
   */
  rebuildFile?: (db: Kysely<Database>) => Promise<void>;
  /**
   * A number that moves whenever another connection commits to the store (SQLite's `data_version`, read on the
   * store's own connection), so a process can notice what the CLI or another process wrote. Absent on PostgreSQL,
   * whose commits NOTIFY (queue/wakeup.ts).
   */
  otherConnectionsCommits?: (db: Kysely<Database>) => Promise<number>;
  /** Whether a driver error is a unique-constraint violation (branch on codes, never on message text). */
  isUniqueViolation(err: unknown): boolean;
  /** Whether a driver error means the store is unavailable (disk full, read-only, connection lost). */
  isUnavailable(err: unknown): boolean;
  /** Whether the store refused a value the request carried (a NUL character in text, a number out of range). */
  isInvalidValue(err: unknown): boolean;
}

/** One key of the objects relatedRowsAsJson writes, and the value it holds. */
interface JsonField {
  key: string;
  value: RawBuilder<unknown>;
  /** The value is a time in epoch milliseconds, written as ISO text. */
  time?: boolean;
}

/** How a column of a JSON batch is read. */
export type BatchColumnType = 'text' | 'bigint';

// Column names come from our own code (never from a request), so they are spliced into the text as identifiers.
const columnList = (
  columns: Readonly<Record<string, BatchColumnType>>,
  each: (name: string, type: BatchColumnType) => string,
) =>
  sql.raw(
    Object.entries(columns)
      .map(([name, type]) => each(name, type))
      .join(', '),
  );

const code = (err: unknown): string => String((err as { code?: unknown } | null)?.code ?? '');

/** How long a truncation goes on trying while another connection's checkpoint runs. */
const TRUNCATE_PATIENCE_MS = 3_000;
const TRUNCATE_RETRY_MS = 25;

/**
 * Copies the whole WAL into the database file and truncates it to nothing; true when it did. A checkpoint already
 * running on another connection (the service's checkpoint thread, storage/wal-checkpointer.ts) makes it answer busy
 * at once rather than wait: it is tried again for up to TRUNCATE_PATIENCE_MS. A reader on the WAL's older frames is
 * waited for by the busy timeout within one try, which alone can take longer than that: then it is not tried again.
 */
export async function truncateWal(db: Kysely<Database>): Promise<boolean> {
  const giveUpAt = Date.now() + TRUNCATE_PATIENCE_MS;
  for (;;) {
    const { rows } = await sql<{ busy: number }>`pragma wal_checkpoint(TRUNCATE)`.execute(db);
    if (rows[0]?.busy === 0) return true;
    if (Date.now() >= giveUpAt) return false;
    await new Promise((resolve) => setTimeout(resolve, TRUNCATE_RETRY_MS));
  }
}

/**
 * Epoch milliseconds as ISO text, exactly as clock.ts's `iso` writes them (`2026-12-05T10:00:05.000Z`): SQLite turns
 * the seconds into whole milliseconds before it formats them (test/storage/related-rows-json.test.ts holds the
 * two equal). NULL stays NULL.
 */
const sqliteIsoTime = (ms: RawBuilder<unknown>) => sql`strftime('%Y-%m-%dT%H:%M:%fZ', ${ms} / 1000.0, 'unixepoch')`;

export const sqliteProfile: DialectProfile = {
  name: 'sqlite',
  skipLocked: false,
  rowLocks: false,
  listenNotify: false,
  statementsOnEventLoop: true,
  joinsInWrittenOrder: true,
  queueFunctions: false,
  partitionedHistory: false,
  // `->>` gives SQL text for JSON strings and integers for JSON numbers, which is what the columns hold.
  batchRows: (rows, columns) =>
    sql`(select ${columnList(columns, (name) => `j.value ->> '$.${name}' as "${name}"`)} from json_each(${JSON.stringify(rows)}) as j)`,
  batchValues: (values) => sql`(select value from json_each(${JSON.stringify(values)}))`,
  relatedRowsAsJson: (fields, order) =>
    sql<string>`json_group_array(json_object(${sql.join(
      fields.map(({ key, value, time }) => sql`${sql.lit(key)}, ${time ? sqliteIsoTime(value) : value}`),
    )}) order by ${order})`,
  shieldAlertRecordId: (events) => sql<string>`json_extract(${sql.ref(`${events}.body`)}, '$.data.record.id')`,
  storeSize: async (db) => {
    const pragma = async (name: string) =>
      Number(Object.values((await sql.raw(`pragma ${name}`).execute(db)).rows[0] as object)[0]);
    const pageSize = await pragma('page_size');
    return { bytes: (await pragma('page_count')) * pageSize, freeBytes: (await pragma('freelist_count')) * pageSize };
  },
  reclaimSpace: async (db, pages) => {
    const one = async (text: string, on: Kysely<Database> = db) =>
      Number(Object.values((await sql.raw(text).execute(on)).rows[0] as object)[0]);
    // 2 = incremental: only then does incremental_vacuum give pages back (the mode is fixed when the file is made).
    if ((await one('pragma auto_vacuum')) !== 2 || (await one('pragma freelist_count')) === 0) return false;
    // The pragma frees one page per step of its statement, and the driver steps a statement that returns no
    // columns once: so one execution per page, all in one short write transaction.
    return db.transaction().execute(async (tx) => {
      for (let i = 0; i < pages; i++) await sql.raw('pragma incremental_vacuum').execute(tx);
      return (await one('pragma freelist_count', tx)) > 0;
    });
  },
  withErasedSpaceCleared: async (db, fn) => {
    const { rows } = await sql<{ secure_delete: number }>`pragma secure_delete`.execute(db);
    const before = rows[0]?.secure_delete ?? 0;
    await sql`pragma secure_delete = on`.execute(db);
    try {
      return await fn();
    } finally {
      await sql.raw(`pragma secure_delete = ${before === 1 ? 'on' : 'off'}`).execute(db);
      // A reader that stays on old frames past the retries keeps the WAL from being truncated now; the frames holding
      // the erased text are then overwritten when the WAL next starts over.
      await truncateWal(db).catch(() => undefined);
    }
  },
  otherConnectionsCommits: async (db) =>
    Number((await sql<{ data_version: number }>`pragma data_version`.execute(db)).rows[0]?.data_version),
  rebuildFile: async (db) => {
    await sql`vacuum`.execute(db);
    await truncateWal(db);
  },
  isUniqueViolation: (err) => code(err) === 'SQLITE_CONSTRAINT_UNIQUE' || code(err) === 'SQLITE_CONSTRAINT_PRIMARYKEY',
  isUnavailable: (err) =>
    ['SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_IOERR', 'SQLITE_CANTOPEN', 'SQLITE_BUSY'].some((c) =>
      code(err).startsWith(c),
    ),
  isInvalidValue: (err) => code(err) === 'SQLITE_TOOBIG' || code(err) === 'SQLITE_MISMATCH',
};

export const postgresProfile: DialectProfile = {
  name: 'postgres',
  skipLocked: true,
  rowLocks: true,
  listenNotify: true,
  statementsOnEventLoop: false,
  joinsInWrittenOrder: false,
  queueFunctions: true,
  partitionedHistory: true,
  batchRows: (rows, columns) =>
    sql`(select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as j (${columnList(columns, (name, type) => `"${name}" ${type}`)}))`,
  batchValues: (values) => sql`(select unnest(${[...values]}::text[]))`,
  shieldAlertRecordId: (events) => sql<string>`((${sql.ref(`${events}.body`)}::jsonb) #>> '{data,record,id}')`,
  // The tables and indexes of the schema in use (tests share one database, one schema each).
  storeSize: async (db) => {
    const { rows } = await sql<{ bytes: string | number | null }>`
      select sum(pg_total_relation_size(c.oid)) as bytes from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relkind in ('r', 'p', 'm')`.execute(db);
    return { bytes: Number(rows[0]?.bytes ?? 0), freeBytes: 0 };
  },
  reclaimSpace: async () => false,
  withErasedSpaceCleared: (_db, fn) => fn(),
  isUniqueViolation: (err) => code(err) === '23505',
  // 08xxx connection exceptions, 53xxx insufficient resources, 57P0x shutdown, 25006 read-only transaction
  isUnavailable: (err) =>
    /^(08|53|57P0)/.test(code(err)) ||
    code(err) === '25006' ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(code(err)) ||
    isPgConnectionLost(err),
  // Class 22, data exceptions: text with NUL (22021), numeric out of range (22003), and the like. SQLite stores
  // such values; PostgreSQL refuses them, and the request that carried one is at fault, not the server.
  isInvalidValue: (err) => /^22[0-9A-Z]{3}$/.test(code(err)),
};

// node-postgres reports a connection lost mid-query (a server restart) with these messages and no code at all,
// so here alone the message is what there is to branch on (the exact texts of pg/lib/client.js and pg-pool).
const PG_CONNECTION_LOST = new Set([
  'Connection terminated unexpectedly',
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'Connection terminated due to connection timeout',
  'timeout exceeded when trying to connect',
]);

function isPgConnectionLost(err: unknown): boolean {
  return err instanceof Error && code(err) === '' && PG_CONNECTION_LOST.has(err.message);
}
