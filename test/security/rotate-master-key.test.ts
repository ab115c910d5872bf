import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Command } from 'commander';
import { buildApp, type App } from '../../src/runtime/app.js';
import { ManualClock } from '../../src/clock.js';
import { registerRotateMasterKey, rotateMasterKey, SEALED_COLUMNS } from '../../src/cli/rotate-master-key.js';
import { AppError } from '../../src/errors.js';
import { openStore, type Store } from '../../src/storage/db.js';
import { migrateToLatest } from '../../src/storage/migrate.js';
import { bearer, createTestStore, testConfig, type TestStore } from '../helpers/harness.js';
import { startReceiver } from '../helpers/receiver.js';
import { testWorker } from '../helpers/webhooks.js';
import { tenant } from '../api/platform-fixtures.js';
import { createCliEnv, dropFileDatabase, type CliEnv } from '../cli/cli-harness.js';
import { Webhook } from 'standardwebhooks';

/** Every sealed value in the store, by table, row and column: to compare before and after. */
async function sealedValues(store: Store): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const { table, columns } of SEALED_COLUMNS) {
    const rows = (await store.db
      .selectFrom(table)
      .select(['id', ...columns] as never[])
      .orderBy('id')
      .execute()) as Array<Record<string, string | null>>;
    for (const row of rows) for (const c of columns) out[`${table}.${row.id}.${c}`] = row[c];
  }
  return out;
}

/** An app over `store` whose master key is `key`, with a cast that has one of every sealed thing. */
async function appWith(store: Store, key: Buffer): Promise<App> {
  const app = await buildApp({
    config: testConfig({ masterKey: key, databaseUrl: null }),
    store,
    clock: new ManualClock(Date.now()),
    logger: false,
  });
  await app.http.ready();
  return app;
}

async function seedSealed(app: App, receiverUrl: string) {
  const t = { app, clock: app.ctx.clock as ManualClock, store: app.ctx.store } as Parameters<typeof tenant>[0];
  const volt = await tenant(t, 'VOLT');
  const post = async (url: string, payload: object) => {
    const r = await app.http.inject({ method: 'POST', url, headers: bearer(volt.adminKey), payload });
    if (r.statusCode >= 300) throw new Error(`${url}: ${r.statusCode} ${r.body}`);
    return r.json().data;
  };
  const plain = await post('/api/v1/webhooks', { url: receiverUrl, events: ['*'] });
  const withAuth = await post('/api/v1/webhooks', {
    url: `${receiverUrl}?auth=1`,
    events: ['*'],
    auth: { type: 'bearer', token: 'rotating-bearer-token' },
  });
  const rotated = await post(`/api/v1/webhooks/${withAuth.id}/secret/regenerate`, { grace_period_s: 3600 });
  await post('/api/v1/automations', {
    name: 'Risk',
    active: true,
    filter: { min_level: 'high' },
    destinations: [
      { type: 'webhook', url: 'https://hooks.example.com/alert', auth: { type: 'api_key', token: 'shield-token-1' } },
      { type: 'slack', url: 'https://hooks.slack.com/services/T0/B0/secretpath' },
    ],
  });
  return {
    volt,
    plainSecret: plain.secret as string,
    authEndpoint: withAuth.id as string,
    rotatedSecret: rotated.secret as string,
    previousSecret: withAuth.secret as string,
  };
}

describe('rotating the master key', () => {
  let ts: TestStore;
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  beforeEach(async () => {
    ts = await createTestStore();
  });
  afterEach(async () => ts.cleanup());

  it('re-seals every sealed column in one go: the new key opens everything, the old one nothing, deliveries still verify', async () => {
    const rx = await startReceiver();
    try {
      const before = await appWith(ts.store, oldKey);
      const seeded = await seedSealed(before, rx.url);
      const sealedBefore = await sealedValues(ts.store);
      // One endpoint secret, one endpoint with secret + previous secret + auth, two destinations.
      expect(Object.values(sealedBefore).filter((v) => v !== null)).toHaveLength(6);
      await before.http.close();

      expect(await rotateMasterKey(ts.store, oldKey, newKey)).toEqual({ endpoints: 2, destinations: 2, values: 6 });
      const sealedAfter = await sealedValues(ts.store);
      expect(Object.keys(sealedAfter)).toEqual(Object.keys(sealedBefore));
      for (const k of Object.keys(sealedBefore)) {
        if (sealedBefore[k] === null) expect(sealedAfter[k]).toBeNull();
        else expect(sealedAfter[k]).not.toBe(sealedBefore[k]);
      }

      // Under the new key the product behaves exactly as before: secrets reveal, credentials are sent, signatures verify.
      const after = await appWith(ts.store, newKey);
      const reveal = await after.http.inject({
        method: 'GET',
        url: `/api/v1/webhooks/${seeded.authEndpoint}/secret`,
        headers: bearer(seeded.volt.adminKey),
      });
      expect(reveal.json().data.secret).toBe(seeded.rotatedSecret);
      const automations = await after.http.inject({
        method: 'GET',
        url: '/api/v1/automations',
        headers: bearer(seeded.volt.adminKey),
      });
      expect(automations.statusCode).toBe(200);
      expect(JSON.stringify(automations.json())).toContain('hooks.example.com/alert');
      const t = {
        app: after,
        clock: after.ctx.clock as ManualClock,
        store: ts.store,
        config: testConfig({ masterKey: newKey }),
      } as Parameters<typeof testWorker>[0];
      const worker = await testWorker(t);
      const filed = await after.http.inject({
        method: 'POST',
        url: '/api/consumer/v1/complaints',
        headers: bearer(seeded.volt.consumerToken),
        payload: { company_code: 'VOLT', complaint_category: 'x', title: 'y', description: 'z' },
      });
      expect(filed.statusCode).toBe(201);
      expect(await worker.worker.drain()).toBe(2);
      await worker.stop();
      const withAuth = rx.requests.find((r) => r.url.includes('auth=1'))!;
      expect(withAuth.headers.authorization).toBe('Bearer rotating-bearer-token');
      // Both secrets of the grace period still sign (Standard Webhooks verifies against either).
      for (const secret of [seeded.rotatedSecret, seeded.previousSecret]) {
        expect(() =>
          new Webhook(secret).verify(withAuth.body.toString(), withAuth.headers as Record<string, string>),
        ).not.toThrow();
      }
      const plainReq = rx.requests.find((r) => !r.url.includes('auth=1'))!;
      expect(() =>
        new Webhook(seeded.plainSecret).verify(plainReq.body.toString(), plainReq.headers as Record<string, string>),
      ).not.toThrow();
      await after.http.close();

      // The old key opens nothing any more: rotating again from it is refused, and changes nothing.
      await expect(rotateMasterKey(ts.store, oldKey, randomBytes(32))).rejects.toThrow(
        /cannot be opened with the current master key/,
      );
      expect(await sealedValues(ts.store)).toEqual(sealedAfter);
    } finally {
      await rx.close();
    }
  });

  it('all or nothing: one value the current key cannot open aborts the rotation and nothing changes', async () => {
    const app = await appWith(ts.store, oldKey);
    await seedSealed(app, 'https://hooks.example.com/x');
    await app.http.close();
    // A destination sealed under some other key (a restore from elsewhere, a hand edit).
    const stray = await ts.store.db
      .selectFrom('destinations')
      .select('id')
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    const { SecretBox } = await import('../../src/security/secret-box.js');
    await ts.store.db
      .updateTable('destinations')
      .set({ config_enc: new SecretBox(randomBytes(32)).sealJson({ url: 'https://x' }) })
      .where('id', '=', stray.id)
      .execute();
    const before = await sealedValues(ts.store);
    const err = await rotateMasterKey(ts.store, oldKey, newKey).catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err.message).toContain(`destination ${stray.id} config_enc`);
    expect(await sealedValues(ts.store)).toEqual(before);
    // A dry run finds the same problem without writing; the same key twice is refused.
    await expect(rotateMasterKey(ts.store, oldKey, newKey, { dryRun: true })).rejects.toThrow(stray.id);
    await expect(rotateMasterKey(ts.store, oldKey, Buffer.from(oldKey))).rejects.toThrow(
      /new master key is the current one/,
    );
  });
});

describe('escalatr rotate-master-key', () => {
  const oldKeyBase64 = randomBytes(32).toString('base64');
  let cli: CliEnv;
  const saved = { ...process.env };
  let out = '';
  beforeEach(async () => {
    cli = await createCliEnv();
    out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += chunk.toString();
      return true;
    });
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    await cli.cleanup();
  });
  // The CLI harness made this file a database of its own on PostgreSQL; without this, every run left it behind.
  afterAll(dropFileDatabase);

  const run = async (...args: string[]) => {
    const program = new Command('escalatr').exitOverride();
    registerRotateMasterKey(program);
    await program.parseAsync(args, { from: 'user' });
    return out;
  };
  /** The CLI's own store, opened in this process with a given key to set up and check. */
  const openCliStore = async () => {
    const store = cli.databaseUrl
      ? openStore({ databaseUrl: cli.databaseUrl, poolSize: 2 })
      : openStore({ sqliteFile: join(cli.dataDir, 'escalatr.db') });
    await migrateToLatest(store.db);
    return store;
  };
  const revealWith = async (store: Store, key: Buffer, endpointId: string, apiKey: string) => {
    const app = await appWith(store, key);
    const r = await app.http.inject({
      method: 'GET',
      url: `/api/v1/webhooks/${endpointId}/secret`,
      headers: bearer(apiKey),
    });
    await app.http.close();
    return r;
  };

  it('with the key file: --generate replaces master.key (0600) after re-sealing; the service opens everything with it', async () => {
    Object.assign(process.env, { ...cli.env, ESCALATR_MASTER_KEY: '', ESCALATR_NEW_MASTER_KEY: '' });
    const keyFile = join(cli.dataDir, 'master.key');
    writeFileSync(keyFile, oldKeyBase64 + '\n', { mode: 0o600 });
    const store = await openCliStore();
    const app = await appWith(store, Buffer.from(oldKeyBase64, 'base64'));
    const seeded = await seedSealed(app, 'https://hooks.example.com/x');
    await app.http.close();

    const result = JSON.parse(await run('rotate-master-key', '--generate', '--json'));
    expect(result).toEqual({ endpoints: 2, destinations: 2, values: 6, dry_run: false, key_file: keyFile });
    expect(existsSync(`${keyFile}.next`)).toBe(false);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const fileKey = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64');
    expect(fileKey).toHaveLength(32);
    expect(fileKey.toString('base64')).not.toBe(oldKeyBase64);
    expect(out).not.toContain(fileKey.toString('hex'));
    expect((await revealWith(store, fileKey, seeded.authEndpoint, seeded.volt.adminKey)).json().data.secret).toBe(
      seeded.rotatedSecret,
    );
    await store.close();
  });

  it('with ESCALATR_MASTER_KEY: the new key comes from ESCALATR_NEW_MASTER_KEY and no key file is written', async () => {
    const current = randomBytes(32);
    const next = randomBytes(32);
    Object.assign(process.env, {
      ...cli.env,
      ESCALATR_MASTER_KEY: current.toString('hex'),
      ESCALATR_NEW_MASTER_KEY: next.toString('base64'),
    });
    const store = await openCliStore();
    const app = await appWith(store, current);
    const seeded = await seedSealed(app, 'https://hooks.example.com/x');
    await app.http.close();

    const dry = await run('rotate-master-key', '--dry-run');
    expect(dry).toMatch(/All 6 sealed values .* open with the current master key/);
    out = '';
    const text = await run('rotate-master-key');
    expect(text).toMatch(/Re-sealed 6 values/);
    expect(text).toMatch(/Set ESCALATR_MASTER_KEY to the new key/);
    expect(text).not.toContain(next.toString('hex'));
    expect(text).not.toContain(next.toString('base64'));
    expect(existsSync(join(cli.dataDir, 'master.key'))).toBe(false);
    expect((await revealWith(store, next, seeded.authEndpoint, seeded.volt.adminKey)).json().data.secret).toBe(
      seeded.rotatedSecret,
    );
    await store.close();
  });

  it('refuses to guess: no new key and no --generate, or a malformed new key, names the variable and changes nothing', async () => {
    Object.assign(process.env, {
      ...cli.env,
      ESCALATR_MASTER_KEY: randomBytes(32).toString('hex'),
      ESCALATR_NEW_MASTER_KEY: '',
    });
    await expect(run('rotate-master-key')).rejects.toThrow(/ESCALATR_NEW_MASTER_KEY: is not set/);
    process.env.ESCALATR_NEW_MASTER_KEY = 'too-short';
    await expect(run('rotate-master-key')).rejects.toThrow(/ESCALATR_NEW_MASTER_KEY: must be 32 bytes/);
    await expect(run('rotate-master-key', '--generate')).rejects.toThrow(/use one or the other/);
  });
});
