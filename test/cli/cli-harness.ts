import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import type { Clock } from '../../src/clock.js';
import { buildApp, type App } from '../../src/runtime/app.js';
import { openStore, type Store } from '../../src/storage/db.js';
import { migrateToLatest } from '../../src/storage/migrate.js';
import { DATABASE_URL, testConfig } from '../helpers/harness.js';

const REPO = resolve(import.meta.dirname, '../..');
export const BIN = join(REPO, 'bin', 'escalatr');

interface CliResult {
  code: number | null;
  /** Set when the process was killed rather than exiting. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment of one CLI test: a temp DATA_DIR and, when the suite runs on PostgreSQL, a fresh schema that
 * the child process reaches through its DATABASE_URL (`?options=-c search_path=…`, as libpq and pg understand).
 * The schemas live in a database of this test file's own: every CLI command migrates, and Kysely's migrator reads
 * the catalog of all schemas, which fails while another test file is dropping one of its schemas.
 */
export interface CliEnv {
  env: NodeJS.ProcessEnv;
  dataDir: string;
  databaseUrl: string | null;
  run(args: string[], extraEnv?: NodeJS.ProcessEnv): Promise<CliResult>;
  /** Spawns a long-running command (serve, worker); the test kills it. */
  start(args: string[], extraEnv?: NodeJS.ProcessEnv): RunningCli;
  /** The app in this test process over the same store the CLI uses (migrated), to set up and check what the CLI made. */
  /** A server over the CLI's store, as a running deployment has; `clock` to move its time (the system's by default). */
  openApp(opts?: { clock?: Clock }): Promise<{ app: App; close(): Promise<void> }>;
  cleanup(): Promise<void>;
}

async function adminQuery(text: string, connectionString = DATABASE_URL!): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

let fileDatabase: Promise<string> | null = null;

/** This test file's database (made on first use), as a URL. */
function fileDatabaseUrl(): Promise<string> {
  fileDatabase ??= (async () => {
    const name = `escalatr_cli_${randomBytes(6).toString('hex')}`;
    await adminQuery(`create database ${name}`);
    const url = new URL(DATABASE_URL!);
    url.pathname = `/${name}`;
    return url.toString();
  })();
  return fileDatabase;
}

/** Drops this test file's database, if one was made: call from afterAll. */
export async function dropFileDatabase(): Promise<void> {
  if (!fileDatabase) return;
  const name = new URL(await fileDatabase).pathname.slice(1);
  fileDatabase = null;
  await adminQuery(`drop database if exists ${name} with (force)`);
}

export async function createCliEnv(): Promise<CliEnv> {
  const dataDir = mkdtempSync(join(tmpdir(), 'escalatr-cli-'));
  let databaseUrl: string | null = null;
  let schema: string | null = null;
  let dbUrl: string | null = null;
  if (DATABASE_URL) {
    dbUrl = await fileDatabaseUrl();
    schema = `cli_${randomBytes(6).toString('hex')}`;
    await adminQuery(`create schema ${schema}`, dbUrl);
    const url = new URL(dbUrl);
    url.searchParams.set('options', `-c search_path=${schema}`);
    databaseUrl = url.toString();
  }
  // Only what the CLI reads: the test runner's own environment (a DATABASE_URL for another database) stays out.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  };
  const opened: Array<() => Promise<void>> = [];

  const spawnCli = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
    spawn(process.execPath, [BIN, ...args], {
      cwd: dataDir,
      env: { ...env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  return {
    env,
    dataDir,
    databaseUrl,
    start: (args, extraEnv) => watch(spawnCli(args, extraEnv)),
    run(args, extraEnv) {
      return new Promise((done, fail) => {
        const child = spawnCli(args, extraEnv);
        let stdout = '';
        let stderr = '';
        child.stdout!.on('data', (b) => (stdout += b));
        child.stderr!.on('data', (b) => (stderr += b));
        child.on('error', fail);
        child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
      });
    },
    async openApp(opts = {}) {
      const store: Store = databaseUrl
        ? openStore({ databaseUrl, poolSize: 2 })
        : openStore({ sqliteFile: join(dataDir, 'escalatr.db') });
      await migrateToLatest(store.db);
      const app = await buildApp({
        config: testConfig({ databaseUrl, dataDir }),
        store,
        clock: opts.clock,
        logger: false,
      });
      await app.http.ready();
      const close = async () => {
        await app.http.close();
        await store.close();
      };
      opened.push(close);
      return { app, close };
    },
    async cleanup() {
      for (const close of opened) await close().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
      if (schema) await adminQuery(`drop schema if exists ${schema} cascade`, dbUrl!);
    },
  };
}

/** A long-running CLI process whose whole stdout is kept, so a wait never misses text that came in an earlier chunk. */
export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout so far or to come; rejects if the process exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

export function watch(child: ChildProcess): RunningCli {
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (b) => {
    stdout += b;
    listeners.forEach((l) => l());
  });
  child.stderr!.on('data', (b) => (stderr += b));
  child.on('exit', () => listeners.forEach((l) => l()));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((done, fail) => {
        const check = () => {
          const match = stdout.match(pattern);
          if (match) return finish(() => done(match));
          if (child.exitCode !== null || child.signalCode !== null) {
            finish(() =>
              fail(
                new Error(
                  `exited with ${child.exitCode ?? child.signalCode} before printing ${pattern}: ${stdout}${stderr}`,
                ),
              ),
            );
          }
        };
        const finish = (fn: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          fn();
        };
        const timer = setTimeout(
          () => finish(() => fail(new Error(`no ${pattern} within ${timeoutMs} ms: ${stdout}${stderr}`))),
          timeoutMs,
        );
        listeners.add(check);
        check();
      });
    },
  };
}

/** Resolves with the exit code once the child has exited (at once if it already has). */
export function waitForExit(child: ChildProcess, timeoutMs = 15_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`still running after ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done(code);
    });
  });
}
