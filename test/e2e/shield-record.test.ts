import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/domain/api-keys.js';
import { EVENT_NAMES } from '../../src/domain/events.js';
import { createAutomation } from '../../src/shield/automations.js';
import { ingestFeedback } from '../../src/shield/feedback.js';
import { checkFeedbackBody } from '../../src/shield/feedback-body.js';
import { ShieldProcessor } from '../../src/shield/processor.js';
import { expectText, launchBrowser, screenshot, signIn, withCleanPage } from './helpers/browser.js';
import { PASSWORD, startStack, type Stack } from './helpers/stack.js';

const OWNER = 'owner@volt.test';
// A source's ids may hold any character; this one needs encoding in the link the alert carries.
const RECORD_ID = 'zd-4821/2';

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms),
    ),
  ]);
}

describe('Shield record page and event subscriptions in a real browser', () => {
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

  it("opens an alert's record link signed out, signs in, and lands on the record with its alerts' delivery state", async () => {
    const ctx = stack.app.ctx;
    await createAutomation(ctx, stack.company.id, {
      name: 'Legal threats to on-call',
      active: true,
      filter: { min_level: 'high' },
      destinations: [
        { type: 'webhook', url: `${stack.receiver.url}/shield`, auth: { type: 'bearer', token: 'on-call-token' } },
        { type: 'webhook', url: `${stack.failingReceiver.url}/shield` },
      ],
    });
    await ingestFeedback(
      ctx,
      stack.company.id,
      checkFeedbackBody({
        records: [
          {
            id: 'zd-4821/1',
            source: 'ZendeskSupport',
            content: 'Hi, my order #4821 arrived without the charger. Could you send one?',
            created_at: '2026-06-26T09:12:00Z',
            thread_id: 'ticket-4821',
            customer_id: 'cus_7781',
          },
        ],
      }),
    );
    await new ShieldProcessor(ctx).tick();
    await ingestFeedback(
      ctx,
      stack.company.id,
      checkFeedbackBody({
        records: [
          {
            id: RECORD_ID,
            source: 'ZendeskSupport',
            source_url: 'https://support.example.test/tickets/4821',
            content:
              'This is the THIRD time I am writing and still no charger. If it is not here by Friday I am calling my lawyer and filing a chargeback with my bank!!',
            created_at: '2026-06-27T11:58:00Z',
            thread_id: 'ticket-4821',
            customer_id: 'cus_7781',
          },
        ],
      }),
    );
    expect(await new ShieldProcessor(ctx).tick()).toEqual({ scored: 1, alerts: 1 });

    // The link exactly as the alert carries it to a receiver.
    const alert = await within(
      stack.receiver.waitFor((r) => r.url.endsWith('/shield')),
      20_000,
      'the Shield alert at the receiver',
    );
    await within(
      stack.failingReceiver.waitFor((r) => r.url.endsWith('/shield')),
      20_000,
      'the Shield alert at the failing receiver',
    );
    const recordUrl: string = JSON.parse(alert.body).record.url;
    expect(recordUrl).toBe(`${stack.baseUrl}/shield/feedback/zd-4821%2F2`);

    await withPage(async (page) => {
      await page.goto(recordUrl);
      await page.getByRole('heading', { name: 'Sign in to your dashboard' }).waitFor();
      await page.getByLabel('Email').fill(OWNER);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();

      // Back on the record, not on the complaints list.
      await page.getByRole('heading', { name: 'Feedback from ZendeskSupport', level: 1 }).waitFor();
      expect(page.url()).toBe(recordUrl);
      await expectText(page.locator('.description'), 'If it is not here by Friday I am calling my lawyer');
      const source = page.getByRole('link', { name: 'https://support.example.test/tickets/4821' });
      expect(await source.getAttribute('href')).toBe('https://support.example.test/tickets/4821');
      expect(await source.getAttribute('rel')).toContain('noopener');

      const levels = page.getByRole('region', { name: 'Levels' });
      await expectText(levels, /Escalation\s*(High|Extreme)/);
      await expectText(levels, /Emotional intensity\s*(High|Extreme)/);
      await expectText(levels, /Sentiment shift\s*Sentiment degraded/);
      const drivers = page.getByRole('region', { name: 'What drove the score' });
      await expectText(drivers, 'Legal threat');
      await expectText(drivers, 'Chargeback');
      await expectText(drivers, 'Repeated contact');
      // The model's signals, with the words behind them marked in the text.
      await expectText(drivers, 'Model signals');
      expect(await page.locator('.description mark.hl-up').count()).toBeGreaterThan(0);

      const thread = page.getByRole('region', { name: 'Thread' });
      await expectText(thread, '2 records of thread');
      await thread.getByRole('link', { name: 'zd-4821/1' }).waitFor();
      await expectText(thread, 'This record');

      // Each alert with where its deliveries stand: delivered with 200, and failed with 503 and a retry due.
      const alerts = page.getByRole('region', { name: 'Alerts sent' });
      await expectText(alerts, 'Legal threats to on-call');
      const delivered = alerts.getByRole('row').filter({ hasText: `${stack.receiver.url}/shield` });
      await expectText(delivered, 'success');
      await expectText(delivered, '200');
      const failing = alerts.getByRole('row').filter({ hasText: `${stack.failingReceiver.url}/shield` });
      await expectText(failing, 'failed');
      await expectText(failing, '503');
      await expectText(failing, /next /);
      expect(await alerts.textContent()).not.toContain('on-call-token');
      await page.getByRole('link', { name: 'Integrations' }).and(page.locator('[aria-current="page"]')).waitFor();
      await screenshot(page, 'shield-record');

      // A reload of the deep link serves the app again and stays on the record.
      await page.reload();
      await page.getByRole('heading', { name: 'Feedback from ZendeskSupport', level: 1 }).waitFor();
      expect(page.url()).toBe(recordUrl);

      // The failed delivery opens in the deliveries view, on its attempts.
      await failing.getByRole('link', { name: /View attempts/ }).click();
      await page.waitForURL('**/settings/integrations/deliveries?delivery=dlv_*');
      const focused = page.getByRole('region', { name: /^Delivery dlv_/ });
      await expectText(focused.locator('table.inner'), '503');
      await expectText(focused.locator('table.inner'), 'Service temporarily down for maintenance');

      // The Shield tab's list links to the record.
      await page.goto('/settings/integrations/shield');
      await page.getByRole('link', { name: `Open feedback record ${RECORD_ID}` }).click();
      await page.getByRole('heading', { name: 'Feedback from ZendeskSupport', level: 1 }).waitFor();
      expect(page.url()).toBe(recordUrl);
    });
  });

  it("shows a viewer the record and its alerts' state, without the owners' links to delivery attempts", async () => {
    await withPage(async (page) => {
      await signIn(page, 'viewer@volt.test', PASSWORD, `/shield/feedback/${encodeURIComponent(RECORD_ID)}`);
      const alerts = page.getByRole('region', { name: 'Alerts sent' });
      await expectText(alerts, 'success');
      await expectText(alerts, '503');
      expect(await alerts.getByRole('link', { name: /View attempts/ }).count()).toBe(0);
    });
  });

  it("answers a record that is not the company's as not found", async () => {
    await withPage(async (page) => {
      await signIn(page, 'owner@tiny.test', PASSWORD, `/shield/feedback/${encodeURIComponent(RECORD_ID)}`);
      await expectText(page.getByRole('alert'), `There is no feedback record “${RECORD_ID}” at Tiny Shop.`);
    });
  });

  it('subscribes an endpoint to shield.alert and webhook.test one by one, as the API then reports', async () => {
    const { key } = await createApiKey(stack.app.ctx, {
      companyId: stack.company.id,
      name: 'e2e check',
      scope: 'admin',
    });
    await withPage(async (page) => {
      await signIn(page, OWNER, PASSWORD, '/settings/integrations/webhooks');
      await page.getByRole('heading', { name: 'Webhook Notifications' }).waitFor();
      const card = page.locator('section.webhook-card').first();
      await card.getByRole('switch', { name: 'Webhook' }).click();
      await card.getByLabel('Webhook URL').fill(`${stack.receiver.url}/alerts`);
      await card.getByLabel('Description').fill('Alerts and tests');
      await card.getByLabel('All events, including ones added later').uncheck();
      // Every event the API accepts is offered, each on its own.
      for (const name of EVENT_NAMES) {
        const box = card.getByRole('checkbox', { name, exact: true });
        expect(await box.count(), name).toBe(1);
        expect(await box.isChecked(), name).toBe(false);
      }
      await card.getByRole('checkbox', { name: 'shield.alert', exact: true }).check();
      await card.getByRole('checkbox', { name: 'webhook.test', exact: true }).check();
      await card.getByRole('button', { name: 'Save' }).click();
      await expectText(card.getByRole('status'), 'Webhook settings saved.');
      await screenshot(page, 'webhooks-events');

      const listed = await fetch(`${stack.baseUrl}/api/v1/webhooks`, { headers: { authorization: `Bearer ${key}` } });
      const endpoint = (await listed.json()).data.find(
        (e: { url: string }) => e.url === `${stack.receiver.url}/alerts`,
      );
      expect([...endpoint.events].sort()).toEqual(['shield.alert', 'webhook.test']);

      await page.reload();
      const saved = page.locator('section.webhook-card', { hasText: 'Alerts and tests' });
      await saved.waitFor();
      for (const name of EVENT_NAMES) {
        const checked = await saved.getByRole('checkbox', { name, exact: true }).isChecked();
        expect(checked, name).toBe(name === 'shield.alert' || name === 'webhook.test');
      }
    });
  });
});
