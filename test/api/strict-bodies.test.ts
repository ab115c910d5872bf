import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';

// Bodies are validated strictly: a number sent as a string, or a boolean as a string, is refused, never coerced.
describe('strict body validation', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(async () => t.close());

  it('refuses coercible wrong types and unknown fields on every kind of route', async () => {
    const { consumerToken, adminKey } = await seedTenant(t);
    const filed = await t.app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: bearer(consumerToken),
      payload: { company_code: 'VOLT', complaint_category: 'x', title: 't', description: 'd', amount_involved: '42' },
    });
    expect(filed.statusCode).toBe(400);
    expect(filed.json().error.code).toBe('validation_failed');
    const ok = await t.app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: bearer(consumerToken),
      payload: { company_code: 'VOLT', complaint_category: 'x', title: 't', description: 'd' },
    });
    const id = ok.json().data.escalatr_id;
    const offer = await t.app.http.inject({
      method: 'POST',
      url: `/api/v1/complaints/${id}/settlements`,
      headers: bearer(adminKey),
      payload: { amount: '100', currency: 'INR', terms: 'x' },
    });
    expect(offer.statusCode).toBe(400);
    const webhook = await t.app.http.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: bearer(adminKey),
      payload: { url: 'https://hooks.example.test/x', events: ['*'], enabled: 'true' },
    });
    expect(webhook.statusCode).toBe(400);
    const automation = await t.app.http.inject({
      method: 'POST',
      url: '/api/v1/automations',
      headers: bearer(adminKey),
      payload: { name: 'a', active: 'true', filter: { min_level: 'high' }, destinations: [] },
    });
    expect(automation.statusCode).toBe(400);
    const longParam = await t.app.http.inject({
      method: 'GET',
      url: `/api/v1/complaints/${'A'.repeat(5000)}`,
      headers: bearer(adminKey),
    });
    expect(longParam.statusCode).toBeLessThan(500);
    expect(longParam.json().success).toBe(false);
  });
});
