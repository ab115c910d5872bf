import { loadConfig, type Config } from '../config.js';
import type { DomainContext } from '../domain/context.js';
import { createDomainContext } from '../runtime/runtime.js';
import { openStore, type Store } from '../storage/db.js';
import { migrateToLatest } from '../storage/migrate.js';

/** What a one-shot CLI command works with: the checked configuration, an open store and a domain context. */
export interface CliRuntime {
  config: Config;
  store: Store;
  ctx: DomainContext;
  /** Migrations this run applied (empty when the store was already up to date). */
  applied: string[];
}

/**
 * Loads the configuration (a ConfigError names the variable), opens the store, brings it to the latest schema
 * (every command works on a fresh data dir) and runs `fn`; the store is closed whatever happens.
 */
export async function withRuntime<T>(fn: (rt: CliRuntime) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env);
  const store = openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 });
  try {
    const applied = await migrateToLatest(store.db);
    return await fn({ config, store, ctx: createDomainContext(config, store), applied });
  } finally {
    await store.close().catch(() => undefined);
  }
}

/** Prints a command's answer as JSON on stdout (with --json). */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function printLines(...lines: string[]): void {
  process.stdout.write(lines.join('\n') + '\n');
}
