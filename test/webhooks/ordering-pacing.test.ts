import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { transact } from '../../src/domain/context.js';
import { emitEvent } from '../../src/domain/events.js';
import { bearer, createTestApp, seedTenant, type TestApp } from '../helpers/harness.js';
import { startReceiver, type Behaviour, type Receiver } from '../helpers/receiver.js';
import { addEndpoint, testWorker } from '../helpers/webhooks.js';
import { nextDueAt } from '../../src/queue/next-due.js';
import type { RunningWorker } from '../../src/webhooks/worker.js';

const S = 1000;

/** What a received request was: its complaint and place, read back from the event body this test wrote. */
const parsed = (body: Buffer) => (JSON.parse(body.toString()) as { data: { complaint: string; n: number } }).data;
const label = (body: Buffer) => {
  const d = parsed(body);
  return `${d.complaint}${d.n}`;
};

describe('ordered delivery per complaint, rate limits and 429 holds', () => {
  let t: TestApp;
  let rx: Receiver;
  let w: RunningWorker;
  let volt: Awaited<ReturnType<typeof seedTenant>>;
  let behaviour: Behaviour;

  beforeEach(async () => {
    t = await createTestApp({
      clock: new ManualClock(Date.parse('2026-06-01T09:00:00.000Z')),
      config: { retryScheduleMs: [10 * S, 10 * S, 10 * S] },
    });
    volt = await seedTenant(t, { code: 'VOLT' });
    behaviour = () => ({ status: 200, body: 'ok' });
    rx = await startReceiver({ behaviour: (req, n) => behaviour(req, n) });
    w = await testWorker(t);
  });
  afterEach(async () => {
    await w.stop();
    await rx.close();
    await t.close();
  });

  const api = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) =>
    t.app.http.inject({
      method,
      url: `/api/v1${url}`,
      headers: bearer(volt.adminKey),
      ...(payload ? { payload } : {}),
    });

  /** One event of `complaint`, its place `n` in the body (each its own transaction, so its own commit). */
  const emit = (complaint: string, n: number) =>
    transact(t.app.ctx, (work) =>
      emitEvent(t.app.ctx, work, {
        companyId: volt.company.id,
        name: 'message.new',
        complaintId: complaint,
        data: { complaint, n },
      }),
    );

  it('keeps one complaint in order behind its failing event while another complaint flows', async () => {
    await addEndpoint(t, volt.company.id, rx.url, { ordering: 'per_complaint' });
    // X's first event fails on its first attempt; everything else succeeds.
    behaviour = (req) =>
      label(req.body) === 'X1' && rx.requests.filter((r) => label(r.body) === 'X1').length === 1
        ? { status: 503, body: 'busy' }
        : { status: 200, body: 'ok' };
    for (let n = 1; n <= 3; n++) {
      await emit('X', n);
      await emit('Y', n);
    }
    await w.worker.drain();
    // Y went through in order; X stopped at its failed first event, the later ones never sent.
    expect(rx.requests.map((r) => label(r.body))).toEqual(['X1', 'Y1', 'Y2', 'Y3']);
    const held = await t.store.db
      .selectFrom('deliveries')
      .select(['status', 'attempt_count'])
      .where('order_key', '=', 'X')
      .orderBy('order_seq')
      .execute();
    expect(held).toEqual([
      { status: 'failed', attempt_count: 1 },
      { status: 'pending', attempt_count: 0 },
      { status: 'pending', attempt_count: 0 },
    ]);
    // The worker's next wake-up is X1's retry, not the held rows behind it (which the claim would not take).
    const { nextDueAt } = await import('../../src/queue/next-due.js');
    expect(await nextDueAt(t.store, t.clock.now())).toBe(t.clock.now() + 10 * S);

    t.clock.advance(10 * S);
    await w.worker.drain();
    expect(rx.requests.map((r) => label(r.body)).filter((l) => l.startsWith('X'))).toEqual(['X1', 'X1', 'X2', 'X3']);
  });

  it("a dead event releases its complaint's later ones; unordered endpoints do not wait", async () => {
    const ordered = await addEndpoint(t, volt.company.id, `${rx.url}/ordered`, { ordering: 'per_complaint' });
    await addEndpoint(t, volt.company.id, `${rx.url}/plain`);
    behaviour = (req) =>
      req.url.endsWith('/ordered') && label(req.body) === 'X1'
        ? { status: 500, body: 'no' }
        : { status: 200, body: 'ok' };
    await emit('X', 1);
    await emit('X', 2);
    await w.worker.drain();
    const sent = (path: string) => rx.requests.filter((r) => r.url.endsWith(path)).map((r) => label(r.body));
    expect(sent('/plain')).toEqual(['X1', 'X2']);
    expect(sent('/ordered')).toEqual(['X1']);
    for (let i = 0; i < 3; i++) {
      t.clock.advance(10 * S);
      await w.worker.drain();
    }
    // Four attempts, then dead: X2 goes.
    expect(sent('/ordered')).toEqual(['X1', 'X1', 'X1', 'X1', 'X2']);
    const view = (await api('GET', `/webhooks/${ordered.id}`)).json().data;
    expect(view.ordering).toBe('per_complaint');
  });

  it('turning ordering on orders the backlog; off lets it all go', async () => {
    const ep = await addEndpoint(t, volt.company.id, rx.url);
    behaviour = () => ({ status: 503, body: 'down' });
    await emit('X', 1);
    await emit('X', 2);
    await w.worker.drain();
    expect(rx.requests).toHaveLength(2);
    const on = await api('PATCH', `/webhooks/${ep.id}`, { ordering: 'per_complaint' });
    expect(on.statusCode, on.body).toBe(200);
    t.clock.advance(10 * S);
    await w.worker.drain();
    expect(rx.requests.slice(2).map((r) => label(r.body))).toEqual(['X1']);
    await api('PATCH', `/webhooks/${ep.id}`, { ordering: 'none' });
    t.clock.advance(10 * S);
    await w.worker.drain();
    expect(
      rx.requests
        .slice(3)
        .map((r) => label(r.body))
        .sort(),
    ).toEqual(['X1', 'X2']);
  });

  it('caps attempts per second across workers sharing the store', async () => {
    await addEndpoint(t, volt.company.id, rx.url, { rate_limit_per_s: 3 });
    const other = await testWorker(t);
    try {
      for (let n = 1; n <= 8; n++) await emit(`C${n}`, 1);
      // Both workers drain at the same instant: one window, three attempts between them.
      await Promise.all([w.worker.drain(), other.worker.drain()]);
      expect(rx.requests).toHaveLength(3);
      await Promise.all([w.worker.drain(), other.worker.drain()]);
      expect(rx.requests).toHaveLength(3);
      t.clock.advance(999);
      await Promise.all([w.worker.drain(), other.worker.drain()]);
      expect(rx.requests).toHaveLength(3);
      t.clock.advance(1);
      await Promise.all([w.worker.drain(), other.worker.drain()]);
      expect(rx.requests).toHaveLength(6);
      t.clock.advance(S);
      await Promise.all([w.worker.drain(), other.worker.drain()]);
      expect(rx.requests).toHaveLength(8);
      // Rows held back were given back, not attempted: each delivery made exactly one attempt.
      const attempts = await t.store.db.selectFrom('attempts').select('delivery_id').execute();
      expect(attempts).toHaveLength(8);
      expect(new Set(attempts.map((a) => a.delivery_id)).size).toBe(8);
    } finally {
      await other.stop();
    }
  });

  it('a 429 with Retry-After holds the whole endpoint until then, and the attempt log says so', async () => {
    const ep = await addEndpoint(t, volt.company.id, rx.url);
    behaviour = (_req, n) =>
      n === 1 ? { status: 429, body: 'slow down', headers: { 'retry-after': '120' } } : { status: 200 };
    await emit('A', 1);
    await w.worker.drain();
    expect(rx.requests).toHaveLength(1);
    const view = (await api('GET', `/webhooks/${ep.id}`)).json().data;
    expect(view.held_until).toBe(new Date(t.clock.now() + 120 * S).toISOString());
    const [attempt] = await t.store.db.selectFrom('attempts').selectAll().execute();
    expect([attempt.status_code, attempt.error_message]).toEqual([
      429,
      "HTTP 429: the endpoint's deliveries are held for 120 s (Retry-After)",
    ]);

    // Other events for the same endpoint wait too, not only the delivery that got the 429.
    await emit('B', 1);
    await emit('C', 1);
    t.clock.advance(60 * S);
    await w.worker.drain();
    expect(rx.requests).toHaveLength(1);
    t.clock.advance(60 * S);
    await w.worker.drain();
    expect(rx.requests).toHaveLength(4);
    expect((await api('GET', `/webhooks/${ep.id}`)).json().data.held_until).toBeNull();
  });

  it('while an endpoint is held, its rows made since neither wake the worker nor count as the workers falling behind', async () => {
    const ep = await addEndpoint(t, volt.company.id, rx.url);
    behaviour = (_req, n) =>
      n === 1 ? { status: 429, body: 'slow down', headers: { 'retry-after': '120' } } : { status: 200 };
    await emit('A', 1);
    await w.worker.drain();
    const heldUntil = t.clock.now() + 120 * S;
    // The worker learns of the hold from the next claim, which gives B back due at its end.
    await emit('B', 1);
    await w.worker.drain();
    expect(rx.requests).toHaveLength(1);
    // C is made during the hold: due now in the store, and left out of this worker's claims.
    await emit('C', 1);
    t.clock.advance(30 * S);
    expect(await nextDueAt(t.store, t.clock.now())).toBe(t.clock.now());
    expect(await nextDueAt(t.store, t.clock.now(), [ep.id])).toBeNull();
    // Idle, it sleeps a poll (1 s), not 0 s: before, it claimed again at once, over and over, until the hold ended.
    expect(await w.worker.idleDelay(false)).toBe(S);
    t.clock.set(heldUntil - 400);
    expect(await w.worker.idleDelay(false)).toBe(400);

    const scrape = async () => (await t.app.http.inject({ method: 'GET', url: '/metrics' })).body;
    const oldestDue = (text: string) => Number(/^escalatr_queue_oldest_due_age_seconds (\S+)$/m.exec(text)?.[1]);
    expect(oldestDue(await scrape())).toBe(0);
    t.clock.set(heldUntil + 5 * S);
    // Past the hold, C counts from when it was made.
    expect(oldestDue(await scrape())).toBe(125);
    await w.worker.drain();
    // A's retry, B and C, in no set order (the endpoint is not ordered).
    expect(rx.requests.map((r) => label(r.body)).sort()).toEqual(['A1', 'A1', 'B1', 'C1']);
    expect(oldestDue(await scrape())).toBe(0);
  });

  it('the API takes, shows and validates both fields', async () => {
    const created = await api('POST', '/webhooks', {
      url: rx.url,
      events: ['*'],
      ordering: 'per_complaint',
      rate_limit_per_s: 50,
    });
    expect(created.statusCode, created.body).toBe(201);
    const ep = created.json().data;
    expect([ep.ordering, ep.rate_limit_per_s, ep.held_until]).toEqual(['per_complaint', 50, null]);
    const patched = await api('PATCH', `/webhooks/${ep.id}`, { rate_limit_per_s: null, ordering: 'none' });
    expect([patched.json().data.ordering, patched.json().data.rate_limit_per_s]).toEqual(['none', null]);
    const plain = (await api('POST', '/webhooks', { url: rx.url, events: ['*'] })).json().data;
    expect([plain.ordering, plain.rate_limit_per_s]).toEqual(['none', null]);

    for (const bad of [
      { ordering: 'sometimes' },
      { ordering: null },
      { rate_limit_per_s: 0 },
      { rate_limit_per_s: 10_001 },
      { rate_limit_per_s: 2.5 },
      { rate_limit_per_s: '5' },
    ]) {
      const res = await api('PATCH', `/webhooks/${ep.id}`, bad);
      expect(res.statusCode, JSON.stringify(bad)).toBe(400);
      expect(res.json().error.code).toBe('validation_failed');
    }
    expect((await api('GET', `/webhooks/${ep.id}`)).json().data.rate_limit_per_s).toBeNull();
  });
});
