import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { addEndpoint, testWorker } from '../helpers/webhooks.js';
import { client, fileComplaint } from './endpoints-helpers.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';
import { failingNoticeDue } from '../../src/webhooks/operational-events.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const OPS = ['endpoint.failing', 'endpoint.disabled', 'endpoint.recovered', 'delivery.dead'];

type Body = { id: string; event: string; data: Record<string, any> };
const bodies = (rx: Receiver): Body[] => rx.requests.map((r) => JSON.parse(r.body.toString()) as Body);

/** A loopback SMTP server that keeps every message. */
async function startSmtp() {
  const mails: Array<{ to: string[]; raw: string }> = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return { mails, port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('failingNoticeDue (when a failing endpoint is announced)', () => {
  const T0 = Date.UTC(2026, 3, 17);
  it('is quiet for the first day, announces once after it, and again a day before the 5-day disable', () => {
    expect(failingNoticeDue(T0, null, T0 + DAY - 1)).toBeNull();
    expect(failingNoticeDue(T0, null, T0 + DAY)).toBe('failing');
    expect(failingNoticeDue(T0, 'failing', T0 + 2 * DAY)).toBeNull();
    expect(failingNoticeDue(T0, 'failing', T0 + 4 * DAY - 1)).toBeNull();
    expect(failingNoticeDue(T0, 'failing', T0 + 4 * DAY)).toBe('disabling');
    expect(failingNoticeDue(T0, 'disabling', T0 + 4 * DAY + HOUR)).toBeNull();
    // A streak first looked at late skips straight to the last notice.
    expect(failingNoticeDue(T0, null, T0 + 4 * DAY + HOUR)).toBe('disabling');
  });
});

describe('operational events on real receivers', () => {
  let t: TestApp;
  let w: RunningWorker;
  let failing: Receiver;
  let watcher: Receiver;
  let tenant: Awaited<ReturnType<typeof seedTenant>>;

  beforeEach(async () => {
    t = await createTestApp();
    tenant = await seedTenant(t);
    failing = await startReceiver({ behaviour: () => ({ status: 500, body: 'down' }) });
    watcher = await startReceiver();
    w = await testWorker(t);
  });
  afterEach(async () => {
    await w.stop();
    await failing.close();
    await watcher.close();
    await t.close();
  });

  const feed = async (event: string) => {
    const res = await client(t, tenant.adminKey).get(`/events?event=${event}&limit=100`);
    expect(res.status).toBe(200);
    return res.body.data as Body[];
  };

  it('announces failing after 24 h and a day before the disable, then disabled and recovered — never to the endpoint itself', async () => {
    const bad = await addEndpoint(t, tenant.company.id, failing.url, { events: ['complaint.created', ...OPS] });
    await addEndpoint(t, tenant.company.id, watcher.url, { events: OPS });

    await fileComplaint(t, tenant.consumerToken);
    await w.worker.drain();
    t.clock.advance(DAY - HOUR);
    await fileComplaint(t, tenant.consumerToken);
    await w.worker.drain();
    expect(await feed('endpoint.failing')).toEqual([]);

    t.clock.advance(HOUR);
    await fileComplaint(t, tenant.consumerToken);
    await w.worker.drain();
    const first = bodies(watcher).filter((b) => b.event === 'endpoint.failing');
    expect(first).toHaveLength(1);
    expect(first[0].data).toMatchObject({ endpoint_id: bad.id, url: failing.url, final_notice: false });
    expect(first[0].data.disables_at).toBe(new Date(Date.parse(first[0].data.failing_since) + 5 * DAY).toISOString());
    expect(await feed('endpoint.failing')).toHaveLength(1);

    // A day later, retrying all along: still failing, no second notice.
    for (let i = 0; i < 3; i++) {
      t.clock.advance(8 * HOUR);
      await w.worker.drain();
    }
    expect(await feed('endpoint.failing')).toHaveLength(1);

    // The first complaint's delivery has used up its retries (6 attempts): one delivery.dead, to the watcher.
    const dead = bodies(watcher).filter((b) => b.event === 'delivery.dead');
    expect(dead.length).toBeGreaterThanOrEqual(1);
    expect(dead[0].data).toMatchObject({ endpoint_id: bad.id, event: 'complaint.created', target: 'endpoint' });
    expect(dead[0].data.attempt_count).toBe(6);

    t.clock.advance(2 * DAY);
    await fileComplaint(t, tenant.consumerToken);
    await w.worker.drain();
    const notices = bodies(watcher).filter((b) => b.event === 'endpoint.failing');
    expect(notices.map((b) => b.data.final_notice)).toEqual([false, true]);

    t.clock.advance(DAY);
    await fileComplaint(t, tenant.consumerToken);
    await w.worker.drain();
    const disabled = bodies(watcher).filter((b) => b.event === 'endpoint.disabled');
    expect(disabled).toHaveLength(1);
    expect(disabled[0].data).toMatchObject({ endpoint_id: bad.id, reason: 'failing_5_days' });

    // Re-enabled and answering again: one recovered notice.
    failing.setBehaviour(() => ({ status: 200 }));
    expect((await client(t, tenant.adminKey).patch(`/webhooks/${bad.id}`, { enabled: true })).status).toBe(200);
    await fileComplaint(t, tenant.consumerToken);
    await w.worker.drain();
    await fileComplaint(t, tenant.consumerToken);
    await w.worker.drain();
    const recovered = bodies(watcher).filter((b) => b.event === 'endpoint.recovered');
    expect(recovered).toHaveLength(1);
    expect(recovered[0].data).toMatchObject({ endpoint_id: bad.id, previous_notice: 'disabled' });

    // The endpoint subscribed to every operational event, yet received none about itself.
    expect(bodies(failing).filter((b) => OPS.includes(b.event))).toEqual([]);
    // Every operational event is in the feed and reached the watcher.
    for (const name of OPS) expect((await feed(name)).length).toBeGreaterThan(0);
    const feedOps = (await Promise.all(OPS.map(feed))).flat().map((e) => e.id);
    expect(new Set(bodies(watcher).map((b) => b.id))).toEqual(new Set(feedOps));
  });

  it('a dead delivery of an operational event makes no further delivery.dead, and * does not include them', async () => {
    await addEndpoint(t, tenant.company.id, failing.url, { events: ['complaint.created'] });
    // A second receiver that fails too, subscribed to dead deliveries: its own dead ones must not loop.
    const alsoDown = await startReceiver({ behaviour: () => ({ status: 503 }) });
    try {
      await addEndpoint(t, tenant.company.id, alsoDown.url, { events: ['delivery.dead'] });
      await addEndpoint(t, tenant.company.id, watcher.url, { events: ['*'] });
      await fileComplaint(t, tenant.consumerToken);
      for (let i = 0; i < 14; i++) {
        await w.worker.drain();
        t.clock.advance(8 * HOUR);
      }
      const dead = await feed('delivery.dead');
      expect(dead).toHaveLength(1);
      expect(dead[0].data).toMatchObject({ event: 'complaint.created', attempt_count: 6 });
      // alsoDown was sent it six times, and that delivery died without another event.
      expect(bodies(alsoDown).filter((b) => b.event === 'delivery.dead')).toHaveLength(6);
      const statuses = await t.store.db
        .selectFrom('deliveries')
        .select(['status'])
        .where('event_id', '=', dead[0].id)
        .execute();
      expect(statuses.map((s) => s.status)).toEqual(['dead']);
      // The * endpoint got the complaint event only.
      expect(bodies(watcher).map((b) => b.event)).toEqual(['complaint.created']);
    } finally {
      await alsoDown.close();
    }
  });
});

describe('operations destinations (email to owners and admins, Slack)', () => {
  let t: TestApp;
  let w: RunningWorker;
  let gone: Receiver;
  let slack: Receiver;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let tenant: Awaited<ReturnType<typeof seedTenant>>;

  beforeEach(async () => {
    smtp = await startSmtp();
    t = await createTestApp({ config: { smtpUrl: `smtp://127.0.0.1:${smtp.port}?from=ops@volt.test` } });
    tenant = await seedTenant(t);
    gone = await startReceiver({ behaviour: () => ({ status: 410 }) });
    slack = await startReceiver({ behaviour: (_r, n) => (n === 1 ? { status: 500 } : { status: 200, body: 'ok' }) });
    w = await testWorker(t);
  });
  afterEach(async () => {
    await w.stop();
    await gone.close();
    await slack.close();
    await t.close();
    await smtp.close();
  });

  it('settings: admin only, URL checked and masked, null removes it', async () => {
    const api = client(t, tenant.adminKey);
    expect((await api.get('/settings/operations')).body.data).toEqual({
      email: false,
      email_recipients: ['owner@volt.test'],
      slack_url: null,
    });
    const put = (body: unknown) =>
      t.app.http.inject({
        method: 'PUT',
        url: '/api/v1/settings/operations',
        headers: { authorization: `Bearer ${tenant.adminKey}` },
        payload: body as object,
      });
    for (const url of ['ftp://example.test/x', 'http://10.0.0.7/hook', 'https://user:pw@hooks.slack.test/x']) {
      const res = await put({ slack_url: url });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('invalid_url');
    }
    expect((await api.get('/settings/operations')).body.data.slack_url).toBeNull();
    const saved = await put({ email: true, slack_url: `${slack.url}/T000/B000/secretpart` });
    expect(saved.statusCode).toBe(200);
    expect(saved.json().data).toMatchObject({ email: true, slack_url: `${slack.url}/T000/B000/********` });
    expect(saved.body).not.toContain('secretpart');
    // Leaving the URL out keeps it.
    expect((await put({ email: false })).json().data.slack_url).toContain('********');
    expect((await put({ slack_url: null })).json().data).toMatchObject({ email: false, slack_url: null });
    const read = await t.app.http.inject({
      method: 'GET',
      url: '/api/v1/settings/operations',
      headers: { authorization: `Bearer ${tenant.readKey}` },
    });
    expect(read.statusCode).toBe(403);
  });

  it('sends an automatic disable to the owners by email and to Slack from the worker, retrying a failed post', async () => {
    const res = await t.app.http.inject({
      method: 'PUT',
      url: '/api/v1/settings/operations',
      headers: { authorization: `Bearer ${tenant.adminKey}` },
      payload: { email: true, slack_url: slack.url },
    });
    expect(res.statusCode).toBe(200);
    const ep = await addEndpoint(t, tenant.company.id, gone.url, { events: ['complaint.created'] });
    await fileComplaint(t, tenant.consumerToken);
    await w.worker.drain();

    const [disabled] = await t.store.db
      .selectFrom('events')
      .select(['id', 'body'])
      .where('name', '=', 'endpoint.disabled')
      .execute();
    expect(JSON.parse(disabled.body).data).toMatchObject({ endpoint_id: ep.id, reason: 'gone' });
    // 410 also ended the complaint's delivery: a delivery.dead too. Each went out by email and to Slack.
    expect(smtp.mails).toHaveLength(2);
    for (const mail of smtp.mails) expect(mail.to).toEqual(['owner@volt.test']);
    const subjects = smtp.mails
      .map((m) => /^Subject: (.*)$/m.exec(m.raw.replace(/\r?\n[ \t]+/g, ' '))?.[1] ?? '')
      .sort();
    expect(subjects[0]).toMatch(/^\[Escalatr operations\] A complaint.created delivery used up its retries/);
    expect(subjects[1]).toMatch(/^\[Escalatr operations\] Webhook endpoint .* was disabled/);
    // Slack answered 500 the first time: that post is retried after the schedule's first delay.
    expect(slack.requests).toHaveLength(2);
    t.clock.advance(60_000);
    await w.worker.drain();
    expect(slack.requests).toHaveLength(3);
    const texts = slack.requests.map((r) => JSON.parse(r.body.toString()).text as string);
    expect(texts.filter((x) => x.includes('was disabled'))).toHaveLength(texts[0].includes('was disabled') ? 2 : 1);
    const targets = await t.store.db
      .selectFrom('deliveries')
      .select(['target', 'status'])
      .where('target', 'like', 'ops_%')
      .orderBy('target')
      .execute();
    expect(targets).toEqual([
      { target: 'ops_email', status: 'success' },
      { target: 'ops_email', status: 'success' },
      { target: 'ops_slack', status: 'success' },
      { target: 'ops_slack', status: 'success' },
    ]);
  });
});
