import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_DIR, dashboardIsFresh, ensureDashboardBuilt } from '../../src/web/build-dashboard.js';
import { createTestApp, type TestApp } from '../helpers/harness.js';

/** The dashboard's files and the SPA fallback, through the real app (no browser needed). */
describe('serving the dashboard', () => {
  let t: TestApp;
  beforeAll(async () => {
    await ensureDashboardBuilt();
    t = await createTestApp();
  });
  afterAll(async () => t?.close());

  const get = (url: string, method: 'GET' | 'HEAD' | 'POST' = 'GET') => t.app.http.inject({ method, url });

  it('is built and fresh', () => {
    expect(dashboardIsFresh()).toBe(true);
  });

  it('serves index.html at / and for every app route, uncached and with a strict CSP', async () => {
    for (const url of [
      '/',
      '/login',
      '/complaints',
      '/complaints/ESC-VOLT-260417-00001',
      '/settings/integrations/webhooks?endpoint_id=ep_x',
    ]) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toContain('<div id="app"></div>');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
    expect((await get('/', 'HEAD')).statusCode).toBe(200);
  });

  it("serves the app at every Shield alert's record link, whatever the record id holds", async () => {
    const asset = readdirSync(join(DIST_DIR, 'assets')).find((f) => f.endsWith('.js'))!;
    // Record ids come from the company's source system; the link carries them encoded with encodeURIComponent.
    for (const id of [
      'zd-1001',
      'zd-4821/2',
      'a b?c#d',
      'index.html',
      `../../assets/${asset}`,
      '..',
      'é'.repeat(200),
    ]) {
      const url = `/shield/feedback/${encodeURIComponent(id)}`;
      const res = await get(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type'], url).toMatch(/^text\/html/);
      expect(res.body, url).toContain('<div id="app"></div>');
    }
  });

  it('serves hashed assets with a year-long immutable cache, and 404s a missing one', async () => {
    const asset = readdirSync(join(DIST_DIR, 'assets')).find((f) => f.endsWith('.js'))!;
    const res = await get(`/assets/${asset}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/javascript/);
    expect(res.headers['cache-control']).toContain('immutable');
    const missing = await get('/assets/index-missing.js');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('not_found');
  });

  it('never answers an unknown /api route with the app: JSON 404 instead', async () => {
    for (const url of ['/api', '/api/', '/api/v1/nope', '/api/session/nope']) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.json()).toMatchObject({ success: false, error: { code: 'not_found' } });
    }
    const post = await get('/complaints', 'POST');
    expect(post.statusCode).toBe(404);
    expect(post.headers['content-type']).toMatch(/json/);
  });

  it('names the missed route in its 404, cut short: a long URL is not handed back whole', async () => {
    const short = await get('/api/v1/nope?x=1');
    expect(short.json().error.message).toBe('Route GET /api/v1/nope not found');
    for (const url of [`/api/v1/${'a'.repeat(3000)}`, `/assets/${'b'.repeat(3000)}.js`, `/${'c'.repeat(3000)}`]) {
      const res = await get(url, url.startsWith('/api') ? 'GET' : 'POST');
      expect(res.statusCode, url.slice(0, 12)).toBe(404);
      const { message } = res.json().error;
      expect(message.length, url.slice(0, 12)).toBeLessThan(260);
      expect(message).toContain(`${url.slice(0, 100)}`);
      expect(message).toMatch(/… not found$/);
    }
  });

  it('does not serve files outside web/dist', async () => {
    for (const url of [
      '/../package.json',
      '/%2e%2e/package.json',
      '/..%2f..%2fpackage.json',
      '/assets/..%2f..%2f..%2fpackage.json',
      '/%00',
    ]) {
      const res = await get(url);
      expect(res.body, url).not.toContain('"name": "escalatr"');
      expect([200, 400, 404]).toContain(res.statusCode);
    }
  });
});
