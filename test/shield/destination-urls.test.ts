import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { slackTarget } from '../../src/shield/destinations/slack.js';
import { webhookTarget } from '../../src/shield/destinations/webhook.js';
import { createAutomationOk, EXTREME, postFeedback, processorFor, record } from './shield-helpers.js';

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

// Validated and planned only: these hosts are never connected to.
describe('automation destination URLs are stored, shown and sent in canonical form', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp({ config: { allowHttpWebhooks: false, webhookAllowCidrs: [] } });
  });
  afterEach(async () => t.close());

  it('lowercase scheme and host, punycode, no default port: in the answer and in the planned request', async () => {
    const { adminKey } = await seedTenant(t);
    const automation = await createAutomationOk(t, adminKey, {
      destinations: [
        { type: 'webhook', url: 'HTTPS://Hooks.Example.com/x' },
        { type: 'slack', url: 'https://Bücher.Example.com:443/services/T0/B0/Secret' },
      ],
    });
    expect(automation.destinations.map((d) => d.url)).toEqual([
      'https://hooks.example.com/x',
      'https://xn--bcher-kva.example.com/services/T0/B0/********',
    ]);
    expect((await postFeedback(t, adminKey, record('zd/1', EXTREME))).statusCode).toBe(202);
    await processorFor(t).tick();
    const deliveries = await t.store.db.selectFrom('deliveries').selectAll().orderBy('target').execute();
    expect(deliveries.map((d) => d.target)).toEqual(['slack', 'webhook']);
    const urls: string[] = [];
    for (const delivery of deliveries) {
      const event = await t.store.db
        .selectFrom('events')
        .select(['id', 'name', 'body', 'created_at'])
        .where('id', '=', delivery.event_id)
        .executeTakeFirstOrThrow();
      const target = delivery.target === 'slack' ? slackTarget : webhookTarget;
      const plan = await target.plan(t.app.ctx, delivery, event, t.clock.now());
      if (plan.kind !== 'http') throw new Error(`expected an http plan, got ${plan.kind}`);
      urls.push(plan.url);
      expect(plan.headers['User-Agent']).toBe('SupportEscalationAutomation/1.0');
    }
    expect(urls).toEqual(['https://xn--bcher-kva.example.com/services/T0/B0/Secret', 'https://hooks.example.com/x']);
  });
});
