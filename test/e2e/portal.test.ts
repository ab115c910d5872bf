import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { createApiKey } from '../../src/domain/api-keys.js';
import { createConsumerWithToken } from '../../src/domain/consumers.js';
import { createEndpoint } from '../../src/webhooks/endpoints.js';
import { decodeQp, startSmtp } from '../helpers/smtp.js';
import { expectText, launchBrowser, screenshot, signIn, withCleanPage } from './helpers/browser.js';
import { PASSWORD, startStack, type Stack } from './helpers/stack.js';

const CONSUMER = 'alice@example.test';
const OWNER = 'owner@volt.test';
const HOUR = 3600_000;
const MOBILE = { width: 390, height: 844 };

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms),
    ),
  ]);
}

describe('consumer portal in a real browser', () => {
  let stack: Stack;
  let browser: Browser;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let adminKey: string;
  // The app's time: SLA windows pass when the test moves it, not while it waits.
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    smtp = await startSmtp();
    stack = await startStack({ clock, smtpUrl: `smtp://127.0.0.1:${smtp.port}?from=portal@volt.test` });
    browser = await launchBrowser();
    adminKey = (await createApiKey(stack.app.ctx, { companyId: stack.company.id, name: 'e2e', scope: 'admin' })).key;
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await smtp?.close();
  });

  const withPage = (run: (page: Page) => Promise<void>) => withCleanPage(browser, stack.baseUrl, run);

  /** Asks for a link on the portal's page and answers the link the mail carried. */
  async function requestLink(page: Page, email: string): Promise<string> {
    const before = smtp.mails.length;
    await page.goto('/portal/');
    await page.getByRole('heading', { name: 'Follow your complaints' }).waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
    await expectText(page.getByRole('status'), 'We sent a sign-in link to');
    expect(smtp.mails.length).toBe(before + 1);
    const mail = smtp.mails.at(-1)!;
    expect(mail.to).toEqual([email]);
    const link = /(http:\/\/127\.0\.0\.1:\d+\/portal\/sign-in#token=csl_[A-Za-z0-9_-]+)/.exec(decodeQp(mail.raw));
    expect(link).not.toBeNull();
    return link![1];
  }

  async function staffApi(method: string, path: string, body?: unknown) {
    const res = await fetch(`${stack.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(res.status, `${method} ${path}`).toBeLessThan(300);
    return (await res.json()).data;
  }

  async function staffPage(run: (page: Page) => Promise<void>) {
    const context: BrowserContext = await browser.newContext({
      baseURL: stack.baseUrl,
      viewport: { width: 1280, height: 860 },
      locale: 'en-GB',
      timezoneId: 'UTC',
    });
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      await run(page);
    } finally {
      await context.close();
    }
  }

  it('full path: sign in by mailed link → file → staff claims → escalation → SLA warning webhook → staff completes → consumer confirms', async () => {
    await createEndpoint(
      stack.app.ctx,
      stack.company.id,
      { url: stack.receiver.url, events: ['complaint.sla_warning'] },
      { allowHttp: true, allowCidrs: ['127.0.0.0/8', '::1/128', '::ffff:127.0.0.0/104'] },
    );
    await withPage(async (page) => {
      await page.goto('/portal/');
      await page.getByRole('heading', { name: 'Follow your complaints' }).waitFor();
      // An address that is not one is refused on the page, before anything is sent.
      await page.getByLabel('Email').fill('not an address');
      await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
      await expectText(page.getByRole('alert'), 'Enter the email address you use');
      await screenshot(page, 'portal-sign-in');

      const link = await requestLink(page, CONSUMER);
      await screenshot(page, 'portal-link-sent');
      await page.goto(link);
      await page.getByRole('heading', { name: 'My complaints', level: 1 }).waitFor();
      // The token left the address bar as soon as the page read it.
      expect(page.url()).not.toContain('csl_');
      for (const id of stack.complaintIds) await page.getByRole('link', { name: id }).waitFor();
      await screenshot(page, 'portal-complaints');

      // File a complaint against VOLT by its code; a bad code is answered with the API's message.
      await page.getByRole('link', { name: 'File a complaint' }).first().click();
      await page.getByRole('heading', { name: 'File a complaint', level: 1 }).waitFor();
      await page.getByLabel('Company code').fill('NOPE');
      await page.getByLabel('Category').fill('Billing');
      await page.getByLabel('Title').fill('Refund for a returned kettle never arrived');
      await page
        .getByLabel('What happened')
        .fill('I returned the kettle on 3 March with the courier receipt. Six weeks later there is still no refund.');
      await page.getByLabel('Priority').selectOption('high');
      await page.getByLabel('Amount involved (optional)').fill('2499');
      await page.getByLabel('Currency').fill('inr');
      await page.getByRole('button', { name: 'File complaint' }).click();
      await expectText(page.getByRole('alert'), /company/i);
      expect(page.url()).toContain('/portal/complaints/new');
      await page.getByLabel('Company code').fill('volt');
      await screenshot(page, 'portal-new-complaint');
      await page.getByRole('button', { name: 'File complaint' }).click();
      await page.getByRole('heading', { name: 'Refund for a returned kettle never arrived' }).waitFor();
      const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
      expect(id).toMatch(/^ESC-VOLT-\d{6}-\d{5}$/);
      await expectText(page.locator('.portal-next'), 'The company has not picked it up yet.');

      // Staff claims it in the dashboard.
      await staffPage(async (staff) => {
        await signIn(staff, OWNER, PASSWORD, `/complaints/${id}`);
        await staff.getByRole('button', { name: 'Claim' }).click();
        await expectText(staff.getByRole('status'), 'You claimed this complaint.');
      });
      await page.getByRole('button', { name: 'Refresh' }).click();
      await expectText(page.locator('.portal-next'), 'Someone at the company is working on it.');
      await expectText(page.locator('.timeline'), `Claimed by ${OWNER}`);

      // The consumer escalates: a new L2 window starts, and the claim stays.
      await page.getByRole('button', { name: 'Escalate', exact: true }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Escalate' }).click();
      await expectText(page.getByRole('status'), 'Escalated to the next level.');
      await expectText(page.locator('.head-meta'), 'L2');

      // Three quarters of the L2 window (48 h) pass: the scheduler warns, and the webhook reaches the receiver.
      clock.advance(37 * HOUR);
      await stack.app.scheduler.tick();
      const warning = await within(
        stack.receiver.waitFor((r) => r.body.includes('complaint.sla_warning') && r.body.includes(id)),
        20_000,
        'the sla_warning webhook',
      );
      const body = JSON.parse(warning.body);
      expect(body.event).toBe('complaint.sla_warning');
      expect(body.data).toMatchObject({ escalatr_id: id, level: 'L2', fraction: 0.75 });
      expect(warning.headers['x-escalatr-signature']).toBeTruthy();

      // Staff completes it (the dashboard session of before has lapsed in the app's time: a fresh sign-in).
      await staffPage(async (staff) => {
        await signIn(staff, OWNER, PASSWORD, `/complaints/${id}`);
        await staff.getByLabel('Resolution notes').fill('Refund of INR 2,499 issued to your card today.');
        await staff.getByRole('button', { name: 'Complete' }).click();
        await expectText(staff.getByRole('status'), 'Complaint completed.');
      });

      await page.getByRole('button', { name: 'Refresh' }).click();
      await page.getByRole('heading', { name: 'The company says it has resolved your complaint' }).waitFor();
      await expectText(page.locator('.portal-quote'), 'Refund of INR 2,499 issued');
      await expectText(page.locator('.timeline'), 'SLA warning');
      await screenshot(page, 'portal-complaint');
      await page.setViewportSize(MOBILE);
      await screenshot(page, 'portal-complaint-mobile');
      await page.setViewportSize({ width: 1280, height: 860 });

      await page.getByLabel('How was it resolved?').selectOption('refund');
      await page.getByLabel('Amount recovered (optional)').fill('2499');
      await page.getByRole('button', { name: 'Confirm resolved' }).click();
      await page.getByRole('heading', { name: 'This complaint is resolved' }).waitFor();
      const detail = await staffApi('GET', `/api/v1/complaints/${id}`);
      expect(detail).toMatchObject({ status: 'Resolved', awaiting: null });
      expect(detail.resolution).toMatchObject({ resolution_type: 'refund', amount_recovered: 2499 });

      await page.getByRole('link', { name: 'My complaints' }).first().click();
      await page.getByRole('link', { name: id }).waitFor();
      await page.setViewportSize(MOBILE);
      await screenshot(page, 'portal-complaints-mobile');

      // The link works once: opened again it says so, with the way to a new one.
      await page.goto(link);
      await page.getByRole('heading', { name: 'This sign-in link was already used' }).waitFor();
      await screenshot(page, 'portal-link-used');
      await page.getByRole('link', { name: 'Get a new sign-in link' }).click();
      await page.getByRole('heading', { name: 'Follow your complaints' }).waitFor();
    });
  });

  it('answers a follow-up, counters an offer, chats, uploads evidence, delegates and withdraws; errors are shown', async () => {
    const id = stack.complaintIds[1];
    const base = `/api/v1/complaints/${id}`;
    await staffApi('POST', `${base}/followups`, { question: 'Which card was charged twice?' });
    await staffApi('POST', `${base}/settlements`, { amount: 1500, currency: 'INR', terms: 'Partial refund now' });
    await staffApi('POST', `${base}/messages`, { body: 'We are checking with the bank.' });

    await withPage(async (page) => {
      await page.setViewportSize(MOBILE);
      await page.goto(await requestLink(page, CONSUMER));
      await page.getByRole('heading', { name: 'My complaints', level: 1 }).waitFor();
      await page.getByRole('link', { name: id }).click();
      await page.getByRole('heading', { name: 'Charged twice for the extended warranty' }).waitFor();

      // Follow-up question.
      await page.getByLabel('Your answer').fill('The Visa card ending 4242.');
      await page.getByRole('button', { name: 'Send answer' }).click();
      await expectText(page.locator('#followups-title').locator('..'), 'Your answer: The Visa card ending 4242.');

      // Settlement: an empty counter is refused on the page; a real one goes through.
      await page.getByRole('button', { name: 'Send counter-offer' }).click();
      await expectText(page.getByRole('alert'), 'Enter the amount you would accept.');
      await page.getByLabel('Counter-offer (INR)').fill('3499');
      await page.getByRole('button', { name: 'Send counter-offer' }).click();
      await expectText(page.locator('#offers-title').locator('..'), 'You countered with');

      // Chat.
      await expectText(page.locator('.messages'), 'We are checking with the bank.');
      await page.getByLabel('Message to the company').fill('Thank you, the second charge was on 2 April.');
      await page.getByRole('button', { name: 'Send message' }).click();
      await expectText(page.locator('.messages'), 'the second charge was on 2 April');

      // Evidence.
      await page.getByLabel('Add a file (up to 5 MB)').setInputFiles({
        name: 'statement.txt',
        mimeType: 'text/plain',
        buffer: Buffer.from('02 Apr  VOLT WARRANTY  3499.00\n02 Apr  VOLT WARRANTY  3499.00\n'),
      });
      await page.getByRole('button', { name: 'Upload' }).click();
      await page.getByRole('link', { name: 'statement.txt' }).waitFor();
      await screenshot(page, 'portal-conversation-mobile');

      // Delegating to a bad address is refused by the page; to a real one, the API accepts.
      await page.getByLabel('Their email').fill('bob');
      await page.getByRole('button', { name: 'Delegate' }).click();
      await expectText(page.getByRole('alert'), 'Enter the email address of the person.');
      await page.getByLabel('Their email').fill('bob@example.test');
      await page.getByRole('button', { name: 'Delegate' }).click();
      await expectText(page.getByRole('status'), 'bob@example.test can now act on this complaint for you.');

      // Withdraw, after a confirmation; then every step is over and a stale step shows the API's refusal.
      await page.getByLabel('Reason').selectOption('resolved_elsewhere');
      await page.getByRole('button', { name: 'Withdraw complaint' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Withdraw' }).click();
      await page.getByRole('heading', { name: 'This complaint is withdrawn' }).waitFor();
      expect(await page.getByRole('button', { name: 'Send message' }).count()).toBe(0);
      const detail = await staffApi('GET', base);
      expect(detail).toMatchObject({ status: 'Withdrawn', delegated_to: 'bob@example.test' });

      // A step the API refuses (another tab still showing the old state) shows its message.
      await page.goto(`/portal/complaints/${stack.complaintIds[2]}`);
      await page.getByRole('heading', { name: 'Washing machine delivered with a dent' }).waitFor();
      const { token } = await createConsumerWithToken(stack.app.ctx, { email: CONSUMER });
      const withdrawn = await fetch(`${stack.baseUrl}/api/consumer/v1/complaints/${stack.complaintIds[2]}/withdraw`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ reason_code: 'other' }),
      });
      expect(withdrawn.status).toBe(200);
      await page.getByRole('button', { name: 'Escalate', exact: true }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Escalate' }).click();
      await expectText(page.getByRole('alert'), /cannot escalate complaint .*: it is Withdrawn/);
    });
  });
});
