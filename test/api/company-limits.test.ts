import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultShieldThreads, loadConfig, type CompanyLimits } from '../../src/config.js';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { call, expectError } from './platform-fixtures.js';
import { processorFor, record } from '../shield/shield-helpers.js';

const LIMITS: CompanyLimits = {
  feedbackPerMin: 1000,
  resendsPerMin: 2,
  endpoints: 2,
  automations: 1,
  recoverDeliveries: 5,
  apiKeys: 3,
  requestsPerMin: 0,
  servingMsPerMin: 0,
  bodiesReceiving: 0,
  connections: 0,
};
const HOOK_URL = 'http://127.0.0.1:9/hook';

const batch = (prefix: string, n: number) => ({
  records: Array.from({ length: n }, (_, i) => record(`${prefix}-${i}`, `Record ${i}: the delivery was late again.`)),
});

describe('per-company limits on expensive work', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<typeof seedTenant>>;
  let b: Awaited<ReturnType<typeof seedTenant>>;
  beforeEach(async () => {
    t = await createTestApp({ config: { companyLimits: LIMITS } });
    a = await seedTenant(t, { code: 'ACME' });
    b = await seedTenant(t, { code: 'BOLT' });
  });
  afterEach(async () => t.close());

  const post = (key: string, url: string, payload: unknown) =>
    call(t, { method: 'POST', url: `/api/v1${url}`, headers: bearer(key), payload: payload as object });
  const count = async (table: 'feedback_records' | 'endpoints' | 'automations', companyId: string) =>
    Number(
      (
        await t.store.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll().as('n'))
          .where('company_id', '=', companyId)
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('refuses a feedback batch over the per-minute rate with 429 and Retry-After, stores none of it, and loses nothing', async () => {
    expect((await post(a.adminKey, '/feedback', batch('first', 600))).status).toBe(202);

    const over = await post(a.adminKey, '/feedback', batch('second', 500));
    expectError(over, 429, 'feedback_rate_limited');
    // 100 of the first 600 must leave the minute before the 500 fit; all 600 arrived now.
    expect(over.headers['retry-after']).toBe('60');
    expect(over.body.error.details).toEqual({ limit: 1000, used: 600, batch: 500, retry_after: 60 });
    expect(await count('feedback_records', a.company.id)).toBe(600);

    // Sending the stored batch again is not refused: duplicates are not new records.
    const again = await post(a.adminKey, '/feedback', batch('first', 600));
    expect(again.status).toBe(202);
    expect(again.body.data).toMatchObject({ accepted: 0, duplicates: 600 });
    // Another company has its own minute.
    expect((await post(b.adminKey, '/feedback', batch('other', 1000))).status).toBe(202);

    // Half a minute on, the window still holds the 600.
    t.clock.advance(30_000);
    const still = await post(a.adminKey, '/feedback', batch('second', 500));
    expectError(still, 429, 'feedback_rate_limited');
    expect(still.headers['retry-after']).toBe('30');

    // After Retry-After the refused batch goes in, and every accepted record is scored.
    t.clock.advance(30_000);
    const later = await post(a.adminKey, '/feedback', batch('second', 500));
    expect(later.status).toBe(202);
    expect(later.body.data).toMatchObject({ accepted: 500, duplicates: 0 });
    expect((await processorFor(t).tick()).scored).toBe(2100);
    const unscored = await t.store.db
      .selectFrom('feedback_records')
      .select('id')
      .where('scored_at', 'is', null)
      .execute();
    expect(unscored).toEqual([]);
    expect(await count('feedback_records', a.company.id)).toBe(1100);
  });

  it('still answers bad input before the rate: an invalid body is a 400 even for a company over it', async () => {
    expect((await post(a.adminKey, '/feedback', batch('fill', 1000))).status).toBe(202);
    expectError(await post(a.adminKey, '/feedback', { records: 'many' }), 400, 'validation_failed');
    expectError(await post(a.adminKey, '/feedback', batch('more', 1)), 429, 'feedback_rate_limited');
    expect(await count('feedback_records', a.company.id)).toBe(1000);
  });

  it('refuses an endpoint over the per-company count with 409 endpoint_limit_reached, creating nothing', async () => {
    for (let i = 0; i < 2; i++)
      expect((await post(a.adminKey, '/webhooks', { url: `${HOOK_URL}/${i}`, events: ['*'] })).status).toBe(201);
    const over = await post(a.adminKey, '/webhooks', { url: HOOK_URL, events: ['*'] });
    expectError(over, 409, 'endpoint_limit_reached');
    expect(over.body.error.details).toEqual({ limit: 2 });
    expect(await count('endpoints', a.company.id)).toBe(2);
    expect((await post(b.adminKey, '/webhooks', { url: HOOK_URL, events: ['*'] })).status).toBe(201);
  });

  it('refuses an automation over the per-company count with 409 automation_limit_reached, creating nothing', async () => {
    const automation = { name: 'Escalations', filter: { min_level: 'high' }, destinations: [] };
    expect((await post(a.adminKey, '/automations', automation)).status).toBe(201);
    const over = await post(a.adminKey, '/automations', automation);
    expectError(over, 409, 'automation_limit_reached');
    expect(over.body.error.details).toEqual({ limit: 1 });
    expect(await count('automations', a.company.id)).toBe(1);
    expect((await post(b.adminKey, '/automations', automation)).status).toBe(201);
  });

  it('refuses an API key over the per-company count of keys not revoked with 409 api_key_limit_reached', async () => {
    const keys = () =>
      t.store.db
        .selectFrom('api_keys')
        .select(['id', 'name', 'revoked_at'])
        .where('company_id', '=', a.company.id)
        .execute();
    const before = (await keys()).filter((k) => k.revoked_at === null).length;
    for (let i = before; i < LIMITS.apiKeys; i++)
      expect((await post(a.adminKey, '/api-keys', { name: `k${i}`, scope: 'read' })).status).toBe(201);
    const over = await post(a.adminKey, '/api-keys', { name: 'one too many', scope: 'read' });
    expectError(over, 409, 'api_key_limit_reached');
    expect(over.body.error.details).toEqual({ limit: LIMITS.apiKeys });
    expect((await keys()).length).toBe(LIMITS.apiKeys);
    // Another company has its own count; a revoked key frees its place.
    expect((await post(b.adminKey, '/api-keys', { name: 'b', scope: 'read' })).status).toBe(201);
    const spare = (await keys()).find((k) => k.name.startsWith('k') && k.revoked_at === null)!;
    const made = await post(a.adminKey, '/api-keys', { name: 'still over', scope: 'read' });
    expectError(made, 409, 'api_key_limit_reached');
    await t.store.db.updateTable('api_keys').set({ revoked_at: t.clock.now() }).where('id', '=', spare.id).execute();
    expect((await post(a.adminKey, '/api-keys', { name: 'after a revoke', scope: 'read' })).status).toBe(201);
  });

  it('shares one per-minute rate between resends and recovers, per company, with 429 and Retry-After', async () => {
    const ep = (await post(a.adminKey, '/webhooks', { url: HOOK_URL, events: ['*'] })).body.data.id as string;
    const recover = (key: string, id: string) =>
      post(key, `/webhooks/${id}/recover`, { since: '2020-01-01T00:00:00Z' });
    expect((await recover(a.adminKey, ep)).status).toBe(200);
    t.clock.advance(20_000);
    expect((await recover(a.adminKey, ep)).status).toBe(200);
    const over = await recover(a.adminKey, ep);
    expectError(over, 429, 'resend_rate_limited');
    // The first of the two leaves the minute 40 s from now.
    expect(over.headers['retry-after']).toBe('40');
    expectError(
      await post(a.adminKey, `/deliveries/dlv_${'0'.repeat(20)}/resend`, undefined),
      429,
      'resend_rate_limited',
    );
    const other = (await post(b.adminKey, '/webhooks', { url: HOOK_URL, events: ['*'] })).body.data.id as string;
    expect((await recover(b.adminKey, other)).status).toBe(200);
    t.clock.advance(40_000);
    expect((await recover(a.adminKey, ep)).status).toBe(200);
  });
});

describe('requests per company a minute, over all its keys and sessions', () => {
  let t: TestApp;
  let a: Awaited<ReturnType<typeof seedTenant>>;
  let b: Awaited<ReturnType<typeof seedTenant>>;
  beforeEach(async () => {
    t = await createTestApp({ config: { companyLimits: { ...LIMITS, requestsPerMin: 4 } } });
    a = await seedTenant(t, { code: 'ACME' });
    b = await seedTenant(t, { code: 'BOLT' });
  });
  afterEach(async () => t.close());

  const get = (key: string, url = '/complaints') =>
    call(t, { method: 'GET', url: `/api/v1${url}`, headers: bearer(key) });

  it('counts every key of the company against one budget, refuses the next with 429 and Retry-After, and leaves other companies alone', async () => {
    for (const key of [a.adminKey, a.readKey, a.adminKey, a.readKey]) expect((await get(key)).status).toBe(200);
    t.clock.advance(20_000);
    const over = await get(a.readKey, '/events');
    expectError(over, 429, 'rate_limited');
    expect(over.headers['retry-after']).toBe('40');
    expect(over.body.error.details).toEqual({ retry_after: 40, limit: 4, per: 'company' });
    // A new key does not bring a new budget; a body is not read once over it.
    const made = await call(t, {
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: bearer(a.adminKey),
      payload: { name: 'x'.repeat(2_000_000) },
    });
    expectError(made, 429, 'rate_limited');
    // Another company has its own budget, and the Consumer API is not a company's.
    for (let i = 0; i < 4; i++) expect((await get(b.readKey)).status).toBe(200);
    const consumer = await call(t, {
      method: 'GET',
      url: '/api/consumer/v1/complaints',
      headers: bearer(a.consumerToken),
    });
    expect(consumer.status).toBe(200);
    // Health checks are not limited. A minute after its first request, the company's budget is new.
    expect((await call(t, { method: 'GET', url: '/healthz' })).status).toBe(200);
    t.clock.advance(40_000);
    expect((await get(a.readKey)).status).toBe(200);
  });
});

describe("the time spent serving a company's requests a minute", () => {
  let t: TestApp;
  let a: Awaited<ReturnType<typeof seedTenant>>;
  let b: Awaited<ReturnType<typeof seedTenant>>;
  beforeEach(async () => {
    t = await createTestApp({ config: { companyLimits: { ...LIMITS, servingMsPerMin: 5 } } });
    a = await seedTenant(t, { code: 'ACME' });
    b = await seedTenant(t, { code: 'BOLT' });
  });
  afterEach(async () => t.close());

  const get = (key: string) => call(t, { method: 'GET', url: '/api/v1/complaints', headers: bearer(key) });

  it('refuses a company whose requests took its share of the minute, and no other company', async () => {
    // Each request takes some real time to serve; 5 ms of them is used up long before a thousand.
    let served = 0;
    let refused: Awaited<ReturnType<typeof get>> | null = null;
    while (!refused && served < 1000) {
      const res = await get(served % 2 ? a.adminKey : a.readKey);
      if (res.status === 429) refused = res;
      else served++;
    }
    expect(served).toBeGreaterThan(0);
    expectError(refused!, 429, 'rate_limited');
    expect(refused!.body.error.details).toMatchObject({ limit: 5, per: 'company_time' });
    expect(Number(refused!.headers['retry-after'])).toBeGreaterThan(0);
    // The other company's share is its own; a minute after the first request, the company's is new.
    expect((await get(b.readKey)).status).toBe(200);
    t.clock.advance(60_000);
    expect((await get(a.readKey)).status).toBe(200);
  });
});

describe('limit settings', () => {
  const env = (vars: Record<string, string> = {}) => ({
    DATA_DIR: mkdtempSync(join(tmpdir(), 'escalatr-cfg-')),
    ESCALATR_MASTER_KEY: 'ab'.repeat(32),
    ...vars,
  });

  it('has defaults, accepts 0 for the rates, and names the variable when a value is wrong', () => {
    const config = loadConfig(env());
    expect(config.companyLimits).toEqual({
      feedbackPerMin: 6000,
      resendsPerMin: 60,
      endpoints: 50,
      automations: 100,
      recoverDeliveries: 10_000,
      apiKeys: 50,
      requestsPerMin: 3000,
      servingMsPerMin: 20_000,
      bodiesReceiving: 64,
      connections: 256,
    });
    expect(config.shieldThreads).toBe(defaultShieldThreads());
    expect(config.shieldCompanyInFlight).toBe(100);
    expect(
      loadConfig(
        env({
          ESCALATR_FEEDBACK_PER_MIN: '0',
          ESCALATR_RESENDS_PER_MIN: '0',
          ESCALATR_COMPANY_RATE_LIMIT_PER_MIN: '0',
          ESCALATR_COMPANY_SERVING_MS_PER_MIN: '0',
        }),
      ).companyLimits,
    ).toMatchObject({ feedbackPerMin: 0, resendsPerMin: 0, requestsPerMin: 0, servingMsPerMin: 0 });
    const bad: Array<[string, string]> = [
      ['ESCALATR_FEEDBACK_PER_MIN', '999'],
      ['ESCALATR_FEEDBACK_PER_MIN', 'lots'],
      ['ESCALATR_RESENDS_PER_MIN', '-1'],
      ['ESCALATR_MAX_ENDPOINTS', '0'],
      ['ESCALATR_MAX_AUTOMATIONS', '1.5'],
      ['ESCALATR_MAX_API_KEYS', '0'],
      ['ESCALATR_COMPANY_RATE_LIMIT_PER_MIN', '-5'],
      ['ESCALATR_SHIELD_THREADS', '0'],
      ['ESCALATR_SHIELD_COMPANY_IN_FLIGHT', '0'],
    ];
    for (const [name, value] of bad)
      expect(() => loadConfig(env({ [name]: value })), `${name}=${value}`).toThrow(new RegExp(name));
  });

  it('scores in one thread on one or two cores and in two from three up', () => {
    expect([1, 2, 3, 4, 16].map((cores) => defaultShieldThreads(cores))).toEqual([1, 1, 2, 2, 2]);
  });
});
