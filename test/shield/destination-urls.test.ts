import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';

// Shield destinations follow the webhook endpoints' URL rules, literal private addresses included (never connected).
describe('automation destination URLs', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp({ config: { allowHttpWebhooks: false, webhookAllowCidrs: [] } });
  });
  afterEach(async () => t.close());

  it.each([
    ['http://hooks.example.test/x', 'must start with https://'],
    ['https://10.0.0.1/x', 'private'],
    ['https://169.254.169.254/latest', 'link-local'],
    ['https://[::ffff:10.0.0.1]/x', 'private'],
    ['https://user:pw@hooks.example.test/x', 'credentials'],
  ])('refuses %s', async (url, words) => {
    const { adminKey } = await seedTenant(t);
    for (const destination of [
      { type: 'webhook', url },
      { type: 'slack', url },
    ]) {
      const r = await t.app.http.inject({
        method: 'POST',
        url: '/api/v1/automations',
        headers: bearer(adminKey),
        payload: { name: 'alerts', active: true, filter: { min_level: 'high' }, destinations: [destination] },
      });
      expect(r.statusCode).toBe(400);
      expect(r.json().error.code).toBe('invalid_url');
      expect(r.json().error.message).toContain(words);
    }
    expect(await t.store.db.selectFrom('automations').select('id').execute()).toHaveLength(0);
  });
});
