import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/domain/api-keys.js';
import { createCompany } from '../../src/domain/companies.js';
import { createConsumerWithToken } from '../../src/domain/consumers.js';
import { loadConfig } from '../../src/config.js';
import { buildApp, type App } from '../../src/runtime/app.js';
import { openStore, type Store } from '../../src/storage/db.js';
import { migrateToLatest } from '../../src/storage/migrate.js';
import { createEndpoint } from '../../src/webhooks/endpoints.js';
import { bearer, DATABASE_URL } from '../helpers/harness.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { createCliEnv, dropFileDatabase, waitForExit, type CliEnv, type RunningCli } from './cli-harness.js';

const LOOPBACK = { ESCALATR_ALLOW_HTTP_WEBHOOKS: 'true', ESCALATR_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' };

describe.skipIf(DATABASE_URL)('escalatr backup and restore (SQLite)', () => {
  let cli: CliEnv;
  let rx: Receiver;
  let app: App | null = null;
  let store: Store | null = null;
  let server: RunningCli | null = null;
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'escalatr-restore-'));
    dirs.push(dir);
    return dir;
  };

  beforeEach(async () => {
    cli = await createCliEnv();
    rx = await startReceiver();
  });
  afterEach(async () => {
    if (server) {
      server.child.kill('SIGTERM');
      await waitForExit(server.child).catch(() => server?.child.kill('SIGKILL'));
      server = null;
    }
    await app?.http.close();
    await store?.close();
    app = store = null;
    await rx.close();
    await cli.cleanup();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** The service over the CLI's data dir in this process, with the data dir's own master key (as `serve` uses it). */
  async function openSource() {
    store = openStore({ sqliteFile: join(cli.dataDir, 'escalatr.db') });
    await migrateToLatest(store.db);
    const config = loadConfig({ DATA_DIR: cli.dataDir, LOG_LEVEL: 'silent', ...LOOPBACK });
    app = await buildApp({ config, store, logger: false });
    await app.http.ready();
    const company = await createCompany(app.ctx, { name: 'Volt', code: 'VOLT', plan: 'professional' });
    const { key } = await createApiKey(app.ctx, { companyId: company.id, name: 'admin', scope: 'admin' });
    const { token } = await createConsumerWithToken(app.ctx, { email: 'alice@example.test' });
    // Nothing sends in this process: every delivery stays pending until a restored server sends it.
    await createEndpoint(
      app.ctx,
      company.id,
      { url: rx.url, events: ['complaint.created'] },
      { allowHttp: true, allowCidrs: ['127.0.0.0/8'] },
    );
    return { key, token, app: app! };
  }

  const fileOne = async (a: App, token: string, n: number): Promise<string> => {
    const r = await a.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: bearer(token),
      payload: { company_code: 'VOLT', complaint_category: 'Other', title: `Complaint ${n}`, description: 'Broken' },
    });
    expect(r.statusCode, r.body).toBe(201);
    return r.json().data.escalatr_id as string;
  };

  it('backs up while complaints are filed, restores into a fresh data dir, and the restored server has every acknowledged complaint and sends what was pending', async () => {
    const source = await openSource();
    const acknowledged: string[] = [];
    for (let i = 0; i < 20; i++) acknowledged.push(await fileOne(source.app, source.token, i));

    // Load: four writers filing until the backup (another process) has finished.
    const backupFile = join(tempDir(), 'escalatr.backup');
    let done = false;
    const during: string[] = [];
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; !done; i++) during.push(await fileOne(source.app, source.token, 1000 * (w + 1) + i));
    });
    const backup = await cli.run(['backup', backupFile, '--json']);
    done = true;
    await Promise.all(writers);
    expect(backup.code, backup.stderr).toBe(0);
    const info = JSON.parse(backup.stdout);
    expect(info.complaints).toBeGreaterThanOrEqual(acknowledged.length);
    expect(during.length).toBeGreaterThan(0);
    // Nothing is half in the copy: each complaint it holds came with its event and its delivery.
    const copy = new SQLite(backupFile, { readonly: true });
    const counts = copy
      .prepare(
        `select (select count(*) from complaints) as complaints,
           (select count(*) from events where name = 'complaint.created') as events,
           (select count(*) from deliveries where status = 'pending') as pending`,
      )
      .get() as { complaints: number; events: number; pending: number };
    copy.close();
    expect(counts.events).toBe(counts.complaints);
    expect(counts.pending).toBe(counts.complaints);
    expect(await cli.run(['backup', backupFile])).toMatchObject({ code: 1, stderr: expect.stringMatching(/exists/) });

    // Restore into a fresh data dir: without the master key it restores but says the key is needed…
    const fresh = tempDir();
    const restore = (file: string, extra: NodeJS.ProcessEnv = {}, args: string[] = []) =>
      cli.run(['restore', file, ...args, '--json'], { DATA_DIR: fresh, ...extra });
    const restored = await restore(backupFile);
    expect(restored.code, restored.stderr).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({ complaints: counts.complaints, master_key_needed: true });
    // …and the service refuses to start on it without the key, saying which one.
    const refused = await cli.run(['serve'], { DATA_DIR: fresh, PORT: '0', HOST: '127.0.0.1', ...LOOPBACK });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^escalatr: ESCALATR_MASTER_KEY: does not open the webhook secrets/);

    // With the source's key it starts, holds every acknowledged complaint, and sends the pending deliveries.
    copyFileSync(join(cli.dataDir, 'master.key'), join(fresh, 'master.key'));
    server = cli.start(['serve'], { DATA_DIR: fresh, PORT: '0', HOST: '127.0.0.1', ...LOOPBACK });
    const [, url] = await server.waitFor(/listening on (http:\/\/\S+) /);
    const ids = new Set<string>();
    for (let pageNo = 1; ; pageNo++) {
      const listed = await fetch(`${url}/api/v1/complaints?limit=100&page=${pageNo}`, { headers: bearer(source.key) });
      expect(listed.status).toBe(200);
      const page = (await listed.json()) as { total: number; data: Array<{ escalatr_id: string }> };
      expect(page.total).toBe(counts.complaints);
      for (const c of page.data) ids.add(c.escalatr_id);
      if (page.data.length < 100) break;
    }
    expect(ids.size).toBe(counts.complaints);
    for (const id of acknowledged) expect(ids.has(id), id).toBe(true);
    const received = await rx.waitFor(counts.complaints);
    const sentIds = new Set(received.map((r) => JSON.parse(r.body.toString()).data.escalatr_id as string));
    for (const id of acknowledged) expect(sentIds.has(id), id).toBe(true);

    // The restored store is served now: restoring over it is refused.
    const busy = await restore(backupFile, {}, ['--replace']);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/^escalatr: conflict: .* is in use/);
  }, 120_000);

  it('refuses files that are not Escalatr backups, backups from a newer schema, a wrong master key, and an occupied data dir', async () => {
    const source = await openSource();
    await fileOne(source.app, source.token, 1);
    const dir = tempDir();
    const backupFile = join(dir, 'ok.backup');
    expect((await cli.run(['backup', backupFile])).code).toBe(0);

    const fresh = tempDir();
    const restore = (file: string, extra: NodeJS.ProcessEnv = {}, args: string[] = []) =>
      cli.run(['restore', file, ...args], { DATA_DIR: fresh, ...extra });

    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'not a database at all, just some words that are long enough');
    expect((await restore(text)).stderr).toMatch(/^escalatr: invalid_request: .* is not an SQLite database/);
    const otherDb = join(dir, 'other.db');
    new SQLite(otherDb).exec('create table t (a)');
    expect((await restore(otherDb)).stderr).toMatch(/is not an Escalatr database/);
    const newer = join(dir, 'newer.backup');
    copyFileSync(backupFile, newer);
    const db = new SQLite(newer);
    db.prepare(`insert into kysely_migration (name, timestamp) values ('9999_from_the_future', 'x')`).run();
    db.close();
    expect((await restore(newer)).stderr).toMatch(/is from a newer Escalatr \(schema 9999_from_the_future/);
    expect((await restore(join(dir, 'missing.backup'))).stderr).toMatch(/^escalatr: not_found: /);
    const wrongKey = await restore(backupFile, { ESCALATR_MASTER_KEY: 'ab'.repeat(32) });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/does not open the backup's webhook secrets; nothing was restored/);

    // The right key: restored; a second restore needs --replace and keeps the first aside.
    const key = {
      ESCALATR_MASTER_KEY: (await import('node:fs')).readFileSync(join(cli.dataDir, 'master.key'), 'utf8'),
    };
    const first = await restore(backupFile, key);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^Restored 1 complaint\(s\)/);
    expect((await restore(backupFile, key)).stderr).toMatch(/^escalatr: already_exists: .*--replace/);
    const replaced = await restore(backupFile, key, ['--replace']);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.stdout).toMatch(/kept as .*escalatr\.db\.replaced-/);
  }, 60_000);
});

describe.skipIf(!DATABASE_URL)('escalatr backup and restore (PostgreSQL)', () => {
  afterAll(dropFileDatabase);
  it('explain the pg_dump / pg_restore route and change nothing', async () => {
    const cli = await createCliEnv();
    try {
      for (const args of [
        ['backup', join(cli.dataDir, 'x.backup')],
        ['restore', join(cli.dataDir, 'x.backup')],
      ]) {
        const r = await cli.run(args);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/pg_dump --format=custom/);
        expect(r.stderr).toMatch(/pg_restore --no-owner/);
      }
    } finally {
      await cli.cleanup();
    }
  });
});
