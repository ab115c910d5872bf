import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileComplaint } from '../../src/domain/complaints.js';
import { createEndpoint } from '../../src/webhooks/endpoints.js';
import { expectText, launchBrowser, screenshot, signIn, withCleanPage } from './helpers/browser.js';
import { PASSWORD, startStack, type Stack } from './helpers/stack.js';

describe('Settings → Operations in a real browser: operations alerts and bulk recover', () => {
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

  it('saves email and Slack alerts, masks the Slack URL, and removes it', async () => {
    await withPage(async (page) => {
      await signIn(page, 'owner@volt.test', PASSWORD, '/settings/operations');
      const card = page.locator('section.card', { hasText: 'Operations alerts' });
      await expectText(card.getByTestId('ops-recipients'), 'owner@volt.test');
      await card.getByRole('switch', { name: 'Email owners and admins' }).click();
      await card.getByLabel('Slack incoming webhook').fill(`${stack.receiver.url}/services/T1/B2/topsecret`);
      await card.getByRole('button', { name: 'Save' }).click();
      await expectText(card.getByRole('status'), 'Operations alerts saved.');
      await expectText(card, `${stack.receiver.url}/services/T1/B2/********`);
      await screenshot(page, 'operations-alerts');
      const row = await stack.app.ctx.store.db
        .selectFrom('company_operations')
        .select(['email', 'slack_url_enc'])
        .executeTakeFirstOrThrow();
      expect(row.email).toBe(1);
      expect(row.slack_url_enc).not.toContain('topsecret');

      await card.getByRole('button', { name: 'Remove Slack' }).click();
      await expectText(card.getByRole('status'), 'Slack alerts removed.');
      expect(
        (
          await stack.app.ctx.store.db
            .selectFrom('company_operations')
            .select('slack_url_enc')
            .executeTakeFirstOrThrow()
        ).slack_url_enc,
      ).toBeNull();
    });
  });

  it('counts failed deliveries with a dry run before recovering them, then shows the progress', async () => {
    const ctx = stack.app.ctx;
    await createEndpoint(
      ctx,
      stack.company.id,
      { url: `${stack.failingReceiver.url}/ops`, description: 'Flaky helpdesk', events: ['complaint.created'] },
      { allowHttp: true, allowCidrs: ['127.0.0.0/8'] },
    );
    const filed = await fileComplaint(ctx, {
      consumerId: stack.consumerId,
      company_code: 'VOLT',
      complaint_category: 'Billing',
      title: 'Charged twice',
      description: 'Two charges for one order',
      priority: 'high',
    });
    await stack.failingReceiver.waitFor((r) => r.body.includes(filed.escalatr_id));
    // The attempt's result is written just after the answer: wait for the failed state, not for time.
    for (;;) {
      const d = await ctx.store.db
        .selectFrom('deliveries')
        .innerJoin('endpoints', 'endpoints.id', 'deliveries.endpoint_id')
        .select('deliveries.status')
        .where('endpoints.description', '=', 'Flaky helpdesk')
        .executeTakeFirst();
      if (d?.status === 'failed') break;
      await new Promise((resolve) => setImmediate(resolve));
    }

    await withPage(async (page) => {
      await signIn(page, 'owner@volt.test', PASSWORD, '/settings/operations');
      const card = page.locator('section.card', { hasText: 'Bulk recover' });
      await card.getByRole('checkbox', { name: 'Flaky helpdesk' }).check();
      await card.getByRole('checkbox', { name: 'dead', exact: true }).uncheck();
      await card.getByRole('button', { name: 'Count (dry run)' }).click();
      const preview = card.getByTestId('recover-dry-run');
      await expectText(preview, '1 delivery matches');
      await expectText(preview, 'complaint.created');
      await screenshot(page, 'bulk-recover-dry-run');
      // The dry run changed nothing.
      expect(await ctx.store.db.selectFrom('recover_jobs').select('id').execute()).toHaveLength(0);

      await card.getByRole('button', { name: 'Recover 1 delivery' }).click();
      await expectText(card.getByTestId('recover-progress'), 'Recover done: 1 of 1 requeued');
      const jobs = await ctx.store.db.selectFrom('recover_jobs').select(['done', 'total']).execute();
      expect(jobs.map((j) => [Number(j.done), Number(j.total)])).toEqual([[1, 1]]);
    });
  });
});
