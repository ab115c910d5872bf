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
  /** Whether a driver error is a unique-constraint violation (branch on codes, never on message text). */
  isUniqueViolation(err: unknown): boolean;
  /** Whether a driver error means the store is unavailable (disk full, read-only, connection lost). */
  isUnavailable(err: unknown): boolean;
}

const code = (err: unknown): string => String((err as { code?: unknown } | null)?.code ?? '');

export const sqliteProfile: DialectProfile = {
  name: 'sqlite',
  skipLocked: false,
  rowLocks: false,
  listenNotify: false,
  isUniqueViolation: (err) => code(err) === 'SQLITE_CONSTRAINT_UNIQUE' || code(err) === 'SQLITE_CONSTRAINT_PRIMARYKEY',
  isUnavailable: (err) =>
    ['SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_IOERR', 'SQLITE_CANTOPEN', 'SQLITE_BUSY'].some((c) => code(err).startsWith(c)),
};

export const postgresProfile: DialectProfile = {
  name: 'postgres',
  skipLocked: true,
  rowLocks: true,
  listenNotify: true,
  isUniqueViolation: (err) => code(err) === '23505',
  // 08xxx connection exceptions, 53xxx insufficient resources, 57P0x shutdown, 25006 read-only transaction
  isUnavailable: (err) =>
    /^(08|53|57P0)/.test(code(err)) || code(err) === '25006' || ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT'].includes(code(err)),
};
