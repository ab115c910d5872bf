import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const STARTED = fileURLToPath(new URL('./started-server-modules.ts', import.meta.url));

/**
 * A process on the embedded store loads only what it serves with. Clients for what a company may never use (a
 * PostgreSQL store, mail, JSONata transformations, brokers) are loaded on first use: each costs every process heap
 * for its whole life (docs/benchmarks.md).
 */
describe('packages a started server loads', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves the PostgreSQL client, mail, JSONata and the broker clients unloaded on SQLite', () => {
    dir = mkdtempSync(join(tmpdir(), 'escalatr-modules-'));
    const out = execFileSync(process.execPath, ['--import', 'tsx', STARTED, dir], {
      encoding: 'utf8',
      env: { ...process.env, DATABASE_URL: '' },
    });
    const { healthStatus, packages } = JSON.parse(out) as { healthStatus: number; packages: string[] };
    expect(healthStatus).toBe(200);
    // What it does serve with is there, so the list is the process's own.
    for (const used of ['fastify', 'undici', 'better-sqlite3']) expect(packages).toContain(used);
    for (const unused of ['pg', 'pg-pool', 'nodemailer', 'jsonata', 'amqplib', 'ioredis', 'mqtt'])
      expect(packages).not.toContain(unused);
  });
});
