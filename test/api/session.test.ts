import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createUser } from '../../src/domain/users.js';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';

const PASSWORD = 'correct horse battery';

function sessionCookie(res: { cookies: Array<{ name: string; value: string }> }): string {
  const c = res.cookies.find((x) => x.name === 'escalatr_session');
  if (!c) throw new Error('no session cookie set');
  return `escalatr_session=${c.value}`;
}

async function login(t: TestApp, email: string, password = PASSWORD) {
  return t.app.http.inject({ method: 'POST', url: '/api/session/login', payload: { email, password } });
}

async function fileComplaint(t: TestApp, consumerToken: string): Promise<string> {
  const res = await t.app.http.inject({
    method: 'POST',
    url: '/api/consumer/v1/complaints',
    headers: bearer(consumerToken),
    payload: {
      company_code: 'VOLT',
      complaint_category: 'Consumer Durables',
      title: 'Broken fridge',
      description: 'It stopped cooling',
    },
  });
  expect(res.statusCode).toBe(201);
  return res.json().data.escalatr_id;
}

const count = async (t: TestApp, table: 'sessions' | 'events') =>
  Number(
    (
      await t.store.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

describe('dashboard session', () => {
  let t: TestApp;
  let tenant: Awaited<ReturnType<typeof seedTenant>>;
  beforeEach(async () => {
    t = await createTestApp();
    tenant = await seedTenant(t);
  });
  afterEach(async () => t.close());

  it('logs in with an http-only SameSite=Lax cookie and answers who is signed in', async () => {
    const res = await login(t, 'Owner@Volt.test');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.success).toBe(true);
    expect(body.data.user).toEqual({ email: 'owner@volt.test', role: 'owner' });
    expect(body.data.company).toEqual({ code: 'VOLT', name: 'VOLT Corp', plan: 'professional' });
    expect(body.data.csrf_token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const cookie = res.cookies.find((c) => c.name === 'escalatr_session')!;
    expect(cookie.httpOnly).toBe(true);
    expect(cookie.sameSite).toBe('Lax');
    expect(cookie.secure).toBeFalsy();
    expect(cookie.path).toBe('/');
    expect(cookie.maxAge).toBe(12 * 60 * 60);

    const row = await t.store.db.selectFrom('sessions').selectAll().executeTakeFirstOrThrow();
    // Only the hash of the cookie is stored.
    expect(row.id).not.toBe(cookie.value);
    expect(row.id).toMatch(/^[0-9a-f]{64}$/);
    expect(row.csrf_token).toBe(body.data.csrf_token);
    expect(row.expires_at).toBe(t.clock.now() + 12 * 60 * 60 * 1000);

    const me = await t.app.http.inject({ method: 'GET', url: '/api/session', headers: { cookie: sessionCookie(res) } });
    expect(me.statusCode).toBe(200);
    expect(me.json().data.user).toEqual(body.data.user);
    expect(me.json().data.csrf_token).toBe(body.data.csrf_token);
  });

  it('sets Secure on the cookie when the public URL is https', async () => {
    const secure = await createTestApp({ config: { publicUrl: 'https://escalatr.example.test' } });
    try {
      await seedTenant(secure);
      const res = await login(secure, 'owner@volt.test');
      expect(res.statusCode).toBe(200);
      expect(res.cookies.find((c) => c.name === 'escalatr_session')!.secure).toBe(true);
    } finally {
      await secure.close();
    }
  });

  it('refuses a wrong password and an unknown email with the same answer', async () => {
    const wrong = await login(t, 'owner@volt.test', 'not the password');
    const unknown = await login(t, 'nobody@volt.test', 'not the password');
    for (const res of [wrong, unknown]) {
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({
        success: false,
        error: { code: 'unauthorized', message: 'Email or password is incorrect' },
      });
      expect(res.cookies.find((c) => c.name === 'escalatr_session')).toBeUndefined();
    }
    expect(await count(t, 'sessions')).toBe(0);
  });

  it("a right password forgives that account's failures from the same address", async () => {
    for (let i = 0; i < 3; i++) await login(t, 'owner@volt.test', 'wrong password');
    expect((await login(t, 'owner@volt.test')).statusCode).toBe(200);
    // Three more are free again: the count started over.
    for (let i = 0; i < 3; i++) expect((await login(t, 'owner@volt.test', 'wrong password')).statusCode).toBe(401);
    expect((await login(t, 'owner@volt.test')).statusCode).toBe(200);
  });

  it('logout deletes the session and clears the cookie; the old cookie no longer works', async () => {
    const res = await login(t, 'owner@volt.test');
    const cookie = sessionCookie(res);
    const csrf = res.json().data.csrf_token;
    const noCsrf = await t.app.http.inject({ method: 'POST', url: '/api/session/logout', headers: { cookie } });
    expect(noCsrf.statusCode).toBe(403);
    expect(noCsrf.json().error.code).toBe('csrf_failed');
    expect(await count(t, 'sessions')).toBe(1);

    const out = await t.app.http.inject({
      method: 'POST',
      url: '/api/session/logout',
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(out.statusCode).toBe(200);
    const cleared = out.cookies.find((c) => c.name === 'escalatr_session')!;
    expect(cleared.value).toBe('');
    expect(new Date(cleared.expires!).getTime()).toBeLessThanOrEqual(Date.now());
    expect(await count(t, 'sessions')).toBe(0);

    const me = await t.app.http.inject({ method: 'GET', url: '/api/session', headers: { cookie } });
    expect(me.statusCode).toBe(401);
    const id = await fileComplaint(t, tenant.consumerToken);
    const claim = await t.app.http.inject({
      method: 'POST',
      url: `/api/v1/complaints/${id}/claim`,
      headers: { cookie, 'x-csrf-token': csrf },
    });
    expect(claim.statusCode).toBe(401);
  });

  it('answers 401 without a cookie, with an unknown cookie and after the 12 h expiry', async () => {
    expect((await t.app.http.inject({ method: 'GET', url: '/api/session' })).statusCode).toBe(401);
    const bogus = await t.app.http.inject({
      method: 'GET',
      url: '/api/session',
      headers: { cookie: 'escalatr_session=nope' },
    });
    expect(bogus.statusCode).toBe(401);
    expect(bogus.json().error.code).toBe('unauthorized');
    const cookie = sessionCookie(await login(t, 'owner@volt.test'));
    t.clock.advance(12 * 60 * 60 * 1000);
    expect((await t.app.http.inject({ method: 'GET', url: '/api/session', headers: { cookie } })).statusCode).toBe(401);
  });

  it('a session write without the CSRF header is refused with 403 csrf_failed and changes nothing', async () => {
    const id = await fileComplaint(t, tenant.consumerToken);
    const res = await login(t, 'owner@volt.test');
    const cookie = sessionCookie(res);
    const events = await count(t, 'events');
    for (const headers of [{ cookie }, { cookie, 'x-csrf-token': 'not-the-token' }]) {
      const claim = await t.app.http.inject({ method: 'POST', url: `/api/v1/complaints/${id}/claim`, headers });
      expect(claim.statusCode).toBe(403);
      expect(claim.json().error.code).toBe('csrf_failed');
    }
    expect(await count(t, 'events')).toBe(events);
    const claim = await t.app.http.inject({
      method: 'POST',
      url: `/api/v1/complaints/${id}/claim`,
      headers: { cookie, 'x-csrf-token': res.json().data.csrf_token },
    });
    expect(claim.statusCode).toBe(200);
    expect(claim.json().data.claimed_by).toBe('owner@volt.test');
  });

  it('a viewer cannot do staff or admin writes (403 forbidden)', async () => {
    await createUser(t.app.ctx, {
      companyId: tenant.company.id,
      email: 'viewer@volt.test',
      password: PASSWORD,
      role: 'viewer',
    });
    const id = await fileComplaint(t, tenant.consumerToken);
    const res = await login(t, 'viewer@volt.test');
    expect(res.json().data.user.role).toBe('viewer');
    const headers = { cookie: sessionCookie(res), 'x-csrf-token': res.json().data.csrf_token };
    const events = await count(t, 'events');
    const claim = await t.app.http.inject({ method: 'POST', url: `/api/v1/complaints/${id}/claim`, headers });
    expect(claim.statusCode).toBe(403);
    expect(claim.json().error.code).toBe('forbidden');
    const key = await t.app.http.inject({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers,
      payload: { name: 'sneaky', scope: 'admin' },
    });
    expect(key.statusCode).toBe(403);
    expect(key.json().error.code).toBe('forbidden');
    expect(await count(t, 'events')).toBe(events);
    const keys = await t.store.db.selectFrom('api_keys').select('name').execute();
    expect(keys.map((k) => k.name).sort()).toEqual(['admin', 'read']);
  });

  it('a session of one company cannot touch another company’s complaint (404)', async () => {
    const other = await seedTenant(t, { code: 'ACME' });
    const otherId = await t.app.http
      .inject({
        method: 'POST',
        url: '/api/consumer/v1/complaints',
        headers: bearer(other.consumerToken),
        payload: {
          company_code: 'ACME',
          complaint_category: 'Telecom',
          title: 'No signal',
          description: 'None at all',
        },
      })
      .then((r) => r.json().data.escalatr_id as string);
    const res = await login(t, 'owner@volt.test');
    const claim = await t.app.http.inject({
      method: 'POST',
      url: `/api/v1/complaints/${otherId}/claim`,
      headers: { cookie: sessionCookie(res), 'x-csrf-token': res.json().data.csrf_token },
    });
    expect(claim.statusCode).toBe(404);
    expect(claim.json().error.code).toBe('not_found');
  });

  describe('bad login input gets a clear 4xx and writes nothing', () => {
    const cases: Array<[string, unknown, number, string]> = [
      ['missing password', { email: 'owner@volt.test' }, 400, 'validation_failed'],
      ['missing email', { password: PASSWORD }, 400, 'validation_failed'],
      ['email as a number', { email: 42, password: PASSWORD }, 400, 'validation_failed'],
      ['password as an array', { email: 'owner@volt.test', password: [PASSWORD] }, 400, 'validation_failed'],
      ['an extra field', { email: 'owner@volt.test', password: PASSWORD, role: 'owner' }, 400, 'validation_failed'],
      ['empty strings', { email: '', password: '' }, 400, 'validation_failed'],
      ['an overlong password', { email: 'owner@volt.test', password: 'x'.repeat(201) }, 400, 'validation_failed'],
      ['not an email', { email: 'owner', password: PASSWORD }, 401, 'unauthorized'],
    ];
    for (const [name, payload, status, code] of cases) {
      it(name, async () => {
        const res = await t.app.http.inject({ method: 'POST', url: '/api/session/login', payload: payload as object });
        expect(res.statusCode).toBe(status);
        expect(res.json().error.code).toBe(code);
        expect(await count(t, 'sessions')).toBe(0);
      });
    }

    it('a body that is not JSON', async () => {
      const res = await t.app.http.inject({
        method: 'POST',
        url: '/api/session/login',
        headers: { 'content-type': 'application/json' },
        payload: '{"email":',
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('invalid_json');
    });

    it('a form post (what a cross-site page could send) is not accepted', async () => {
      const res = await t.app.http.inject({
        method: 'POST',
        url: '/api/session/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `email=owner%40volt.test&password=${encodeURIComponent(PASSWORD)}`,
      });
      expect(res.statusCode).toBe(415);
      expect(await count(t, 'sessions')).toBe(0);
    });

    it('a huge body', async () => {
      const res = await t.app.http.inject({
        method: 'POST',
        url: '/api/session/login',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ email: 'owner@volt.test', password: 'x'.repeat(2 * 1024 * 1024) }),
      });
      expect(res.statusCode).toBe(413);
      expect(res.json().error.code).toBe('payload_too_large');
      expect(await count(t, 'sessions')).toBe(0);
    });
  });
});
