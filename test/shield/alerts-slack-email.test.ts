import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import type { Receiver } from '../helpers/receiver.js';
import { decodeQp, startSmtp } from '../helpers/smtp.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';
import {
  createAutomationOk,
  EXTREME,
  postFeedback,
  processorFor,
  record,
  shieldWorker,
  startShieldScene,
  stopShieldScene,
  type ShieldTenant,
} from './shield-helpers.js';

describe('shield alerts to Slack', () => {
  let t: TestApp, rx: Receiver, w: RunningWorker, tenant: ShieldTenant;
  beforeEach(async () => {
    ({ t, tenant, rx, w } = await startShieldScene());
  });
  afterEach(async () => stopShieldScene({ t, rx, w }));

  it('posts a Block Kit message with the level, excerpt, source and a link to the record', async () => {
    await createAutomationOk(t, tenant.adminKey, { destinations: [{ type: 'slack', url: rx.url }] });
    await postFeedback(
      t,
      tenant.adminKey,
      record('zd/77', `${EXTREME} <@here> & <https://evil.example|click>`, {
        source_url: 'https://support.example.com/t/77',
      }),
    );
    await processorFor(t).tick();
    expect(await w.worker.drain()).toBe(1);
    const [req] = rx.requests;
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['user-agent']).toBe('SupportEscalationAutomation/1.0');
    const msg = JSON.parse(req.body.toString());
    expect(msg.text).toContain('EXTREME escalation risk from ZendeskSupport');
    const types = msg.blocks.map((b: { type: string }) => b.type);
    expect(types).toEqual(['header', 'section', 'section', 'context', 'actions']);
    expect(msg.blocks[0].text).toEqual({ type: 'plain_text', text: '🔴 EXTREME escalation risk from ZendeskSupport' });
    const quote = msg.blocks[1].text.text as string;
    expect(quote.startsWith('>This is UNACCEPTABLE!!!')).toBe(true);
    // Feedback text cannot ping channels or forge links.
    expect(quote).toContain('&lt;@here&gt; &amp; &lt;https://evil.example|click&gt;');
    expect(JSON.stringify(msg.blocks[2].fields)).toContain('ZendeskSupport');
    const buttons = msg.blocks[4].elements;
    expect(buttons[0]).toMatchObject({ type: 'button', url: 'http://localhost:3000/shield/feedback/zd%2F77' });
    expect(buttons[1]).toMatchObject({ type: 'button', url: 'https://support.example.com/t/77' });
    const d = await t.store.db.selectFrom('deliveries').select(['target', 'status']).executeTakeFirstOrThrow();
    expect(d).toEqual({ target: 'slack', status: 'success' });
  });
});

describe('shield alerts by email', () => {
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let t: TestApp;
  let w: RunningWorker;
  let tenant: Awaited<ReturnType<typeof seedTenant>>;
  const setup = async (smtpUrl: string | null) => {
    t = await createTestApp({ config: { smtpUrl } });
    tenant = await seedTenant(t);
    w = await shieldWorker(t);
  };
  afterEach(async () => {
    await w?.stop();
    await t?.close();
    await smtp?.close();
  });

  it('sends an HTML and text email with the level in the subject', async () => {
    smtp = await startSmtp();
    await setup(`smtp://127.0.0.1:${smtp.port}?from=shield@volt.test`);
    await createAutomationOk(t, tenant.adminKey, {
      destinations: [{ type: 'email', to: ['oncall@volt.test', 'lead@volt.test'] }],
    });
    await postFeedback(
      t,
      tenant.adminKey,
      record('mail-1', `${EXTREME} <b>not bold</b>`, { source_url: 'https://support.example.com/t/1' }),
    );
    await processorFor(t).tick();
    expect(await w.worker.drain()).toBe(1);
    expect(smtp.mails).toHaveLength(1);
    const [mail] = smtp.mails;
    expect(mail.from).toBe('shield@volt.test');
    expect(mail.to).toEqual(['oncall@volt.test', 'lead@volt.test']);
    const raw = decodeQp(mail.raw);
    expect(raw).toMatch(/^Subject: \[Escalation Shield\] EXTREME escalation risk from ZendeskSupport$/m);
    expect(raw).toMatch(/Content-Type: text\/plain/i);
    expect(raw).toMatch(/Content-Type: text\/html/i);
    expect(raw).toContain('> This is UNACCEPTABLE!!!');
    expect(raw).toContain('Open the record: http://localhost:3000/shield/feedback/mail-1');
    expect(raw).toContain('&lt;b&gt;not bold&lt;/b&gt;');
    expect(raw).toContain('<a href="http://localhost:3000/shield/feedback/mail-1">Open the record</a>');
    expect(raw).toMatch(/X-Escalatr-Idempotency-Key:\s+aut_\w+:dst_\w+:mail-1/);
    const d = await t.store.db.selectFrom('deliveries').select(['target', 'status']).executeTakeFirstOrThrow();
    expect(d).toEqual({ target: 'email', status: 'success' });
  });

  it('fails the attempt with smtp_not_configured when SMTP_URL is not set', async () => {
    await setup(null);
    await createAutomationOk(t, tenant.adminKey, { destinations: [{ type: 'email', to: ['oncall@volt.test'] }] });
    await postFeedback(t, tenant.adminKey, record('mail-2', EXTREME));
    await processorFor(t).tick();
    expect(await w.worker.drain()).toBe(1);
    const attempt = await t.store.db
      .selectFrom('attempts')
      .select(['error_kind', 'error_message'])
      .executeTakeFirstOrThrow();
    expect(attempt.error_kind).toBe('smtp_not_configured');
    expect(attempt.error_message).toContain('SMTP_URL');
    const d = await t.store.db.selectFrom('deliveries').select('status').executeTakeFirstOrThrow();
    expect(d.status).toBe('failed');
  });

  it('records an SMTP refusal as a failed attempt, never a crash', async () => {
    smtp = await startSmtp({ reject: true });
    await setup(`smtp://127.0.0.1:${smtp.port}`);
    await createAutomationOk(t, tenant.adminKey, { destinations: [{ type: 'email', to: ['gone@volt.test'] }] });
    await postFeedback(t, tenant.adminKey, record('mail-3', EXTREME));
    await processorFor(t).tick();
    expect(await w.worker.drain()).toBe(1);
    const attempt = await t.store.db
      .selectFrom('attempts')
      .select(['error_kind', 'error_message'])
      .executeTakeFirstOrThrow();
    expect(attempt.error_kind).toBe('smtp_rejected');
    expect(attempt.error_message).toContain('550');
    expect(smtp.mails).toHaveLength(0);
  });
});
