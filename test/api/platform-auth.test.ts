import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { setCompanyPlan } from '../../src/domain/companies.js';
import { bearer, type TestApp } from '../helpers/harness.js';
import { call, expectError, file, get, session, tenant, type Tenant, appWithTenant } from './platform-fixtures.js';

const BAD_KEY_BODY = {
  success: false,
  error: { code: 'unauthorized', message: 'Missing, unknown or revoked API key' },
};

const keysInStore = async (t: TestApp) =>
  Number(
    (
      await t.store.db
        .selectFrom('api_keys')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

describe('Platform API credentials', () => {
  let t: TestApp;
  let v: Tenant;
  let complaintId: string;
  beforeEach(async () => {
    ({ t, v } = await appWithTenant());
    complaintId = await file(t, v);
  });
  afterEach(async () => t.close());

  const readRoutes = () => ['/complaints', `/complaints/${complaintId}`, '/events', '/me'];

  it('accepts the key as Authorization: Bearer and as X-API-Key, case-insensitively for the scheme', async () => {
    for (const headers of [
      bearer(v.readKey),
      { authorization: `bearer ${v.readKey}` },
      { 'x-api-key': v.readKey },
      { 'x-api-key': ` ${v.readKey} ` },
    ]) {
      for (const path of readRoutes())
        expect((await get(t, path, headers)).status, `${path} ${JSON.stringify(headers)}`).toBe(200);
    }
  });

  it('answers one and the same 401 for unknown, malformed, revoked and consumer credentials', async () => {
    const revoke = await call(t, {
      method: 'DELETE',
      url: `/api/v1/api-keys/${(await get(t, '/me', bearer(v.readKey))).body.data.api_key.id}`,
      headers: bearer(v.adminKey),
    });
    expect(revoke.status).toBe(200);
    const presented: Array<Record<string, string>> = [
      bearer('esc_' + 'A'.repeat(43)),
      bearer(v.adminKey.slice(0, -1)),
      bearer(v.adminKey + 'x'),
      bearer(v.readKey),
      bearer(v.consumerToken),
      bearer('esc_' + 'a'.repeat(5000)),
      { authorization: 'Bearer' },
      { authorization: 'Bearer   ' },
      { authorization: `Basic ${Buffer.from('user:pass').toString('base64')}` },
      { authorization: `Token ${v.adminKey}` },
      { authorization: `Bearer ${v.adminKey} extra` },
      { 'x-api-key': '' },
      { 'x-api-key': 'nonsense' },
      { 'x-api-key': v.consumerToken },
      { 'x-api-key': v.readKey },
    ];
    for (const headers of presented) {
      for (const path of [...readRoutes(), '/api-keys']) {
        const r = await get(t, path, headers);
        expect(r.status, `${path} ${JSON.stringify(headers).slice(0, 80)}`).toBe(401);
        expect(r.body).toEqual(BAD_KEY_BODY);
        expect(r.headers['www-authenticate']).toBe('Bearer realm="escalatr"');
      }
    }
  });

  it('answers 401 with no credentials at all, or with an expired or unknown session', async () => {
    const expired = await session(t, v.company.id, 'owner');
    t.clock.advance(2 * 3600_000);
    for (const headers of [{}, expired.cookie, { cookie: 'escalatr_session=not-a-session' }]) {
      for (const path of [...readRoutes(), '/api-keys']) {
        const r = await get(t, path, headers);
        expectError(r, 401, 'unauthorized');
        expect(r.headers['www-authenticate']).toBe('Bearer realm="escalatr"');
      }
    }
    expectError(
      await call(t, { method: 'POST', url: '/api/v1/api-keys', payload: { name: 'x' } }),
      401,
      'unauthorized',
    );
    expectError(
      await call(t, { method: 'DELETE', url: '/api/v1/api-keys/key_aaaaaaaaaaaaaaaaaaaa' }),
      401,
      'unauthorized',
    );
  });

  it('refuses keys with 403 plan_required once the company drops below Professional, and takes them back after', async () => {
    const owner = await session(t, v.company.id, 'owner');
    await setCompanyPlan(t.app.ctx, 'VOLT', 'starter');
    for (const key of [v.readKey, v.adminKey]) {
      for (const path of [...readRoutes(), '/api-keys'])
        expectError(await get(t, path, bearer(key)), 403, 'plan_required');
    }
    // The dashboard still works for the company's staff, and says API access is off.
    expect((await get(t, '/complaints', owner.cookie)).status).toBe(200);
    const me = await get(t, '/me', owner.cookie);
    expect(me.body.data).toMatchObject({ company: { code: 'VOLT', plan: 'starter' }, api_access: false });
    const before = await keysInStore(t);
    expectError(
      await call(t, { method: 'POST', url: '/api/v1/api-keys', headers: owner.withCsrf, payload: { name: 'ci' } }),
      403,
      'plan_required',
    );
    expect(await keysInStore(t)).toBe(before);
    await setCompanyPlan(t.app.ctx, 'VOLT', 'enterprise');
    expect((await get(t, '/complaints', bearer(v.readKey))).status).toBe(200);
  });

  it('GET /me tells who is calling: the key, or the signed-in user', async () => {
    const byKey = await get(t, '/me', bearer(v.readKey));
    expect(byKey.body).toEqual({
      success: true,
      data: {
        company: { code: 'VOLT', name: 'VOLT Corp', plan: 'professional' },
        user: null,
        api_key: { id: expect.stringMatching(/^key_/), name: 'read', scope: 'read' },
        api_access: true,
        permissions: ['read'],
      },
    });
    const agent = await session(t, v.company.id, 'agent', 'agent@volt.test');
    const bySession = await get(t, '/me', agent.cookie);
    expect(bySession.body.data).toEqual({
      company: { code: 'VOLT', name: 'VOLT Corp', plan: 'professional' },
      user: { email: 'agent@volt.test', role: 'agent' },
      api_key: null,
      api_access: true,
      permissions: ['read', 'work'],
    });
    expect((await get(t, '/me', bearer(v.adminKey))).body.data.permissions).toEqual(['read', 'work', 'admin']);
  });
});

describe('API key management', () => {
  let t: TestApp;
  let v: Tenant;
  beforeEach(async () => {
    ({ t, v } = await appWithTenant());
  });
  afterEach(async () => t.close());

  const create = (headers: Record<string, string>, payload: unknown) =>
    call(t, { method: 'POST', url: '/api/v1/api-keys', headers, payload: payload as object });
  const revoke = (headers: Record<string, string>, id: string) =>
    call(t, { method: 'DELETE', url: `/api/v1/api-keys/${id}`, headers });

  it('creates a key shown in full once, which works at once, and lists keys without ever showing a key or its hash', async () => {
    const owner = await session(t, v.company.id, 'owner');
    const made = await create(owner.withCsrf, { name: 'Zapier sync' });
    expect(made.status).toBe(201);
    const key = made.body.data.key as string;
    expect(made.body.data).toEqual({
      id: expect.stringMatching(/^key_/),
      name: 'Zapier sync',
      prefix: key.slice(0, 12),
      scope: 'read',
      created_at: new Date(t.clock.now()).toISOString(),
      last_used_at: null,
      revoked_at: null,
      key,
    });
    expect(key).toMatch(/^esc_[A-Za-z0-9_-]{43}$/);
    expect((await get(t, '/complaints', bearer(key))).status).toBe(200);
    expectError(await get(t, '/api-keys', bearer(key)), 403, 'insufficient_scope');

    const admin = await create(bearer(v.adminKey), { name: 'ops', scope: 'admin' });
    expect(admin.status).toBe(201);
    expect(admin.body.data.scope).toBe('admin');
    expect((await get(t, '/api-keys', bearer(admin.body.data.key))).status).toBe(200);

    const hashes = (await t.store.db.selectFrom('api_keys').select('key_hash').execute()).map((r) => r.key_hash);
    for (const headers of [owner.cookie, bearer(v.adminKey)]) {
      const list = await get(t, '/api-keys', headers);
      expect(list.status).toBe(200);
      expect(list.body.data.map((k: { name: string }) => k.name).sort()).toEqual([
        'Zapier sync',
        'admin',
        'ops',
        'read',
      ]);
      for (const item of list.body.data)
        expect(Object.keys(item)).toEqual([
          'id',
          'name',
          'prefix',
          'scope',
          'created_at',
          'last_used_at',
          'revoked_at',
        ]);
      const text = JSON.stringify(list.body);
      for (const secret of [key, admin.body.data.key, v.adminKey, v.readKey, ...hashes])
        expect(text).not.toContain(secret);
    }
    const zapier = (await get(t, '/api-keys', owner.cookie)).body.data.find(
      (k: { name: string }) => k.name === 'Zapier sync',
    );
    expect(zapier.last_used_at).toBe(new Date(t.clock.now()).toISOString());
  });

  it('lets only owners, admins and admin-scope keys manage keys', async () => {
    const agent = await session(t, v.company.id, 'agent');
    const viewer = await session(t, v.company.id, 'viewer');
    const admin = await session(t, v.company.id, 'admin');
    const someKey = (await get(t, '/api-keys', bearer(v.adminKey))).body.data[0].id;
    const before = await keysInStore(t);
    expectError(await get(t, '/api-keys', bearer(v.readKey)), 403, 'insufficient_scope');
    expectError(await create(bearer(v.readKey), { name: 'x' }), 403, 'insufficient_scope');
    expectError(await revoke(bearer(v.readKey), someKey), 403, 'insufficient_scope');
    for (const s of [agent, viewer]) {
      expectError(await get(t, '/api-keys', s.cookie), 403, 'forbidden');
      expectError(await create(s.withCsrf, { name: 'x' }), 403, 'forbidden');
      expectError(await revoke(s.withCsrf, someKey), 403, 'forbidden');
    }
    // A session write without its CSRF token is refused before anything happens.
    expectError(await create(admin.cookie, { name: 'x' }), 403, 'csrf_failed');
    expectError(await revoke(admin.cookie, someKey), 403, 'csrf_failed');
    expectError(await create({ ...admin.cookie, 'x-csrf-token': 'wrong' }, { name: 'x' }), 403, 'csrf_failed');
    expect(await keysInStore(t)).toBe(before);
    expect(
      (await get(t, '/api-keys', bearer(v.adminKey))).body.data.every(
        (k: { revoked_at: unknown }) => k.revoked_at === null,
      ),
    ).toBe(true);
    expect((await create(admin.withCsrf, { name: 'by admin' })).status).toBe(201);
  });

  it('refuses bad bodies with a 4xx and writes nothing', async () => {
    const before = await keysInStore(t);
    const cases: Array<[unknown, number, string]> = [
      [{}, 400, 'validation_failed'],
      [{ name: '' }, 400, 'validation_failed'],
      [{ name: '   ' }, 400, 'validation_failed'],
      [{ name: 'x'.repeat(101) }, 400, 'validation_failed'],
      [{ name: 5 }, 400, 'validation_failed'],
      [{ name: null }, 400, 'validation_failed'],
      [{ name: ['a'] }, 400, 'validation_failed'],
      [{ name: 'ok', scope: 'owner' }, 400, 'validation_failed'],
      [{ name: 'ok', scope: 'READ' }, 400, 'validation_failed'],
      [{ name: 'ok', key: 'esc_chosen_by_me' }, 400, 'validation_failed'],
      [[{ name: 'ok' }], 400, 'validation_failed'],
    ];
    for (const [payload, status, code] of cases) expectError(await create(bearer(v.adminKey), payload), status, code);
    expectError(
      await call(t, {
        method: 'POST',
        url: '/api/v1/api-keys',
        headers: { ...bearer(v.adminKey), 'content-type': 'application/json' },
        payload: '{"name": "x"',
      }),
      400,
      'invalid_json',
    );
    expectError(
      await call(t, {
        method: 'POST',
        url: '/api/v1/api-keys',
        headers: { ...bearer(v.adminKey), 'content-type': 'application/json' },
        payload: JSON.stringify({ name: 'x', pad: 'p'.repeat(2 * 1024 * 1024) }),
      }),
      413,
      'payload_too_large',
    );
    expectError(
      await call(t, {
        method: 'POST',
        url: '/api/v1/api-keys',
        headers: { ...bearer(v.adminKey), 'content-type': 'application/xml' },
        payload: '<name>x</name>',
      }),
      415,
      'unsupported_media_type',
    );
    expectError(
      await call(t, {
        method: 'POST',
        url: '/api/v1/api-keys',
        headers: { ...bearer(v.adminKey), 'content-type': 'text/plain' },
        payload: 'name=x',
      }),
      400,
      'validation_failed',
    );
    expectError(
      await call(t, { method: 'POST', url: '/api/v1/api-keys', headers: bearer(v.adminKey) }),
      400,
      'validation_failed',
    );
    expect(await keysInStore(t)).toBe(before);
  });

  it('revokes at once; another company’s key, a missing one and a malformed id are all 404', async () => {
    const other = await tenant(t, 'OTHR');
    const owner = await session(t, v.company.id, 'owner');
    const made = (await create(owner.withCsrf, { name: 'temp' })).body.data;
    expect((await get(t, '/events', bearer(made.key))).status).toBe(200);

    const theirs = (await get(t, '/api-keys', bearer(other.adminKey))).body.data[0].id;
    for (const id of [
      theirs,
      'key_aaaaaaaaaaaaaaaaaaaa',
      'nope',
      'key_',
      `key_${'a'.repeat(80)}`,
      'KEY_AAAAAAAAAAAAAAAAAAAA',
    ])
      expectError(await revoke(bearer(v.adminKey), id), 404, 'not_found');
    expect((await get(t, '/complaints', bearer(other.readKey))).status).toBe(200);
    expect(
      (await get(t, '/api-keys', bearer(other.adminKey))).body.data.every(
        (k: { revoked_at: unknown }) => k.revoked_at === null,
      ),
    ).toBe(true);

    t.clock.advance(5000);
    const revoked = await revoke(owner.withCsrf, made.id);
    expect(revoked.status).toBe(200);
    expect(revoked.body.data).toMatchObject({
      id: made.id,
      name: 'temp',
      revoked_at: new Date(t.clock.now()).toISOString(),
    });
    expect(revoked.body.data.key).toBeUndefined();
    expect(await get(t, '/events', bearer(made.key))).toMatchObject({ status: 401, body: BAD_KEY_BODY });

    // Revoking again changes nothing.
    t.clock.advance(5000);
    const again = await revoke(bearer(v.adminKey), made.id);
    expect(again.status).toBe(200);
    expect(again.body.data.revoked_at).toBe(revoked.body.data.revoked_at);

    // An admin key can revoke itself; its next request is refused.
    const selfId = (await get(t, '/me', bearer(v.adminKey))).body.data.api_key.id;
    expect((await revoke(bearer(v.adminKey), selfId)).status).toBe(200);
    expect((await get(t, '/me', bearer(v.adminKey))).status).toBe(401);
  });
});

describe('rate limiting per API key', () => {
  let t: TestApp;
  let v: Tenant;
  beforeEach(async () => {
    ({ t, v } = await appWithTenant({ config: { rateLimitPerMin: 3 } }));
  });
  afterEach(async () => t.close());

  it('answers 429 rate_limited with Retry-After once a key is over its limit, per key', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await get(t, '/complaints', i % 2 ? bearer(v.adminKey) : { 'x-api-key': v.adminKey });
      expect(r.status).toBe(200);
      expect(r.headers['x-ratelimit-limit']).toBe('3');
      expect(r.headers['x-ratelimit-remaining']).toBe(String(2 - i));
    }
    const over = await get(t, '/events', bearer(v.adminKey));
    expectError(over, 429, 'rate_limited');
    const retryAfter = Number(over.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(over.body.error.details).toEqual({ retry_after: retryAfter, limit: 3 });
    expectError(
      await call(t, { method: 'POST', url: '/api/v1/api-keys', headers: bearer(v.adminKey), payload: { name: 'x' } }),
      429,
      'rate_limited',
    );

    // Same client address, another key: its own budget.
    expect((await get(t, '/complaints', bearer(v.readKey))).status).toBe(200);
    // Bad credentials are refused as such, not counted against anyone.
    for (let i = 0; i < 5; i++) expect((await get(t, '/complaints', bearer('esc_unknown'))).status).toBe(401);
    expect((await get(t, '/complaints', bearer(v.readKey))).status).toBe(200);
    // Health checks and the documentation are not limited.
    for (let i = 0; i < 5; i++) expect((await call(t, { method: 'GET', url: '/healthz' })).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await call(t, { method: 'GET', url: '/openapi.json' })).status).toBe(200);
  });

  it('counts a request whose body fails validation, and refuses one over the limit before reading its body', async () => {
    const post = (payload: unknown) =>
      call(t, { method: 'POST', url: '/api/v1/api-keys', headers: bearer(v.adminKey), payload: payload as object });
    for (let i = 0; i < 3; i++) expectError(await post({ name: 42 }), 400, 'validation_failed');
    expectError(await get(t, '/complaints', bearer(v.adminKey)), 429, 'rate_limited');
    expectError(await post({ name: 'x'.repeat(2_000_000) }), 429, 'rate_limited');
  });

  it('limits each consumer on the Consumer API, whatever its tokens', async () => {
    const mine = (url: string, token = v.consumerToken) =>
      call(t, { method: 'GET', url: `/api/consumer/v1${url}`, headers: bearer(token) });
    for (let i = 0; i < 3; i++) expect((await mine('/complaints')).status).toBe(200);
    expectError(await mine('/complaints'), 429, 'rate_limited');
    // Another consumer has its own budget.
    const other = await tenant(t, 'ACME');
    expect((await mine('/complaints', other.consumerToken)).status).toBe(200);
  });

  it('limits dashboard sessions by client address', async () => {
    const viewer = await session(t, v.company.id, 'viewer');
    for (let i = 0; i < 3; i++) expect((await get(t, '/complaints', viewer.cookie)).status).toBe(200);
    expectError(await get(t, '/complaints', viewer.cookie), 429, 'rate_limited');
    expect((await get(t, '/complaints', bearer(v.readKey))).status).toBe(200);
  });
});

describe('ESCALATR_RATE_LIMIT_PER_MIN', () => {
  const env = (value?: string) => ({
    DATA_DIR: mkdtempSync(join(tmpdir(), 'escalatr-cfg-')),
    ESCALATR_MASTER_KEY: 'ab'.repeat(32),
    ...(value === undefined ? {} : { ESCALATR_RATE_LIMIT_PER_MIN: value }),
  });

  it('defaults to 600 a minute, accepts 0 (off) and whole numbers, and names itself when wrong', () => {
    expect(loadConfig(env()).rateLimitPerMin).toBe(600);
    expect(loadConfig(env('0')).rateLimitPerMin).toBe(0);
    expect(loadConfig(env('1200')).rateLimitPerMin).toBe(1200);
    for (const bad of ['abc', '-1', '1.5', '10e3', '2000000'])
      expect(() => loadConfig(env(bad)), bad).toThrow(/ESCALATR_RATE_LIMIT_PER_MIN/);
  });
});
