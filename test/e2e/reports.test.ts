import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claim } from '../../src/domain/complaint-steps.js';
import { expectText, launchBrowser, screenshot, signIn, withCleanPage } from './helpers/browser.js';
import { PASSWORD, startStack, type Stack } from './helpers/stack.js';

const OWNER = 'owner@volt.test';

describe('breach rule, flagged complaints and the Reports page in a real browser', () => {
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

  it('sets the breach rule, finds the breached complaint flagged and reassigned, and reads and downloads the report', async () => {
    await withPage(async (page) => {
      await signIn(page, OWNER, PASSWORD, '/settings/sla');
      const form = page.getByRole('form', { name: 'Breach rule' });
      await form.getByLabel('Reassign to').selectOption('least_loaded');
      await form.getByRole('switch', { name: 'Flag the complaint' }).click();
      await form.getByRole('button', { name: 'Save breach rule' }).click();
      await expectText(form, 'Breach rule saved.');

      // One complaint answered in time, one whose window has already run out when the scheduler looks.
      const [answered, breached] = stack.complaintIds;
      const ctx = stack.app.ctx;
      await claim(ctx, { kind: 'staff', companyId: stack.company.id, label: OWNER }, answered!);
      const past = ctx.clock.now() - 1;
      await ctx.store.db
        .updateTable('complaints')
        .set({ sla_due_at: past, sla_alert_at: past })
        .where('escalatr_id', '=', breached!)
        .execute();
      await stack.app.scheduler.tick();

      await page.goto('/complaints?flagged=true');
      await page.getByRole('link', { name: breached! }).waitFor();
      expect(await page.getByRole('link', { name: answered! }).count()).toBe(0);
      await page.getByRole('link', { name: breached! }).click();
      await expectText(page.locator('.badge'), 'Flagged');
      await expectText(page.locator('.timeline'), 'Flagged by the breach rule after the L1 window was breached');
      await expectText(page.locator('.timeline'), 'Assigned to agent@volt.test by breach_rule');

      await page.getByRole('link', { name: 'Reports' }).click();
      await page.getByRole('heading', { name: 'Reports', level: 1 }).waitFor();
      const table = page.getByRole('table', { name: 'Attainment by level and category' });
      await expectText(table.getByRole('row', { name: /^L1/ }), /L1\s*1\s*1\s*50%/);
      await expectText(page.getByRole('table', { name: 'Time percentiles' }), 'First response');
      await page.getByRole('img', { name: /Open complaints per day/ }).waitFor();
      await screenshot(page, 'reports');

      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: 'Download CSV' }).click(),
      ]);
      expect(download.suggestedFilename()).toMatch(/^sla-report-\d{4}-\d{2}-\d{2}-to-\d{4}-\d{2}-\d{2}\.csv$/);
    });
  });
});
