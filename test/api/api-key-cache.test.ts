import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiKeyCache, API_KEY_CACHE_MS } from '../../src/domain/api-key-cache.js';
import { revokeApiKey, type ApiKeyPrincipal } from '../../src/domain/api-keys.js';
import { setCompanyPlan } from '../../src/domain/companies.js';
import { Wakeups } from '../../src/queue/wakeup.js';
import { bearer, createTestApp, dialectName, type TestApp } from '../helpers/harness.js';
import { call, expectError, file, get, tenant, type Tenant } from './platform-fixtures.js';

/**
 * A verified API key is answered from the process's memory for a short while (src/domain/api-key-cache.ts). What must
 * hold: a revocation or plan change made through this process applies to the very next request; one made by another
 * process (the CLI, another API process) applies as soon as this process hears of its commit (PostgreSQL's NOTIFY,
 * SQLite's commit counter); one nothing told it of, within API_KEY_CACHE_MS; keys of different companies never answer
 * for each other.
 */
describe('API keys verified from memory', () => {
  let t: TestApp;
  let v: Tenant;
  beforeEach(async () => {
    t = await createTestApp();
    v = await tenant(t);
    await file(t, v);
  });
  afterEach(async () => t.close());

  const keyIdOf = async (key: string) => (await get(t, '/me', bearer(key))).body.data.api_key.id as string;
  /** Another process over the same store: its own connection, wake-ups and memory; it shares only the database. */
  const otherProcess = () => {
    const store = t.testStore.reopen();
    return { ...t.app.ctx, store, apiKeys: new ApiKeyCache(), wakeups: new Wakeups(store) };
  };
  /**
   * Settles when this process hears the next 'credentials' wake-up; its API's own listener, subscribed first, has
   * run by then. Call once `wakeups.ready()` has settled, before the change.
   */
  const nextCredentialsChange = () =>
    new Promise<void>((resolve) => {
      const heard = t.app.ctx.wakeups.subscribe('credentials', () => {
        void heard.close();
        resolve();
      });
    });

  it('refuses a key revoked through this process on its next request, however recently it was verified', async () => {
    const id = await keyIdOf(v.readKey);
    expect((await get(t, '/complaints', bearer(v.readKey))).status).toBe(200);
    const revoked = await call(t, { method: 'DELETE', url: `/api/v1/api-keys/${id}`, headers: bearer(v.adminKey) });
    expect(revoked.status).toBe(200);
    expectError(await get(t, '/complaints', bearer(v.readKey)), 401, 'unauthorized');
    // The company's other key is not touched.
    expect((await get(t, '/complaints', bearer(v.adminKey))).status).toBe(200);
  });

  it('refuses a key revoked, or a plan lowered, by another process as soon as this process hears of its commit', async () => {
    // PostgreSQL: the commit's NOTIFY on this process's LISTEN connection. SQLite: the commit counter, watched
    // every 250 ms. The clock does not move: nothing here waits for a cached key to expire.
    await t.app.ctx.wakeups.ready();
    const id = await keyIdOf(v.readKey);
    expect((await get(t, '/complaints', bearer(v.readKey))).status).toBe(200);
    expect((await get(t, '/complaints', bearer(v.adminKey))).status).toBe(200);
    const other = otherProcess();
    let heard = nextCredentialsChange();
    await revokeApiKey(other, v.company.id, id);
    await heard;
    expectError(await get(t, '/complaints', bearer(v.readKey)), 401, 'unauthorized');
    expect((await get(t, '/complaints', bearer(v.adminKey))).status).toBe(200);

    heard = nextCredentialsChange();
    await setCompanyPlan(other, 'VOLT', 'starter');
    await heard;
    expectError(await get(t, '/complaints', bearer(v.adminKey)), 403, 'plan_required');
  });

  // SQLite only: on PostgreSQL, NOTIFY channels are database-wide, and a parallel test's revocation would drop this
  // process's keys early (harmless, but it would make "still answered" below untrue).
  it.runIf(dialectName === 'sqlite')(
    'refuses a key revoked where nothing told this process once API_KEY_CACHE_MS has passed, and at once if it was not in memory',
    async () => {
      // A write on this process's own connection, past the domain: no notification, no commit by another connection.
      const revokeUntold = (keyId: string) =>
        t.store.db.updateTable('api_keys').set({ revoked_at: t.clock.now() }).where('id', '=', keyId).execute();
      const id = await keyIdOf(v.readKey);
      await revokeUntold(id);
      // Verified a moment ago: this process may still answer it, for no longer than the bound.
      t.clock.advance(API_KEY_CACHE_MS - 1);
      expect((await get(t, '/complaints', bearer(v.readKey))).status).toBe(200);
      t.clock.advance(1);
      expectError(await get(t, '/complaints', bearer(v.readKey)), 401, 'unauthorized');

      // A key this process had not verified yet is refused at once.
      const adminId = await keyIdOf(v.adminKey);
      t.clock.advance(API_KEY_CACHE_MS);
      await revokeUntold(adminId);
      expectError(await get(t, '/complaints', bearer(v.adminKey)), 401, 'unauthorized');
    },
  );

  it("applies this process's plan changes at once, both ways", async () => {
    expect((await get(t, '/complaints', bearer(v.readKey))).status).toBe(200);
    await setCompanyPlan(t.app.ctx, 'VOLT', 'starter');
    expectError(await get(t, '/complaints', bearer(v.readKey)), 403, 'plan_required');
    await setCompanyPlan(t.app.ctx, 'VOLT', 'enterprise');
    expect((await get(t, '/complaints', bearer(v.readKey))).status).toBe(200);
    await setCompanyPlan(t.app.ctx, 'VOLT', 'starter');
    expectError(await get(t, '/complaints', bearer(v.readKey)), 403, 'plan_required');
  });

  it("keeps companies apart: each key, verified from memory, reads only its own company's complaints", async () => {
    const w = await tenant(t, 'WATT');
    await file(t, w);
    await file(t, w);
    for (let round = 0; round < 3; round++) {
      const mine = await get(t, '/complaints', bearer(v.readKey));
      const theirs = await get(t, '/complaints', bearer(w.readKey));
      expect(mine.body.total).toBe(1);
      expect(mine.body.data.every((c: { escalatr_id: string }) => c.escalatr_id.startsWith('ESC-VOLT-'))).toBe(true);
      expect(theirs.body.total).toBe(2);
      expect(theirs.body.data.every((c: { escalatr_id: string }) => c.escalatr_id.startsWith('ESC-WATT-'))).toBe(true);
      expect((await get(t, '/me', bearer(w.adminKey))).body.data.company.code).toBe('WATT');
    }
  });

  it('still records when a key was last used, to the minute', async () => {
    const id = await keyIdOf(v.readKey);
    const lastUsed = async () =>
      Number(
        (await t.store.db.selectFrom('api_keys').select('last_used_at').where('id', '=', id).executeTakeFirstOrThrow())
          .last_used_at,
      );
    const first = await lastUsed();
    expect(first).toBe(t.clock.now());
    t.clock.advance(61_000);
    expect((await get(t, '/complaints', bearer(v.readKey))).status).toBe(200);
    expect(await lastUsed()).toBe(t.clock.now());
  });
});

describe('ApiKeyCache', () => {
  const principal = (keyId: string, companyId: string): ApiKeyPrincipal => ({
    keyId,
    companyId,
    companyCode: 'VOLT',
    plan: 'professional',
    scope: 'read',
    label: 'api-key:ci',
  });

  it('keeps an entry for API_KEY_CACHE_MS and not past it, nor when the clock went back', () => {
    const cache = new ApiKeyCache();
    cache.set('h1', principal('key_1', 'co_1'), 1_000, cache.stamp());
    expect(cache.get('h1', 1_000 + API_KEY_CACHE_MS - 1)?.keyId).toBe('key_1');
    expect(cache.get('h1', 1_000 + API_KEY_CACHE_MS)).toBeNull();
    cache.set('h2', principal('key_2', 'co_1'), 1_000, cache.stamp());
    expect(cache.get('h2', 999)).toBeNull();
  });

  it('does not keep what a read began before a revocation saw', () => {
    const cache = new ApiKeyCache();
    const stamp = cache.stamp();
    // The read is in flight when the key is revoked; its answer (the key, still valid) arrives after.
    cache.forgetKey('key_1');
    cache.set('h1', principal('key_1', 'co_1'), 1_000, stamp);
    expect(cache.get('h1', 1_000)).toBeNull();
  });

  it('forgets one key, or every key of one company, and nothing else', () => {
    const cache = new ApiKeyCache();
    cache.set('h1', principal('key_1', 'co_1'), 0, cache.stamp());
    cache.set('h2', principal('key_2', 'co_1'), 0, cache.stamp());
    cache.set('h3', principal('key_3', 'co_2'), 0, cache.stamp());
    cache.forgetKey('key_1');
    expect([cache.get('h1', 0), cache.get('h2', 0)?.keyId, cache.get('h3', 0)?.keyId]).toEqual([
      null,
      'key_2',
      'key_3',
    ]);
    cache.forgetCompany('co_1');
    expect([cache.get('h2', 0), cache.get('h3', 0)?.keyId]).toEqual([null, 'key_3']);
  });

  it('forgets every key when told a credential changed elsewhere, and keeps no read that began before', () => {
    const cache = new ApiKeyCache();
    cache.set('h1', principal('key_1', 'co_1'), 0, cache.stamp());
    cache.set('h2', principal('key_2', 'co_2'), 0, cache.stamp());
    const stamp = cache.stamp();
    cache.forgetAll();
    expect([cache.get('h1', 0), cache.get('h2', 0)]).toEqual([null, null]);
    cache.set('h1', principal('key_1', 'co_1'), 0, stamp);
    expect(cache.get('h1', 0)).toBeNull();
    cache.set('h1', principal('key_1', 'co_1'), 0, cache.stamp());
    expect(cache.get('h1', 0)?.keyId).toBe('key_1');
  });
});
