import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileComplaint } from '../../src/domain/complaints.js';
import { createAutomation } from '../../src/shield/automations.js';
import { revealDestinationSecret } from '../../src/shield/destinations/secret.js';
import { expectText, launchBrowser, newWebhookCard, screenshot, signIn, withCleanPage } from './helpers/browser.js';
import { PASSWORD, startStack, type Stack } from './helpers/stack.js';

describe('delivery settings in a real browser: webhook rules, Shield destination signing keys', () => {
  let stack: Stack;
  let browser: Browser;

  beforeAll(async () => {
    stack = await startStack();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  const withPage = (run: (page: Page) => Promise<void>) => withCleanPage(browser, stack.baseUrl, run);

  it('builds a filter, previews a transformation, sets retry delays; only matching events arrive, reshaped', async () => {
    await withPage(async (page) => {
      await signIn(page, 'owner@volt.test', PASSWORD, '/settings/integrations/webhooks');
      const card = await newWebhookCard(page);
      await card.getByRole('switch', { name: 'Webhook' }).click();
      await card.getByLabel('Webhook URL').fill(stack.receiver.url);
      await card.getByLabel('Description').fill('Urgent only');
      await card.getByText('Delivery rules: filter, transformation, retries').click();

      // A condition with no value is caught before saving, and nothing is saved.
      await card.getByRole('button', { name: 'Add condition' }).click();
      const first = card.getByRole('group', { name: 'Condition 1' });
      await first.getByLabel('Field').fill('priority');
      await first.getByLabel('Comparison').selectOption({ label: 'is one of' });
      await card.getByRole('button', { name: 'Save' }).click();
      await expectText(card.getByRole('alert'), 'Condition 1: list 1 to 100 values');
      expect(await stack.app.ctx.store.db.selectFrom('endpoints').select('id').execute()).toHaveLength(0);
      await first.getByLabel('Values (comma-separated)').fill('high, critical');

      // A broken expression answers with the expression's own complaint; a good one shows what would be sent.
      await card.getByLabel('Body sent').selectOption('jsonata');
      await card.getByLabel('JSONata expression').fill('{ "ticket": data.escalatr_id, ');
      await card.getByRole('button', { name: 'Preview on your latest event' }).click();
      await expectText(card.getByRole('alert'), /transformation|expression/i);
      await card
        .getByLabel('JSONata expression')
        .fill('{ "ticket": data.escalatr_id, "urgency": data.priority, "kind": event }');
      await card.getByRole('button', { name: 'Preview on your latest event' }).click();
      const preview = card.getByLabel('Transformed body');
      await expectText(preview, '"kind": "complaint.created"');
      await expectText(preview, stack.complaintIds[2]);
      await card.getByLabel('Retry delays').fill('10s, 2m, 1h');
      await screenshot(page, 'webhook-rules');

      // Order and pace: a rate limit out of bounds is refused before the round trip, then a good one is saved.
      await card.getByLabel("Deliver each complaint's events in order, one at a time").check();
      await card.getByLabel('Rate limit (deliveries a second)').fill('20000');
      await card.getByRole('button', { name: 'Save' }).click();
      await expectText(card.getByRole('alert'), 'Enter a whole number from 1 to 10,000');
      expect(await stack.app.ctx.store.db.selectFrom('endpoints').select('id').execute()).toHaveLength(0);
      await card.getByLabel('Rate limit (deliveries a second)').fill('25');
      await screenshot(page, 'webhook-pacing');

      await card.getByRole('button', { name: 'Save' }).click();
      const saved = page.locator('section.webhook-card', { hasText: 'Urgent only' });
      await expectText(saved.getByRole('status'), 'Webhook settings saved.');
      const row = await stack.app.ctx.store.db
        .selectFrom('endpoints')
        .select(['filter', 'transform', 'retry_schedule', 'ordering', 'rate_limit_per_s'])
        .executeTakeFirstOrThrow();
      expect([row.ordering, row.rate_limit_per_s]).toEqual(['per_complaint', 25]);
      expect(JSON.parse(row.filter!)).toEqual({ priority: { $in: ['high', 'critical'] } });
      expect(JSON.parse(row.transform!)).toEqual({
        jsonata: '{ "ticket": data.escalatr_id, "urgency": data.priority, "kind": event }',
      });
      expect(JSON.parse(row.retry_schedule!)).toEqual([10, 120, 3600]);

      // The saved rules come back on a fresh load, in the same controls.
      await page.reload();
      const reloaded = page.locator('section.webhook-card', { hasText: 'Urgent only' });
      expect(await reloaded.getByLabel('Values (comma-separated)').inputValue()).toBe('high, critical');
      expect(await reloaded.getByLabel('Retry delays').inputValue()).toBe('10s, 2m, 1h');
      expect(await reloaded.getByLabel("Deliver each complaint's events in order, one at a time").isChecked()).toBe(
        true,
      );
      expect(await reloaded.getByLabel('Rate limit (deliveries a second)').inputValue()).toBe('25');

      // Only the high-priority complaint makes a delivery, and it arrives reshaped.
      const ctx = stack.app.ctx;
      const low = await fileComplaint(ctx, {
        consumerId: stack.consumerId,
        company_code: 'VOLT',
        complaint_category: 'Billing',
        title: 'Low one',
        description: 'Not urgent at all',
        priority: 'low',
      });
      const high = await fileComplaint(ctx, {
        consumerId: stack.consumerId,
        company_code: 'VOLT',
        complaint_category: 'Billing',
        title: 'Urgent one',
        description: 'Charged three times',
        priority: 'critical',
      });
      const arrived = await stack.receiver.waitFor((r) => r.body.includes(high.escalatr_id));
      expect(JSON.parse(arrived.body)).toEqual({
        ticket: high.escalatr_id,
        urgency: 'critical',
        kind: 'complaint.created',
      });
      const made = await ctx.store.db
        .selectFrom('deliveries')
        .innerJoin('events', 'events.id', 'deliveries.event_id')
        .select('events.body')
        .execute();
      expect(made.some((d) => d.body.includes(low.escalatr_id))).toBe(false);
    });
  });

  it("reveals and rotates a Shield webhook destination's signing key from the automation form", async () => {
    const ctx = stack.app.ctx;
    const automation = await createAutomation(ctx, stack.company.id, {
      name: 'Signed alerts',
      filter: { min_level: 'high' },
      destinations: [{ type: 'webhook', url: `${stack.receiver.url}/shield` }],
    });
    const destinationId = automation.destinations[0].id;
    const { secret } = await revealDestinationSecret(ctx, stack.company.id, automation.id, destinationId);
    await withPage(async (page) => {
      await signIn(page, 'owner@volt.test', PASSWORD, '/settings/integrations/shield');
      await page.getByRole('button', { name: 'Edit automation Signed alerts' }).click();
      const key = page.getByLabel('Secret Key', { exact: true });
      expect(await key.inputValue()).not.toContain(secret.slice(6, 20));
      await page.getByRole('button', { name: 'Reveal' }).click();
      await expect.poll(() => key.inputValue()).toBe(secret);
      await page.getByRole('button', { name: 'Regenerate Key' }).click();
      const dialog = page.getByRole('dialog', { name: 'Regenerate the secret key?' });
      await dialog.getByLabel('Grace period').selectOption('3600');
      await dialog.getByRole('button', { name: 'Regenerate Key' }).click();
      await expectText(page.getByRole('status'), 'The old key keeps signing alongside it for 1 hour');
      const rotated = await revealDestinationSecret(ctx, stack.company.id, automation.id, destinationId);
      expect(rotated.secret).not.toBe(secret);
      await expect.poll(() => key.inputValue()).toBe(rotated.secret);
      await screenshot(page, 'shield-destination-key');
    });
  });

  it('adds a message-broker destination to an automation: the URL is checked, the password kept out of sight', async () => {
    await withPage(async (page) => {
      await signIn(page, 'owner@volt.test', PASSWORD, '/settings/integrations/shield');
      await page.getByRole('button', { name: 'New automation' }).click();
      await page.getByLabel('Name').fill('Alerts to the bus');
      await page.getByLabel('Destination 1 type').selectOption('broker');
      const url = page.getByLabel('Broker URL');
      await url.fill('https://bus.example.test/alerts');
      await page.getByRole('button', { name: 'Create automation' }).click();
      await expectText(page.getByText(/Enter an amqp\(s\):\/\/, nats:\/\/ \(tls:\/\/ over TLS\)/), 'mqtt(s)://');
      await url.fill('redis://app:bus-password@127.0.0.1:6379/esc-alerts');
      await page.getByRole('button', { name: 'Create automation' }).click();
      await expectText(page.getByRole('status'), 'Automation created.');
      await expectText(page.locator('li', { hasText: 'Broker redis://' }), 'redis://app@127.0.0.1/esc-alerts');

      await page.getByRole('button', { name: 'Edit automation Alerts to the bus' }).click();
      expect(await page.getByLabel('Broker URL').inputValue()).toBe('redis://app@127.0.0.1/esc-alerts');
      await expectText(page.getByText('The saved password is encrypted and not shown'), 'same host and port');
    });
    const [row] = await stack.app.ctx.store.db
      .selectFrom('destinations')
      .selectAll()
      .where('type', '=', 'broker')
      .execute();
    expect(row.config_enc).not.toContain('bus-password');
    expect(stack.app.ctx.box.openJson(row.config_enc)).toEqual({
      url: 'redis://app@127.0.0.1/esc-alerts',
      password: 'bus-password',
    });
  });
});
