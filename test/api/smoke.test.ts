import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';

describe('consumer files and escalates a complaint', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(async () => t.close());

  it('files with an ESC id, escalates, and refuses past L9', async () => {
    const { consumerToken } = await seedTenant(t);
    const filed = await t.app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: bearer(consumerToken),
      payload: {
        company_code: 'VOLT',
        complaint_category: 'Consumer Durables',
        title: 'Broken fridge',
        description: 'It stopped cooling',
        priority: 'high',
        amount_involved: 42000,
        currency: 'INR',
      },
    });
    expect(filed.statusCode).toBe(201);
    const id = filed.json().data.escalatr_id;
    expect(id).toBe('ESC-VOLT-260417-00001');
    for (let i = 2; i <= 9; i++) {
      const r = await t.app.http.inject({
        method: 'POST',
        url: `/api/consumer/v1/complaints/${id}/escalate`,
        headers: bearer(consumerToken),
      });
      expect(r.statusCode).toBe(200);
      expect(r.json().data.escalation_level).toBe(`L${i}`);
    }
    const past = await t.app.http.inject({
      method: 'POST',
      url: `/api/consumer/v1/complaints/${id}/escalate`,
      headers: bearer(consumerToken),
    });
    expect(past.statusCode).toBe(409);
    expect(past.json().error.code).toBe('invalid_transition');
    const events = await t.store.db.selectFrom('events').select(['name', 'body']).orderBy('seq').execute();
    expect(events.map((e) => e.name)).toEqual(['complaint.created', ...Array(8).fill('complaint.escalated')]);
  });
});
