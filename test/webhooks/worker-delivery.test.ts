import crypto from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { ManualClock } from '../../src/clock.js';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { addEndpoint, testWorker } from '../helpers/webhooks.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';

/** The seed's own Express verification, as a function of the raw body and the header. */
function seedVerifies(secret: string, rawBody: Buffer, sig: string | undefined): boolean {
  const expected = crypto.createHmac('sha256', secret).update(rawBody).digest('hex');
  if (!sig || sig.length !== expected.length) return false;
  return crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(expected));
}

const MIN = 60_000;

describe('delivery worker: wire format, retries, dead', () => {
  let t: TestApp;
  let rx: Receiver;
  let w: RunningWorker;
  let tenant: Awaited<ReturnType<typeof seedTenant>>;

  beforeEach(async () => {
    // Standard Webhooks receivers reject timestamps far from their own clock, so start at real time.
    t = await createTestApp({ clock: new ManualClock(Date.now()) });
    tenant = await seedTenant(t);
    rx = await startReceiver();
    w = await testWorker(t);
  });
  afterEach(async () => {
    await w.stop();
    await rx.close();
    await t.close();
  });

  const file = () =>
    t.app.http.inject({
      method: 'POST',
      url: '/api/consumer/v1/complaints',
      headers: bearer(tenant.consumerToken),
      payload: {
        company_code: 'VOLT',
        complaint_category: 'Consumer Durables',
        title: 'Fridge',
        description: 'Stopped cooling',
      },
    });

  it('signs every delivery so the seed code and standardwebhooks both verify it', async () => {
    const ep = await addEndpoint(t, tenant.company.id, rx.url, { auth: { type: 'bearer', token: 'tok_live_123' } });
    const filed = await file();
    const id = filed.json().data.escalatr_id;
    await t.app.http.inject({
      method: 'POST',
      url: `/api/consumer/v1/complaints/${id}/escalate`,
      headers: bearer(tenant.consumerToken),
    });
    expect(await w.worker.drain()).toBe(2);
    const [created, escalated] = rx.requests;
    for (const r of [created, escalated]) {
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['user-agent']).toBe('Escalatr-Webhooks/1.0');
      expect(r.headers['authorization']).toBe('Bearer tok_live_123');
      expect(seedVerifies(ep.secret, r.body, r.headers['x-escalatr-signature'] as string)).toBe(true);
      expect(() => new Webhook(ep.secret).verify(r.body.toString(), r.headers as Record<string, string>)).not.toThrow();
      const body = JSON.parse(r.body.toString());
      expect(body.id).toMatch(/^evt_/);
      expect(r.headers['webhook-id']).toBe(body.id);
      expect(r.headers['x-escalatr-event']).toBe(body.event);
      expect(body.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    expect(JSON.parse(escalated.body.toString()).data).toEqual({
      escalatr_id: id,
      status: 'Escalated',
      escalation_level: 'L2',
      complaint_category: 'Consumer Durables',
      priority: 'medium',
      to_level: 'L2',
      trigger: 'manual',
    });

    // A tampered body or a wrong secret fails both schemes.
    const tampered = Buffer.from(created.body.toString().replace('Open', 'Resolved'));
    expect(seedVerifies(ep.secret, tampered, created.headers['x-escalatr-signature'] as string)).toBe(false);
    expect(() =>
      new Webhook(ep.secret).verify(tampered.toString(), created.headers as Record<string, string>),
    ).toThrow();
    const other = 'whsec_' + crypto.randomBytes(32).toString('base64');
    expect(seedVerifies(other, created.body, created.headers['x-escalatr-signature'] as string)).toBe(false);
    expect(() =>
      new Webhook(other).verify(created.body.toString(), created.headers as Record<string, string>),
    ).toThrow();

    // The feed shows the same body bytes and the settled delivery state.
    const events = await t.store.db.selectFrom('events').select(['body', 'delivery_status']).orderBy('seq').execute();
    expect(events.map((e) => e.body)).toEqual([created.body.toString(), escalated.body.toString()]);
    expect(events.map((e) => e.delivery_status)).toEqual(['success', 'success']);
  });

  it('fails twice then succeeds: 3 attempts, same body and Idempotency-Key, on the 1m and 5m schedule', async () => {
    rx.setBehaviour((_r, n) => (n <= 2 ? { status: 500, body: 'boom' } : { status: 204 }));
    await addEndpoint(t, tenant.company.id, rx.url);
    await file();
    expect(await w.worker.drain()).toBe(1);
    const d1 = await t.store.db.selectFrom('deliveries').selectAll().executeTakeFirstOrThrow();
    expect(d1.status).toBe('failed');
    expect(d1.next_attempt_at).toBe(t.clock.now() + MIN);
    expect(await w.worker.drain()).toBe(0); // not due yet
    t.clock.advance(MIN);
    expect(await w.worker.drain()).toBe(1);
    const d2 = await t.store.db.selectFrom('deliveries').selectAll().executeTakeFirstOrThrow();
    expect(d2.next_attempt_at).toBe(t.clock.now() + 5 * MIN);
    t.clock.advance(5 * MIN);
    expect(await w.worker.drain()).toBe(1);

    expect(rx.requests).toHaveLength(3);
    expect(new Set(rx.requests.map((r) => r.body.toString())).size).toBe(1);
    expect(new Set(rx.requests.map((r) => r.headers['idempotency-key'])).size).toBe(1);
    const d = await t.store.db.selectFrom('deliveries').selectAll().executeTakeFirstOrThrow();
    expect(d.status).toBe('success');
    expect(d.attempt_count).toBe(3);
    const attempts = await t.store.db
      .selectFrom('attempts')
      .selectAll()
      .where('delivery_id', '=', d.id)
      .orderBy('n')
      .execute();
    expect(attempts.map((a) => [a.n, a.status_code, a.error_kind])).toEqual([
      [1, 500, 'http_status'],
      [2, 500, 'http_status'],
      [3, 204, null],
    ]);
    expect(attempts[0].response_excerpt).toBe('boom');
  });

  it('records an answer with NUL bytes in its body (PostgreSQL refuses NUL in text), its excerpt with U+FFFD for them', async () => {
    rx.setBehaviour((_r, n) => (n === 1 ? { status: 500, body: 'bad\u0000body' } : { status: 200, body: '\u0000ok' }));
    await addEndpoint(t, tenant.company.id, rx.url);
    await file();
    expect(await w.worker.drain()).toBe(1);
    t.clock.advance(MIN);
    expect(await w.worker.drain()).toBe(1);
    const d = await t.store.db.selectFrom('deliveries').selectAll().executeTakeFirstOrThrow();
    expect([d.status, d.attempt_count]).toEqual(['success', 2]);
    const attempts = await t.store.db
      .selectFrom('attempts')
      .select(['n', 'response_excerpt'])
      .where('delivery_id', '=', d.id)
      .orderBy('n')
      .execute();
    expect(attempts).toEqual([
      { n: 1, response_excerpt: 'bad\uFFFDbody' },
      { n: 2, response_excerpt: '\uFFFDok' },
    ]);
  });

  it('always failing: dead after the 6th attempt, exactly on 1m, 5m, 30m, 2h, 6h', async () => {
    rx.setBehaviour(() => ({ status: 503 }));
    await addEndpoint(t, tenant.company.id, rx.url);
    await file();
    const gaps = [MIN, 5 * MIN, 30 * MIN, 120 * MIN, 360 * MIN];
    expect(await w.worker.drain()).toBe(1);
    for (const gap of gaps) {
      t.clock.advance(gap - 1);
      expect(await w.worker.drain()).toBe(0);
      t.clock.advance(1);
      expect(await w.worker.drain()).toBe(1);
    }
    const d = await t.store.db.selectFrom('deliveries').selectAll().executeTakeFirstOrThrow();
    expect(d.status).toBe('dead');
    expect(d.attempt_count).toBe(6);
    expect(d.next_attempt_at).toBeNull();
    t.clock.advance(24 * 60 * MIN);
    expect(await w.worker.drain()).toBe(0);
    expect(rx.requests).toHaveLength(6);
    const ev = await t.store.db
      .selectFrom('events')
      .select('delivery_status')
      .where('name', '=', 'complaint.created')
      .executeTakeFirstOrThrow();
    expect(ev.delivery_status).toBe('dead');
    // The company is told once, in its feed (the endpoint's * subscription does not include operational events).
    const dead = await t.store.db.selectFrom('events').select('name').where('name', '=', 'delivery.dead').execute();
    expect(dead).toHaveLength(1);

    // A resend starts a new sequence: attempt 7 fails and is retried after 1 minute, not marked dead at once.
    const resent = await t.app.http.inject({
      method: 'POST',
      url: `/api/v1/deliveries/${d.id}/resend`,
      headers: bearer(tenant.adminKey),
    });
    expect(resent.statusCode).toBe(200);
    expect(await w.worker.drain()).toBe(1);
    const again = await t.store.db.selectFrom('deliveries').selectAll().executeTakeFirstOrThrow();
    expect([again.status, again.attempt_count, again.next_attempt_at]).toEqual(['failed', 7, t.clock.now() + MIN]);
    expect(new Set(rx.requests.map((r) => r.headers['idempotency-key'])).size).toBe(1);
  });

  it('honours a longer Retry-After on 429', async () => {
    rx.setBehaviour((_r, n) => (n === 1 ? { status: 429, headers: { 'retry-after': '600' } } : { status: 200 }));
    await addEndpoint(t, tenant.company.id, rx.url);
    await file();
    await w.worker.drain();
    const d = await t.store.db.selectFrom('deliveries').selectAll().executeTakeFirstOrThrow();
    expect(d.next_attempt_at).toBe(t.clock.now() + 600_000);
  });

  it('410 Gone disables the endpoint and ends its deliveries', async () => {
    rx.setBehaviour(() => ({ status: 410 }));
    const ep = await addEndpoint(t, tenant.company.id, rx.url);
    await file();
    await w.worker.drain();
    const row = await t.store.db.selectFrom('endpoints').selectAll().where('id', '=', ep.id).executeTakeFirstOrThrow();
    expect(row.enabled).toBe(0);
    expect(row.disabled_reason).toBe('gone');
    const d = await t.store.db.selectFrom('deliveries').selectAll().executeTakeFirstOrThrow();
    expect(d.status).toBe('dead');
    // Nothing more goes to a disabled endpoint.
    await file();
    await w.worker.drain();
    expect(rx.requests).toHaveLength(1);
  });

  it('only subscribed, enabled endpoints get deliveries', async () => {
    const other = await startReceiver();
    try {
      await addEndpoint(t, tenant.company.id, rx.url, { events: ['complaint.escalated'] });
      await addEndpoint(t, tenant.company.id, other.url, { enabled: false });
      const id = (await file()).json().data.escalatr_id;
      await t.app.http.inject({
        method: 'POST',
        url: `/api/consumer/v1/complaints/${id}/escalate`,
        headers: bearer(tenant.consumerToken),
      });
      await w.worker.drain();
      expect(rx.requests.map((r) => r.headers['x-escalatr-event'])).toEqual(['complaint.escalated']);
      expect(other.requests).toHaveLength(0);
    } finally {
      await other.close();
    }
  });
});
