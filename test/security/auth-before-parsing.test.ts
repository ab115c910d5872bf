import { afterEach, describe, expect, it } from 'vitest';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { parseRouteTree } from '../helpers/routes.js';

/**
 * Credentials are checked when a request arrives, before its body is read, parsed or validated: an anonymous caller
 * gets 401 whatever it sends, never a 400 that tells it about the route's schema, and anonymous traffic spends a
 * per-address budget that answers 429 — also before any body is parsed.
 */
describe('authentication before parsing', () => {
  let t: TestApp;
  afterEach(async () => t?.close());

  const MALFORMED = '{"url": "https://x.example", "events": [';
  const WITH_BODY = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

  it('answers 401 to an anonymous malformed request on every authenticated route', async () => {
    t = await createTestApp();
    const routes = parseRouteTree(t.app.http.printRoutes({ commonPrefix: false })).filter(
      (r) =>
        r.method !== 'HEAD' &&
        (r.path.startsWith('/api/v1/') || r.path.startsWith('/api/consumer/v1/')) &&
        !r.path.includes('*'),
    );
    expect(routes.length).toBeGreaterThan(40);
    const answers: string[] = [];
    for (const route of routes) {
      // Ids that match no pattern, a query that fails its schema, and a body that is not JSON at all.
      const path = route.path.replace(/:(\w+)/g, '%00not-an-id');
      const res = await t.app.http.inject({
        method: route.method as 'POST',
        url: `${path}?limit=many&page=-1&unknown=%00`,
        ...(WITH_BODY.has(route.method) ? { headers: { 'content-type': 'application/json' }, payload: MALFORMED } : {}),
      });
      answers.push(`${route.method} ${route.path} ${res.statusCode} ${res.json().error?.code}`);
    }
    expect(answers.filter((a) => !a.endsWith(' 401 unauthorized'))).toEqual([]);
  });

  it('answers 401, not 400, to an anonymous malformed body on an admin route, and a wrong key the same', async () => {
    t = await createTestApp();
    for (const headers of [{}, bearer('esc_' + 'A'.repeat(43))]) {
      const res = await t.app.http.inject({
        method: 'POST',
        url: '/api/v1/webhooks',
        headers: { ...headers, 'content-type': 'application/json' },
        payload: MALFORMED,
      });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('unauthorized');
    }
  });

  it('limits anonymous traffic per address with 429 before any body is parsed; keys and other addresses go on', async () => {
    t = await createTestApp({ config: { anonRateLimitPerMin: 5 } });
    const tenant = await seedTenant(t);
    const anonymous = (url: string, address = '203.0.113.9', payload = MALFORMED) =>
      t.app.http.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json' },
        payload,
        remoteAddress: address,
      });
    for (let i = 0; i < 5; i++) expect((await anonymous('/api/v1/webhooks')).statusCode).toBe(401);
    const limited = await anonymous('/api/v1/webhooks');
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // A body far over the size limit is not even read: the answer is the limit, not 413.
    expect((await anonymous('/api/v1/automations', '203.0.113.9', 'x'.repeat(3 * 1024 * 1024))).statusCode).toBe(429);
    expect((await anonymous('/api/v1/no-such-route')).statusCode).toBe(429);
    // Sign-in is anonymous traffic too: a malformed sign-in from the address is limited, not parsed.
    const login = await anonymous('/api/session/login');
    expect([login.statusCode, login.json().error.code]).toEqual([429, 'rate_limited']);
    // Another address has its own budget; a valid key from the limited address is not anonymous.
    expect((await anonymous('/api/v1/webhooks', '198.51.100.7')).statusCode).toBe(401);
    const keyed = await t.app.http.inject({
      method: 'GET',
      url: '/api/v1/webhooks',
      headers: bearer(tenant.adminKey),
      remoteAddress: '203.0.113.9',
    });
    expect(keyed.statusCode).toBe(200);
    // The window passes on the app's clock.
    t.clock.advance(60_000);
    expect((await anonymous('/api/v1/webhooks')).statusCode).toBe(401);
  });
});
