import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import SQLite from 'better-sqlite3';
import { AppError } from '../errors.js';
import { KNOWN_MIGRATIONS } from './migrate.js';

/** Tables every Escalatr database has since its first migration: a file without them is something else. */
const REQUIRED_TABLES = ['companies', 'complaints', 'events', 'deliveries', 'kysely_migration'];
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

export interface BackupInfo {
  file: string;
  bytes: number;
  /** The last migration the backup's schema has. */
  schema: string;
  complaints: number;
}

/** A path beside `file`, on the same file system, so the finished file can be renamed into place atomically. */
const sideFile = (file: string, what: string) =>
  join(dirname(file), `.${basename(file)}.${what}-${randomBytes(4).toString('hex')}`);

function fsyncFile(file: string): void {
  const fd = openSync(file, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Copies a live SQLite store to `target` while it serves. `VACUUM INTO` reads the store in one read transaction, so
 * the copy is one consistent moment (every transaction committed before it began, nothing after) and writers — in
 * this process or another, under WAL — go on meanwhile. SQLite's page-copying backup API would start over whenever
 * another process writes, which under steady load can mean never finishing. The copy is compact (no free pages, so
 * none of the unused space a live file carries), written 0600 beside the target, checked and renamed into place.
 */
export function backupSqlite(sourceFile: string, target: string): BackupInfo {
  if (existsSync(target)) throw new AppError('already_exists', `${target} exists; choose a new file name`);
  if (!existsSync(sourceFile)) throw new AppError('not_found', `no database at ${sourceFile}`);
  const partial = sideFile(target, 'partial');
  // Made empty and private first: VACUUM INTO writes into an empty file, and the copy holds every tenant's data.
  closeSync(openSync(partial, 'wx', 0o600));
  const source = new SQLite(sourceFile, { fileMustExist: true });
  try {
    source.pragma('busy_timeout = 5000');
    source.prepare('vacuum into ?').run(partial);
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  } finally {
    source.close();
  }
  try {
    const info = inspectBackup(partial);
    chmodSync(partial, 0o600);
    fsyncFile(partial);
    renameSync(partial, target);
    return { ...info, file: target };
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  }
}

/**
 * Checks that `file` is an Escalatr database this version can run: a sound SQLite file with our tables, and no
 * migration this code does not know (a backup from a newer version would be run by code that does not understand
 * it). An older schema is fine: the service migrates it at start.
 */
export function inspectBackup(file: string): Omit<BackupInfo, 'file'> & { sealedSample: string | null } {
  if (!existsSync(file)) throw new AppError('not_found', `no file at ${file}`);
  const header = Buffer.alloc(SQLITE_HEADER.length);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  if (!header.equals(SQLITE_HEADER)) throw new AppError('invalid_request', `${file} is not an SQLite database`);
  const db = new SQLite(file, { readonly: true, fileMustExist: true });
  try {
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new AppError('invalid_request', `${file} is damaged (SQLite quick_check: ${check})`);
    const tables = new Set(db.prepare(`select name from sqlite_master where type = 'table'`).pluck().all() as string[]);
    const missing = REQUIRED_TABLES.filter((t) => !tables.has(t));
    if (missing.length)
      throw new AppError('invalid_request', `${file} is not an Escalatr database (no ${missing.join(', ')} table)`);
    const applied = db.prepare('select name from kysely_migration order by name').pluck().all() as string[];
    const unknown = applied.filter((m) => !KNOWN_MIGRATIONS.includes(m));
    if (unknown.length)
      throw new AppError(
        'invalid_request',
        `${file} is from a newer Escalatr (schema ${unknown.join(', ')} is unknown to this version); ` +
          'restore it with that version or a later one',
      );
    const sealed = (db.prepare('select secret_enc from endpoints limit 1').pluck().get() ??
      db.prepare('select config_enc from destinations limit 1').pluck().get() ??
      null) as string | null;
    return {
      bytes: statSync(file).size,
      schema: applied.at(-1) ?? '(none)',
      complaints: Number(db.prepare('select count(*) from complaints').pluck().get()),
      sealedSample: sealed,
    };
  } finally {
    db.close();
  }
}

/**
 * Whether another connection has the SQLite file open (a running server, even idle): under WAL every connection
 * holds a shared lock, so an exclusive one cannot be had. A server killed outright holds nothing and leaves its WAL,
 * which this probe's connection folds into the file when it closes.
 */
function sqliteFileInUse(file: string): boolean {
  if (!existsSync(file)) return false;
  const db = new SQLite(file, { fileMustExist: true, timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('begin exclusive');
    db.exec('commit');
    return false;
  } catch (err) {
    if (String((err as { code?: unknown }).code ?? '').startsWith('SQLITE_BUSY')) return true;
    throw err;
  } finally {
    db.close();
  }
}

/**
 * Puts the backup `file` in place as the store at `target` (a store not being served): copied beside it 0600,
 * synced, and renamed over it; a store already there is kept beside it as `{target}.replaced-{time}`. Any WAL and
 * shared-memory files of the old store go first, as SQLite would otherwise read them as the new one's.
 */
export function restoreSqlite(file: string, target: string, opts: { replace: boolean; now: number }): string | null {
  let replacedAs: string | null = null;
  if (existsSync(target) && statSync(target).size > 0) {
    if (sqliteFileInUse(target))
      throw new AppError('conflict', `${target} is in use (a running escalatr serve or worker?); stop it first`);
    if (!opts.replace)
      throw new AppError(
        'already_exists',
        `${target} holds a store; restore into an empty DATA_DIR, or pass --replace to set this one aside`,
      );
    replacedAs = `${target}.replaced-${new Date(opts.now).toISOString().replace(/[:.]/g, '-')}`;
  }
  const partial = sideFile(target, 'restoring');
  const input = new SQLite(file, { readonly: true, fileMustExist: true });
  try {
    // Through SQLite rather than a byte copy, so a backup file that still has a WAL beside it comes whole.
    input.prepare('vacuum into ?').run(partial);
  } finally {
    input.close();
  }
  chmodSync(partial, 0o600);
  fsyncFile(partial);
  if (replacedAs) renameSync(target, replacedAs);
  for (const stale of [`${target}-wal`, `${target}-shm`]) rmSync(stale, { force: true });
  renameSync(partial, target);
  return replacedAs;
}
