import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DUMMY_PASSWORD_HASH } from '../../src/security/passwords.js';
import { newToken } from '../../src/security/tokens.js';
import { SESSION_COOKIE } from '../../src/api/auth.js';
import { newId } from '../../src/ids.js';
import type { Role } from '../../src/domain/users.js';
import { API_KEY_CACHE_MS } from '../../src/domain/api-key-cache.js';
import { createTestApp, type TestApp } from '../helpers/harness.js';
import { call, fileComplaint, okData, seedCompany, snapshot, type Tenant } from '../domain/complaint-fixtures.js';

/**
 * Who may work and read complaints on the Platform API: admin keys and agent sessions work them, read keys and
 * viewers only read, anything else is 401; a company off the API plans gets 403 plan_required for its keys.
 */
describe('Platform API staff routes: credentials, scopes and plans', () => {
  let t: TestApp;
  let tenant: Tenant;
  let id: string;

  beforeAll(async () => {
    t = await createTestApp();
    tenant = await seedCompany(t);
    id = await fileComplaint(t, tenant.consumerToken);
  });
  afterAll(async () => t.close());

  const steps = (c: string): Array<[string, unknown?]> => [
    [`/complaints/${c}/claim`],
    [`/complaints/${c}/release`],
    [`/complaints/${c}/complete`, { resolution_notes: 'n' }],
    [`/complaints/${c}/messages`, { body: 'b' }],
    [`/complaints/${c}/settlements`, { amount: 1, currency: 'INR', terms: 't' }],
    [`/complaints/${c}/followups`, { question: 'q' }],
    [`/complaints/${c}/notes`, { body: 'n' }],
    [`/complaints/${c}/assign`, { assignee: 'someone@volt.test' }],
  ];
  const reads = (c: string) =>
    ['messages', 'evidence', 'settlements', 'followups', 'actions', 'social', 'events', 'notes'].map(
      (p) => `/complaints/${c}/${p}`,
    );

  const post = (path: string, payload: unknown, headers: Record<string, string>) =>
    call(t, {
      method: 'POST',
      url: `/api/v1${path}`,
      headers: { ...headers, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
    });
  const get = (path: string, headers: Record<string, string>) =>
    call(t, { method: 'GET', url: `/api/v1${path}`, headers });

  /** Inserts an API key row directly: createApiKey rightly refuses on plans without API access. */
  async function rawKey(companyId: string, scope: 'read' | 'admin'): Promise<string> {
    const { token, hash, displayPrefix } = newToken('esc_');
    await t.store.db
      .insertInto('api_keys')
      .values({
        id: newId('key'),
        company_id: companyId,
        name: 'raw',
        prefix: displayPrefix,
        key_hash: hash,
        scope,
        created_by: null,
        created_at: t.clock.now(),
        last_used_at: null,
        revoked_at: null,
      })
      .execute();
    return token;
  }

  /** A dashboard session of a user with this role, without the cost of hashing a real password. */
  async function session(role: Role, opts: { expired?: boolean } = {}): Promise<{ cookie: string; csrf: string }> {
    const userId = newId('usr');
    await t.store.db
      .insertInto('users')
      .values({
        id: userId,
        company_id: tenant.company.id,
        email: `${role}-${userId}@volt.test`,
        name: null,
        password_hash: DUMMY_PASSWORD_HASH,
        role,
        failed_logins: 0,
        locked_until: null,
        created_at: t.clock.now(),
      })
      .execute();
    const { token, hash } = newToken('ses_');
    const csrf = newId('csrf', 32);
    await t.store.db
      .insertInto('sessions')
      .values({
        id: hash,
        user_id: userId,
        company_id: tenant.company.id,
        csrf_token: csrf,
        expires_at: t.clock.now() + (opts.expired ? -1 : 3600_000),
        created_at: t.clock.now(),
      })
      .execute();
    return { cookie: `${SESSION_COOKIE}=${token}`, csrf };
  }

  function expectAll(answers: Array<{ path: string; status: number; code?: string }>, status: number, code: string) {
    for (const a of answers) expect(a).toEqual({ path: a.path, status, code });
  }

  it('answers 401 to a missing, unknown, revoked or malformed key on every route, before reading the body', async () => {
    const revoked = await rawKey(tenant.company.id, 'admin');
    await t.store.db.updateTable('api_keys').set({ revoked_at: t.clock.now() }).where('name', '=', 'raw').execute();
    const before = await snapshot(t.store.db);
    for (const headers of [
      {},
      { authorization: `Bearer esc_${'A'.repeat(43)}` },
      { authorization: `Bearer ${revoked}` },
      { 'x-api-key': revoked },
      { authorization: `Bearer ${tenant.consumerToken}` },
      { authorization: 'Bearer ' },
      { authorization: `Token ${tenant.adminKey}` },
      { cookie: `${SESSION_COOKIE}=ses_unknown` },
    ] as Array<Record<string, string>>) {
      const answers = [];
      for (const [path, payload] of steps(id)) answers.push({ path, ...(await post(path, payload, headers)) });
      for (const path of reads(id)) answers.push({ path, ...(await get(path, headers)) });
      answers.push({
        path: 'broken body',
        ...(await call(t, {
          method: 'POST',
          url: `/api/v1/complaints/${id}/messages`,
          headers: { ...headers, 'content-type': 'application/json' },
          payload: '{',
        })),
      });
      expectAll(
        answers.map((a) => ({ path: a.path, status: a.status, code: a.body.error?.code })),
        401,
        'unauthorized',
      );
    }
    expect(await snapshot(t.store.db)).toEqual(before);
  });

  it('takes a key from X-API-Key as well as Authorization', async () => {
    const r = await get(`/complaints/${id}/events`, { 'x-api-key': tenant.readKey });
    expect(r.status).toBe(200);
  });

  it('refuses every step to a read-scoped key with 403 insufficient_scope, and lets it read', async () => {
    const before = await snapshot(t.store.db);
    const answers = [];
    for (const [path, payload] of steps(id))
      answers.push({ path, ...(await post(path, payload, { authorization: `Bearer ${tenant.readKey}` })) });
    expectAll(
      answers.map((a) => ({ path: a.path, status: a.status, code: a.body.error?.code })),
      403,
      'insufficient_scope',
    );
    expect(await snapshot(t.store.db)).toEqual(before);
    for (const path of reads(id))
      expect((await get(path, { authorization: `Bearer ${tenant.readKey}` })).status).toBe(200);
  });

  it('refuses keys of a company on a plan without API access with 403 plan_required', async () => {
    const starter = await seedCompany(t, { code: 'STRT', plan: 'starter' });
    const starterId = await fileComplaint(t, starter.consumerToken, { company_code: 'STRT' });
    const key = await rawKey(starter.company.id, 'admin');
    const before = await snapshot(t.store.db);
    const answers = [];
    for (const [path, payload] of steps(starterId))
      answers.push({ path, ...(await post(path, payload, { authorization: `Bearer ${key}` })) });
    for (const path of reads(starterId))
      answers.push({ path, ...(await get(path, { authorization: `Bearer ${key}` })) });
    expectAll(
      answers.map((a) => ({ path: a.path, status: a.status, code: a.body.error?.code })),
      403,
      'plan_required',
    );
    expect(await snapshot(t.store.db)).toEqual(before);
  });

  it('refuses the keys of a company that dropped below Professional', async () => {
    const pro = await seedCompany(t, { code: 'DROP' });
    const proId = await fileComplaint(t, pro.consumerToken, { company_code: 'DROP' });
    okData(await post(`/complaints/${proId}/claim`, undefined, { authorization: `Bearer ${pro.adminKey}` }));
    // Changed in the store directly, past the domain (nothing tells this process): noticed once its key cache expires.
    await t.store.db.updateTable('companies').set({ plan: 'free' }).where('id', '=', pro.company.id).execute();
    t.clock.advance(API_KEY_CACHE_MS);
    const r = await post(`/complaints/${proId}/release`, undefined, { authorization: `Bearer ${pro.adminKey}` });
    expect({ status: r.status, code: r.body.error.code }).toEqual({ status: 403, code: 'plan_required' });
  });

  it('lets agents work complaints from a session with the CSRF token, viewers only read', async () => {
    const agent = await session('agent');
    const noCsrf = await post(`/complaints/${id}/claim`, undefined, { cookie: agent.cookie });
    expect({ status: noCsrf.status, code: noCsrf.body.error.code }).toEqual({ status: 403, code: 'csrf_failed' });
    const wrongCsrf = await post(`/complaints/${id}/claim`, undefined, {
      cookie: agent.cookie,
      'x-csrf-token': 'nope',
    });
    expect(wrongCsrf.status).toBe(403);
    const claimed = okData(
      await post(`/complaints/${id}/claim`, undefined, { cookie: agent.cookie, 'x-csrf-token': agent.csrf }),
    );
    expect(claimed.claimed_by).toMatch(/^agent-usr_.*@volt\.test$/);

    const viewer = await session('viewer');
    const before = await snapshot(t.store.db);
    const refused = await post(`/complaints/${id}/release`, undefined, {
      cookie: viewer.cookie,
      'x-csrf-token': viewer.csrf,
    });
    expect({ status: refused.status, code: refused.body.error.code }).toEqual({ status: 403, code: 'forbidden' });
    expect(await snapshot(t.store.db)).toEqual(before);
    for (const path of reads(id)) expect((await get(path, { cookie: viewer.cookie })).status).toBe(200);

    const expired = await session('admin', { expired: true });
    expect((await get(reads(id)[0], { cookie: expired.cookie })).status).toBe(401);
  });
});
