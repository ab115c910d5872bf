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
  /** PostgreSQL wakes other processes' workers with NOTIFY; on SQLite all workers are in one process. */
  listenNotify: boolean;
  /**
   * The queue's server-side functions exist (PostgreSQL migrations 0004, 0006 and 0007): a claim that keeps its
   * ordered index scan, an event-status recomputation under the event's row lock for concurrent workers, and a batch
   * of successes written in one round trip.
   */
  queueFunctions: boolean;
  /** Whether a driver error is a unique-constraint violation (branch on codes, never on message text). */
  isUniqueViolation(err: unknown): boolean;
  /** Whether a driver error means the store is unavailable (disk full, read-only, connection lost). */
  isUnavailable(err: unknown): boolean;
  /** Whether the store refused a value the request carried (a NUL character in text, a number out of range). */
  isInvalidValue(err: unknown): boolean;
}

const code = (err: unknown): string => String((err as { code?: unknown } | null)?.code ?? '');

export const sqliteProfile: DialectProfile = {
  name: 'sqlite',
  skipLocked: false,
  rowLocks: false,
  listenNotify: false,
  queueFunctions: false,
  isUniqueViolation: (err) => code(err) === 'SQLITE_CONSTRAINT_UNIQUE' || code(err) === 'SQLITE_CONSTRAINT_PRIMARYKEY',
  isUnavailable: (err) =>
    ['SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_IOERR', 'SQLITE_CANTOPEN', 'SQLITE_BUSY'].some((c) => code(err).startsWith(c)),
  isInvalidValue: (err) => code(err) === 'SQLITE_TOOBIG' || code(err) === 'SQLITE_MISMATCH',
};

export const postgresProfile: DialectProfile = {
  name: 'postgres',
  skipLocked: true,
  rowLocks: true,
  listenNotify: true,
  queueFunctions: true,
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
